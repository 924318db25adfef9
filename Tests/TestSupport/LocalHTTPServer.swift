// A small real HTTP/1.1 server on 127.0.0.1 for tests: records every request and answers from a script.
import Kit
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 receiver on its own thread with its own poll(2) loop, so it answers while the test's loop runs.
///
/// Each request takes the next scripted `Response` (then `defaultResponse`). Connections are closed after
/// each answer. `stop()` closes the listening socket and every connection; a new server on the same `port`
/// brings the receiver "back up".
public final class LocalHTTPServer: @unchecked Sendable {
    /// One request as received.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [(String, String)]
        public var body: [UInt8]
        /// Monotonic seconds when the request was complete.
        public var receivedAt: Double

        /// The first header of that name (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// How to answer one request.
    public enum Response: Sendable {
        case status(Int, headers: [(String, String)] = [], body: String = "")
        /// Accept and read the request, never answer (until `stop`).
        case hang
        /// Close the connection without an answer.
        case close
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    private var mutex = pthread_mutex_t()
    private var recorded: [Request] = []
    private var script: [Response] = []
    private var stopping = false
    private var thread: pthread_t?
    private let listenFD: Int32
    public let port: UInt16
    public var defaultResponse: Response = .status(200, body: "ok")

    /// The loopback address it listens on.
    public let address: String
    public var url: String { "http://\(address):\(port)" }

    /// Binds `address`:`port` (0: an ephemeral port) and starts serving; `address` is a loopback one (127.0.0.2 for a
    /// second host on the same port).
    public init(port: UInt16 = 0, address: String = "127.0.0.1") throws(StartError) {
        self.address = address
        pthread_mutex_init(&mutex, nil)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr(address)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(fd, 64) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw StartError(description: "bind \(address):\(port): \(e)")
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listenFD = fd
        self.port = UInt16(bigEndian: bound.sin_port)
        var t = pthread_t()
        let me = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&t, nil, { arg in
            let server = Unmanaged<LocalHTTPServer>.fromOpaque(arg!).takeRetainedValue()
            server.serve()
            return nil
        }, me)
        thread = t
    }

    deinit { pthread_mutex_destroy(&mutex) }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    /// Queues answers for the next requests, in order.
    public func enqueue(_ responses: [Response]) { locked { script += responses } }

    /// Every request received so far.
    public var requests: [Request] { locked { recorded } }

    /// Closes the listening socket and every connection, and waits for the server thread to end.
    public func stop() {
        let t: pthread_t? = locked {
            stopping = true
            defer { thread = nil }
            return thread
        }
        if let t { pthread_join(t, nil) }
    }

    private final class Connection {
        let fd: Int32
        var buffer: [UInt8] = []
        var hung = false
        init(fd: Int32) { self.fd = fd }
    }

    private func serve() {
        var conns: [Connection] = []
        defer {
            for c in conns { close(c.fd) }
            close(listenFD)
        }
        while !locked({ stopping }) {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)]
            fds += conns.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 20) > 0 else { continue }
            if fds[0].revents != 0 {
                let c = accept(listenFD, nil, nil)
                if c >= 0 {
                    _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                    conns.append(Connection(fd: c))
                }
            }
            var closed: Set<Int32> = []
            // Connections accepted just now have no poll entry yet.
            for (i, c) in conns.prefix(fds.count - 1).enumerated() where fds[i + 1].revents != 0 {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = chunk.withUnsafeMutableBytes { read(c.fd, $0.baseAddress, $0.count) }
                if n <= 0 { closed.insert(c.fd); continue }
                c.buffer += chunk[0..<n]
                if c.hung { continue }
                guard let request = parse(c.buffer) else { continue }
                let response: Response = locked {
                    recorded.append(request)
                    return script.isEmpty ? defaultResponse : script.removeFirst()
                }
                switch response {
                case .hang:
                    c.hung = true
                case .close:
                    closed.insert(c.fd)
                case .status(let code, let headers, let body):
                    var text = "HTTP/1.1 \(code) \(reason(code))\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
                    for (k, v) in headers { text += "\(k): \(v)\r\n" }
                    text += "\r\n" + body
                    let bytes = Array(text.utf8)
                    var off = 0
                    while off < bytes.count {
                        let w = bytes.withUnsafeBytes { send(c.fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
                        if w <= 0 { break }
                        off += w
                    }
                    closed.insert(c.fd)
                }
            }
            for fd in closed { close(fd) }
            conns.removeAll { closed.contains($0.fd) }
        }
    }

    /// A complete request (headers and Content-Length body), or nil while more bytes are needed.
    private func parse(_ b: [UInt8]) -> Request? {
        guard b.count >= 4 else { return nil }
        var end = -1
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { end = i; break }
        guard end >= 0 else { return nil }
        let head = String(decoding: b[0..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let first = lines[0].split(separator: " ").map(String.init)
        guard first.count >= 2 else { return nil }
        var headers: [(String, String)] = []
        for l in lines.dropFirst() {
            guard let colon = l.firstIndex(of: ":") else { continue }
            headers.append((String(l[..<colon]), String(l[l.index(after: colon)...].drop { $0 == " " })))
        }
        let length = Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
        let bodyStart = end + 4
        guard b.count - bodyStart >= length else { return nil }
        return Request(method: first[0], path: first[1], headers: headers, body: Array(b[bodyStart..<(bodyStart + length)]),
                       receivedAt: monotonicSeconds())
    }

    private func reason(_ code: Int) -> String {
        switch code {
        case 200: return "OK"
        case 202: return "Accepted"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}

/// A blocking HTTP/1.0 GET or POST on 127.0.0.1 for tests that query a real server (Alertmanager).
public enum LoopbackHTTP {
    /// Returns (status, body), or nil if the server could not be reached.
    /// `host`: an IPv4 address (another local address than loopback for a server in a network namespace). A server
    /// that does not answer within 10 s counts as unreachable.
    public static func request(host: String = "127.0.0.1", port: UInt16, method: String = "GET", path: String,
                               body: String = "") -> (Int, String)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr(host)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { return nil }
        let text = "\(method) \(path) HTTP/1.0\r\nHost: \(host)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let w = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if w <= 0 { return nil }
            off += w
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        let s = String(decoding: out, as: UTF8.self)
        guard let sep = s.firstRange(of: "\r\n\r\n") else { return nil }
        let statusLine = s[..<sep.lowerBound].split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { return nil }
        return (code, String(s[sep.upperBound...]))
    }
}

/// A child process started by a test (a receiver), stopped by its own pid.
public final class TestChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private var stopped = false

    /// Starts `argv` (absolute path first) with the test's environment; stdout/stderr go to `logPath` if given.
    public init?(argv: [String], logPath: String? = nil) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let logPath {
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let cArgv = argv.map { strdup($0) } + [nil]
        defer { for p in cArgv { free(p) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, cArgv, environ) == 0 else { return nil }
        self.pid = pid
    }

    /// Waits for the child to exit and returns its exit code (-1 if it was killed by a signal).
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        stopped = true
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
    }

    /// SIGTERM (then SIGKILL after a second) to this pid only, and reaps it.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    deinit { stop() }
}
