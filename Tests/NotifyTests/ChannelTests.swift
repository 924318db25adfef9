// Slack, SMTP, exec and log channels, secret files, and `shd notify test`, against real local receivers.
import Alerting
import Kit
@testable import Notify
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SlackTests {
    @Test func blockKitWithFallbackColourAndReportLocation() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let secrets = makeTempDir("secrets")
        defer { removeTree(secrets) }
        // The incoming-webhook URL is the secret: it comes from a 0600 file and never reaches the log.
        writeFile(secrets + "/slack", server.url + "/services/T000/B000/XXXXSECRET\n", mode: 0o600)
        let h = try Harness([channel("ops", "slack", [("url", .file(secrets + "/slack")), ("channel", .string("#ops"))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["ops"]), sampleEvent(.resolved, severity: .warn, mount: "/home", channels: ["ops"])],
                             report: sampleReport())
        #expect(h.run { h.delivered == 1 })
        let r = try #require(server.requests.first)
        #expect(r.path == "/services/T000/B000/XXXXSECRET")
        let v = try JSONValue.parse(bytes: r.body)
        let text = try #require(v["text"]?.string)
        #expect(text.contains("2 alerts on web1"))
        #expect(text.contains("CRIT disk_space") && text.contains("RESOLVED disk_space"))
        #expect(v["channel"] == "#ops")
        let context = v["blocks"]?.array?.first?["elements"]?.array?.first?["text"]?.string ?? ""
        #expect(context.contains(h.stateDir + "/report.json") && context.contains("web1"), "says where the full report is")
        let atts = try #require(v["attachments"]?.array)
        #expect(atts.map { $0["color"]?.string ?? "" } == ["#d50200", "#2eb886"])
        let firstBlocks = try #require(atts[0]["blocks"]?.array)
        #expect(firstBlocks[0]["text"]?["text"]?.string?.hasPrefix(":red_circle: *CRIT disk_space*") == true)
        let fields = (firstBlocks[1]["fields"]?.array ?? []).compactMap { $0["text"]?.string }
        #expect(fields.contains("*mount*\n/"))
        #expect(fields.contains("*used_percent*\n96.25"))
        #expect(atts[1]["blocks"]?.array?[0]["text"]?["text"]?.string?.hasPrefix(":white_check_mark:") == true)
        #expect(!h.logText.contains("XXXXSECRET") && !h.logText.contains("/services/"))
        #expect(h.logText.contains("channel ops (127.0.0.1:\(server.port)): delivered"))
    }

    @Test func honoursSlack429RetryAfter() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(429, headers: [("Retry-After", "1")], body: "rate_limited")])
        let h = try Harness([channel("ops", "slack", [("url", .string(server.url + "/services/x"))])], backoff: 0.01)
        h.dispatcher.enqueue([sampleEvent(channels: ["ops"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 })
        let reqs = server.requests
        try #require(reqs.count == 2)
        let gap = reqs[1].receivedAt - reqs[0].receivedAt
        #expect(gap >= 0.95 && gap < 2.5, "gap \(gap) s")
    }
}

