// The kernel log from /dev/kmsg, for hosts without journald: records read on the loop (one per read(2)), turned into
// the journal source's kernel entries (transport "kernel"). Starts at the end (no replay of the boot's messages);
// an overrun (EPIPE: records overwritten before shd read them) is a counted loss, never an error.
#if canImport(Glibc)
import Glibc
#endif
import Kit
import Reports
import Rules

/// A per-source rate limit: a token bucket of `perSecond` entries with a burst of as many. Entries over it are
/// dropped and counted, so a runaway log cannot take a core.
struct EventRateLimit {
    var perSecond: Double
    var tokens: Double
    var last: Double
    var dropped = 0

    init(perSecond: Double, now: Double) {
        self.perSecond = perSecond
        tokens = perSecond
        last = now
    }

    /// Whether one more entry may pass at `now`.
    mutating func admit(now: Double) -> Bool {
        tokens = min(perSecond, tokens + (now - last) * perSecond)
        last = now
        if tokens >= 1 {
            tokens -= 1
            return true
        }
        dropped += 1
        return false
    }
}

final class KmsgSource {
    let path: String
    let fd: Int32
    /// Records the kernel overwrote before shd read them (EPIPE), since start.
    private(set) var lost = 0
    private(set) var entriesRead = 0
    /// The end of a read that was not a whole line (a file or FIFO given for tests returns several records per read).
    private var partial: [UInt8] = []

    /// Opens `path` non-blocking; `/dev/kmsg` is positioned at its end (SEEK_END), so only new records arrive.
    init(path: String) throws(FileError) {
        self.path = path
        // Another path is a FIFO a test writes records into: opened read-write, so the loop never sees a hang-up.
        let fd = open(path, (path == "/dev/kmsg" ? O_RDONLY : O_RDWR) | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open", path: path, errno: errno) }
        if path == "/dev/kmsg" { _ = lseek(fd, 0, SEEK_END) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Every record available now, as journal entries timed `now`.
    func readAvailable(now: Timestamp) -> [EventEntry] {
        var out: [EventEntry] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { lost += 1; continue }
                break
            }
            if n == 0 { break }
            var chunk = partial + buf[0..<n]
            partial = []
            if chunk.last != 0x0A, let cut = chunk.lastIndex(of: 0x0A) {
                partial = Array(chunk[(cut + 1)...])
                chunk = Array(chunk[...cut])
            } else if chunk.last != 0x0A {
                partial = chunk
                continue
            }
            for r in KmsgRecord.parseAll(chunk).records { out.append(r.entry(at: now)) }
        }
        entriesRead += out.count
        return out
    }
}
