// The optional HTTP endpoint (`set http_listen`): libmicrohttpd, dlopened on first need, driven by the daemon's epoll
// loop through libmicrohttpd's own epoll descriptor; requests are answered in the loop turn that reads them.
import CMicroHTTPD
import Alerting
import Kit
import Notify
import Rules
#if canImport(Glibc)
import Glibc
#endif

extension ListenAddress {
    /// A bound, listening, non-blocking socket.
    func listen() throws(SystemError) -> Int32 {
        func fail(_ call: String, _ fd: Int32) -> SystemError {
            let e = SystemError("\(call) \(self)", errno: errno)
            if fd >= 0 { close(fd) }
            return e
        }
        let family: Int32
        switch self {
        case .ipv4: family = AF_INET
        case .ipv6: family = AF_INET6
        case .unix: family = AF_UNIX
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw fail("socket", fd) }
        var one: Int32 = 1
        var rc: Int32
        switch self {
        case .ipv4(let h, let p):
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = p.bigEndian
            inet_pton(AF_INET, h, &a.sin_addr)
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .ipv6(let h, let p):
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = p.bigEndian
            inet_pton(AF_INET6, h, &a.sin6_addr)
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        case .unix(let path):
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: a.sun_path) else {
                close(fd)
                throw SystemError("bind \(path) (path too long)", errno: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &a.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
                raw[bytes.count] = 0
            }
            // A socket file left by a daemon that was killed: nothing listens on it any more.
            var st = stat()
            if lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK { unlink(path) }
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            if rc == 0 { chmod(path, 0o660) }
        }
        if rc != 0 { throw fail("bind", fd) }
        if Glibc.listen(fd, 64) != 0 { throw fail("listen", fd) }
        return fd
    }
}

/// One request, as a route sees it.
public struct HTTPRequest {
    public var method: String
    public var path: String
    fileprivate var connection: UnsafeMutableRawPointer?

    /// A request header, case-insensitive.
    public func header(_ name: String) -> String? {
        guard let c = connection, let v = shd_mhd_lookup(c, 0, name) else { return nil }
        return String(cString: v)
    }

    /// A query argument (`?since=24h`), decoded.
    public func query(_ name: String) -> String? {
        guard let c = connection, let v = shd_mhd_lookup(c, 1, name) else { return nil }
        return String(cString: v)
    }

    public init(method: String, path: String) {
        self.method = method
        self.path = path
    }

    fileprivate init(method: String, path: String, connection: UnsafeMutableRawPointer?) {
        self.method = method
        self.path = path
        self.connection = connection
    }
}

/// A route's answer.
public struct HTTPResponse {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var header: (name: String, value: String)?

    public init(status: Int = 200, contentType: String, body: [UInt8], header: (name: String, value: String)? = nil) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.header = header
    }

    public static func text(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array((text + "\n").utf8))
    }
}

/// Who may ask: anyone who can reach the address (no file), or a request carrying the token of `http_auth_file`
/// (`Authorization: Bearer TOKEN`, or HTTP basic authentication with any user name and TOKEN as the password).
public struct HTTPAuth: Sendable {
    public var token: String?

    public init(token: String?) { self.token = token }

    /// Reads the token from a file no one but its owner (and group) can read.
    public static func fromFile(_ path: String) throws(UsageError) -> HTTPAuth {
        var t = try readSettingFile(path, setting: KnownSettings.httpAuthFile.name, private: true)
        while let last = t.last, last.isWhitespace { t.removeLast() }
        guard !t.isEmpty, !t.contains(where: \.isWhitespace) else {
            throw UsageError("set http_auth_file: \(path) must hold one token (no spaces)")
        }
        return HTTPAuth(token: t)
    }

    /// Whether an `Authorization` header value carries the token; compared in constant time.
    public func allows(_ authorization: String?) -> Bool {
        guard let token else { return true }
        guard let a = authorization else { return false }
        if a.hasPrefix("Bearer ") { return Self.same(Array(a.utf8.dropFirst(7)), Array(token.utf8)) }
        if a.hasPrefix("Basic "), let decoded = Self.base64Decode(String(a.dropFirst(6))), let colon = decoded.firstIndex(of: UInt8(ascii: ":")) {
            return Self.same(Array(decoded[(colon + 1)...]), Array(token.utf8))
        }
        return false
    }

    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0
    }

    /// Standard base64 (RFC 4648 §4), padding optional; nil for anything else.
    static func base64Decode(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in s.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }
}

/// What one connection may cost (libmicrohttpd enforces them).
public struct HTTPLimits: Sendable {
    public var connections: UInt32 = 64
    /// Seconds a connection may stay idle (a client that sends nothing, or reads nothing, is dropped).
    public var timeoutSeconds: UInt32 = 10
    /// Memory per connection, request line and headers included: larger headers get 431.
    public var memoryPerConnection = 32 * 1024
    public init() {}
}

/// The server: one libmicrohttpd daemon in external-loop mode on `EventHost`.
public final class HTTPEndpoint {
    public let address: ListenAddress
    private let host: EventHost
    private let auth: HTTPAuth
    private let route: (HTTPRequest) -> HTTPResponse
    private var listenFD: Int32 = -1
    private var epollFD: Int32 = -1
    private var server: UnsafeMutableRawPointer?
    private var timer: TimerID?
    /// C strings handed to libmicrohttpd for headers; it copies them, but only after the route returns.
    private var interned: [String: UnsafeMutablePointer<CChar>] = [:]
    /// Requests answered, for the endpoint's own metrics.
    public private(set) var requests: UInt64 = 0