@Suite struct SMTPTests {
    /// Splits a raw message into header fields (unfolded) and body.
    static func split(_ raw: String) -> ([(String, String)], String) {
        let text = raw.replacingAll("\r\n", with: "\n")
        guard let sep = text.firstRange(of: "\n\n") else { return ([], text) }
        var headers: [(String, String)] = []
        for line in text[..<sep.lowerBound].split(separator: "\n") {
            if line.first == " " || line.first == "\t", !headers.isEmpty { headers[headers.count - 1].1 += " " + line.drop { $0 == " " || $0 == "\t" }; continue }
            guard let c = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<c]), String(line[line.index(after: c)...].drop { $0 == " " })))
        }
        return (headers, String(text[sep.upperBound...]))
    }

    @Test(.enabled(if: SMTPReceiver.unavailableReason == nil, "python3-aiosmtpd is not installed"))
    func messageWithTextPartAndReportAttachment() throws {
        let dir = makeTempDir("smtp")
        defer { removeTree(dir) }
        let smtp = try #require(SMTPReceiver(folder: dir))
        defer { smtp.stop() }
        let h = try Harness([channel("mail", "smtp", [
            ("server", .string("smtp://127.0.0.1:\(smtp.port)")), ("tls", .string("none")),
            ("from", .string("shd@web1.example")), ("to", .list([.string("oncall@example.com"), .string("ops@example.com")])),
        ])])
        let report = sampleReport()
        h.dispatcher.enqueue([sampleEvent(channels: ["mail"])], report: report)
        #expect(h.run(timeout: 10) { h.delivered == 1 }, "\(h.logText)")
        let m = try #require(smtp.messages.first)
        #expect(m.mailFrom == "shd@web1.example")
        #expect(m.recipients == ["oncall@example.com", "ops@example.com"])
        let (headers, body) = Self.split(m.raw)
        func header(_ n: String) -> String? { headers.first { $0.0.lowercased() == n.lowercased() }?.1 }
        #expect(header("Subject") == "[shd] CRIT disk_space on web1: / is 96.25% full, 4 GiB left")
        #expect(header("From") == "shd@web1.example")
        #expect(header("To") == "oncall@example.com, ops@example.com")
        let date = try #require(header("Date"))
        // RFC 5322 date-time: "Wed, 25 Nov 2026 08:00:01 +0000".
        let parts = date.split(separator: " ")
        #expect(parts.count == 6 && parts[0].hasSuffix(",") && parts[3].count == 4 && parts[4].split(separator: ":").count == 3
            && (parts[5].hasPrefix("+") || parts[5].hasPrefix("-")) && parts[5].count == 5, "Date: \(date)")
        let mid = try #require(header("Message-ID"))
        #expect(mid.hasPrefix("<") && mid.hasSuffix("@web1>") && mid.contains(h.outcomes[0].ids[0]))
        let ctype = try #require(header("Content-Type"))
        #expect(ctype.hasPrefix("multipart/mixed"))
        let boundary = try #require(ctype.split(separator: "\"").dropFirst().first.map(String.init))
        let parts2 = body.split(separator: "--" + boundary, omittingEmptySubsequences: false)
        #expect(parts2.count == 4, "preamble, text, attachment, epilogue")
        let (textHeaders, textBody) = Self.split(String(parts2[1].drop { $0 == "\n" }))
        #expect(textHeaders.first { $0.0 == "Content-Type" }?.1 == "text/plain; charset=utf-8")
        #expect(textBody.contains("/ is 96.25% full") && textBody.contains("daemon-report.json"))
        let (attHeaders, attBody) = Self.split(String(parts2[2].drop { $0 == "\n" }))
        #expect(attHeaders.first { $0.0 == "Content-Disposition" }?.1 == "attachment; filename=\"daemon-report.json\"")
        #expect(attBody.split(separator: "\n").allSatisfy { $0.count <= 76 })
        let decoded = try #require(base64Decode(attBody))
        let parsed = try JSONValue.parse(bytes: decoded)
        #expect(try DaemonReport(json: parsed) == report)
    }

    @Test(.enabled(if: SMTPReceiver.unavailableReason == nil, "python3-aiosmtpd is not installed"))
    func tlsIsRequiredUnlessSaidOtherwise() throws {
        let dir = makeTempDir("smtp")
        defer { removeTree(dir) }
        let smtp = try #require(SMTPReceiver(folder: dir))
        defer { smtp.stop() }
        // This receiver offers no STARTTLS: without `tls "none"` nothing may be sent in clear text.
        let h = try Harness([channel("mail", "smtp", [("server", .string("smtp://127.0.0.1:\(smtp.port)")),
                                                      ("from", .string("shd@web1")), ("to", .string("a@example.com"))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["mail"])], report: sampleReport())
        #expect(h.run(timeout: 10) { !h.outcomes.isEmpty })
        guard case .retrying = h.outcomes[0].status else { Issue.record("expected a retry, got \(h.outcomes[0])"); return }
        #expect(smtp.messages.isEmpty)
        #expect(h.spooled.count == 1)
    }
}

