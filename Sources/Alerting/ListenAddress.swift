// Where the optional HTTP endpoint listens (`set http_listen`): parsed here so that check-rules refuses what the
// daemon could not bind; the socket itself is made by the daemon.
#if canImport(Glibc)
import Glibc
#endif

/// `127.0.0.1:9465`, `[::1]:9465`, `0.0.0.0:9465`, or an absolute Unix socket path (`/run/shd/http.sock`).
public enum ListenAddress: Equatable, Sendable, CustomStringConvertible {
    case ipv4(String, UInt16)
    case ipv6(String, UInt16)
    case unix(String)

    /// What a value must look like, for error messages.
    public static let expected = "HOST:PORT (127.0.0.1:9465, [::1]:9465) or an absolute Unix socket path"

    /// Parses a `http_listen` value; nil when it is none of the forms of `expected`.
    public init?(_ text: String) {
        if text.hasPrefix("/") {
            self = .unix(text)
            return
        }
        let host: Substring, portText: Substring
        let bracketed = text.hasPrefix("[")
        if bracketed {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), port > 0 else { return nil }
        var v4 = in_addr()
        var v6 = in6_addr()
        if !bracketed, inet_pton(AF_INET, String(host), &v4) == 1 {
            self = .ipv4(String(host), port)
        } else if bracketed, inet_pton(AF_INET6, String(host), &v6) == 1 {
            self = .ipv6(String(host), port)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .ipv4(let h, let p): return "\(h):\(p)"
        case .ipv6(let h, let p): return "[\(h)]:\(p)"
        case .unix(let path): return path
        }
    }

    /// Loopback addresses and Unix sockets: reachable from this host only.
    public var isLocal: Bool {
        switch self {
        case .ipv4(let h, _): return h.hasPrefix("127.")
        case .ipv6(let h, _): return h == "::1"
        case .unix: return true
        }
    }
}
