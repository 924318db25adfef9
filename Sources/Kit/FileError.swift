// A failed file-system call, kept structured (operation, path, errno) until it is logged.
#if canImport(Glibc)
import Glibc
#endif

/// `strerror(code)` as a String.
public func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// A failed file-system call: `operation path: strerror(errno)`.
public struct FileError: Error, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32
    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }
    public var description: String { "\(operation) \(path): \(errnoText(errno))" }
}