@Suite struct ExecTests {
    @Test func environmentStdinAndReaping() throws {
        let out = makeTempDir("exec")
        defer { removeTree(out) }
        let script = "echo $$ > \(out)/pid; env > \(out)/env; cat > \(out)/stdin"
        let h = try Harness([channel("page", "exec", [("command", .list([.string("/bin/sh"), .string("-c"), .string(script)]))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["page"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 }, "\(h.logText)")
        let env = (readText(out + "/env") ?? "").split(separator: "\n").map(String.init)
        #expect(env.contains("SHD_RULE=disk_space"))
        #expect(env.contains("SHD_SEVERITY=crit"))
        #expect(env.contains("SHD_STATE=firing"))
        #expect(env.contains("SHD_SUMMARY=/ is 96.25% full, 4 GiB left"))
        #expect(env.contains("SHD_LABELS=fstype=ext4,function=filesystems,mount=/,worker=disk"))
        #expect(env.contains("SHD_LABEL_MOUNT=/"))
        #expect(env.contains("SHD_VALUE_USED_PERCENT=96.25"))
        #expect(env.contains("SHD_HOST=web1"))
        #expect(!env.contains { $0.hasPrefix("HOME=") }, "the daemon's environment is not inherited")
        let stdin = try JSONValue.parse(readText(out + "/stdin") ?? "")
        #expect(stdin["alert"]?["rule"] == "disk_space")
        #expect(try DaemonReport(json: try #require(stdin["report"])) == sampleReport())
        let pid = try #require(Int32((readText(out + "/pid") ?? "").split(separator: "\n").first ?? ""))
        #expect(kill(pid, 0) != 0 && errno == ESRCH, "the child was reaped, not left a zombie")
        #expect(h.dispatcher.childPIDs.isEmpty)
    }

    @Test func aHangingProgramIsKilledAfterItsTimeoutAndRetried() throws {
        let h = try Harness([channel("page", "exec", [("command", .list([.string("/bin/sleep"), .string("30")])),
                                                      ("timeout", .duration(0.3))])])
        let start = monotonicSeconds()
        h.dispatcher.enqueue([sampleEvent(channels: ["page"])], report: sampleReport())
        #expect(h.run { !h.outcomes.isEmpty })
        let took = monotonicSeconds() - start
        #expect(took >= 0.25 && took < 2, "killed after \(took) s")
        #expect(h.outcomes[0].detail.contains("killed after the timeout"))
        guard case .retrying = h.outcomes[0].status else { Issue.record("expected a retry"); return }
        #expect(h.spooled.count == 1)
    }

    @Test func aMissingProgramIsAPermanentFailure() throws {
        let h = try Harness([channel("page", "exec", [("command", .list([.string("/nonexistent/page-me")]))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["page"])], report: sampleReport())
        #expect(h.run { !h.outcomes.isEmpty })
        #expect(h.outcomes[0].status == .failed)
        #expect(h.outcomes[0].detail.contains("No such file"))
        #expect(h.outcomes[0].rules == ["disk_space"] && h.outcomes[0].ids.count == 1, "the rule of each notification carried")
    }

    @Test func theDaemonsSIGCHLDHookFinishesTheChild() throws {
        let h = try Harness([channel("page", "exec", [("command", .list([.string("/bin/true")]))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["page"])], report: sampleReport())
        let pid = try #require(h.dispatcher.childPIDs.first)
        // What the daemon does on SIGCHLD: reap, then tell the dispatcher.
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(h.dispatcher.childExited(pid: pid, status: status))
        #expect(!h.dispatcher.childExited(pid: pid, status: status), "not ours any more")
        #expect(h.run { h.delivered == 1 })
    }
}

@Suite struct SecretAndLogTests {
    @Test func aGroupOrWorldReadableSecretIsRefusedNamingTheFile() throws {
        let dir = makeTempDir("secrets")
        defer { removeTree(dir) }
        writeFile(dir + "/hmac", "k", mode: 0o644)
        let decl = channel("hook", "webhook", [("url", .string("http://127.0.0.1:9/")), ("hmac_secret", .file(dir + "/hmac"))])
        #expect {
            _ = try Dispatcher(channels: [decl], spoolDirectory: dir + "/spool", host: PollHost(), log: MemoryLog(), hostname: "h")
        } throws: { error in
            let e = error as? NotifyError
            return e?.file == dir + "/hmac" && "\(error)".contains("mode 644") && "\(error)".contains("test.conf:1:1")
        }
        writeFile(dir + "/hmac", "k", mode: 0o600)
        _ = try Dispatcher(channels: [decl], spoolDirectory: dir + "/spool", host: PollHost(), log: MemoryLog(), hostname: "h")
        var st = stat()
        #expect(stat(dir + "/spool", &st) == 0 && st.st_mode & 0o777 == 0o700, "spool folder created 0700")
    }

    @Test func secretsEchoedByAReceiverAreScrubbedFromLogs() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(403, body: "forbidden for token T0KEN-SECRET-42 at /hooks/T0KEN-SECRET-42")])
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url + "/hooks/T0KEN-SECRET-42"))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { !h.outcomes.isEmpty })
        #expect(h.logText.contains("HTTP 403"))
        #expect(!h.logText.contains("T0KEN-SECRET-42"))
        #expect(!h.outcomes[0].detail.contains("T0KEN-SECRET-42"))
    }

    @Test func logChannelWritesOneStructuredLinePerTransition() throws {
        let h = try Harness([channel("log", "log", [])])
        h.dispatcher.enqueue([sampleEvent(channels: ["log"]), sampleEvent(.resolved, channels: ["log"])], report: sampleReport())
        let lines = h.log.lines.filter { $0.1.hasPrefix("alert ") }
        #expect(lines.count == 2)
        #expect(lines[0].0 == .error)
        #expect(lines[0].1 == "alert firing rule=disk_space severity=crit host=web1 fstype=ext4 function=filesystems mount=/ "
            + "worker=disk avail_bytes=4294967296 used_percent=96.25 summary=\"/ is 96.25% full, 4 GiB left\" channel=log")
        #expect(lines[1].0 == .notice && lines[1].1.hasPrefix("alert resolved "))
        #expect(h.spooled.isEmpty && h.dispatcher.pendingCount == 0)
    }

    @Test func unknownChannelIsLoggedNotFatalAndLogIsBuiltIn() throws {
        let h = try Harness([])
        h.dispatcher.enqueue([sampleEvent(channels: ["nowhere", "log"])], report: sampleReport())
        #expect(h.log.contains("routed to channel nowhere, which is not configured"))
        #expect(h.log.lines.contains { $0.1.hasPrefix("alert firing rule=disk_space") && $0.1.hasSuffix("channel=log") })
    }
}

