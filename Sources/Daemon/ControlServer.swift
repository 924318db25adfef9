// The control socket: a Unix stream socket served on the daemon's loop, never blocking it (limits below).
import Kit
import CLinux
import Notify
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// Who is on the other end of a connection, from the kernel (SO_PEERCRED, SO_PEERGROUPS), not from the client.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups of the peer's process when it connected.
    public var groups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32]) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// As the log shows it: `uid 0 gid 0 pid 4242 (shd)`.
    public var description: String {
        let comm = (try? readWholeFile("/proc/\(pid)/comm", limit: 64)).map { String(decoding: $0, as: UTF8.self) }?
            .split(separator: "\n").first.map(String.init)
        return "uid \(uid) gid \(gid) pid \(pid)" + (comm.map { " (\($0))" } ?? "")
    }
}

/// Who may use the socket: root, the daemon's own user, and members of the admin group (`set control_group`).
/// The socket file's mode (0660, group the admin group; 0600 without one) already keeps others out; this is checked
/// again on every connection, so a socket whose mode was loosened by hand still refuses them.
public struct ControlAccess: Sendable, Equatable {
    public var daemonUID: UInt32
    public var adminGID: UInt32?

    public init(daemonUID: UInt32, adminGID: UInt32?) {
        self.daemonUID = daemonUID
        self.adminGID = adminGID
    }

    public func allows(_ p: PeerCredentials) -> Bool {
        if p.uid == 0 || p.uid == daemonUID { return true }
        guard let g = adminGID else { return false }
        return p.gid == g || p.groups.contains(g)
    }
}

/// Limits that keep a slow or hostile client from stalling the loop or growing the daemon.
public struct ControlLimits: Sendable {
    /// Connections served at once; one more is told "busy" and closed.
    public var maxClients = 16
    /// A client must send a whole request within this many seconds of connecting (or of its last answer), and read
    /// an answer within this many seconds; else it is disconnected.
    public var timeout: Double = 10
    /// Answer bytes waiting for all clients together; a request whose answer would pass it is answered "busy".
    public var maxBufferedOutput = 64 << 20
    public init() {}
}

/// Serves `ControlRequest`s on a Unix socket. Every call happens on the loop thread; sockets are non-blocking; a
/// client gets one answer at a time (its next request is not read before the answer is written).
public final class ControlServer {
    /// Answers a request with its answer line, newline included (`ControlResponse.line`, `successLine`).
    public typealias Handler = (ControlRequest, PeerCredentials) -> [UInt8]

    final class Client {
        let fd: Int32
        let peer: PeerCredentials
        var input: [UInt8] = []
        var output: [UInt8] = []
        var written = 0
        var timer: TimerID?
        /// The next buffered request's turn (a zero-delay timer: the next loop turn, after the others' events).
        var next: TimerID?
        var closeAfterWrite = false
        init(fd: Int32, peer: PeerCredentials) {
            self.fd = fd
            self.peer = peer
        }
    }

    public let path: String
    let listenFD: Int32
    let loop: EventLoop
    let log: Logger
    let policy: ControlAccess
    let limits: ControlLimits
    let handler: Handler
    var clients: [Int32: Client] = [:]
    var bufferedOutput = 0
    var closed = false
    /// The socket file's inode, so `close()` removes ours and not one a later daemon made.
    let inode: UInt64

