// Durable file replacement (temp + fsync + rename + fsync of the folder), folder creation, moving corrupt files aside.
#if canImport(Glibc)
import Glibc
#endif

public enum AtomicFile {
    /// Replaces `path` with `bytes` so a reader sees the old or the new file, never a mix, even across a crash
    /// or power loss. The temp file is `path.tmp.PID` in the same folder.
    /// - `durable: false` skips the fsyncs, for outputs that the next tick rewrites anyway.
    /// - `syncDirectory: false` leaves the folder's fsync to the caller, who writes several files and syncs once.
    /// - `beforeRename` runs when the temp file is written and not yet renamed (the crash-point test hook).
    public static func write(_ path: String, _ bytes: [UInt8], mode: mode_t, durable: Bool = true,
                             syncDirectory syncDir: Bool = true, beforeRename: () -> Void = {}) throws(FileError) {
        let temp = path + ".tmp." + String(getpid())
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 { throw FileError(operation: "open", path: temp, errno: errno) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd); unlink(temp)
                throw FileError(operation: "write", path: temp, errno: e)
            }
            off += n
        }
        if durable && fsync(fd) != 0 {
            let e = errno
            close(fd); unlink(temp)
            throw FileError(operation: "fsync", path: temp, errno: e)
        }
        close(fd)
        beforeRename()
        if rename(temp, path) != 0 {
            let e = errno
            unlink(temp)
            throw FileError(operation: "rename \(temp) to", path: path, errno: e)
        }
        if durable && syncDir { syncDirectory(of: path) }
    }

    /// fsync of the folder holding `path`, so a rename or unlink survives a power cut.
    public static func syncDirectory(of path: String) {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// Renames a corrupt file to `path.corrupt-<unix time>` and returns the new name.
    public static func moveAside(_ path: String) -> String? {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let dest = path + ".corrupt-" + String(ts.tv_sec)
        return rename(path, dest) == 0 ? dest : nil
    }

    /// Creates `path` with `mode` and its missing parents with `parentMode` (`mode` when nil); an existing
    /// folder is left as it is, an existing file in the way is ENOTDIR.
    public static func makeDirectories(_ path: String, mode: mode_t, parentMode: mode_t? = nil) throws(FileError) {
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw FileError(operation: "mkdir", path: path, errno: ENOTDIR)
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]), mode: parentMode ?? mode, parentMode: parentMode)
        }
        if mkdir(path, mode) != 0 && errno != EEXIST { throw FileError(operation: "mkdir", path: path, errno: errno) }
    }
}