@Suite struct NotifyTestCommandTests {
    @Test(arguments: [(200, Int32(0), "delivered"), (500, Int32(1), "failed")])
    func sendsOneTestAlertAndPrintsTheOutcome(status: Int, exit: Int32, word: String) throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(status, body: "x")])
        let state = makeTempDir("state")
        defer { removeTree(state) }
        var out: [String] = []
        let rc = NotifyTestCommand.run(channel: "hook", channels: [channel("hook", "webhook", [("url", .string(server.url))])],
                                       stateDir: state, hostname: "web1") { out.append($0) }
        #expect(rc == exit)
        #expect(out.last?.hasPrefix("channel hook: \(word)") == true, "\(out)")
        #expect(server.requests.count == 1, "one attempt only")
        let v = try JSONValue.parse(bytes: server.requests[0].body)
        #expect(v["alert"]?["rule"] == "shd_notify_test")
        #expect(listDir(state).isEmpty, "its private spool is removed")
    }

    @Test func aRefusedSecretIsPrintedWithItsFile() {
        let state = makeTempDir("state")
        defer { removeTree(state) }
        writeFile(state + "/slack", "https://hooks.slack.com/services/x", mode: 0o640)
        var out: [String] = []
        let rc = NotifyTestCommand.run(channel: "ops", channels: [channel("ops", "slack", [("url", .file(state + "/slack"))])],
                                       stateDir: state, hostname: "h") { out.append($0) }
        #expect(rc == 1)
        #expect(out.count == 1 && out[0].contains("secret file \(state)/slack is accessible by group or others (mode 640)"))
        #expect(out.allSatisfy { $0.hasSuffix("\n") }, "whole lines: \(out)")
        #expect(!out.joined().contains("hooks.slack.com"))
    }

    @Test func unknownChannelExitsTwo() {
        var out: [String] = []
        let rc = NotifyTestCommand.run(channel: "nope", channels: [channel("ops", "log", [])], stateDir: "/tmp",
                                       hostname: "h") { out.append($0) }
        #expect(rc == 2)
        #expect(out == ["shd: no channel named nope; configured: ops\n"])
    }
}
