// Reading /proc and /sys: fds kept open and re-read with pread at offset 0, sizes never trusted from stat.
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Why a kernel file could not be read.
public struct ReadError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var message: String { String(cString: strerror(errno)) }
    public var description: String { "\(path): \(message)" }
    /// The file does not exist: for an optional kernel feature this is "no data", not a failure.
    public var isMissing: Bool { errno == ENOENT || errno == ENOTDIR }
}

/// A kernel text file kept open across ticks; each `read()` re-reads it from offset 0.
///
/// /proc and /sys report a size of 0 or 4096 whatever the content, so the buffer grows until a
/// short read, up to `cap` bytes.
///
/// A file whose whole content the kernel produces in one go — a sysfs attribute, a sysctl, or a
/// procfs `single_open` file such as meminfo, vmstat, loadavg, pressure/* or /proc/PID/stat — can
/// be opened with `singleRecord: true`: a read that returns fewer bytes than asked is then the
/// whole file, and the `pread` that would return 0 is not made. Files the kernel renders record
/// by record (mountinfo, net/dev, diskstats, mdstat, net/tcp) must not: a seq_file stops a read
/// short when the next record does not fit its page-sized buffer, without being at the end.
/// Regular files (fixture trees) end at a short read either way.
public final class KernelFile {
    public let path: String
    public let cap: Int
    public let singleRecord: Bool
    private var fd: Int32 = -1
    private var buffer: [UInt8]

    public init(_ path: String, cap: Int = 1 << 22, singleRecord: Bool = false) {
        self.path = path
        self.cap = cap
        self.singleRecord = singleRecord
        self.buffer = []
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The open descriptor, or -1 before the first read (for `poll`).
    public var descriptor: Int32 { fd }

    /// Reads the whole file. Reopens once if the kept fd has gone stale (the process or device
    /// went away); any other error (EINVAL from the speed of a link that is down, EIO from a
    /// sensor) is thrown with the fd kept, so the next tick does not pay an open and a close.
    public func read() throws(ReadError) -> [UInt8] {
        if fd < 0 {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw ReadError(path: path, errno: shd_errno()) }
        }
        if let r = readFrom(fd) { return r }
        let e = shd_errno()
        if e == ESRCH || e == ENOENT || e == EBADF || e == ENODEV {
            close(fd)
            fd = -1
            return try readOnce(path, cap: cap)
        }
        throw ReadError(path: path, errno: e)
    }

    private func readFrom(_ fd: Int32) -> [UInt8]? {
        if buffer.count < 4096 { buffer = [UInt8](repeating: 0, count: 4096) }
        var total = 0
        while true {
            if total == buffer.count {
                if buffer.count >= cap { break }
                buffer.append(contentsOf: [UInt8](repeating: 0, count: min(buffer.count, cap - buffer.count)))
            }
            let asked = buffer.count - total
            let n = buffer.withUnsafeMutableBytes { p in
                pread(fd, p.baseAddress! + total, asked, off_t(total))
            }
            if n < 0 {
                if shd_errno() == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            total += n
            if singleRecord && n < asked { break }
        }
        return Array(buffer[0..<total])
    }
}

/// Reads a whole file once (for files that come and go, such as /proc/PID/stat), up to `cap` bytes.
public func readOnce(_ path: String, cap: Int = 1 << 22) throws(ReadError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw ReadError(path: path, errno: shd_errno()) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while out.count < cap {
        let n = chunk.withUnsafeMutableBytes { p in Glibc.read(fd, p.baseAddress!, min(p.count, cap - out.count)) }
        if n < 0 {
            if shd_errno() == EINTR { continue }
            throw ReadError(path: path, errno: shd_errno())
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}

/// Reads a small sysfs attribute and trims the trailing newline; nil when absent or unreadable.
public func readAttribute(_ path: String) -> String? {
    guard let b = try? readOnce(path, cap: 65536) else { return nil }
    return string(trimmed(b[...]))
}
