// The Alertmanager channel: payload against the API v2 postableAlert schema, re-sends, and a real Alertmanager.
import Alerting
@testable import Notify
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Checks one element of `POST /api/v2/alerts` against Alertmanager's OpenAPI v2 `postableAlert`:
/// labels (required, string→string, names `[a-zA-Z_][a-zA-Z0-9_]*`), annotations (string→string),
/// startsAt/endsAt (date-time), generatorURL (uri); no other properties. Returns the problems found.
func postableAlertProblems(_ v: JSONValue) -> [String] {
    guard let o = v.object else { return ["not an object"] }
    var problems: [String] = []
    for k in o.keys where !["labels", "annotations", "startsAt", "endsAt", "generatorURL"].contains(k) {
        problems.append("unknown property \(k)")
    }
    func isLabelName(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || (f >= "a" && f <= "z") || (f >= "A" && f <= "Z") else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") }
    }
    if let labels = o["labels"]?.object {
        if labels.isEmpty { problems.append("labels empty") }
        for (k, val) in labels {
            if !isLabelName(k) { problems.append("label name \(k)") }
            if val.string == nil { problems.append("label \(k) is not a string") }
        }
    } else { problems.append("labels missing") }
    if let a = o["annotations"] {
        if let ao = a.object { for (k, val) in ao where val.string == nil { problems.append("annotation \(k) is not a string") } }
        else { problems.append("annotations is not an object") }
    }
    for k in ["startsAt", "endsAt"] {
        if let t = o[k], t.string.flatMap(Timestamp.init(rfc3339:)) == nil { problems.append("\(k) is not a date-time") }
    }
    if let g = o["generatorURL"], !(g.string?.hasPrefix("http") ?? false) { problems.append("generatorURL is not a uri") }
    return problems
}

