// Secrets (url/header/hmac/password files) never reach what shd writes: logs, report.json, state.json, the
// spool, the textfile, diagnostics; secret files group/others may read are refused at start, naming the file.
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Decodes the base64 of an SMTP `AUTH PLAIN` argument (enough for the test's own server).
func base64Decode(_ s: String) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var bits: UInt32 = 0, n = 0
    var out: [UInt8] = []
    for c in s.utf8 {
        guard let v = alphabet.firstIndex(of: c) else { continue }
        bits = bits << 6 | UInt32(v)
        n += 6
        if n >= 8 { n -= 8; out.append(UInt8((bits >> UInt32(n)) & 0xFF)) }
    }
    return String(decoding: out, as: UTF8.self)
}

@Suite(.serialized) struct SecretsTests {
    /// One unique token per secret kind, so a leak names its source.
    static let run = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    static let tokens = [
        "url": "URLTOKEN\(run)x9Q",
        "header": "HDRTOKEN\(run)k2W",
        "hmac": "HMACTOKEN\(run)p7Z",
        "password": "PWTOKEN\(run)m4R",
        "slack": "SLACKTOKEN\(run)t5Y",
    ]

    @Test func secretsNeverReachLogsReportsStateSpoolOrDiagnostics() throws {
        let h = try DaemonHarness("shd-secrets", webhook: false, textfile: true)
        let secrets = h.dir + "/secrets"
        mkdir(secrets, 0o700)
        let hook = try LocalHTTPServer()
        defer { hook.stop() }
        // The Slack receiver keeps failing and echoes its path (with the token) in the error body.
        let slack = try LocalHTTPServer()
        defer { slack.stop() }
        slack.defaultResponse = .status(500, body: "no such hook /services/\(Self.tokens["slack"]!) (token \(Self.tokens["slack"]!))")
        // The SMTP server refuses the first message with a 451 that echoes the decoded credentials, then accepts.
        let lastCredentials = SharedText()
        // curl sends `AUTH PLAIN`, waits for 334, then sends the base64 credentials on a line of their own.
        let smtp = try RawServer(default: .lines(greeting: "220 test ESMTP\r\n") { line in
            if line.uppercased().hasPrefix("EHLO") { return "250-localhost\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n" }
            if line.uppercased().hasPrefix("AUTH") { return "334 \r\n" }
            if !line.contains(" ") && line.count > 8 && !line.uppercased().hasPrefix("QUIT") { return "235 2.7.0 ok\r\n" }
            return goodSMTP(line)
        })
        defer { smtp.stop() }
        smtp.enqueue([.lines(greeting: "220 test ESMTP\r\n") { line in
            if line.uppercased().hasPrefix("EHLO") { return "250-localhost\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n" }
            if line.uppercased().hasPrefix("AUTH") { return "334 \r\n" }
            if !line.contains(" ") && line.count > 8 && !line.uppercased().hasPrefix("QUIT") {
                lastCredentials.set(base64Decode(line).replacingAll("\0", " "))
                return "235 2.7.0 ok\r\n"
            }
            // A transient refusal at the end of DATA that quotes the credentials back (a buggy or hostile server).
            if line == "<end of data>" {
                let c = lastCredentials.get()
                guard !c.hasPrefix("sent:") else { return "250 queued\r\n" }
                lastCredentials.set("sent:" + c)
                return "451 4.3.0 try later, credentials were: \(c)\r\n"
            }
            return goodSMTP(line)
        }])

        writeSecret(secrets + "/hook-url", hook.url + "/hook/" + Self.tokens["url"]! + "\n")
        writeSecret(secrets + "/hook-auth", "Bearer " + Self.tokens["header"]!)
        writeSecret(secrets + "/hook-hmac", Self.tokens["hmac"]!)
        writeSecret(secrets + "/smtp-password", Self.tokens["password"]!)
        writeSecret(secrets + "/slack-url", slack.url + "/services/" + Self.tokens["slack"]!)
        let config = h.dir + "/shd.conf"
        writeText(config, """
            channel hook webhook {
              url file "\(secrets)/hook-url"
              headers { "Authorization" file "\(secrets)/hook-auth" }
              hmac_secret file "\(secrets)/hook-hmac"
            }
            channel sl slack { url file "\(secrets)/slack-url" timeout 2s }
            channel mail smtp {
              server "smtp://127.0.0.1:\(smtp.port)" tls "none" from "shd@test.example" to "ops@test.example"
              user "shd" password file "\(secrets)/smtp-password" timeout 3s
            }
            """)
        h.writeRules(DaemonHarness.memoryRule(channels: ["hook", "sl", "mail", "log"]))

        // Diagnostics: clean, JSON, and with an error on a channel line (the source line is quoted).
        _ = try h.command(["check-rules", config, h.rules])
        _ = try h.command(["check-rules", "--format", "json", config, h.rules])
        h.writeRules("channel broken webhook { url file \"\(secrets)/hook-url\" bogus_option 1 }\n", file: "broken.rules")
        let (bad, _, _) = try h.command(["check-rules", "--format", "github", config, h.rules])
        #expect(bad == 1)
        unlink(h.rules + "/broken.rules")

        h.setAvailable(kB: 2_000_000)
        try h.start(extraArgs: ["--config", config])
        #expect(h.waitFor(20) { hook.requests.count >= 1 }, "webhook not reached; log: \(h.log)")
        // curl may retry on the same connection, so count deliveries in the log, not connections.
        #expect(h.waitFor(30) { h.log.split(separator: "\n").contains { $0.contains("channel mail (") && $0.contains("delivered") } },
                "SMTP not retried after the 451; log: \(h.log)")
        #expect(h.waitFor(20) { slack.requests.count >= 2 }, "slack not retried; log: \(h.log)")
        h.process!.signal(SIGUSR1)  // dumps alert states to the log
        usleep(300_000)
        // Reload with a secret file that became group-readable: refused, and the refusal must not quote it.
        chmod(secrets + "/hook-auth", 0o640)
        h.process!.signal(SIGHUP)
        #expect(h.waitFor(10) { h.log.contains("hook-auth") }, "a group-readable secret on reload was not named; log: \(h.log)")
        chmod(secrets + "/hook-auth", 0o600)
        #expect(h.stop() == 0)
        let mailLines = h.log.split(separator: "\n").filter { $0.contains("channel mail") }
        #expect(mailLines.contains { $0.contains("attempt 1") && $0.contains("failed") }, "the 451 was not seen: \(mailLines)")
        print("secrets: mail channel log lines:\n" + mailLines.joined(separator: "\n"))
        _ = try h.command(["notify", "test", "hook", "--config", config, "--rules", h.rules, "--state-dir", h.dir + "/notify-state"])
        _ = try h.command(["notify", "test", "sl", "--config", config, "--rules", h.rules, "--state-dir", h.dir + "/notify-state"])

