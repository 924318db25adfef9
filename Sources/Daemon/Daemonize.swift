// Becoming a System V daemon, every step of PEP 3143, and the locked pidfile.
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A pidfile created 0644 and held with an exclusive `flock` for the daemon's life, so a stale
/// file (its process dead, its lock gone) is detected rather than obeyed.
public final class PidFile {
    public let path: String
    private let fd: Int32

    /// Takes the lock; throws a clear error when another live shd holds it.
    public init(path: String) throws(UsageError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw UsageError("cannot open pidfile \(path): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let other = (try? String(decoding: readFD(fd), as: UTF8.self))?.split(separator: "\n").first.map(String.init) ?? "?"
            close(fd)
            throw UsageError("another shd is running (pid \(other), holding the lock on \(path))")
        }
        self.fd = fd
        fchmod(fd, 0o644)
    }

    /// Writes the current pid (after the final fork).
    public func writePID() {
        let s = String(getpid()) + "\n"
        ftruncate(fd, 0)
        _ = s.withCString { pwrite(fd, $0, strlen($0), 0) }
        fsync(fd)
    }

    /// Removes the file at exit (the lock goes with the fd).
    public func remove() {
        unlink(path)
        close(fd)
    }

    public var descriptor: Int32 { fd }
}

private func readFD(_ fd: Int32) throws -> [UInt8] {
    var buf = [UInt8](repeating: 0, count: 64)
    let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 64, 0) }
    return n > 0 ? Array(buf[0..<n]) : []
}

/// PEP 3143 "Correct daemon behaviour", in order. Returns in the grandchild (the daemon) with a
/// pipe fd to report readiness on; the original process waits on that pipe and exits 0 only
/// when the daemon says it is ready (or 1 with its reason), so an init script sees real success.
public enum Daemonizer {
    /// - Parameter keep: fds to keep open across "close all inherited fds" (none normally).
    /// - Returns: the write end of the readiness pipe; call `reportReady(fd:)` or `reportFailure(fd:_:)`.
    public static func daemonize(keep: Set<Int32> = []) -> Int32 {
        // 1. Close every inherited fd except stdio (redirected below) and the ones we must keep.
        closeInheritedDescriptors(keep: keep)
        // 2–3. Working directory to /, umask 027.
        _ = chdir("/")
        umask(0o027)
        // Readiness pipe between the original process and the daemon.
        var p: [Int32] = [0, 0]
        _ = pipe(&p)
        _ = fcntl(p[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(p[1], F_SETFD, FD_CLOEXEC)
        // 4. Fork: the parent waits for the readiness message.
        let pid = fork()
        if pid < 0 { writeStderr("shd: fork: \(String(cString: strerror(errno)))\n"); exit(1) }
        if pid > 0 {
            close(p[1])
            exit(waitForReadiness(p[0]))
        }
        close(p[0])
        // 5. New session: no controlling terminal.
        _ = setsid()
        // 6. Ignore terminal job-control signals.
        signal(SIGTTIN, SIG_IGN)
        signal(SIGTTOU, SIG_IGN)
        signal(SIGTSTP, SIG_IGN)
        // 7. Fork again so the daemon is not a session leader and can never reacquire a terminal.
        let pid2 = fork()
        if pid2 < 0 { exit(1) }
        if pid2 > 0 { _exit(0) }
        // 8. stdio to /dev/null.
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, 0); dup2(null, 1); dup2(null, 2)
            if null > 2 { close(null) }
        }
        return p[1]
    }

    /// Tells the waiting parent that the daemon is up.
    public static func reportReady(fd: Int32) {
        _ = "OK\n".withCString { write(fd, $0, 3) }
        close(fd)
    }

    /// Tells the waiting parent why the daemon could not start; the parent prints it and exits 1.
    public static func reportFailure(fd: Int32, _ message: String) {
        let s = "ERR " + message + "\n"
        _ = s.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    static func waitForReadiness(_ fd: Int32) -> Int32 {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 512)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        let s = String(decoding: data, as: UTF8.self)
        if s.hasPrefix("OK") { return 0 }
        if s.hasPrefix("ERR ") {
            writeStderr("shd: " + s.dropFirst(4))
        } else {
            writeStderr("shd: the daemon exited before it was ready (see the system log)\n")
        }
        return 1
    }

    static func closeInheritedDescriptors(keep: Set<Int32>) {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let maxFD = Int32(min(limit.rlim_cur, 65536))
        // Prefer the list of open fds over a blind loop to a large limit.
        let open = listOpenDescriptors()
        let candidates = open.isEmpty ? Array(3..<maxFD) : open.filter { $0 > 2 }
        for fd in candidates where !keep.contains(fd) { close(fd) }
    }

    static func listOpenDescriptors() -> [Int32] {
        guard let d = opendir("/proc/self/fd") else { return [] }
        var fds: [Int32] = []
        while let e = readdir(d) {
            let name = String(cString: shd_dirent_name(e))
            if let n = Int32(name) { fds.append(n) }
        }
        let own = dirfd(d)
        closedir(d)
        return fds.filter { $0 != own }
    }
}
