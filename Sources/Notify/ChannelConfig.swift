// Channel declarations turned into typed settings, with secrets read from files that only shd may read.
import Reports
import Rules
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

/// The kinds of channel Notify can deliver to.
enum ChannelKind: String, CaseIterable {
    case log, webhook, slack, smtp, alertmanager, exec

    /// How many spool entries of one enqueue call may travel in one message.
    var maxBatch: Int {
        switch self {
        case .log, .exec: return 1
        case .slack: return 20  // Slack allows 50 blocks per message; each alert takes two.
        case .webhook, .smtp, .alertmanager: return 100
        }
    }

    /// Delivers through libcurl, which is loaded only when a configured channel needs it.
    var usesCurl: Bool {
        switch self {
        case .webhook, .slack, .smtp, .alertmanager: return true
        case .log, .exec: return false
        }
    }
}

/// A channel declaration checked and resolved into the values delivery needs (secrets included). Defaults and
/// option names come from the one table of channel options, `ChannelKinds` (Rules/Settings.swift).
///
/// - Important: `secrets` holds every secret string so log lines can be scrubbed; never log this value.
struct ChannelConfig {
    var name: String
    var kind: ChannelKind
    var timeout: Double = ChannelKinds.timeout.defaultSeconds
    var ttl: Double = ChannelKinds.ttl.defaultSeconds
    var rateLimit = Int(ChannelKinds.rateLimit.defaultNumber)
    var minSeverity: Severity?
    var sendResolved = ChannelKinds.sendResolved.defaultBool

    var url: String = ""
    var headers: [(String, String)] = []
    var hmacSecret: [UInt8]?
    var caFile: String?
    var includeReport = ChannelKinds.includeReport.defaultBool
    var slackChannel: String?
    var slackUsername: String?
    var mailFrom = ""
    var mailTo: [String] = []
    var user: String?
    var password: String?
    var requireTLS = ChannelKinds.tls.defaultString == "required"
    var subjectPrefix = ChannelKinds.subjectPrefix.defaultString
    var resendInterval = ChannelKinds.resendInterval.defaultSeconds
    var generatorURL: String?
    var command: [String] = []

    /// Strings that must never reach a log line: secret values, and URLs (Slack's carry the token in the path).
    var secrets: [String] = []

    /// What log lines say about the destination: host (and port) only, or the program for exec.
    var target: String {
        switch kind {
        case .log: return "log"
        case .exec: return command.first ?? "?"
        default: return ChannelConfig.hostOf(url)
        }
    }

    /// `scheme://user:pw@host:port/path?q` → `host:port`.
    static func hostOf(_ url: String) -> String {
        var s = Substring(url)
        if let r = s.firstRange(of: "://") { s = s[r.upperBound...] }
        if let slash = s.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { s = s[..<slash] }
        if let at = s.lastIndex(of: "@") { s = s[s.index(after: at)...] }
        return String(s)
    }

