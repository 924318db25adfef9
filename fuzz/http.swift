// Fuzz target: the HTTP endpoint as a client reaches it. A real HTTPEndpoint (libmicrohttpd, dlopened, in external-loop
// mode on shd's EventLoop) listens on a Unix socket; each input is written to it as one client's bytes, then the
// loop is pumped until the answer stops coming, then the client resets the connection. Our side (request and header
// decoding, the token check on `Authorization`, query parsing, the answer handed back to libmicrohttpd) must never
// trap; an answer must be an HTTP/1.x status line; a request the route sees has a path that starts with `/`.
// The input's first byte chooses the endpoint: even, one with a token (`Bearer fuzz-token`); odd, one without.
import Alerting
import Kit
import Rules
@testable import Daemon
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var loop: EventLoop!
nonisolated(unsafe) var endpoints: [HTTPEndpoint] = []
nonisolated(unsafe) var paths: [String] = []
nonisolated(unsafe) var routed = 0

/// What the daemon's routes read of a request: headers, query values, a duration.
func route(_ r: HTTPRequest) -> HTTPResponse {
    routed += 1
    if !r.path.hasPrefix("/") { fatalError("a request target that is no path reached the route: '\(r.path)'") }
    var body = Array("path=\(r.path)\n".utf8)
    if let accept = r.header("Accept"), accept.contains("application/openmetrics-text") { body += Array("openmetrics\n".utf8) }
    if let since = r.query("since") {
        if let d = try? Literal.duration(since), d > 0 { body += Array("since=\(d)\n".utf8) } else { return .text(400, "since: \(since)") }
    }
    if let rule = r.query("rule") { body += Array("rule=\(rule)\n".utf8) }
    return HTTPResponse(contentType: "text/plain; charset=utf-8", body: body, header: ("X-Fuzz", "1"))
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>>>) -> Int32 {
    signal(SIGPIPE, SIG_IGN)
    do {
        loop = try EventLoop()
        let dir = "/tmp/shd-fuzz-http-\(getpid())"
        mkdir(dir, 0o700)
        var limits = HTTPLimits()
        limits.timeoutSeconds = 1
        limits.connections = 256
        for (i, token) in ["fuzz-token", nil].enumerated() {
            let path = dir + "/s\(i)"
            paths.append(path)
            endpoints.append(try HTTPEndpoint(address: .unix(path), host: loop, auth: HTTPAuth(token: token), limits: limits, route: route))
        }
    } catch {
        fatalError("fuzz-http needs libmicrohttpd (libmicrohttpd12): \(error)")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { fatalError("socket: \(errno)") }
    var a = sockaddr_un()
    a.sun_family = sa_family_t(AF_UNIX)
    let path = Array(paths[Int(data[0] & 1)].utf8)
    withUnsafeMutableBytes(of: &a.sun_path) { raw in
        for (i, b) in path.enumerated() { raw[i] = b }
        raw[path.count] = 0
    }
    let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
    guard rc == 0 else { fatalError("connect: \(errno) (connections left open by earlier inputs?)") }
    // The whole input fits the socket's buffer (libFuzzer's -max_len is 64 KiB); the server reads it as it likes.
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var sent = 0
    var answer: [UInt8] = []
    var closed = false
    var buf = [UInt8](repeating: 0, count: 65536)
    loop.watch(fd: fd, interest: .read) { _ in
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { answer += buf[0..<n]; continue }
            if n == 0 || errno != EAGAIN { closed = true }
            return
        }
    }
    // An answer comes within a loop turn or two of the request's last byte. libmicrohttpd 0.9.75 does not notice a
    // client's FIN after a partial request until its connection timeout, so the client does not wait for the close:
    // after 20 ms without news it resets the connection (SO_LINGER 0), which libmicrohttpd sees at once.
    var quietSince = monotonicSeconds()
    var seen = 0
    while !closed {
        if sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { sent += n; quietSince = monotonicSeconds() } else if errno != EAGAIN { sent = bytes.count }
        }
        loop.run(until: { closed }, timeout: 0.005)
        if answer.count != seen { seen = answer.count; quietSince = monotonicSeconds() }
        if sent == bytes.count && monotonicSeconds() - quietSince > 0.02 { break }
    }
    loop.unwatch(fd: fd)
    var linger = linger(l_onoff: 1, l_linger: 0)
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
    close(fd)
    // libmicrohttpd handles the reset (and frees the connection) in this turn.
    loop.run(until: { false }, timeout: 0.002)
    if !answer.isEmpty, !answer.starts(with: Array("HTTP/1.".utf8)) {
        fatalError("an answer that is not an HTTP/1.x status line: \(String(decoding: answer.prefix(80), as: UTF8.self))")
    }
    return 0
}
