// A real Prometheus server a test starts (Debian's `prometheus`), scraping static targets, queried over its HTTP
// API; stopped by pid.
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// `prometheus` with a scrape job over `targets`, its own TSDB folder, listening on `address:port`.
public final class PrometheusServer {
    public static let binary = "/usr/bin/prometheus"
    public static var unavailableReason: String? {
        access(binary, X_OK) == 0 ? nil : "prometheus is not installed (scripts/deps test installs it)"
    }

    public let address: String
    public let port: UInt16
    public let dir: String
    private var process: ChildProcess?

    /// - Parameters:
    ///   - targets: `host:port` of each target and the labels its series get (an `instance` label replaces the
    ///     address, as a fleet's scrape config does to name hosts).
    ///   - launcher: prepended to the argv (`ip netns exec NAME`).
    public init(address: String = "127.0.0.1", targets: [(address: String, labels: [String: String])],
                scrapeInterval: String = "1s", launcher: [String] = []) throws {
        self.address = address
        port = freeLoopbackPort()
        dir = makeTempDirectory("shd-prometheus")
        var config = "global:\n  scrape_interval: \(scrapeInterval)\n  scrape_timeout: \(scrapeInterval)\n"
            + "scrape_configs:\n  - job_name: shd\n    static_configs:\n"
        for t in targets {
            config += "      - targets: [\"\(t.address)\"]\n"
            if !t.labels.isEmpty {
                config += "        labels:\n"
                for (k, v) in t.labels.sorted(by: { $0.key < $1.key }) { config += "          \(k): \"\(v)\"\n" }
            }
        }
        writeText(dir + "/prometheus.yml", config)
        process = try ChildProcess(launcher + [Self.binary, "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                                               "--web.listen-address=\(address):\(port)", "--log.level=warn"],
                                   outputDirectory: dir)
    }

    deinit {
        stop()
        _ = runShell("rm -rf '\(dir)'")
    }

    /// SIGTERM to its pid, SIGKILL after 10 s.
    public func stop() {
        guard let p = process else { return }
        process = nil
        p.signal(SIGTERM)
        if p.wait(timeout: 10) == nil {
            p.signal(SIGKILL)
            p.wait(timeout: 5)
        }
    }

    public var log: String { process.map { $0.stderr } ?? "" }

    public var isReady: Bool { LoopbackHTTP.request(host: address, port: port, path: "/-/ready")?.0 == 200 }

    /// An instant query's result vector (`/api/v1/query`), nil when Prometheus does not answer or refuses it.
    public func query(_ expr: String) -> [JSONValue]? {
        guard let (status, body) = LoopbackHTTP.request(host: address, port: port, path: "/api/v1/query?query=" + Self.percentEncoded(expr)),
              status == 200, let v = try? JSONValue.parse(body), v["status"]?.string == "success" else { return nil }
        return v["data"]?["result"]?.array
    }

    /// Each series' labels and value of an instant query.
    public func samples(_ expr: String) -> [(labels: [String: String], value: Double)]? {
        query(expr)?.compactMap { r in
            guard let metric = r["metric"]?.object, let text = r["value"]?.array?.last?.string, let value = Double(text) else { return nil }
            var labels: [String: String] = [:]
            for (k, v) in metric { labels[k] = v.string ?? "" }
            return (labels, value)
        }
    }

    static func percentEncoded(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) { out.append(c) } else {
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
