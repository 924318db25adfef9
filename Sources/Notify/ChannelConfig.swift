// Channel declarations turned into typed settings, with secrets read from files that only shd may read.
import Alerting
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// Why the notifier refused its configuration or could not start. Structured until printed.
public struct NotifyError: Error, Equatable, CustomStringConvertible {
    enum Code: Equatable {
        case secretFileOpen(path: String, reason: String)
        case secretFilePermissions(path: String, mode: UInt32)
        case secretFileEmpty(path: String)
        case missingOption(channel: String, option: String)
        case badOption(channel: String, option: String, expected: String)
        case unknownKind(channel: String, kind: String)
        case spool(String)
    }

    let code: Code
    /// Where the channel was declared, when the error is about one.
    public let location: SourceLocation?

    init(_ code: Code, at location: SourceLocation? = nil) {
        self.code = code
        self.location = location
    }

    /// The secret file named in the error, if it is about one (so callers can point at it).
    public var file: String? {
        switch code {
        case .secretFileOpen(let p, _), .secretFilePermissions(let p, _), .secretFileEmpty(let p): return p
        default: return nil
        }
    }

    public var description: String {
        let prefix = location.map { "\($0): " } ?? ""
        switch code {
        case .secretFileOpen(let p, let r): return prefix + "cannot read secret file \(p): \(r)"
        case .secretFilePermissions(let p, let m):
            return prefix + "secret file \(p) is accessible by group or others (mode \(String(m & 0o777, radix: 8))); "
                + "run chmod 600 \(p)"
        case .secretFileEmpty(let p): return prefix + "secret file \(p) is empty"
        case .missingOption(let c, let o): return prefix + "channel \(c): missing option `\(o)`"
        case .badOption(let c, let o, let e): return prefix + "channel \(c): option `\(o)` must be \(e)"
        case .unknownKind(let c, let k): return prefix + "channel \(c): unknown kind `\(k)`"
        case .spool(let m): return "spool: " + m
        }
    }
}

/// A channel declaration checked and resolved into the values delivery needs (secrets included): the options every
/// kind has, read here, and the kind's own, read by its type (`ChannelRegistry`). Defaults and option names come from
/// the one table of channel options, `ChannelKinds` (Alerting/Settings.swift).
///
/// - Important: `secrets` holds every secret string so log lines can be scrubbed; never log this value.
struct ChannelConfig {
    /// The delivery target's name: the channel's, or `CHANNEL@KEY` for one of the targets a declaration expands
    /// into (`ChannelKind.targets`: `am@10.0.0.1:9093`). Queues, spool entries, log lines and `shd status` use it.
    var name: String
    /// The declared channel's name, which rules route to (`notify am`).
    var channel: String
    var kind: any ChannelKind
    var timeout: Double = ChannelKinds.timeout.defaultSeconds
    var ttl: Double = ChannelKinds.ttl.defaultSeconds
    var rateLimit = Int(ChannelKinds.rateLimit.defaultNumber)
    var minSeverity: Severity?
    var sendResolved = ChannelKinds.sendResolved.defaultBool
    var caFile: String?

    /// Strings that must never reach a log line: secret values, and URLs (Slack's carry the token in the path).
    var secrets: [String] = []

    /// What log lines say about the destination: host (and port) only, or the program for exec.
    var target: String { kind.target }

    /// `scheme://user:pw@host:port/path?q` → `host:port`.
    static func hostOf(_ url: String) -> String {
        var s = Substring(url)
        if let r = s.firstRange(of: "://") { s = s[r.upperBound...] }
        if let slash = s.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { s = s[..<slash] }
        if let at = s.lastIndex(of: "@") { s = s[s.index(after: at)...] }
        return String(s)
    }

    init(_ decl: ChannelDeclaration) throws(NotifyError) {
        guard let type = ChannelRegistry.kind(named: decl.kind) else {
            throw NotifyError(.unknownKind(channel: decl.name, kind: decl.kind), at: decl.location)
        }
        name = decl.name
        channel = decl.name
        let o = ChannelOptions(decl)
        if let t = try o.duration(ChannelKinds.timeout) { timeout = t }
        if let t = try o.duration(ChannelKinds.ttl) { ttl = t }
        if let v = o[ChannelKinds.rateLimit] {
            guard let n = v.numberValue, n >= 1 else { throw o.bad(ChannelKinds.rateLimit, "a number of messages per minute ≥ 1") }
            rateLimit = Int(n)
        }
        if let v = o[ChannelKinds.minSeverity] {
            guard let s = v.stringValue.flatMap(Severity.init(rawValue:)) else { throw o.bad(ChannelKinds.minSeverity, "\"warn\" or \"crit\"") }
            minSeverity = s
        }
        if let b = try o.bool(ChannelKinds.sendResolved) { sendResolved = b }
        caFile = try o.text(ChannelKinds.caFile)
        kind = try type.init(decoding: o)
        secrets = o.secrets
    }

