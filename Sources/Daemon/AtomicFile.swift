// Durable file writes (temp + fsync + rename + fsync of the folder) and moving corrupt files aside.
import CLinux
import Notify
#if canImport(Glibc)
import Glibc
#endif

public enum AtomicFile {
    /// Replaces `path` with `contents` so a reader sees the old or the new file, never a mix,
    /// even across a crash or power loss.
    /// `durable: false` skips the fsyncs, for outputs that the next tick rewrites anyway.
    /// `crashPoint` names the moment the temp file is written and not yet renamed (`CrashPoint`, a test hook).
    public static func write(_ path: String, _ contents: String, mode: mode_t = 0o640, durable: Bool = true,
                             crashPoint: String? = nil) throws(SystemError) {
        let tmp = path + ".tmp." + String(getpid())
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 { throw SystemError("open \(tmp)") }
        var bytes = Array(contents.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = SystemError("write \(tmp)")
                close(fd); unlink(tmp)
                throw e
            }
            off += n
        }
        bytes.removeAll()
        if durable && fsync(fd) != 0 {
            let e = SystemError("fsync \(tmp)")
            close(fd); unlink(tmp)
            throw e
        }
        close(fd)
        if let crashPoint { CrashPoint.reach(crashPoint) }
        if rename(tmp, path) != 0 {
            let e = SystemError("rename \(tmp) to \(path)")
            unlink(tmp)
            throw e
        }
        if durable { syncDirectory(of: path) }
    }

    /// fsync of the containing folder, so the rename itself is durable.
    public static func syncDirectory(of path: String) {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Renames a corrupt file to `path.corrupt-<unix time>` and returns the new name.
    public static func moveAside(_ path: String) -> String? {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let dest = path + ".corrupt-" + String(ts.tv_sec)
        return rename(path, dest) == 0 ? dest : nil
    }

    /// Creates a folder and its parents with `mode` (existing ones are left as they are).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST { throw SystemError("mkdir \(current)") }
        }
    }
}
