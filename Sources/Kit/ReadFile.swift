// Reading a whole regular file (spool entries, secrets, state) in one call.
#if canImport(Glibc)
import Glibc
#endif

/// The bytes of `path`, read to the end or to `limit` bytes.
public func readWholeFile(_ path: String, limit: Int = 64 << 20) throws(FileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw FileError(operation: "open", path: path, errno: errno) }
    defer { close(fd) }
    return try readToEnd(fd, path: path, limit: limit)
}

/// Why ``readPrivateFile(_:refusing:limit:)`` gave no bytes.
public enum PrivateFileError: Error {
    /// It could not be opened, examined or read.
    case unreadable(FileError)
    /// Mode bits it was to refuse are set; `mode` is the file's whole st_mode.
    case exposed(mode: UInt32)
}

/// The bytes of a file that holds a secret (a channel's token, the HTTP endpoint's token or TLS key), read from the
/// descriptor whose mode was checked (no window between the check and the read): refused when any of the mode bits
/// in `refusing` is set (0o077: group or others may access it; 0o007: others may; 0: no check).
public func readPrivateFile(_ path: String, refusing bits: UInt32, limit: Int) throws(PrivateFileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw .unreadable(FileError(operation: "open", path: path, errno: errno)) }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) != 0 { throw .unreadable(FileError(operation: "fstat", path: path, errno: errno)) }
    if UInt32(st.st_mode) & bits != 0 { throw .exposed(mode: UInt32(st.st_mode)) }
    do { return try readToEnd(fd, path: path, limit: limit) } catch { throw .unreadable(error) }
}

private func readToEnd(_ fd: Int32, path: String, limit: Int) throws(FileError) -> [UInt8] {
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
