// The sd_notify datagram protocol, spoken directly (no libsystemd).
import Kit
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Sends `READY=1`, `STATUS=…`, `WATCHDOG=1`, `RELOADING=1`, `STOPPING=1` to `$NOTIFY_SOCKET`.
/// Without NOTIFY_SOCKET (not under systemd) every call is a no-op.
public final class SystemdNotifier {
    private let fd: Int32
    private var address = sockaddr_un()
    private var addressLength: socklen_t = 0
    /// Half the watchdog interval systemd asked for, or nil.
    public let watchdogInterval: Double?

    public init(environment: [String: String] = currentEnvironment()) {
        var path = environment["NOTIFY_SOCKET"] ?? ""
        if let usec = environment["WATCHDOG_USEC"].flatMap({ Double($0) }), usec > 0,
           environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true
        {
            watchdogInterval = usec / 2e6
        } else {
            watchdogInterval = nil
        }
        guard !path.isEmpty, path.utf8.count < 108 else { fd = -1; return }
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        address.sun_family = sa_family_t(AF_UNIX)
        let abstract = path.hasPrefix("@")
        if abstract { path.removeFirst() }
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { p in
            var i = abstract ? 1 : 0
            for b in bytes { p[i] = b; i += 1 }
        }
        addressLength = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 1 : 0))
    }

    deinit { if fd >= 0 { close(fd) } }

    public var isActive: Bool { fd >= 0 }

    /// Sends one message (lines `KEY=value`).
    public func send(_ message: String) {
        guard fd >= 0 else { return }
        var bytes = Array(message.utf8)
        withUnsafePointer(to: &address) { ap in
            ap.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                _ = bytes.withUnsafeMutableBytes { b in sendto(fd, b.baseAddress, b.count, Int32(MSG_NOSIGNAL), sa, addressLength) }
            }
        }
    }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())") }
    public func status(_ s: String) { send("STATUS=\(s)") }
    public func watchdog() { send("WATCHDOG=1") }
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds())")
    }
    public func reloaded(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func stopping() { send("STOPPING=1") }
}

/// The process environment as a dictionary.
public func currentEnvironment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return env
}