    /// Loads libmicrohttpd, binds `address` and starts serving on `host`.
    public init(address: ListenAddress, host: EventHost, auth: HTTPAuth, tls: (cert: String, key: String)? = nil,
                limits: HTTPLimits = HTTPLimits(), route: @escaping (HTTPRequest) -> HTTPResponse) throws(UsageError) {
        self.address = address
        self.host = host
        self.auth = auth
        self.route = route
        var err = [CChar](repeating: 0, count: 512)
        if shd_mhd_load(&err, err.count) != 0 { throw UsageError("http_listen: \(cText(err))") }
        do { listenFD = try address.listen() } catch { throw UsageError("http_listen: \(error)") }
        let l = shd_mhd_limits(connections: limits.connections, connections_per_ip: limits.connections,
                               timeout_seconds: limits.timeoutSeconds, memory_per_connection: limits.memoryPerConnection)
        let ctx = Unmanaged.passUnretained(self).toOpaque()
        server = shd_mhd_start(listenFD, tls?.cert, tls?.key, l, httpThunk, ctx, &err, err.count)
        guard let server else {
            close(listenFD)
            throw UsageError("http_listen \(address): \(cText(err))")
        }
        epollFD = shd_mhd_epoll_fd(server)
        host.watch(fd: epollFD, interest: .read) { [unowned self] _ in self.pump() }
        rearm()
    }

    deinit { stop() }

    /// Stops listening; open connections are closed.
    public func stop() {
        guard let s = server else { return }
        if let t = timer { host.cancelTimer(t) }
        timer = nil
        host.unwatch(fd: epollFD)
        shd_mhd_stop(s)
        server = nil
        close(listenFD)
        if case .unix(let path) = address { unlink(path) }
        for p in interned.values { free(p) }
        interned = [:]
    }

    private func pump() {
        guard let s = server else { return }
        _ = shd_mhd_run(s)
        rearm()
    }

    /// libmicrohttpd's next connection timeout, as a loop timer.
    private func rearm() {
        guard let s = server else { return }
        if let t = timer { host.cancelTimer(t) }
        timer = nil
        let ms = shd_mhd_timeout_ms(s)
        if ms >= 0 { timer = host.addTimer(after: Double(ms) / 1000) { [unowned self] in self.timer = nil; self.pump() } }
    }

    private func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
        if let p = interned[s] { return p }
        // Header values are few and fixed by the routes (content types, Allow, WWW-Authenticate).
        let p = strdup(s)!
        interned[s] = p
        return p
    }

    fileprivate func answer(_ r: shd_http_request, _ out: UnsafeMutablePointer<shd_http_answer>) {
        requests &+= 1
        let req = HTTPRequest(method: String(cString: r.method), path: String(cString: r.path), connection: r.connection)
        let response: HTTPResponse
        if !req.path.hasPrefix("/") {
            // libmicrohttpd hands over the request target as a C string: one with a NUL in it (or no leading slash,
            // as `*` or an absolute URL) reaches here empty or odd; no route serves it (found by fuzz/http.swift).
            response = HTTPResponse(status: 400, contentType: "text/plain; charset=utf-8", body: Array("bad request target\n".utf8))
        } else if req.method != "GET" && req.method != "HEAD" {
            response = HTTPResponse(status: 405, contentType: "text/plain; charset=utf-8", body: Array("only GET and HEAD\n".utf8),
                                    header: ("Allow", "GET, HEAD"))
        } else if !auth.allows(req.header("Authorization")) {
            response = HTTPResponse(status: 401, contentType: "text/plain; charset=utf-8", body: Array("authorization required\n".utf8),
                                    header: ("WWW-Authenticate", "Basic realm=\"shd\", charset=\"UTF-8\""))
        } else {
            response = route(req)
        }
        out.pointee.status = UInt32(response.status)
        out.pointee.content_type = UnsafePointer(cString(response.contentType))
        if let h = response.header {
            out.pointee.header_name = UnsafePointer(cString(h.name))
            out.pointee.header_value = UnsafePointer(cString(h.value))
        }
        if !response.body.isEmpty, let buf = malloc(response.body.count) {
            response.body.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            out.pointee.body = buf
            out.pointee.length = response.body.count
        }
    }
}

/// libmicrohttpd's access handler: back to the endpoint whose context it carries.
private let httpThunk: shd_http_handler = { ctx, request, answer in
    guard let ctx, let request, let answer else { return }
    Unmanaged<HTTPEndpoint>.fromOpaque(ctx).takeUnretainedValue().answer(request.pointee, answer)
}

/// A file a setting names, as text; `private`: refused when others may read it (a token, a key; its group may: a TLS
/// key is often root:ssl-cert 0640).
func readSettingFile(_ path: String, setting: String, private: Bool) throws(UsageError) -> String {
    do { return String(decoding: try readPrivateFile(path, refusing: `private` ? 0o007 : 0, limit: 1 << 20), as: UTF8.self) } catch {
        switch error {
        case .unreadable(let e) where e.operation == "read": throw UsageError("set \(setting): \(e)")
        case .unreadable(let e): throw UsageError("set \(setting): \(path): \(errnoText(e.errno))")
        case .exposed(let mode):
            throw UsageError("set \(setting): \(path) is readable by others (mode \(String(mode & 0o777, radix: 8))); chmod 600 it")
        }
    }
}

/// A NUL-terminated C buffer as text.
func cText(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
