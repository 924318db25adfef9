import CLinux
// Small helpers Notify needs without Foundation: clocks, file I/O with atomic replace, base64, hex.
#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock (scheduling never follows wall-clock jumps).
func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// `strerror(errno)` as a String.
func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// A failed file-system call, kept structured until logged.
struct FileError: Error, CustomStringConvertible {
    var operation: String
    var path: String
    var errno: Int32
    var description: String { "\(operation) \(path): \(errnoText(errno))" }
}

enum FileIO {
    /// Reads a whole regular file (spool entries, secrets). Caps at `limit` bytes.
    static func read(_ path: String, limit: Int = 64 << 20) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename, fsync of the folder.
    /// A crash leaves either the old file or the new one, never a torn one. `syncDirectory: false` leaves the
    /// folder's fsync to the caller, who writes several files and syncs the folder once.
    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600,
                                syncDirectory syncDir: Bool = true, crashPoint: String? = nil) throws(FileError) {
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 { throw FileError(operation: "create", path: temp, errno: errno) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd); unlink(temp)
                throw FileError(operation: "write", path: temp, errno: e)
            }
            off += n
        }
        if fsync(fd) != 0 {
            let e = errno
            close(fd); unlink(temp)
            throw FileError(operation: "fsync", path: temp, errno: e)
        }
        close(fd)
        if let crashPoint { CrashPoint.reach(crashPoint) }
        if rename(temp, path) != 0 {
            let e = errno
            unlink(temp)
            throw FileError(operation: "rename", path: path, errno: e)
        }
        if syncDir { syncDirectory(of: path) }
    }

    /// fsync of the folder holding `path`, so a rename or unlink survives a power cut.
    static func syncDirectory(of path: String) {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// Creates `path` (and missing parents) with `mode`; an existing folder is left as it is.
    static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws(FileError) {
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw FileError(operation: "mkdir", path: path, errno: ENOTDIR)
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]), mode: 0o755)
        }
        if mkdir(path, mode) != 0 && errno != EEXIST { throw FileError(operation: "mkdir", path: path, errno: errno) }
    }

    /// Names in a folder, sorted, without `.` and `..`.
    static func list(_ path: String) throws(FileError) -> [String] {
        guard let d = opendir(path) else { throw FileError(operation: "opendir", path: path, errno: errno) }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = String(cString: shd_dirent_name(e))
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

enum Encoding {
    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64 (RFC 4648); with `lineLength` the output is wrapped with CRLF (MIME: 76).
    static func base64(_ bytes: [UInt8], lineLength: Int? = nil) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 4 / 3 + 4 + bytes.count / 38)
        var col = 0
        func put(_ c: UInt8) {
            if let l = lineLength, col == l {
                out.append(13); out.append(10)
                col = 0
            }
            out.append(c)
            col += 1
        }
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            put(base64Alphabet[Int(n >> 18 & 63)]); put(base64Alphabet[Int(n >> 12 & 63)])
            put(base64Alphabet[Int(n >> 6 & 63)]); put(base64Alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            put(base64Alphabet[Int(n >> 18 & 63)]); put(base64Alphabet[Int(n >> 12 & 63)])
            put(rest == 2 ? base64Alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            put(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