    /// The delivery targets of this channel: itself, or one per target its kind expands into, named `CHANNEL@KEY`.
    func targets(resolved: [String: [String]] = [:]) -> [ChannelConfig] {
        guard let expanded = kind.targets(resolved: resolved) else { return [self] }
        return expanded.map { t in
            var c = self
            c.name = channel + "@" + t.key
            c.kind = t.kind
            return c
        }
    }

    /// The declared channel a target name belongs to (`am@10.0.0.1:9093` → `am`; a plain name is its own).
    static func channel(ofTarget name: String) -> String {
        name.firstIndex(of: "@").map { String(name[..<$0]) } ?? name
    }

    /// The parts of a URL that may carry a token when a receiver echoes them back without the host: the path
    /// with its query, and every path segment or query value of 8+ characters that is not a plain lower-case word.
    static func tokensOf(_ url: String) -> [String] {
        var rest = Substring(url)
        if let r = rest.firstRange(of: "://") { rest = rest[r.upperBound...] }
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return [] }
        let pathAndQuery = rest[slash...]
        var out = [String(pathAndQuery)]
        for piece in pathAndQuery.split(whereSeparator: { "/?&=#".contains($0) }) where piece.count >= 8 {
            if !piece.allSatisfy({ $0 >= "a" && $0 <= "z" }) { out.append(String(piece)) }
        }
        return out
    }

    /// Reads a secret; refuses a file that group or others may access, naming the file.
    static func readSecret(_ path: String, at loc: SourceLocation?) throws(NotifyError) -> String {
        let bytes: [UInt8]
        do { bytes = try readPrivateFile(path, refusing: 0o077, limit: 64 * 1024) } catch {
            switch error {
            case .unreadable(let e): throw NotifyError(.secretFileOpen(path: path, reason: errnoText(e.errno)), at: loc)
            case .exposed(let mode): throw NotifyError(.secretFilePermissions(path: path, mode: mode), at: loc)
            }
        }
        // Editors leave a final newline; a secret never ends with one on purpose.
        var s = String(decoding: bytes, as: UTF8.self)
        while let last = s.last, last == "\n" || last == "\r" || last == " " { s.removeLast() }
        if s.isEmpty { throw NotifyError(.secretFileEmpty(path: path), at: loc) }
        return s
    }

    /// Whether an event passes this channel's `min_severity` and `send_resolved` filters.
    func accepts(_ e: AlertEvent) -> Bool {
        if let m = minSeverity, e.severity < m { return false }
        if e.kind == .resolved && !sendResolved { return false }
        return true
    }

    /// Why a transfer failed, scrubbed of secrets: curl's error (with an SMTP server's own reply), or the HTTP
    /// status and the start of the response body.
    func failureText(_ r: TransferResult) -> String {
        if !r.completed {
            // SMTP: the server's own words ("552 5.3.4 Message too big"), not only libcurl's "RCPT failed: 552".
            if r.status >= 400, !r.serverReply.isEmpty { return scrub(r.error + "; server replied: " + r.serverReply) }
            return scrub(r.error)
        }
        var s = (r.status < 400 || r.status > 599 ? "status " : "HTTP ") + String(r.status)
        let body = String(decoding: r.body.prefix(200), as: UTF8.self)
        if !body.isEmpty { s += ": " + scrub(body) }
        return s
    }

    /// Replaces every secret in `text` with `<redacted>` (curl error texts, response bodies).
    func scrub(_ text: String) -> String { redacting(secrets, in: text) }
}

/// `text` with every secret of 4 or more characters replaced by `<redacted>` (longest first, so a URL is redacted
/// whole before its token is). Channels and probes scrub their error texts with it.
public func redacting(_ secrets: [String], in text: String) -> String {
    var out = text
    for s in secrets.sorted(by: { $0.count > $1.count }) where s.count >= 4 { out = out.replacingAll(s, with: "<redacted>") }
    return out
}

extension String {
    /// Plain substring replacement (FoundationEssentials-free).
    func replacingAll(_ needle: String, with replacement: String) -> String {
        guard !needle.isEmpty, contains(needle) else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: needle) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
