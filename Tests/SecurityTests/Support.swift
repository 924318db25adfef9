// The helpers the fault and secret tests share (a scripted raw TCP server, file scans); the daemon under test
// is TestSupport's DaemonHarness.
import Kit
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Names in a folder (not recursive), sorted; empty when it cannot be listed.
func listFiles(_ dir: String) -> [String] { listDirectory(dir).sorted() }

/// Every regular file under `dir`, recursively (symlinks are not followed).
func filesUnder(_ dir: String) -> [String] {
    var out: [String] = []
    for name in listFiles(dir) {
        let p = dir + "/" + name
        var st = stat()
        guard lstat(p, &st) == 0 else { continue }
        if st.st_mode & S_IFMT == S_IFDIR { out += filesUnder(p) } else if st.st_mode & S_IFMT == S_IFREG { out.append(p) }
    }
    return out
}

/// Raw bytes of a file (empty when unreadable).
func readBytes(_ path: String) -> [UInt8] { (try? readWholeFile(path, limit: .max)) ?? [] }

func contains(_ hay: [UInt8], _ needle: String) -> Bool {
    let n = Array(needle.utf8)
    guard !n.isEmpty, hay.count >= n.count else { return false }
    var i = 0
    while i <= hay.count - n.count {
        if hay[i] == n[0] && Array(hay[i..<(i + n.count)]) == n { return true }
        i += 1
    }
    return false
}

/// Writes `text` to `path` with `mode` (the mode is applied after the write, whatever the umask).
func writeSecret(_ path: String, _ text: String, mode: mode_t = 0o600) {
    writeText(path, text)
    chmod(path, mode)
}

/// A 127.0.0.1 port nobody listens on (bound once to get it from the kernel, then closed).
func closedPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return UInt16(bigEndian: addr.sin_port)
}

/// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, not in a locked-down container).
let tmpfsMountable: Bool = {
    guard getuid() == 0 else { return false }
    let d = makeTempDirectory("shd-mount-probe")
    defer { _ = runShell("umount '\(d)' 2>/dev/null; rmdir '\(d)'") }
    return runShell("mount -t tmpfs -o size=64k tmpfs '\(d)' 2>/dev/null") == 0
}()

/// A TCP server on 127.0.0.1 whose connections are served, one at a time, by scripted behaviours:
/// garbage bytes, a half answer, silence, or a correct minimal SMTP or HTTP conversation.
final class RawServer: @unchecked Sendable {
    enum Behaviour: Sendable {
        /// Write these bytes, then close.
        case send([UInt8])
        /// Read until the peer is quiet for `idle` seconds or closes, replying per line with `reply(line)`
        /// (nil: close). Used for SMTP: the greeting is `greeting`.
        case lines(greeting: String?, reply: @Sendable (String) -> String?)
        /// Accept and say nothing; the connection stays open until the server stops.
        case silent
        /// Read the request, then send these bytes one at a time with `delay` µs between them.
        case trickle([UInt8], UInt32)
    }

    let port: UInt16
    private let listenFD: Int32
    private var mutex = pthread_mutex_t()
    private var script: [Behaviour] = []
    var defaultBehaviour: Behaviour
    private var stopping = false
    private var thread: pthread_t?
    private var held: [Int32] = []
    private(set) var connections = 0
    /// What each conversation received, in order.
    private(set) var transcripts: [String] = []