    /// Binds `path` (removing a stale socket, refusing one a live daemon answers on), sets its mode and group, and
    /// starts listening on `loop`.
    public init(path: String, adminGroup: UInt32?, loop: EventLoop, log: Logger, limits: ControlLimits = .init(),
                handler: @escaping Handler) throws(SystemError)
    {
        self.path = path
        self.loop = loop
        self.log = log
        self.limits = limits
        self.handler = handler
        self.policy = ControlAccess(daemonUID: geteuid(), adminGID: adminGroup)
        guard path.utf8.count < 108 else { throw SystemError("control socket path longer than 107 bytes: \(path)", errno: ENAMETOOLONG) }
        let parent = parentDirectory(path)
        if access(parent, F_OK) != 0 {
            do { try AtomicFile.makeDirectories(parent, mode: 0o755) } catch { throw SystemError("mkdir \(parent)", errno: errno) }
        }
        if Self.answers(path) { throw SystemError("\(path): another shd is serving this control socket", errno: EADDRINUSE) }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SystemError("socket(AF_UNIX)") }
        // Created 0600 (no window in which others may connect), then opened to the admin group.
        let old = umask(0o177)
        let rc = withSocketAddress(path) { bind(fd, $0, $1) }
        umask(old)
        if rc != 0 {
            let e = SystemError("bind \(path)")
            Glibc.close(fd)
            throw e
        }
        if let g = adminGroup {
            if chown(path, UInt32.max, g) != 0 || chmod(path, 0o660) != 0 {
                log.warning("control socket \(path): cannot give it to group \(g) (\(SystemError("chown"))); only root and shd's user may use it")
            }
        }
        if listen(fd, 16) != 0 {
            let e = SystemError("listen \(path)")
            Glibc.close(fd)
            unlink(path)
            throw e
        }
        var st = stat()
        inode = stat(path, &st) == 0 ? UInt64(st.st_ino) : 0
        listenFD = fd
        loop.watch(fd: fd, interest: .read) { [unowned self] _ in self.acceptAll() }
    }

    /// Stops listening, disconnects every client and removes the socket file (if it is still ours).
    public func close() {
        guard !closed else { return }
        closed = true
        loop.unwatch(fd: listenFD)
        Glibc.close(listenFD)
        for c in Array(clients.values) { drop(c) }
        var st = stat()
        if stat(path, &st) == 0 && UInt64(st.st_ino) == inode { unlink(path) }
    }

    /// Whether something accepts connections on `path` (a running daemon).
    static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        return withSocketAddress(path) { connect(fd, $0, $1) } == 0
    }

    public var clientCount: Int { clients.count }

    // MARK: connections

    func acceptAll() {
        while true {
            // accept4 is not in Swift's Glibc; one thread, so no exec can run before FD_CLOEXEC is set.
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { pauseAccepting(SystemError("accept")) }
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            guard let peer = Self.credentials(fd) else {
                Glibc.close(fd)
                continue
            }
            let c = Client(fd: fd, peer: peer)
            if clients.count >= limits.maxClients {
                log.warning("control: refused \(peer): \(limits.maxClients) clients are connected")
                sendAndClose(c, ControlResponse.failure(.init(.busy, "too many clients (\(limits.maxClients)); try again")))
                continue
            }
            clients[fd] = c
            guard policy.allows(peer) else {
                log.warning("control: refused \(peer): not root, shd's user or a member of the admin group")
                answer(c, ControlResponse.failure(.init(.permissionDenied, "permission denied: the control socket is for root and the "
                    + "admin group (set control_group)")), close: true)
                continue
            }
            arm(c)
            loop.watch(fd: fd, interest: .read) { [unowned self] ready in self.ready(c, ready) }
        }
    }

    /// Out of descriptors (EMFILE): the pending connection would make the loop spin on a readable listener, so the
    /// listener is left alone for a second.
    func pauseAccepting(_ error: SystemError) {
        log.warning("control: \(error); not accepting connections for 1 s")
        loop.unwatch(fd: listenFD)
        loop.addTimer(after: 1) { [weak self] in
            guard let self, !self.closed else { return }
            self.loop.watch(fd: self.listenFD, interest: .read) { [unowned self] _ in self.acceptAll() }
        }
    }

    /// A connection over the cap: one best-effort line and close (never buffered).
    func sendAndClose(_ c: Client, _ v: JSONValue) {
        let line = ControlResponse.line(v)
        _ = line.withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        Glibc.close(c.fd)
    }

    func arm(_ c: Client) {
        if let t = c.timer { loop.cancelTimer(t) }
        c.timer = loop.addTimer(after: limits.timeout) { [unowned self, weak c] in
            guard let c, self.clients[c.fd] === c else { return }
            c.timer = nil
            // The loop may have been busy past the deadline (a long evaluation): what the client sent or read
            // meanwhile counts; only a client that still made no progress is dropped.
            self.ready(c, c.output.isEmpty ? [.read] : [.write])
            guard self.clients[c.fd] === c, c.timer == nil else { return }
            self.log.info("control: disconnected \(c.peer): no " + (c.output.isEmpty ? "request" : "read of its answer")
                + " within \(Int(self.limits.timeout)) s")
            self.drop(c)
        }
    }

    func drop(_ c: Client) {
        if let t = c.timer { loop.cancelTimer(t) }
        c.timer = nil
        if let t = c.next { loop.cancelTimer(t) }
        c.next = nil
        loop.unwatch(fd: c.fd)
        Glibc.close(c.fd)
        bufferedOutput -= c.output.count - c.written
        c.output = []
        c.written = 0
        clients[c.fd] = nil
    }

    /// A client's socket is ready. At most one request of a client is answered per loop turn (requests sent ahead
    /// wait for later turns): a client that pipelines thousands of requests, or reloads, delays a tick by one
    /// answer, not by all of them.
    func ready(_ c: Client, _ ready: IOInterest) {
        guard clients[c.fd] === c else { return }
        if !c.output.isEmpty {
            if ready.contains(.write) { flush(c) }
            return
        }
        guard ready.contains(.read) else { return }
        // Read until a whole request is buffered or the socket is empty; what is buffered stays bounded.
        var hasLine = c.input.contains(0x0A)
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while !hasLine && c.input.count < ControlRequest.maxBytes {
            let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                drop(c)
                return
            }
            if n == 0 {
                drop(c)
                return
            }
            c.input += chunk[0..<n]
            hasLine = chunk[0..<n].contains(0x0A)
        }
        if hasLine {
            // A request already waiting for its turn (scheduleNext) goes first, then.
            if c.next == nil { serveNext(c) }
        } else if c.input.count >= ControlRequest.maxBytes {
            answer(c, ControlResponse.failure(.init(.tooLarge, "request longer than \(ControlRequest.maxBytes) bytes")), close: true)
        }
    }

    /// Answers the first buffered request, if there is one.
    func serveNext(_ c: Client) {
        guard let nl = c.input.firstIndex(of: 0x0A) else { return }
        let line = Array(c.input[..<nl])
        c.input.removeSubrange(...nl)
        serve(c, line)
    }

    /// After an answer: the next request already buffered is answered in the next loop turn.
    func scheduleNext(_ c: Client) {
        guard c.next == nil, c.input.contains(0x0A) else { return }
        c.next = loop.addTimer(after: 0) { [unowned self, weak c] in
            guard let c, self.clients[c.fd] === c else { return }
            c.next = nil
            if c.output.isEmpty { self.serveNext(c) }
        }
    }

    func serve(_ c: Client, _ line: [UInt8]) {
        var body = line
        if body.last == 0x0D { body.removeLast() }
        let response: [UInt8]
        do {
            let request = try ControlRequest.parse(body)
            if request.changes { log.notice("control: \(request.command) by \(c.peer)") }
            response = handler(request, c.peer)
        } catch {
            log.info("control: bad request from \(c.peer): \(error.message)")
            response = ControlResponse.line(ControlResponse.failure(error))
        }
        answer(c, line: response, close: false)
    }

    func answer(_ c: Client, _ v: JSONValue, close: Bool) { answer(c, line: ControlResponse.line(v), close: close) }

    /// Queues an answer line and writes what the socket takes now; the rest goes when the client reads.
    func answer(_ c: Client, line: [UInt8], close: Bool) {
        var line = line
        if bufferedOutput + line.count > limits.maxBufferedOutput {
            line = ControlResponse.line(ControlResponse.failure(.init(.busy, "the daemon is holding too many unread answers; try again")))
        }
        c.output = line
        c.written = 0
        c.closeAfterWrite = close
        bufferedOutput += line.count
        arm(c)
        flush(c)
    }

    func flush(_ c: Client) {
        while c.written < c.output.count {
            let n = c.output.withUnsafeBytes { p in
                send(c.fd, p.baseAddress! + c.written, p.count - c.written, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    loop.watch(fd: c.fd, interest: .write) { [unowned self] ready in self.ready(c, ready) }
                    return
                }
                drop(c)
                return
            }
            c.written += n
            bufferedOutput -= n
            // A client that reads a large answer slowly but steadily is not a client that never reads.
            if c.written < c.output.count { arm(c) }
        }
        c.output = []
        c.written = 0
        if c.closeAfterWrite {
            drop(c)
            return
        }
        arm(c)
        loop.watch(fd: c.fd, interest: .read) { [unowned self] ready in self.ready(c, ready) }
        // Requests already buffered behind the one answered: one a turn.
        scheduleNext(c)
    }

    // MARK: credentials

    static let soPeerCred: Int32 = 17
    static let soPeerGroups: Int32 = 59

    /// The peer's pid, uid, gid (SO_PEERCRED) and supplementary groups (SO_PEERGROUPS, Linux 4.13; else its
    /// /proc/PID/status `Groups:` line).
    static func credentials(_ fd: Int32) -> PeerCredentials? {
        var cred = [Int32](repeating: 0, count: 3)
        var len = socklen_t(12)
        guard getsockopt(fd, SOL_SOCKET, soPeerCred, &cred, &len) == 0, len == 12 else { return nil }
        var p = PeerCredentials(pid: cred[0], uid: UInt32(bitPattern: cred[1]), gid: UInt32(bitPattern: cred[2]), groups: [])
        var groups = [UInt32](repeating: 0, count: 256)
        var glen = socklen_t(groups.count * 4)
        if getsockopt(fd, SOL_SOCKET, soPeerGroups, &groups, &glen) == 0 {
            p.groups = Array(groups[0..<Int(glen) / 4])
        } else if let status = try? readWholeFile("/proc/\(p.pid)/status", limit: 64 * 1024) {
            let text = String(decoding: status, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Groups:") }) {
                p.groups = line.dropFirst(7).split(separator: " ").compactMap { UInt32($0.trimmingCharacters(in: "\t ")) }
            }
        }
        return p
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}

/// Calls `body` with a `sockaddr_un` for `path` (shorter than 108 bytes: checked by the callers).
func withSocketAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8.prefix(107))
    withUnsafeMutableBytes(of: &addr.sun_path) { p in
        for (i, b) in bytes.enumerated() { p[i] = b }
        p[bytes.count] = 0
    }
    return withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}
