// probes.tcp, probes.http, probes.tls, probes.certificates: the rows of the declared probes (Sources/Probes runs them
// on the loop and publishes each run's row here; collecting copies the latest rows, it never waits for a probe).
import Reports

/// The latest row of every probe, by function and probe name. Written and read on the loop thread only.
public final class ProbeBoard: @unchecked Sendable {
    public static let shared = ProbeBoard()
    private var rows: [String: [String: [Row]]] = [:]
    /// Probe names in declaration order, so rows come out in the order the configuration wrote them.
    private var order: [String] = []

    public init() {}

    /// Replaces the rows of `probe` in `function` (a certificate probe has one row per file).
    public func publish(function: String, probe: String, rows newRows: [Row]) {
        rows[function, default: [:]][probe] = newRows
    }

    /// Forgets every probe not in `names` (a reload removed it) and keeps their declaration order.
    public func retain(_ names: [String]) {
        let keep = Set(names)
        for f in rows.keys { rows[f] = rows[f]?.filter { keep.contains($0.key) } }
        order = names
    }

    public func rows(of function: String) -> [Row] {
        guard let byProbe = rows[function] else { return [] }
        var out: [Row] = []
        for n in order { if let r = byProbe[n] { out.append(contentsOf: r) } }
        return out
    }
}

private func probeRows(_ f: String) -> [Row] { ProbeBoard.shared.rows(of: f) }

public final class TCPProbeFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "tcp", help: "Declared tcp probes: one row per probe, from its last run", fields: [
        FieldSchema("probe", .label, help: "the probe's name"),
        FieldSchema("address", .label, help: "host:port or unix:/path"),
        FieldSchema("up", .bool, help: "the last connect succeeded within the timeout"),
        FieldSchema("connect_seconds", .number, unit: "seconds", help: "time to connect"),
        FieldSchema("error", .label, help: "why the last run failed (empty when up)"),
    ], key: ["probe"])
    public init() {}
    public func collect(_ context: CollectContext) throws -> [Row] { probeRows(Self.schema.name) }
}

public final class HTTPProbeFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "http", help: "Declared http probes: one row per probe, from its last run", fields: [
        FieldSchema("probe", .label, help: "the probe's name"),
        FieldSchema("url", .label, help: "the URL, without user, password or query"),
        FieldSchema("up", .bool, help: "answered with an expected status and, with body_regex, a matching body"),
        FieldSchema("status", .number, help: "HTTP status of the last answer (0 without one)"),
        FieldSchema("status_ok", .bool, help: "the status is in expect_status"),
        FieldSchema("matched", .bool, help: "the body matched body_regex (true without one)"),
        FieldSchema("latency_seconds", .number, unit: "seconds", help: "time from the start to the end of the answer"),
        FieldSchema("bytes", .number, unit: "bytes", help: "body bytes read (at most max_body)"),
        FieldSchema("redirects", .number, help: "redirects followed"),
        FieldSchema("error", .label, help: "why the last run failed (secrets removed; empty when it answered)"),
    ], key: ["probe"])
    public init() {}
    public func collect(_ context: CollectContext) throws -> [Row] { probeRows(Self.schema.name) }
}

/// The certificate fields `probes.tls` and `probes.certificates` share.
let certificateFields: [FieldSchema] = [
    FieldSchema("subject", .label, help: "the certificate's subject (RFC 2253)"),
    FieldSchema("issuer", .label, help: "its issuer (RFC 2253)"),
    FieldSchema("not_after", .label, help: "when it expires (RFC 3339, UTC)"),
    FieldSchema("days_left", .number, unit: "days", help: "days until it expires (negative once expired)"),
    FieldSchema("san_match", .bool, help: "it is valid for the probed name (subjectAltName, RFC 6125)"),
    FieldSchema("chain_valid", .bool, help: "its chain verifies against ca_file or the system's CAs"),
    FieldSchema("chain_error", .label, help: "why the chain does not verify (empty when it does)"),
    FieldSchema("error", .label, help: "why no certificate could be read (empty when one was)"),
]

public final class TLSProbeFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "tls", help: "Declared tls probes: the server's certificate, from the last handshake",
                                              fields: [
        FieldSchema("probe", .label, help: "the probe's name"),
        FieldSchema("url", .label, help: "the URL probed"),
        FieldSchema("name", .label, help: "the name the certificate is checked against"),
        FieldSchema("up", .bool, help: "the handshake gave a certificate"),
    ] + certificateFields, key: ["probe"])
    public init() {}
    public func collect(_ context: CollectContext) throws -> [Row] { probeRows(Self.schema.name) }
}

public final class CertificateFilesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "certificates",
        help: "Declared certificate probes: one row per PEM file (its first certificate), re-read when the file changes", fields: [
        FieldSchema("probe", .label, help: "the probe's name"),
        FieldSchema("path", .label, help: "the file"),
    ] + certificateFields, key: ["probe", "path"])
    public init() {}
    public func collect(_ context: CollectContext) throws -> [Row] { probeRows(Self.schema.name) }
}

enum ProbesWorker {
    static func make() -> Worker {
        Worker(name: "probes", functions: [TCPProbeFunction(), HTTPProbeFunction(), TLSProbeFunction(), CertificateFilesFunction()])
    }
}
