// The client side of the control socket: one request, one answer, with the errors a person needs to act on.
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// Why a control request got no answer from the daemon.
public struct ControlClientError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// No socket, or nothing listening on it: the daemon is not running (exit 3).
        case notRunning
        /// The socket's mode or the daemon refused the caller (exit 4).
        case permissionDenied
        /// It connected but the exchange failed (timeout, a broken answer; exit 3).
        case failed
    }
    public var kind: Kind
    public var message: String
    public var description: String { message }

    /// The exit status the commands use (docs/man/shd.8, "EXIT STATUS").
    public var exitStatus: Int32 { kind == .permissionDenied ? 4 : 3 }
}

/// Sends one request to the daemon's control socket and reads its one-line answer.
public enum ControlClient {
    /// Answers longer than this are refused (a status of 10,000 alerts is ~3 MB).
    public static let maxAnswerBytes = 256 << 20

    /// The decoded answer: `ok`, and `result` or the error.
    public struct Answer {
        public var ok: Bool
        public var code: String?
        public var error: String?
        public var result: JSONValue?
    }

    public static func send(_ request: ControlRequest, socket path: String, timeout: Double = 30) throws(ControlClientError) -> Answer {
        try decode(try exchange(request, socket: path, timeout: timeout), socket: path)
    }

    /// The bytes of the result in an answer line `{"ok":true,"result":…}` as the daemon writes it (``ControlResponse``),
    /// found without parsing the result: nil for any other shape (a refusal, or another writer), which ``decode(_:socket:)``
    /// reads.
    public static func okResult(_ line: [UInt8]) -> Range<Int>? {
        let head = Array(#"{"ok":true,"result":"#.utf8)
        guard line.count > head.count, line.last == UInt8(ascii: "}"), line.starts(with: head) else { return nil }
        return head.count..<(line.count - 1)
    }

    /// The answer line parsed; a refusal for permission is thrown (exit 4).
    public static func decode(_ line: [UInt8], socket path: String) throws(ControlClientError) -> Answer {
        let v: JSONValue
        do { v = try JSONValue.parse(bytes: line) } catch {
            throw ControlClientError(kind: .failed, message: "shd on \(path) sent an answer that is not JSON: \(error)")
        }
        let a = Answer(ok: v["ok"]?.bool ?? false, code: v["code"]?.string, error: v["error"]?.string, result: v["result"])
        if !a.ok && a.code == ControlProtocolError.Code.permissionDenied.rawValue {
            throw ControlClientError(kind: .permissionDenied, message: a.error ?? "permission denied")
        }
        return a
    }

    /// Sends one request and returns its answer line, without the newline and unparsed. When `follows` finds in the
    /// line a count of bytes that follow it (`status` with `"format":"raw-text"`: `text_bytes`), those bytes are handed
    /// to `chunk` as they arrive, in pieces of at most 256 KiB, before this returns.
    public static func exchange(_ request: ControlRequest, socket path: String, timeout: Double = 30,
                                follows: (([UInt8]) -> Int?)? = nil,
                                chunk: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }) throws(ControlClientError) -> [UInt8] {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlClientError(kind: .failed, message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard path.utf8.count < 108 else { throw ControlClientError(kind: .failed, message: "control socket path too long: \(path)") }
        if withSocketAddress(path, { connect(fd, $0, $1) }) != 0 {
            let e = errno
            switch e {
            case ENOENT, ECONNREFUSED, ENOTDIR:
                throw ControlClientError(kind: .notRunning, message: "shd is not running (nothing answers on \(path): "
                    + "\(String(cString: strerror(e)))); start it with `systemctl start shd`, or pass --socket PATH")
            case EACCES, EPERM:
                throw ControlClientError(kind: .permissionDenied, message: "permission denied on \(path): the control socket is "
                    + "for root and members of its group (set control_group; the package's is shd-admin)")
            default:
                throw ControlClientError(kind: .failed, message: "cannot connect to \(path): \(String(cString: strerror(e)))")
            }
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let line = ControlResponse.line(request.json)
        var off = 0
        while off < line.count {
            let n = line.withUnsafeBytes { p in Glibc.send(fd, p.baseAddress! + off, p.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                // A daemon that refused the caller may have closed already: its answer is still readable.
                break
            }
            off += n
        }
        // Received straight into one growing buffer, the newline looked for in the new bytes only (memchr): a status
        // of 10,000 alerts is 1.4-3.6 MB.
        // 4 MB from the start: malloc maps it, and only the pages the answer fills are touched.
        var capacity = 4 << 20
        var buffer = malloc(capacity)!
        defer { free(buffer) }
        var length = 0
        var newline: Int?
        while newline == nil {
            if capacity - length < 64 * 1024 {
                capacity *= 2
                guard let grown = realloc(buffer, capacity) else {
                    throw ControlClientError(kind: .failed, message: "shd on \(path): out of memory for its answer")
                }
                buffer = grown
            }
            let n = recv(fd, buffer + length, capacity - length, 0)
            if n < 0 {
                if errno == EINTR { continue }
                let why = errno == EAGAIN || errno == EWOULDBLOCK ? "no answer within \(Int(timeout)) s" : String(cString: strerror(errno))
                throw ControlClientError(kind: .failed, message: "shd on \(path) did not answer: \(why)")
            }
            if n == 0 { break }
            if let p = memchr(buffer + length, 0x0A, n) { newline = buffer.distance(to: p) }
            length += n
            if length > maxAnswerBytes {
                throw ControlClientError(kind: .failed, message: "shd on \(path) sent an answer longer than \(maxAnswerBytes) bytes")
            }
        }
        guard let nl = newline else {
            throw ControlClientError(kind: .failed, message: "shd on \(path) closed the connection without an answer")
        }
        let answer = Array(UnsafeRawBufferPointer(start: buffer, count: nl))
        guard let follows, let total = follows(answer) else { return answer }
        // The bytes after the line: what came with it, then the rest straight from the socket, a piece at a time.
        let bytes = buffer.assumingMemoryBound(to: UInt8.self)
        let first = Swift.min(length - (nl + 1), total)
        if first > 0 { chunk(UnsafeBufferPointer(start: bytes + nl + 1, count: first)) }
        var got = first
        while got < total {
            let n = recv(fd, buffer, Swift.min(256 << 10, total - got), 0)
            if n < 0 {
                if errno == EINTR { continue }
                let why = errno == EAGAIN || errno == EWOULDBLOCK ? "nothing for \(Int(timeout)) s" : String(cString: strerror(errno))
                throw ControlClientError(kind: .failed, message: "shd on \(path) stopped after \(got) of \(total) bytes: \(why)")
            }
            if n == 0 {
                throw ControlClientError(kind: .failed, message: "shd on \(path) closed the connection after \(got) of \(total) bytes")
            }
            chunk(UnsafeBufferPointer(start: bytes, count: n))
            got += n
        }
        return answer
    }
}
