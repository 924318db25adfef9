// The real daemon feeding a real two-peer Alertmanager HA cluster on loopback (`urls`): every alert reaches both
// peers; a peer restarted while alerts fire and resolve, with shd itself restarted in between, ends with nothing
// lost and nothing shown firing after its resolve on either peer.
import Kit
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct AlertmanagerClusterTests {
    static func setLoad(_ h: DaemonHarness, _ load1: Double) {
        writeText(h.root + "/proc/loadavg", "\(load1) 0.35 0.14 2/99 12262\n")
    }

    /// `shd status --json`'s channel entries, by delivery target (it exits 1 while an alert fires).
    static func channels(_ h: DaemonHarness) -> [String: JSONValue] {
        guard let (rc, out, _) = try? h.command(["status", "--json", "--socket", h.controlSocket]), rc == 0 || rc == 1,
              let v = try? JSONValue.parse(out) else { return [:] }
        var byName: [String: JSONValue] = [:]
        for c in v["channels"]?.array ?? [] { if let n = c["name"]?.string { byName[n] = c } }
        return byName
    }

    @Test(.enabled(if: AlertmanagerCluster.unavailableReason == nil, "\(AlertmanagerCluster.unavailableReason ?? "")"))
    func bothPeersSeeEveryAlertAndARestartedPeerLosesNothing() throws {
        let cluster = try AlertmanagerCluster(count: 2)
        try #require(cluster.waitFormed(), "the two peers did not gossip: \(cluster.logs)")
        let (a, b) = (cluster.peers[0], cluster.peers[1])
        let targetB = "am@127.0.0.1:\(b.webPort)"

        let h = try DaemonHarness("shd-amha", webhook: false)
        Self.setLoad(h, 0.5)
        h.writeRules("""
            channel am alertmanager { urls ["\(a.url)", "\(b.url)"]  resend_interval 2s }
            rule memory_low on memory.usage {
              warn available_percent < 50
              notify am
              summary "only {available_percent}% memory available"
            }
            rule load_high on load.averages {
              warn load1 > 50
              notify am
              summary "load {load1}"
            }

            """)
        try h.start()
        defer { h.stop() }
        try #require(h.waitReady(), "\(h.log)")

        // Every alert goes to every peer, with the instance label of the host.
        Self.setLoad(h, 99)
        #expect(h.waitFor(20) { a.alerts(named: "load_high").count == 1 && b.alerts(named: "load_high").count == 1 },
                "\(h.log.suffix(3000))")
        for peer in [a, b] {
            let alert = peer.alerts(named: "load_high").first
            #expect(alert?["labels"]?["instance"] == "vm")
            #expect(alert?["labels"]?["severity"] == "warning")
            #expect(alert?["status"]?["state"] == "active")
        }

        // Peer b goes down; memory_low fires and resolves meanwhile: a has both at once, b's wait in shd's spool.
        b.stop()
        h.setAvailable(kB: 1_000_000)
        #expect(h.waitFor(20) { a.alerts(named: "memory_low").count == 1 }, "a is not held up by b")
        h.setAvailable(kB: 24_215_532)
        #expect(h.waitFor(20) { a.alerts(named: "memory_low").isEmpty }, "the resolve reached a")
        #expect(h.waitFor(20) { (Self.channels(h)[targetB]?["queued"]?.int64 ?? 0) >= 2 }, "b's firing and resolve are queued for b")
        let status = Self.channels(h)
        #expect(status[targetB]?["failing"]?.bool == true)
        #expect(status[targetB]?["channel"]?.string == "am")
        #expect(status["am@127.0.0.1:\(a.webPort)"]?["queued"]?.int64 == 0, "a owes nothing")
        #expect(status["am@127.0.0.1:\(a.webPort)"]?["failing"]?.bool == false)

        // shd restarts while b is still down: b's entries come back from the journal/spool.
        #expect(h.stop() == 0)
        try h.start()
        try #require(h.waitFor(20) { (Self.channels(h)[targetB]?["queued"]?.int64 ?? 0) >= 2 }, "\(h.log.suffix(3000))")

        // b comes back (its alerts were in memory: gone). It gets memory_low's firing and resolve in that order
        // from the spool, and load_high again from the re-sends.
        try b.start()
        #expect(cluster.waitFormed(), "b rejoined: \(cluster.logs)")
        #expect(h.waitFor(60) { Self.channels(h)[targetB]?["queued"]?.int64 == 0 }, "b's queue drained: \(h.log.suffix(3000))")
        #expect(Self.channels(h)[targetB]?["failing"]?.bool == false)
        #expect(h.waitFor(20) { b.alerts(named: "load_high").count == 1 }, "re-sends reach the restarted peer")
        #expect(b.alerts(named: "memory_low").isEmpty, "resolved before b came back: not shown firing")
        #expect(a.alerts(named: "memory_low").isEmpty)

        // load_high resolves: neither peer shows anything, and nothing comes back with a later re-send.
        Self.setLoad(h, 0.5)
        #expect(h.waitFor(20) { a.alerts(named: "load_high").isEmpty && b.alerts(named: "load_high").isEmpty })
        #expect(h.waitFor(20) { Self.channels(h).values.allSatisfy { $0["queued"]?.int64 == 0 } })
        usleep(2_500_000)  // one resend_interval and more
        for (name, peer) in [("a", a), ("b", b)] {
            let ours = (peer.alerts() ?? []).filter { ["memory_low", "load_high"].contains($0["labels"]?["alertname"]?.string ?? "") }
            #expect(ours.isEmpty, "peer \(name) shows \(ours.map { $0.encoded() })")
        }
        #expect(!h.log.contains("refused, not retried"), "\(h.log.suffix(3000))")
    }
}