        // The secrets did travel where they belong: the test would prove nothing otherwise.
        #expect(hook.requests.contains { $0.path.contains(Self.tokens["url"]!) })
        #expect(hook.requests.contains { $0.header("Authorization") == "Bearer " + Self.tokens["header"]! })
        #expect(slack.requests.contains { $0.path.contains(Self.tokens["slack"]!) })
        #expect(smtp.received.contains { $0.contains("AUTH PLAIN") } && smtp.received.contains { $0.contains("DATA") }, "no SMTP AUTH: \(smtp.received)")

        // Everything shd wrote: logs and command outputs, state dir (state, report, spool), textfile.
        var scanned = h.outputs + filesUnder(h.state) + filesUnder(h.textfile) + filesUnder(h.dir + "/notify-state")
        scanned = scanned.filter { access($0, R_OK) == 0 }
        #expect(scanned.count >= 12, "scanned \(scanned)")
        var leaks: [String] = []
        for path in scanned {
            let bytes = readBytes(path)
            for (kind, token) in Self.tokens where contains(bytes, token) { leaks.append("\(kind) secret in \(path)") }
        }
        #expect(leaks.isEmpty, "\(leaks)")
        recordCase("config", "5 secrets (webhook url, header, hmac key, Slack url echoed in a 500 body, SMTP password echoed in a 451) vs \(scanned.count) files shd wrote",
                   leaks.isEmpty ? "no secret in logs, state.json, report.json, spool, textfile, check-rules (text/json/github), notify test" : "LEAKS: \(leaks)")
        recordCase("config", "secret file made group-readable, then SIGHUP", "reload refused naming the file; old channels kept")
        let states = readText(h.state + "/state.json")
        #expect(states.contains("memory_low"), "state.json was not written")
    }

    @Test(arguments: [mode_t(0o644), 0o640, 0o604, 0o660, 0o601])
    func aSecretFileOthersMayReadIsRefusedAtStartNamingTheFile(mode: mode_t) throws {
        let h = try DaemonHarness("shd-secret-mode", webhook: false, textfile: true)
        let path = h.dir + "/hook-secret"
        writeSecret(path, "http://127.0.0.1:9/hook/" + Self.tokens["url"]!, mode: mode)
        h.writeRules("channel hook webhook { url file \"\(path)\" }\n" + DaemonHarness.memoryRule(channels: ["hook"]))
        try h.start()
        let rc = h.process!.wait(timeout: 15)
        #expect(rc == 1, "started with a mode \(String(mode, radix: 8)) secret; log: \(h.log)")
        #expect(h.log.contains(path), "the file is not named; log: \(h.log)")
        #expect(h.log.contains("chmod 600"), "no fix suggested; log: \(h.log)")
        #expect(!h.log.contains(Self.tokens["url"]!), "the refused secret was printed")
        recordCase("config", "secret file with mode \(String(mode, radix: 8))",
                   rc == 1 && h.log.contains(path) ? "refused at start (exit 1), file named, chmod 600 suggested, content not printed" : "NOT REFUSED")
    }

    @Test func aSecretFileThatIsASymlinkToAWorldReadableFileIsRefused() throws {
        let h = try DaemonHarness("shd-secret-link", webhook: false, textfile: true)
        let real = h.dir + "/real"
        writeSecret(real, "http://127.0.0.1:9/hook/" + Self.tokens["url"]!, mode: 0o644)
        symlink(real, h.dir + "/link")
        h.writeRules("channel hook webhook { url file \"\(h.dir)/link\" }\n" + DaemonHarness.memoryRule(channels: ["hook"]))
        try h.start()
        #expect(h.process!.wait(timeout: 15) == 1, "log: \(h.log)")
        #expect(!h.log.contains(Self.tokens["url"]!))
        recordCase("config", "secret file: symlink to a mode 644 file", "refused at start (exit 1), content not printed")
    }
}

/// A string shared with a server thread.
final class SharedText: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var value = ""
    init() { pthread_mutex_init(&mutex, nil) }
    func set(_ s: String) { pthread_mutex_lock(&mutex); value = s; pthread_mutex_unlock(&mutex) }
    func get() -> String { pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }; return value }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: a) { out += rest[..<r.lowerBound] + b; rest = rest[r.upperBound...] }
        return out + rest
    }
}