    init(_ decl: ChannelDeclaration) throws(NotifyError) {
        guard let kind = ChannelKind(rawValue: decl.kind) else {
            throw NotifyError(.unknownKind(channel: decl.name, kind: decl.kind), at: decl.location)
        }
        name = decl.name
        self.kind = kind
        let loc = decl.location

        func bad(_ option: String, _ expected: String) -> NotifyError {
            NotifyError(.badOption(channel: decl.name, option: option, expected: expected), at: loc)
        }
        func duration(_ key: String) throws(NotifyError) -> Double? {
            guard let v = decl[key] else { return nil }
            guard let d = v.numberValue, d > 0 else { throw bad(key, "a positive duration") }
            return d
        }
        /// A plain string, or the content of a `file "…"` secret (recorded for log scrubbing).
        func text(_ key: String, secret: Bool = false) throws(NotifyError) -> String? {
            switch decl[key] {
            case nil: return nil
            case .string(let s)?:
                if secret && !s.isEmpty { secrets.append(s) }
                return s
            case .file(let path)?:
                let s = try ChannelConfig.readSecret(path, at: loc)
                secrets.append(s)
                return s
            default: throw bad(key, "a string or file \"…\"")
            }
        }
        func required(_ key: String, secret: Bool = false) throws(NotifyError) -> String {
            guard let s = try text(key, secret: secret), !s.isEmpty else {
                throw NotifyError(.missingOption(channel: decl.name, option: key), at: loc)
            }
            return s
        }

        if let t = try duration(ChannelKinds.timeout.name) { timeout = t }
        if let t = try duration(ChannelKinds.ttl.name) { ttl = t }
        if let v = decl[ChannelKinds.rateLimit] {
            guard let n = v.numberValue, n >= 1 else { throw bad("rate_limit", "a number of messages per minute ≥ 1") }
            rateLimit = Int(n)
        }
        if let v = decl[ChannelKinds.minSeverity] {
            guard let s = v.stringValue.flatMap(Severity.init(rawValue:)) else { throw bad("min_severity", "\"warn\" or \"crit\"") }
            minSeverity = s
        }
        if let v = decl[ChannelKinds.sendResolved] {
            guard case .bool(let b) = v else { throw bad("send_resolved", "true or false") }
            sendResolved = b
        }
        caFile = try text("ca_file")

        switch kind {
        case .log:
            break
        case .webhook, .slack, .alertmanager:
            // Every URL is treated as a secret: Slack's and many webhook URLs carry the token in the path.
            url = try required("url", secret: true)
            secrets += ChannelConfig.tokensOf(url)
            if let v = decl[ChannelKinds.headers] {
                guard case .block(let pairs) = v else { throw bad("headers", "a block of \"Name\" \"value\" pairs") }
                for (name, value) in pairs {
                    switch value {
                    case .string(let s): headers.append((name, s))
                    case .file(let path):
                        let s = try ChannelConfig.readSecret(path, at: loc)
                        secrets.append(s)
                        headers.append((name, s))
                    default: throw bad("headers", "a block of \"Name\" \"value\" pairs")
                    }
                }
            }
            if kind == .webhook {
                if let s = try text("hmac_secret", secret: true) { hmacSecret = Array(s.utf8) }
                if let v = decl[ChannelKinds.includeReport] {
                    guard case .bool(let b) = v else { throw bad("include_report", "true or false") }
                    includeReport = b
                }
            }
            if kind == .slack {
                slackChannel = try text("channel")
                slackUsername = try text("username")
            }
            if kind == .alertmanager {
                if let t = try duration(ChannelKinds.resendInterval.name) { resendInterval = t }
                generatorURL = try text("generator_url")
            }
        case .smtp:
            url = try required("server")
            mailFrom = try required("from")
            switch decl["to"] {
            case .string(let s)?: mailTo = [s]
            case .list(let l)?:
                mailTo = l.compactMap(\.stringValue)
                if mailTo.count != l.count || mailTo.isEmpty { throw bad("to", "an address or a list of addresses") }
            case nil: throw NotifyError(.missingOption(channel: decl.name, option: "to"), at: loc)
            default: throw bad("to", "an address or a list of addresses")
            }
            // An address goes into the envelope as <address> and into the From/To header as it is: a space, a
            // bracket or a line break there would break both (or add a header), and non-ASCII needs SMTPUTF8.
            func plainAddress(_ a: String) -> Bool {
                a.utf8.count <= 254 && a.contains("@") && a.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") && $0 != UInt8(ascii: ",") }
            }
            let addressText = "a plain e-mail address such as \"ops@example.com\" (ASCII, no spaces, <, > or commas)"
            if !plainAddress(mailFrom) { throw bad("from", addressText) }
            if !mailTo.allSatisfy(plainAddress) { throw bad("to", addressText) }
            user = try text("user")
            password = try text("password", secret: true)
            if let t = try text("tls") {
                guard t == "none" || t == "required" else { throw bad("tls", "\"required\" or \"none\"") }
                requireTLS = t == "required"
            }
            if let p = try text("subject_prefix") { subjectPrefix = p }
        case .exec:
            guard case .list(let l)? = decl["command"] else {
                if decl["command"] == nil { throw NotifyError(.missingOption(channel: decl.name, option: "command"), at: loc) }
                throw bad("command", "a list of strings: [\"/path/to/program\", \"arg\"]")
            }
            command = l.compactMap(\.stringValue)
            guard command.count == l.count, let first = command.first, first.hasPrefix("/") else {
                throw bad("command", "a list of strings starting with an absolute program path")
            }
        }
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
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw NotifyError(.secretFileOpen(path: path, reason: errnoText(errno)), at: loc) }
        var st = stat()
        let statOK = fstat(fd, &st) == 0
        close(fd)
        guard statOK else { throw NotifyError(.secretFileOpen(path: path, reason: errnoText(errno)), at: loc) }
        if st.st_mode & 0o077 != 0 { throw NotifyError(.secretFilePermissions(path: path, mode: st.st_mode), at: loc) }
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path, limit: 64 * 1024) } catch {
            throw NotifyError(.secretFileOpen(path: path, reason: errnoText(error.errno)), at: loc)
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

    /// Replaces every secret in `text` with `<redacted>` (curl error texts, response bodies).
    func scrub(_ text: String) -> String {
        var out = text
        // Longest first, so a URL is redacted whole before its token is.
        for s in secrets.sorted(by: { $0.count > $1.count }) where s.count >= 4 { out = out.replacingAll(s, with: "<redacted>") }
        return out
    }
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