    init(port: UInt16 = 0, default behaviour: Behaviour) throws {
        defaultBehaviour = behaviour
        pthread_mutex_init(&mutex, nil)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard rc == 0, listen(fd, 64) == 0 else { close(fd); throw RawServerError(errno: errno) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listenFD = fd
        self.port = UInt16(bigEndian: addr.sin_port)
        var t = pthread_t()
        pthread_create(&t, nil, { arg in
            Unmanaged<RawServer>.fromOpaque(arg!).takeRetainedValue().serve()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        thread = t
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    func enqueue(_ b: [Behaviour]) { locked { script += b } }
    var connectionCount: Int { locked { connections } }
    var received: [String] { locked { transcripts } }

    func stop() {
        let t: pthread_t? = locked { stopping = true; defer { thread = nil }; return thread }
        if let t { pthread_join(t, nil) }
    }

    private func serve() {
        defer { for fd in locked({ held }) { close(fd) }; close(listenFD) }
        while !locked({ stopping }) {
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 20) > 0 else { continue }
            let c = accept(listenFD, nil, nil)
            guard c >= 0 else { continue }
            let b: Behaviour = locked {
                connections += 1
                return script.isEmpty ? defaultBehaviour : script.removeFirst()
            }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            switch b {
            case .send(let bytes):
                // Read the whole request first, so the bytes are an answer, not a greeting.
                let got = readHTTPRequest(c)
                var off = 0
                while off < bytes.count {
                    let w = bytes.withUnsafeBytes { send(c, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
                    if w <= 0 { break }
                    off += w
                }
                locked { transcripts.append(String(got.prefix(4096))) }
                close(c)
            case .trickle(let bytes, let delay):
                let got = readHTTPRequest(c)
                for b in bytes {
                    if locked({ stopping }) { break }
                    var one = b
                    if send(c, &one, 1, Int32(MSG_NOSIGNAL)) <= 0 { break }
                    usleep(delay)
                }
                locked { transcripts.append(String(got.prefix(4096))) }
                close(c)
            case .silent:
                locked { held.append(c) }
            case .lines(let greeting, let reply):
                var transcript = ""
                if let g = greeting { sendText(c, g) }
                var pending = ""
                var inData = false
                conversation: while !locked({ stopping }) {
                    let chunk = readSome(c)
                    if chunk.isEmpty { break }
                    transcript += chunk
                    pending += chunk
                    // Scalars, not Characters: "\r\n" is one Character and would hide the "\n".
                    while let nl = pending.unicodeScalars.firstIndex(of: "\n") {
                        let line = String(pending.unicodeScalars[..<nl]).trimmingSuffixCR()
                        pending = String(pending.unicodeScalars[pending.unicodeScalars.index(after: nl)...])
                        if inData {
                            if line == "." { inData = false; guard let r = reply("<end of data>") else { break conversation }; sendText(c, r) }
                            continue
                        }
                        guard let r = reply(line) else { break conversation }
                        sendText(c, r)
                        if r.hasPrefix("354") { inData = true }
                    }
                }
                locked { transcripts.append(transcript) }
                close(c)
            }
        }
    }

    /// Reads an HTTP request: headers, then Content-Length bytes of body (or whatever arrives within the timeout).
    private func readHTTPRequest(_ fd: Int32) -> String {
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var need: Int?
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            got += buf[0..<n]
            if need == nil, let end = headerEnd(got) {
                let head = String(decoding: got[0..<end], as: UTF8.self).lowercased()
                var length = 0
                if let r = head.firstRange(of: "content-length:") {
                    length = Int(head[r.upperBound...].prefix { $0 != "\r" }.trimmingPrefixSpaces()) ?? 0
                }
                need = end + 4 + length
            }
            if let need, got.count >= need { break }
        }
        return String(decoding: got, as: UTF8.self)
    }

    private func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    private func readSome(_ fd: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
    }

    private func sendText(_ fd: Int32, _ s: String) {
        let b = Array(s.utf8)
        _ = b.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

struct RawServerError: Error { var errno: Int32 }

extension Substring {
    func trimmingPrefixSpaces() -> Substring { drop { $0 == " " } }
}

extension String {
    func trimmingSuffixCR() -> String { unicodeScalars.last == "\r" ? String(unicodeScalars.dropLast()) : self }

    /// Occurrences of `needle`.
    func count(of needle: String) -> Int {
        var n = 0
        var rest = Substring(self)
        while let r = rest.firstRange(of: needle) { n += 1; rest = rest[r.upperBound...] }
        return n
    }
}

/// A correct minimal SMTP server conversation (no TLS, no AUTH).
@Sendable func goodSMTP(_ line: String) -> String? {
    let u = line.uppercased()
    if u.hasPrefix("EHLO") || u.hasPrefix("HELO") { return "250-localhost\r\n250 8BITMIME\r\n" }
    if u.hasPrefix("MAIL") || u.hasPrefix("RCPT") || u.hasPrefix("RSET") || u.hasPrefix("NOOP") { return "250 ok\r\n" }
    if u.hasPrefix("DATA") { return "354 go ahead\r\n" }
    if line == "<end of data>" { return "250 queued\r\n" }
    if u.hasPrefix("QUIT") { return "221 bye\r\n" }
    return "500 what?\r\n"
}

/// A complete HTTP/1.1 answer with `body`.
func httpAnswer(_ code: Int, _ reason: String, headers: [String] = [], body: String = "") -> [UInt8] {
    Array(("HTTP/1.1 \(code) \(reason)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
           + headers.map { $0 + "\r\n" }.joined() + "\r\n" + body).utf8)
}

/// The X-Shd-Notification-Id of a recorded request ("" when absent).
func notificationID(_ request: String) -> String {
    for line in request.split(separator: "\r\n") where line.lowercased().hasPrefix("x-shd-notification-id:") {
        return String(line.dropFirst("x-shd-notification-id:".count).drop { $0 == " " })
    }
    return ""
}