@Suite struct AlertmanagerTests {
    @Test func aResolutionWithAReasonCarriesItEverywhere() throws {
        var e = sampleEvent(.resolved, channels: ["am"])
        e.reason = "rule removed"
        let am = try #require(Payloads.alertmanager([e], host: "web1", generatorURL: nil).array?.first)
        #expect(am["annotations"]?["reason"] == "rule removed")
        #expect(am["endsAt"] == .string(t0.adding(seconds: 600).rfc3339))
        #expect(postableAlertProblems(am) == [])
        let hook = Payloads.webhook([OutgoingAlert(id: "x", event: e)], host: "web1", report: nil)
        #expect(hook["alert"]?["reason"] == "rule removed")
        #expect(Payloads.execEnvironment(OutgoingAlert(id: "x", event: e), host: "web1", channel: "page").contains("SHD_REASON=rule removed"))
        // An ordinary transition has none.
        let plain = try #require(Payloads.alertmanager([sampleEvent(.resolved, channels: ["am"])], host: "web1", generatorURL: nil).array?.first)
        #expect(plain["annotations"]?["reason"] == nil)
        #expect(!Payloads.execEnvironment(OutgoingAlert(id: "x", event: sampleEvent(channels: ["p"])), host: "h", channel: "p")
            .contains { $0.hasPrefix("SHD_REASON=") })
    }

    @Test func payloadMatchesThePostableAlertSchema() throws {
        var e = sampleEvent(channels: ["am"])
        e.labels["weird-name.x"] = "v"
        e.labels["alertname"] = "must not win"
        e.labels["empty"] = ""
        let firing = Payloads.alertmanager([e], host: "web1", generatorURL: "http://web1:9100/")
        let resolved = Payloads.alertmanager([sampleEvent(.resolved, channels: ["am"])], host: "web1", generatorURL: nil)
        for alert in (firing.array ?? []) + (resolved.array ?? []) { #expect(postableAlertProblems(alert) == []) }
        let f = try #require(firing.array?.first)
        #expect(f["labels"]?["alertname"] == "disk_space")
        #expect(f["labels"]?["instance"] == "web1")
        #expect(f["labels"]?["severity"] == "critical")
        #expect(f["labels"]?["mount"] == "/")
        #expect(f["labels"]?["weird_name_x"] == "v")
        #expect(f["labels"]?["empty"] == nil, "an empty label value means no label to Alertmanager")
        #expect(f["annotations"]?["summary"] == "/ is 96.25% full, 4 GiB left")
        #expect(f["annotations"]?["description"] == "avail_bytes=4294967296, used_percent=96.25")
        #expect(f["startsAt"] == .string(t0.rfc3339))
        #expect(f["endsAt"] == nil)
        #expect(resolved.array?.first?["endsAt"] == .string(t0.adding(seconds: 600).rfc3339))
        #expect(resolved.array?.first?["labels"]?["severity"] == "critical")
    }

    @Test func postsToTheV2PathAndResendsFiringAlerts() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let h = try Harness([channel("am", "alertmanager", [("url", .string(server.url + "/")),
                                                            ("resend_interval", .duration(0.3))])])
        let e = sampleEvent(channels: ["am"])
        h.dispatcher.enqueue([e], report: sampleReport())
        #expect(h.run { h.delivered == 1 })
        #expect(server.requests.map(\.path) == ["/api/v2/alerts"])
        // Too early: nothing is re-sent.
        h.dispatcher.refreshFiring([e], report: sampleReport())
        h.host.run(until: { false }, timeout: 0.1)
        #expect(server.requests.count == 1)
        h.host.run(until: { false }, timeout: 0.3)
        h.dispatcher.refreshFiring([e, sampleEvent(mount: "/other", channels: ["elsewhere"])], report: sampleReport())
        #expect(h.run { server.requests.count == 2 })
        let v = try JSONValue.parse(bytes: server.requests[1].body)
        #expect(v.array?.count == 1, "only alerts routed to this channel")
        #expect(v.array?.first?["labels"]?["mount"] == "/")
        #expect(h.run { h.dispatcher.pendingCount == 0 })
    }

    static let binary = "/usr/bin/prometheus-alertmanager"

    /// The strongest proof: Debian's prometheus-alertmanager started on 127.0.0.1 accepts the alert and lists it.
    @Test(.enabled(if: access(binary, X_OK) == 0, "prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager)"))
    func aRealAlertmanagerAcceptsAndResolves() throws {
        let dir = makeTempDir("am")
        defer { removeTree(dir) }
        writeFile(dir + "/am.yml", "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
        let probe = try LocalHTTPServer()
        let port = probe.port
        probe.stop()
        let am = try #require(TestChildProcess(argv: [Self.binary, "--config.file=\(dir)/am.yml", "--storage.path=\(dir)/data",
                                                      "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address="],
                                               logPath: dir + "/am.log"))
        defer { am.stop() }
        var ready = false
        for _ in 0..<200 where !ready {
            ready = LoopbackHTTP.request(port: port, path: "/-/ready")?.0 == 200
            if !ready { usleep(50_000) }
        }
        try #require(ready, "alertmanager did not become ready: \(readText(dir + "/am.log") ?? "")")

        let h = try Harness([channel("am", "alertmanager", [("url", .string("http://127.0.0.1:\(port)")),
                                                            ("generator_url", .string("http://web1/shd"))])])
        let now = Timestamp.now()
        var e = sampleEvent(channels: ["am"])
        e.startsAt = now.adding(seconds: -60)
        h.dispatcher.enqueue([e], report: sampleReport())
        #expect(h.run { h.delivered == 1 })
        #expect(h.outcomes.first?.status == .delivered, "\(h.logText)")

        let (status, body) = try #require(LoopbackHTTP.request(port: port, path: "/api/v2/alerts"))
        #expect(status == 200)
        let list = try #require(try JSONValue.parse(body).array)
        let mine = try #require(list.first { $0["labels"]?["alertname"] == "disk_space" })
        #expect(mine["labels"]?["instance"] == "web1")
        #expect(mine["labels"]?["severity"] == "critical")
        #expect(mine["labels"]?["mount"] == "/")
        #expect(mine["annotations"]?["summary"] == "/ is 96.25% full, 4 GiB left")
        #expect(mine["status"]?["state"] == "active")
        #expect(mine["generatorURL"] == "http://web1/shd")

        var r = e
        r.kind = .resolved
        r.endsAt = Timestamp.now().adding(seconds: -1)
        h.dispatcher.enqueue([r], report: sampleReport())
        #expect(h.run { h.delivered == 2 })
        let after = try #require(LoopbackHTTP.request(port: port, path: "/api/v2/alerts"))
        let still = try JSONValue.parse(after.1).array ?? []
        #expect(!still.contains { $0["labels"]?["alertname"] == "disk_space" }, "resolved by endsAt: \(after.1)")
    }
}
