// The one table of probe kinds (`probe NAME KIND { … }`) and their options, and the checked declaration.
// The checker's type checks, the daemon's defaults (Sources/Probes) and docs/rules.md's probe table come from it.
import Alerting

/// The options each probe kind accepts. The checker rejects others; the daemon's probe runner reads them.
public enum ProbeKinds {
    // Options every kind accepts.
    public static let interval = ConfigKey("interval", .duration, default: .duration(30), "how often the probe runs")
    public static let timeout = ConfigKey("timeout", .duration, default: .duration(5),
        "one run's deadline (connect, TLS handshake, request and answer); a run that passes it is `up false` with the error `timed out`")

    // Options of some kinds.
    public static let caFile = ConfigKey("ca_file", .string, defaultText: "the system's",
                                         "CA bundle (PEM) the server's or file's certificate chain is verified against")
    public static let name = ConfigKey("name", .string, defaultText: "the URL's host",
                                       "the DNS name the certificate must be valid for (`san_match`)")

    public static let common: [ConfigKey] = [interval, timeout]

    public static let kinds: [String: [ConfigKey]] = [
        "tcp": [
            ConfigKey("address", .string, required: true, check: .probeAddress,
                      "`\"host:port\"`, `\"[::1]:port\"` or a Unix socket `\"unix:/run/app.sock\"`"),
        ],
        "http": [
            ConfigKey("url", .string, required: true, check: .probeURL(["http", "https"]), "http(s) URL to request"),
            ConfigKey("method", .oneOf(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]), default: .string("GET"),
                      "request method"),
            ConfigKey("headers", .block, "request headers: a block of \"Name\" \"value\" pairs (a value may be `file \"…\"`)"),
            ConfigKey("body", .string, "request body (POST, PUT, PATCH)"),
            ConfigKey("expect_status", .stringOrList, default: .string("200-399"), check: .statusSet,
                      "statuses that count as up: `\"200\"`, `\"2xx\"`, `\"200-204\"` or a list of them"),
            ConfigKey("body_regex", .string, check: .regex, "a regex the first `max_body` bytes of the body must match (`matched`)"),
            ConfigKey("max_body", .number, default: .number(65536), unit: "bytes",
                      "bytes of the body read at most; the rest is not read"),
            ConfigKey("follow_redirects", .bool, default: .bool(false), "follow 3xx answers (http and https only)"),
            ConfigKey("max_redirects", .number, default: .number(5), unit: "redirects", "redirects followed at most"),
            ConfigKey("verify_tls", .bool, default: .bool(true), "verify the server's certificate and name (https)"),
            caFile,
            ConfigKey("client_cert", .string, "client certificate (PEM file) for mutual TLS"),
            ConfigKey("client_key", .string, "its private key (PEM file, 0600)"),
        ],
        "tls": [
            ConfigKey("url", .string, required: true,
                      check: .probeURL(["https", "smtps", "imaps", "pop3s", "ldaps", "ftps", "smtp", "imap", "pop3"]),
                      "`https://host:port`, or `smtp://`, `imap://`, `pop3://` (STARTTLS) and their implicit-TLS `s` schemes"),
            name,
            caFile,
        ],
        "certificate": [
            ConfigKey("path", .stringOrList, required: true,
                      "PEM files, folders (every `*.pem`, `*.crt` in it) or globs (`/etc/letsencrypt/live/*/fullchain.pem`)"),
            ConfigKey("name", .string, "the DNS name the certificate must be valid for (`san_match`)"),
            caFile,
        ],
    ]

    /// Every option `kind` accepts (its own plus the common ones), or nil for an unknown kind.
    public static func options(for kind: String) -> [ConfigKey]? {
        guard let own = kinds[kind] else { return nil }
        return own + common
    }
}

/// `probe NAME KIND { … }` after checking.
public struct ProbeDeclaration: Sendable, Equatable {
    public var name: String
    public var kind: String
    /// Options in source order; keys are those of `ProbeKinds.options(for: kind)`.
    public var options: [(String, ConfigValue)]
    public var location: SourceLocation

    public init(name: String, kind: String, options: [(String, ConfigValue)], location: SourceLocation) {
        self.name = name
        self.kind = kind
        self.options = options
        self.location = location
    }

    /// The value written for `key`, the last one if it was given twice.
    public subscript(key: String) -> ConfigValue? { options.last { $0.0 == key }?.1 }
    public subscript(key: ConfigKey) -> ConfigValue? { self[key.name] }

    public static func == (a: ProbeDeclaration, b: ProbeDeclaration) -> Bool {
        a.name == b.name && a.kind == b.kind && a.location == b.location && a.options.count == b.options.count
            && zip(a.options, b.options).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

/// One entry of `expect_status`: a status, a class (`2xx`) or a range (`200-204`). nil for anything else.
public func parseStatusRange(_ text: String) -> ClosedRange<Int>? {
    let t = text.trimmingSpaces
    if t.count == 3, let first = t.first, let d = first.wholeNumberValue, (1...5).contains(d),
       t.dropFirst().lowercased() == "xx" {
        return d * 100...d * 100 + 99
    }
    let parts = t.split(separator: "-", omittingEmptySubsequences: false)
    func status(_ s: Substring) -> Int? {
        guard s.count == 3, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(s), (100...599).contains(n) else { return nil }
        return n
    }
    if parts.count == 1, let n = status(parts[0]) { return n...n }
    if parts.count == 2, let a = status(parts[0]), let b = status(parts[1]), a <= b { return a...b }
    return nil
}

/// What a `tcp` probe's `address` names.
public enum ProbeAddress: Sendable, Equatable {
    case unix(path: String)
    /// `host` is a name, an IPv4 address or an IPv6 address without brackets.
    case inet(host: String, port: Int)

    /// `"host:port"`, `"[v6]:port"`, `"unix:/path"` or an absolute path; nil for anything else.
    public static func parse(_ text: String) -> ProbeAddress? {
        if text.hasPrefix("unix:") {
            let p = String(text.dropFirst(5))
            return p.hasPrefix("/") && p.utf8.count < 108 ? .unix(path: p) : nil
        }
        if text.hasPrefix("/") { return text.utf8.count < 108 ? .unix(path: text) : nil }
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") })
            else { return nil }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), (1...65535).contains(port) else { return nil }
        return .inet(host: String(host), port: port)
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
