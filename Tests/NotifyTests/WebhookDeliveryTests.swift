// The webhook channel and the delivery queue against a real HTTP receiver on 127.0.0.1.
import Alerting
@testable import Notify
import Kit
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Timing-sensitive tests run one at a time so that parallel tests on two cores do not skew them.
@Suite(.serialized) struct WebhookDeliveryTests {
    @Test func payloadHeadersAndSignature() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let secrets = makeTempDir("secrets")
        defer { removeTree(secrets) }
        let secretPath = secrets + "/hook-secret"
        writeFile(secretPath, "s3cr3t-key\n", mode: 0o600)
        let hh = try Harness([channel("hook", "webhook", [
            ("url", .string(server.url + "/alerts?token=abc")),
            ("headers", .block([("X-Team", .string("ops"))])),
            ("hmac_secret", .file(secretPath)),
        ])])
        let report = sampleReport()
        hh.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: report)
        #expect(hh.spooled.count == 1, "spooled before the first attempt")
        #expect(hh.run { hh.delivered == 1 })
        let reqs = server.requests
        try #require(reqs.count == 1)
        let r = reqs[0]
        #expect(r.method == "POST")
        #expect(r.path == "/alerts?token=abc")
        #expect(r.header("Content-Type") == "application/json")
        #expect(r.header("X-Team") == "ops")
        let sig = try #require(r.header("X-Shd-Signature"))
        #expect(sig == "sha256=" + SHA256.hex(SHA256.hmac(key: Array("s3cr3t-key".utf8), message: r.body)))
        let v = try JSONValue.parse(bytes: r.body)
        #expect(v["version"] == "1")
        #expect(v["status"] == "firing")
        #expect(v["host"] == "web1")
        #expect(v["id"]?.string == r.header("X-Shd-Notification-Id"))
        let alert = try #require(v["alert"])
        #expect(alert["rule"] == "disk_space")
        #expect(alert["severity"] == "crit")
        #expect(alert["state"] == "firing")
        #expect(alert["labels"]?["mount"] == "/")
        #expect(alert["values"]?["used_percent"]?.number == 96.25)
        #expect(alert["summary"] == "/ is 96.25% full, 4 GiB left")
        #expect(alert["starts_at"] == .string(t0.rfc3339))
        #expect(alert["ends_at"] == .null)
        #expect(alert["channels"] == nil)
        #expect(v["alerts"]?.array?.count == 1)
        #expect(try DaemonReport(json: try #require(v["report"])) == report)
        #expect(hh.spooled.isEmpty, "removed after success")
        #expect(!hh.logText.contains("s3cr3t"))
        #expect(!hh.logText.contains("token=abc"))
        #expect(hh.logText.contains("channel hook (127.0.0.1:\(server.port)): delivered"))
    }

    @Test func includeReportFalseLeavesTheReportOut() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url)), ("include_report", .bool(false))])])
        h.dispatcher.enqueue([sampleEvent(.resolved, channels: ["hook"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 })
        let v = try JSONValue.parse(bytes: try #require(server.requests.first).body)
        #expect(v["report"] == nil)
        #expect(v["status"] == "resolved")
        #expect(v["alert"]?["ends_at"] == .string(t0.adding(seconds: 600).rfc3339))
    }

    @Test func aBurstForOneChannelIsOneMessage() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url))])])
        let events = ["/", "/home", "/var"].map { sampleEvent(mount: $0, channels: ["hook"]) }
        h.dispatcher.enqueue(events, report: sampleReport())
        #expect(h.spooled.count == 3, "one spool entry per (event, channel)")
        #expect(h.run { h.dispatcher.pendingCount == 0 })
        try #require(server.requests.count == 1)
        let v = try JSONValue.parse(bytes: server.requests[0].body)
        #expect(v["alerts"]?.array?.compactMap { $0["labels"]?["mount"]?.string } == ["/", "/home", "/var"])
        #expect(v["alert"] == nil)
        #expect(h.spooled.isEmpty)
    }

    @Test func serverErrorThenSuccessIsRetriedOnce() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(500, body: "boom"), .status(200)])
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 })
        #expect(server.requests.count == 2)
        #expect(server.requests[0].body == server.requests[1].body, "the same notification is re-sent")
        #expect(h.outcomes.first?.code == 500)
        #expect(h.logText.contains("HTTP 500: boom"))
        #expect(h.spooled.isEmpty)
    }

    @Test func tooManyRequestsHonoursRetryAfter() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(429, headers: [("Retry-After", "1")]), .status(200)])
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url))])], backoff: 0.01)
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 })
        let reqs = server.requests
        try #require(reqs.count == 2)
        let gap = reqs[1].receivedAt - reqs[0].receivedAt
        // The backoff alone would retry after ≤ 10 ms; Retry-After says 1 s.
        #expect(gap >= 0.95 && gap < 2.5, "second attempt \(gap) s after the 429")
        #expect(h.outcomes.first?.status == .retrying(after: 1))
    }

    @Test func otherClientErrorsAreNotRetried() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(400, body: "bad payload: " + String(repeating: "x", count: 400))])
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { h.dispatcher.pendingCount == 0 })
        h.host.run(until: { false }, timeout: 0.3)
        #expect(server.requests.count == 1)
        #expect(h.outcomes.map(\.status) == [.failed])
        let line = try #require(h.log.lines.first { $0.1.contains("HTTP 400") })
        #expect(line.0 == .error)
        #expect(line.1.contains("bad payload: xxx"))
        #expect(!line.1.contains(String(repeating: "x", count: 200)), "only the first 200 bytes of the body")
        #expect(h.spooled.isEmpty)
    }

    @Test func receiverDownThenUpDeliversExactlyOnce() throws {
        let first = try LocalHTTPServer()
        let port = first.port
        first.stop()
        let h = try Harness([channel("hook", "webhook", [("url", .string("http://127.0.0.1:\(port)/hook"))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { h.outcomes.filter { $0.status != .delivered }.count >= 2 }, "attempts fail while it is down")
        #expect(h.spooled.count == 1)
        #expect(h.dispatcher.pendingCount == 1)
        let server = try LocalHTTPServer(port: port)
        defer { server.stop() }
        #expect(h.run { h.delivered == 1 })
        h.host.run(until: { false }, timeout: 0.5)
        #expect(server.requests.count == 1)
        #expect(h.spooled.isEmpty)
        #expect(h.logText.contains("retrying in"))
    }

    @Test func spoolSurvivesARestartAndIsDeliveredOnce() throws {
        let first = try LocalHTTPServer()
        let port = first.port
        first.stop()
        let decl = [channel("hook", "webhook", [("url", .string("http://127.0.0.1:\(port)/hook"))])]
        let stateDir = makeTempDir()
        var ids: [String] = []
        do {
            // The first daemon spools and fails, then "dies" without cleaning up.
            let h = try Harness(decl, stateDir: stateDir + "/a")
            h.dispatcher.enqueue([sampleEvent(channels: ["hook"]), sampleEvent(mount: "/home", channels: ["hook"])],
                                 report: sampleReport())
            #expect(h.run { !h.outcomes.isEmpty })
            ids = h.outcomes[0].ids
            // Copy the spool as a SIGKILL would leave it, before the harness removes its folder.
            try AtomicFile.makeDirectories(stateDir + "/b/spool", mode: 0o700, parentMode: 0o755)
            for f in h.spooled { try AtomicFile.write(stateDir + "/b/spool/" + f, readWholeFile(h.spoolDir + "/" + f), mode: 0o600) }
        }
        let server = try LocalHTTPServer(port: port)
        defer { server.stop() }
        let h2 = try Harness(decl, stateDir: stateDir + "/b")
        defer { removeTree(stateDir) }
        #expect(h2.spooled.count == 2)
        h2.dispatcher.recoverSpool()
        #expect(h2.logText.contains("2 spooled notification(s) for channel hook recovered"))
        #expect(h2.run { h2.dispatcher.pendingCount == 0 })
        h2.host.run(until: { false }, timeout: 0.3)
        try #require(server.requests.count == 1, "the batch of the first enqueue travels together again")
        let v = try JSONValue.parse(bytes: server.requests[0].body)
        #expect(v["alerts"]?.array?.count == 2)
        #expect(h2.outcomes.first?.ids == ids)
        #expect(h2.spooled.isEmpty)
        // A second recovery finds nothing: delivered once.
        h2.dispatcher.recoverSpool()
        h2.host.run(until: { false }, timeout: 0.2)
        #expect(server.requests.count == 1)
    }

    @Test func aCorruptSpoolFileIsMovedAside() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url))])])
        writeFile(h.spoolDir + "/00000000000000001-1-ab.hook.spool", "{ not json")
        writeFile(h.spoolDir + "/00000000000000002-1-ab.hook.spool.tmp", "half written")
        h.dispatcher.recoverSpool()
        #expect(listDir(h.spoolDir) == ["00000000000000001-1-ab.hook.spool.corrupt"])
        #expect(h.log.lines.contains { $0.0 == .error && $0.1.contains("is corrupt") && $0.1.contains("moved aside") })
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 })
    }

    @Test func aHungReceiverDoesNotDelayTimers() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.hang])
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url)), ("timeout", .duration(1.5))])])
        // A 50 ms "collection tick" on the same loop; record how late each one fires.
        var lateness: [Double] = []
        var next = monotonicSeconds() + 0.05
        func tick() {
            lateness.append(monotonicSeconds() - next)
            next += 0.05
            h.host.addTimer(after: next - monotonicSeconds()) { tick() }
        }
        h.host.addTimer(after: 0.05) { tick() }
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run(timeout: 5) { !h.outcomes.isEmpty })
        #expect(server.requests.count >= 1, "the receiver accepted and read the request")
        #expect(lateness.count >= 20, "ticks kept firing while the transfer hung: \(lateness.count)")
        // Blocked, a tick would be late by the whole hang (1.5 s); the bound only absorbs a loaded machine.
        #expect((lateness.max() ?? 1) < 0.25, "worst tick lateness \(lateness.max() ?? -1) s")
        let timedOut = try #require(h.outcomes.first)
        guard case .retrying = timedOut.status else { Issue.record("expected a retry after the timeout"); return }
        #expect(timedOut.detail.lowercased().contains("timeout") || timedOut.detail.lowercased().contains("timed out"))
        // The next attempt gets an answer.
        #expect(h.run { h.delivered == 1 })
    }

    @Test func ttlGivesUpWithALoggedError() throws {
        let h = try Harness([channel("hook", "webhook", [("url", .string("http://127.0.0.1:9/x")), ("ttl", .duration(0.3))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { h.outcomes.contains { $0.status == .expired } })
        #expect(h.spooled.isEmpty)
        #expect(h.dispatcher.pendingCount == 0)
        #expect(h.log.lines.contains { $0.0 == .error && $0.1.contains("after its TTL") })
    }

    @Test func rateLimitDelaysButDropsNothing() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url)), ("rate_limit", .number(2))])])
        // Three transitions of one alert: a message carries one transition per alert, so they need three messages.
        for kind in [AlertEvent.Kind.firing, .resolved, .firing] {
            h.dispatcher.enqueue([sampleEvent(kind, channels: ["hook"])], report: sampleReport())
        }
        #expect(h.run(timeout: 1) { h.delivered == 2 })
        h.host.run(until: { false }, timeout: 0.5)
        #expect(server.requests.count == 2, "the third waits for the minute window")
        #expect(h.dispatcher.pendingCount == 1)
        #expect(h.spooled.count == 1, "waiting, not dropped")
    }

    @Test func filtersBySeverityAndResolved() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url)), ("min_severity", .string("crit")),
                                                         ("send_resolved", .bool(false))])])
        h.dispatcher.enqueue([sampleEvent(severity: .warn, channels: ["hook"]), sampleEvent(.resolved, channels: ["hook"]),
                              sampleEvent(severity: .crit, mount: "/crit", channels: ["hook"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 })
        let v = try JSONValue.parse(bytes: server.requests[0].body)
        #expect(v["alerts"]?.array?.count == 1)
        #expect(v["alert"]?["labels"]?["mount"] == "/crit")
    }

    @Test func shutdownLeavesInFlightWorkInTheSpool() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.hang])
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { server.requests.count == 1 })
        var finished = false
        let start = monotonicSeconds()
        h.dispatcher.shutdown(grace: 0.3) { finished = true }
        #expect(h.run { finished })
        let took = monotonicSeconds() - start
        #expect(took >= 0.25 && took < 1, "grace honoured: \(took) s")
        #expect(h.spooled.count == 1)
        #expect(h.log.contains("1 notification(s) left in the spool for the next start"))
        #expect(h.host.watchCount == 0, "no socket left in the loop")
    }
}
