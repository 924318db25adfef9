// `shd run` with declared probes against real servers on 127.0.0.1: HTTP answering and hanging, HTTPS with a CA made
// here, a TCP port that accepts and one that hangs, certificate files at −1, 5 and 60 days, alerts at the webhook.
import Kit
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ProbeDaemonTests {
    static let available = TestCertificate.unavailableReason == nil
        && (access("/usr/lib/x86_64-linux-gnu/libcrypto.so.3", F_OK) == 0 || access("/usr/lib/aarch64-linux-gnu/libcrypto.so.3", F_OK) == 0)

    /// Every alert the webhook received (single messages and batches), with its kind.
    func received(_ h: DaemonHarness, _ rule: String, _ kind: String) -> [JSONValue] {
        h.alerts.flatMap { body -> [JSONValue] in
            if let batch = body["alerts"]?.array { return batch.filter { $0["kind"]?.string == kind } }
            return body["status"]?.string == kind ? [body["alert"]].compactMap { $0 } : []
        }.filter { $0["rule"]?.string == rule }
    }

    func firing(_ h: DaemonHarness, _ rule: String) -> Set<String> {
        Set(received(h, rule, "firing").compactMap { a in
            a["labels"]?["probe"]?.string.map { p in a["labels"]?["path"]?.string.map { p + ":" + lastPath($0) } ?? p }
        })
    }

    func lastPath(_ p: String) -> String { String(p.split(separator: "/").last ?? "") }

    func rows(_ h: DaemonHarness, _ function: String) -> [JSONValue] {
        guard let v = try? JSONValue.parse(readText(h.state + "/report.json")),
              let w = v["worker_reports"]?.array?.first(where: { $0["name"]?.string == "probes" }),
              let f = w["function_reports"]?.array?.first(where: { $0["name"]?.string == function })
        else { return [] }
        return f["data"]?.array ?? []
    }

    @Test(.enabled(if: available, "openssl, python3 or libcrypto.so.3 is missing"))
    func probesReachTheWebhook() throws {
        let h = try DaemonHarness("shd-probes")
        let pki = h.dir + "/pki"
        mkdir(pki, 0o755)
        let ca = try #require(TestCA(folder: pki))
        let server = try #require(ca.issue("server", days: 60))
        let https = try #require(HTTPSReceiver(folder: pki, cert: server.cert, key: server.key))
        defer { https.stop() }
        let web = try LocalHTTPServer()
        web.defaultResponse = .status(200, body: "all systems ok")
        defer { web.stop() }
        let slow = try LocalHTTPServer()
        slow.defaultResponse = .hang
        defer { slow.stop() }
        let hung = try #require(HangingTCPPort(folder: h.dir))
        defer { hung.stop() }
        let certs = h.dir + "/certs"
        mkdir(certs, 0o755)
        let expired = try #require(ca.issue("expired", days: -1)), soon = try #require(ca.issue("soon", days: 5))
        let later = try #require(ca.issue("later", days: 60))
        for (c, name) in [(expired, "expired"), (soon, "soon"), (later, "later")] {
            writeText(certs + "/\(name).pem", readText(c.cert))
        }
        h.writeRules("""
            set interval.probes 200ms
            probe web http { url "\(web.url)/health" body_regex "systems ok" interval 200ms timeout 1s }
            probe slow http { url "\(slow.url)/" interval 1s timeout 500ms }
            probe secure http { url "https://127.0.0.1:\(https.port)/" ca_file "\(ca.cert)" body_regex "probe ok" interval 300ms }
            probe untrusted http { url "https://127.0.0.1:\(https.port)/" interval 300ms }
            probe port tcp { address "127.0.0.1:\(web.port)" interval 200ms }
            probe hung tcp { address "127.0.0.1:\(hung.port)" interval 1s timeout 500ms }
            probe endpoint tls { url "https://127.0.0.1:\(https.port)/" name "localhost" ca_file "\(ca.cert)" interval 300ms }
            probe files certificate { path "\(certs)/*.pem" name "localhost" ca_file "\(ca.cert)" interval 200ms }
            rule http_down on probes.http by probe { crit not up }
            rule port_down on probes.tcp by probe { crit not up }
            rule cert_expiring on probes.certificates by probe, path { warn days_left < 14  crit days_left < 0 }
            rule tls_bad on probes.tls by probe { crit not chain_valid or not san_match or days_left < 7 }
            """, file: "probes.rules")
        // With a textfile every tick rewrites report.json: the rows below are at most a tick old.
        try h.start(extraArgs: ["--textfile", h.dir + "/textfile"])
        #expect(h.waitFor(15) { firing(h, "http_down").count >= 2 && firing(h, "port_down").count >= 1 && firing(h, "cert_expiring").count >= 2 },
                "log: \(h.log)")
        #expect(firing(h, "http_down") == ["slow", "untrusted"])
        #expect(firing(h, "port_down") == ["hung"])
        #expect(firing(h, "cert_expiring") == ["files:expired.pem", "files:soon.pem"])
        let severities = Dictionary(received(h, "cert_expiring", "firing").compactMap { a -> (String, String)? in
            guard let p = a["labels"]?["path"]?.string, let s = a["severity"]?.string else { return nil }
            return (lastPath(p), s)
        }, uniquingKeysWith: { _, b in b })
        #expect(severities == ["expired.pem": "crit", "soon.pem": "warn"])
        #expect(firing(h, "tls_bad").isEmpty)

        // What the rows say, once every probe has run.
        #expect(h.waitFor(10) { rows(h, "http").count == 4 && rows(h, "tls").count == 1 })
        let http = rows(h, "http")
        let byName = Dictionary(http.compactMap { r in r["probe"]?.string.map { ($0, r) } }, uniquingKeysWith: { a, _ in a })
        #expect(byName["web"]?["status"]?.int64 == 200 && byName["web"]?["matched"]?.bool == true)
        #expect(byName["secure"]?["up"]?.bool == true, "\(http)")
        #expect(byName["slow"]?["error"]?.string?.contains("timed out") == true, "\(http)")
        #expect(byName["untrusted"]?["error"]?.string?.isEmpty == false)
        let tls = rows(h, "tls").first
        #expect(tls?["issuer"]?.string == "CN=shd test CA" && tls?["san_match"]?.bool == true && tls?["chain_valid"]?.bool == true, "\(rows(h, "tls"))")
        #expect((tls?["days_left"]?.number ?? 0) > 59)

        // A renewed certificate is read again when its file changes (inotify), and the alert resolves.
        writeText(certs + "/soon.pem.tmp", readText(later.cert))
        rename(certs + "/soon.pem.tmp", certs + "/soon.pem")
        #expect(h.waitFor(10) {
            received(h, "cert_expiring", "resolved").contains { $0["labels"]?["path"]?.string == certs + "/soon.pem" }
        }, "log: \(h.log)")
        h.stop()
    }

    @Test func aConfigurationWithoutProbesHasNoProbesWorker() throws {
        let h = try DaemonHarness("shd-no-probes")
        try h.start()
        #expect(h.waitReady(), "log: \(h.log)")
        let v = try JSONValue.parse(readText(h.state + "/report.json"))
        #expect(v["worker_reports"]?.array?.contains { $0["name"]?.string == "probes" } == false)
        h.stop()
    }
}
