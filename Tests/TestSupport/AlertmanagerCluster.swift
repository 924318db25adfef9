// A real prometheus-alertmanager HA cluster a test starts on loopback (or another local address): each peer with
// its own web and cluster ports and storage folder, gossiping with the others; stopped by pid.
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// One peer of an `AlertmanagerCluster`: `start()` runs `prometheus-alertmanager` with `--cluster.peer` for every
/// other peer; `stop()` ends it by its pid (SIGTERM, then SIGKILL), keeping its storage for the next `start()`.
public final class AlertmanagerPeer {
    public let address: String
    public let webPort: UInt16
    public let clusterPort: UInt16
    public let dir: String
    public var others: [String] = []
    /// Prepended to the argv (`ip netns exec NAME`, which execs: the pid stays the peer's).
    public var launcher: [String] = []
    public private(set) var process: ChildProcess?
    private var runs = 0

    public var url: String { "http://\(address):\(webPort)" }
    public var clusterAddress: String { "\(address):\(clusterPort)" }

    init(address: String, dir: String) {
        self.address = address
        self.dir = dir
        webPort = freeLoopbackPort()
        clusterPort = freeLoopbackPort()
        mkdir(dir, 0o755)
    }

    deinit { stop() }

    public func start() throws {
        runs += 1
        let out = dir + "/run\(runs)"
        mkdir(out, 0o755)
        process = try ChildProcess(launcher + [AlertmanagerCluster.binary, "--config.file=\(dir)/../am.yml", "--storage.path=\(dir)/data",
                                    "--web.listen-address=\(address):\(webPort)",
                                    "--cluster.listen-address=\(clusterAddress)", "--cluster.advertise-address=\(clusterAddress)",
                                    "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=2s",
                                    "--cluster.reconnect-interval=1s", "--log.level=info"]
                                   + others.map { "--cluster.peer=\($0)" },
                                   outputDirectory: out)
    }

    /// SIGTERM to this peer's pid, SIGKILL after 5 s.
    public func stop() {
        guard let p = process else { return }
        process = nil
        p.signal(SIGTERM)
        if p.wait(timeout: 5) == nil {
            p.signal(SIGKILL)
            p.wait(timeout: 5)
        }
    }

    public var log: String { process.map { $0.stderr + $0.stdout } ?? "" }

    public func request(_ path: String) -> (Int, String)? {
        LoopbackHTTP.request(host: address, port: webPort, path: path)
    }

    public var isReady: Bool { request("/-/ready")?.0 == 200 }

    /// The cluster members this peer sees (`/api/v2/status`), 0 when it does not answer.
    public var clusterSize: Int {
        guard let (status, body) = request("/api/v2/status"), status == 200, let v = try? JSONValue.parse(body) else { return 0 }
        return v["cluster"]?["peers"]?.array?.count ?? 0
    }

    /// The alerts this peer lists (`GET /api/v2/alerts`: active, silenced and inhibited ones, not resolved ones);
    /// nil when it does not answer.
    public func alerts() -> [JSONValue]? {
        guard let (status, body) = request("/api/v2/alerts"), status == 200 else { return nil }
        return (try? JSONValue.parse(body))?.array
    }

    /// The listed alerts named `alertname`.
    public func alerts(named alertname: String) -> [JSONValue] {
        (alerts() ?? []).filter { $0["labels"]?["alertname"]?.string == alertname }
    }
}

/// `count` peers of one Alertmanager cluster, configured to route everything to a receiver that sends nothing.
public final class AlertmanagerCluster {
    public static let binary = "/usr/bin/prometheus-alertmanager"
    /// Why no cluster can be started here, or nil.
    public static var unavailableReason: String? {
        access(binary, X_OK) == 0 ? nil : "prometheus-alertmanager is not installed (scripts/deps test installs it)"
    }

    public let dir: String
    public let peers: [AlertmanagerPeer]

    /// - Parameters:
    ///   - address: where every peer listens (web and cluster ports); another than 127.0.0.1 for a cluster inside
    ///     a network namespace, whose HTTP the test then reaches from inside it (`NetworkNamespace.inside`).
    ///   - launcher: prepended to each peer's argv (`NetworkNamespace.exec([])`).
    public init(count: Int = 2, address: String = "127.0.0.1", launcher: [String] = []) throws {
        dir = makeTempDirectory("shd-am")
        writeText(dir + "/am.yml", "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
        let root = dir
        peers = (0..<count).map { AlertmanagerPeer(address: address, dir: root + "/peer\($0)") }
        for p in peers {
            p.others = peers.filter { $0 !== p }.map(\.clusterAddress)
            p.launcher = launcher
        }
        for p in peers { try p.start() }
    }

    deinit {
        for p in peers { p.stop() }
        _ = runShell("rm -rf '\(dir)'")
    }

    /// Every peer answers and sees all the others (gossip joined).
    public func waitFormed(_ seconds: Double = 30) -> Bool {
        ChildProcess.waitFor(seconds) { peers.allSatisfy { $0.isReady && $0.clusterSize == peers.count } }
    }

    public var urls: [String] { peers.map(\.url) }

    /// Every peer's logs, for a failure message.
    public var logs: String { peers.enumerated().map { "peer\($0.offset): \($0.element.log.suffix(3000))" }.joined(separator: "\n") }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
public func freeLoopbackPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return UInt16(bigEndian: a.sin_port)
}
