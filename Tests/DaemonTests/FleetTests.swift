// A fleet: 20 shd hosts, each in its own network namespace with its own hostname (UTS namespace), feeding a real
// two-peer Alertmanager cluster and scraped by a real Prometheus, all behind a bridge in a hub namespace.
import Kit
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct FleetTests {
    static let hosts = 20
    static let hubAddress = "10.77.0.1"
    static func address(_ i: Int) -> String { "10.77.0.\(10 + i)" }
    static func hostname(_ i: Int) -> String { "fleet" + (i < 10 ? "0" : "") + String(i) }
    static let metricsPort = 9465

    static var unavailableReason: String? {
        NetworkNamespace.unavailableReason ?? AlertmanagerCluster.unavailableReason ?? PrometheusServer.unavailableReason
            ?? (access("/usr/bin/unshare", X_OK) == 0 && access("/usr/bin/hostname", X_OK) == 0 ? nil : "unshare or hostname is missing")
    }

    static func setLoad(_ h: DaemonHarness, _ load1: Double) {
        writeText(h.root + "/proc/loadavg", "\(load1) 0.35 0.14 2/99 12262\n")
    }

    /// Every host fires memory_low, the even ones load_high too; every alert reaches both peers with its host's
    /// `instance`; Prometheus has `up` 1 for every host and sees the same alerts and delivery counts; after the
    /// resolves neither peer shows anything and the counts add up again.
    @Test(.enabled(if: unavailableReason == nil, "\(unavailableReason ?? "")"))
    func twentyHostsFeedTheClusterAndPrometheusScrapesThemAll() throws {
        let hub = try NetworkNamespace("shdhub")
        try #require(hub.ip("link add br0 type bridge") && hub.ip("addr add \(Self.hubAddress)/24 dev br0") && hub.ip("link set br0 up"),
                     "a bridge in a network namespace (ip link add br0 type bridge) could not be made")
        let cluster = try AlertmanagerCluster(count: 2, address: Self.hubAddress, launcher: hub.exec([]))
        let (a, b) = (cluster.peers[0], cluster.peers[1])

        var namespaces: [NetworkNamespace] = []
        var daemons: [DaemonHarness] = []
        defer {
            for d in daemons { d.stop() }
            for n in namespaces { n.remove() }
        }
        let even = Set((1...Self.hosts).filter { $0 % 2 == 0 }.map(Self.hostname))
        for i in 1...Self.hosts {
            let ns = try NetworkNamespace("shdh\(i)x")
            namespaces.append(ns)
            try #require(runShell("ip -n \(hub.name) link add h\(i) type veth peer name eth0 netns \(ns.name)") == 0)
            try #require(hub.ip("link set h\(i) master br0 up") && ns.ip("addr add \(Self.address(i))/24 dev eth0") && ns.ip("link set eth0 up"))
            let d = try DaemonHarness("shd-fleet", webhook: false)
            daemons.append(d)
            // The host name shd reports is the kernel's: its own UTS namespace's, read through the fixture tree.
            unlink(d.root + "/proc/sys/kernel/hostname")
            symlink("/proc/sys/kernel/hostname", d.root + "/proc/sys/kernel/hostname")
            Self.setLoad(d, 0.5)
            d.writeRules("""
                set http_listen "\(Self.address(i)):\(Self.metricsPort)"
                channel am alertmanager { urls ["\(a.url)", "\(b.url)"]  resend_interval 10s }
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
            try d.start(interval: "1s", launcher: ns.exec(["/usr/bin/unshare", "--uts", "/bin/sh", "-c",
                                                           "hostname \(Self.hostname(i)) && exec \"$0\" \"$@\""]))
        }
        let prometheus = try PrometheusServer(address: Self.hubAddress,
                                              targets: (1...Self.hosts).map { ("\(Self.address($0)):\(Self.metricsPort)", ["instance": Self.hostname($0)]) },
                                              launcher: hub.exec([]))
        func inHub<T>(_ body: () -> T) -> T { (try? hub.inside(body))! }
        try #require(inHub { cluster.waitFormed(60) }, "the two peers did not gossip: \(cluster.logs)")
        for d in daemons { try #require(d.waitReady(), "\(d.log.suffix(2000))") }

        // Prometheus scrapes every host: `up` is 1 for all, each under its host name.
        let allHosts = Set((1...Self.hosts).map(Self.hostname))
        #expect(ChildProcess.waitFor(90) {
            guard let up = inHub({ prometheus.samples("up") }) else { return false }
            return Set(up.filter { $0.value == 1 }.compactMap { $0.labels["instance"] }) == allHosts
        }, "up: \(inHub { prometheus.query("up") }.map { "\($0.map { $0.encoded() })" } ?? "no answer") \(prometheus.log.suffix(2000))")

        for d in daemons { d.setAvailable(kB: 1_000_000) }
        for (i, d) in daemons.enumerated() where even.contains(Self.hostname(i + 1)) { Self.setLoad(d, 99) }

        /// The instances each peer lists under `alertname`.
        func shown(_ peer: AlertmanagerPeer, _ alertname: String) -> [String] {
            inHub { peer.alerts(named: alertname) }.compactMap { $0["labels"]?["instance"]?.string }.sorted()
        }
        #expect(ChildProcess.waitFor(60) {
            [a, b].allSatisfy { Set(shown($0, "memory_low")) == allHosts && Set(shown($0, "load_high")) == even }
        }, "a: \(shown(a, "memory_low")) \(shown(a, "load_high")); b: \(shown(b, "memory_low")) \(shown(b, "load_high"))")
        for peer in [a, b] {
            #expect(shown(peer, "memory_low").count == Self.hosts, "one alert per host, no duplicates")
            #expect(shown(peer, "load_high").count == even.count)
        }

        // Prometheus sees the same alerts from the hosts themselves, and the deliveries add up: every transition
        // reached both peers once (one attempt may carry a host's two alerts: notifications, not attempts, count).
        func firing(_ alertname: String) -> Set<String> {
            Set((inHub { prometheus.samples("shd_alert{alertname=\"\(alertname)\",alertstate=\"firing\"}") } ?? []).compactMap { $0.labels["instance"] })
        }
        func delivered() -> Double? {
            inHub { prometheus.samples("sum(shd_notifications_delivered_total)") }?.first?.value
        }
        let fired = Double(2 * (Self.hosts + even.count))
        #expect(ChildProcess.waitFor(30) { firing("memory_low") == allHosts && firing("load_high") == even && delivered() == fired },
                "memory_low \(firing("memory_low").count), load_high \(firing("load_high").count), delivered \(delivered() ?? -1) of \(fired)")
        let perTarget = inHub { prometheus.samples("sum by (channel) (shd_notifications_delivered_total)") } ?? []
        #expect(Set(perTarget.compactMap { $0.labels["channel"] }) == ["am@\(Self.hubAddress):\(a.webPort)", "am@\(Self.hubAddress):\(b.webPort)"])
        #expect(perTarget.allSatisfy { $0.value == fired / 2 }, "each peer got every alert: \(perTarget.map { "\($0.labels) \($0.value)" })")

        // Everything resolves: neither peer shows anything, nothing fires in Prometheus, the counts add up.
        for d in daemons {
            d.setAvailable(kB: 24_215_532)
            Self.setLoad(d, 0.5)
        }
        #expect(ChildProcess.waitFor(60) {
            [a, b].allSatisfy { shown($0, "memory_low").isEmpty && shown($0, "load_high").isEmpty }
        }, "a: \(shown(a, "memory_low")) \(shown(a, "load_high")); b: \(shown(b, "memory_low")) \(shown(b, "load_high"))")
        #expect(ChildProcess.waitFor(30) { firing("memory_low").isEmpty && firing("load_high").isEmpty && delivered() == 2 * fired },
                "delivered \(delivered() ?? -1) of \(2 * fired)")
        let failed = inHub { prometheus.samples("sum(shd_notification_attempts_total{outcome!=\"delivered\"})") }?.first?.value ?? 0
        #expect(failed == 0, "no attempt had to be retried")
        for (i, d) in daemons.enumerated() {
            #expect(d.log.contains("HTTP endpoint on http://\(Self.address(i + 1)):\(Self.metricsPort)"), "\(d.log.suffix(1000))")
        }
    }
}
