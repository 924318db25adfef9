// `resolve_peers`: an Alertmanager channel whose peers are the addresses a name resolves to. The daemon runs in a mount
// namespace of its own whose /etc/hosts (bind-mounted, so glibc's own lookup reads it) gives the name two loopback
// addresses, one receiver on each at the same port; then the name loses one address while an alert fires.
import Kit
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct AlertmanagerDNSPeersTests {
    static let unavailable: String? = getuid() != 0 ? "needs root (a mount namespace with its own /etc/hosts)"
        : access("/usr/bin/unshare", X_OK) != 0 ? "needs unshare(1) (util-linux)" : nil

    static func alerts(_ s: LocalHTTPServer) -> [JSONValue] {
        s.requests.flatMap { r in (try? JSONValue.parse(bytes: r.body))?.array ?? [] }
    }

    @Test(.enabled(if: unavailable == nil, "\(unavailable ?? "")"))
    func everyAddressOfTheNameGetsTheAlertAndAPeerThatLeavesTheNameIsLetGo() throws {
        let a = try LocalHTTPServer()
        defer { a.stop() }
        let b = try LocalHTTPServer(port: a.port, address: "127.0.0.2")
        defer { b.stop() }
        let h = try DaemonHarness("shd-amdns", webhook: false)
        let hosts = h.dir + "/hosts"
        writeText(hosts, "127.0.0.1 localhost\n127.0.0.1 am.shd.test\n127.0.0.2 am.shd.test\n")
        h.writeRules("""
            channel am alertmanager { url "http://am.shd.test:\(a.port)"  resolve_peers true  resolve_interval 1s }
            \(DaemonHarness.memoryRule(channels: ["am"]))
            """)
        h.setAvailable(kB: 1_000_000)  // memory_low fires
        try h.start(launcher: ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                               "mount --bind '\(hosts)' /etc/hosts && exec \"$@\"", "sh"])
        defer { h.stop() }
        try #require(h.waitReady(), "\(h.log)")

        #expect(h.waitFor(20) { !Self.alerts(a).isEmpty && !Self.alerts(b).isEmpty }, "\(h.log.suffix(3000))")
        #expect(h.log.contains("resolve_peers: am.shd.test is 127.0.0.1, 127.0.0.2"))
        for s in [a, b] {
            #expect(s.requests.first?.header("Host") == "am.shd.test:\(a.port)", "the request keeps the name")
            #expect(Self.alerts(s).first?["labels"]?["alertname"]?.string == "memory_low")
        }

        // The name loses 127.0.0.1 (rewritten in place: the bind mount shows the same file); the next lookup lets
        // that peer go, and the resolve goes to the one that is left.
        writeText(hosts, "127.0.0.1 localhost\n127.0.0.2 am.shd.test\n")
        #expect(h.waitFor(20) { h.log.contains("resolve_peers: am.shd.test is 127.0.0.2 (was 127.0.0.1, 127.0.0.2)") },
                "\(h.log.suffix(3000))")
        let aBefore = a.requests.count
        h.setAvailable(kB: 24_215_532)
        #expect(h.waitFor(20) { Self.alerts(b).contains { $0["endsAt"] != nil } }, "b got the resolve: \(h.log.suffix(3000))")
        #expect(a.requests.count == aBefore, "the peer that left the name is sent nothing more")
        let (rc, out, _) = try h.command(["status", "--json", "--socket", h.controlSocket])
        #expect(rc == 0, "nothing fires")
        let names = (try? JSONValue.parse(out))?["channels"]?.array?.compactMap { $0["name"]?.string } ?? []
        #expect(names.contains("am@127.0.0.2:\(a.port)"))
        #expect(!names.contains("am@127.0.0.1:\(a.port)"))
        #expect(h.stop() == 0)
    }
}
