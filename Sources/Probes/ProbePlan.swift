// A probe declaration decoded into what a run needs (typed, defaults filled, secrets read); pure but for secret files.
import Notify
import Rules

/// One declared probe, ready to run.
public struct ProbePlan: Sendable {
    public enum Kind: Sendable {
        case tcp(ProbeAddress)
        case http(HTTPPlan)
        case tls(TLSPlan)
        case certificate(CertificatePlan)
    }
    public var name: String
    public var kind: Kind
    public var interval: Double
    public var timeout: Double
    /// Strings never shown in a row or a log line (header values from files, URL tokens, passwords).
    public var secrets: [String] = []

    /// The `probes.*` function its rows go to.
    public var function: String {
        switch kind {
        case .tcp: return "tcp"
        case .http: return "http"
        case .tls: return "tls"
        case .certificate: return "certificates"
        }
    }
}

public struct HTTPPlan: Sendable {
    public var url: String
    public var method = "GET"
    public var headers: [(String, String)] = []
    public var body: String?
    public var expect: [ClosedRange<Int>] = [200...399]
    public var bodyRegex: Pattern?
    public var maxBody = 65536
    public var followRedirects = false
    public var maxRedirects = 5
    public var verifyTLS = true
    public var caFile: String?
    public var clientCert: String?
    public var clientKey: String?

    public func statusOK(_ status: Int) -> Bool { expect.contains { $0.contains(status) } }
}

public struct TLSPlan: Sendable {
    public var url: String
    /// The name checked against the certificate: `name`, else the URL's host.
    public var name: String
    public var caFile: String?
}

public struct CertificatePlan: Sendable {
    public var paths: [String]
    public var name: String?
    public var caFile: String?
}

/// Why a declaration cannot run (a secret file that cannot be read); the checker has already vetted the rest.
public struct ProbePlanError: Error, CustomStringConvertible {
    public var description: String
}

extension ProbePlan {
    /// Decodes a checked declaration. Throws only for what the checker cannot see: secret files.
    public init(_ d: ProbeDeclaration) throws(ProbePlanError) {
        name = d.name
        interval = d[ProbeKinds.interval]?.numberValue ?? ProbeKinds.interval.defaultSeconds
        timeout = d[ProbeKinds.timeout]?.numberValue ?? ProbeKinds.timeout.defaultSeconds
        func text(_ k: String) -> String? { d[k]?.stringValue }
        func bool(_ k: String, _ dflt: Bool) -> Bool { if case .bool(let b)? = d[k] { return b } else { return dflt } }
        switch d.kind {
        case "tcp":
            guard let a = text("address").flatMap(ProbeAddress.parse) else {
                throw ProbePlanError(description: "\(d.location): probe \(d.name): no usable address")
            }
            kind = .tcp(a)
        case "http":
            var h = HTTPPlan(url: text("url") ?? "")
            h.method = text("method") ?? "GET"
            if case .block(let pairs)? = d["headers"] {
                for (n, v) in pairs {
                    switch v {
                    case .string(let s): h.headers.append((n, s))
                    case .file(let path):
                        do throws(NotifyError) {
                            let s = try ProbeSecrets.read(path, at: d.location)
                            secrets.append(s)
                            h.headers.append((n, s))
                        } catch { throw ProbePlanError(description: "probe \(d.name): \(error)") }
                    default: break
                    }
                }
                // A header named like a credential is a secret even when written inline.
                for (n, v) in h.headers where ["authorization", "proxy-authorization", "cookie"].contains(n.lowercased()) { secrets.append(v) }
            }
            h.body = text("body")
            var ranges: [ClosedRange<Int>] = []
            switch d["expect_status"] {
            case .string(let s)?: ranges = parseStatusRange(s).map { [$0] } ?? []
            case .list(let l)?: ranges = l.compactMap { $0.stringValue.flatMap(parseStatusRange) }
            default: break
            }
            if !ranges.isEmpty { h.expect = ranges }
            // Searched line by line (HTTPProbeResult.search): the pattern may match anywhere in a line.
            if let r = text("body_regex") { h.bodyRegex = try? Pattern.regex(".*(" + r + ").*") }
            if let n = d["max_body"]?.numberValue { h.maxBody = max(1, min(Int(n), 16 << 20)) }
            h.followRedirects = bool("follow_redirects", false)
            if let n = d["max_redirects"]?.numberValue { h.maxRedirects = max(0, min(Int(n), 50)) }
            h.verifyTLS = bool("verify_tls", true)
            h.caFile = text("ca_file")
            h.clientCert = text("client_cert")
            h.clientKey = text("client_key")
            secrets += ProbeSecrets.tokens(ofURL: h.url)
            kind = .http(h)
        case "tls":
            let url = text("url") ?? ""
            secrets += ProbeSecrets.tokens(ofURL: url)
            kind = .tls(TLSPlan(url: url, name: text("name") ?? hostOf(url), caFile: text("ca_file")))
        default:
            var paths: [String] = []
            switch d["path"] {
            case .string(let s)?: paths = [s]
            case .list(let l)?: paths = l.compactMap(\.stringValue)
            default: break
            }
            kind = .certificate(CertificatePlan(paths: paths, name: text("name"), caFile: text("ca_file")))
        }
    }
}

/// `scheme://user@host:port/path` → `host` (brackets of an IPv6 literal removed).
func hostOf(_ url: String) -> String {
    var s = Substring(url)
    if let r = s.firstRange(of: "://") { s = s[r.upperBound...] }
    s = s.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    if let at = s.lastIndex(of: "@") { s = s[s.index(after: at)...] }
    if s.hasPrefix("["), let close = s.firstIndex(of: "]") { return String(s[s.index(after: s.startIndex)..<close]) }
    if let colon = s.lastIndex(of: ":") { s = s[..<colon] }
    return String(s)
}
