// A network namespace a test creates (`ip netns add`) and removes, with veth pairs and a receiver inside it.
#if canImport(Glibc)
import Glibc
#endif

/// A named network namespace (`/run/netns/NAME`) with its loopback up; removed (with every interface in
/// it) by `remove()` or deinit. Needs root and iproute2; `unavailableReason` says why not otherwise.
public final class NetworkNamespace {
    public let name: String
    private var removed = false

    /// Why no namespace can be made here (not root, no `ip`), or nil.
    public static var unavailableReason: String? {
        if geteuid() != 0 { return "creating a network namespace needs root" }
        if runShell("command -v ip >/dev/null 2>&1") != 0 { return "iproute2 (ip) is not installed" }
        return nil
    }

    public init(_ prefix: String) throws {
        name = "\(prefix)\(getpid())x\(Int.random(in: 0..<1_000_000))"
        guard runShell("ip netns add \(name) && ip -n \(name) link set lo up") == 0 else {
            throw NamespaceError(message: "ip netns add \(name) failed")
        }
    }

    deinit { remove() }

    public func remove() {
        guard !removed else { return }
        removed = true
        _ = runShell("ip netns del \(name) 2>/dev/null")
    }

    /// Runs `ip -n NAME ARGS…` (a shell word list); true on success.
    @discardableResult
    public func ip(_ args: String) -> Bool { runShell("ip -n \(name) \(args)") == 0 }

    /// argv that runs `argv` inside the namespace (`ip netns exec`, which also mounts the namespace's own /sys).
    public func exec(_ argv: [String]) -> [String] {
        let paths: [String] = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        let ip = paths.first { p in access(p, X_OK) == 0 } ?? "ip"
        return [ip, "netns", "exec", name] + argv
    }

    /// Runs `body` on this thread with the thread inside the namespace: sockets it creates (a receiver on
    /// 127.0.0.1) belong to the namespace's loopback. The thread returns to its own namespace afterwards.
    public func inside<T>(_ body: () throws -> T) throws -> T {
        let mine = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let target = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        defer {
            if mine >= 0 { close(mine) }
            if target >= 0 { close(target) }
        }
        guard mine >= 0, target >= 0, setns(target, cloneNewNet) == 0 else {
            throw NamespaceError(message: "setns into \(name): \(String(cString: strerror(errno)))")
        }
        defer { _ = setns(mine, cloneNewNet) }
        return try body()
    }
}

/// glibc's setns(2), which Swift's Glibc module does not declare (it needs _GNU_SOURCE).
private let setnsCall: @convention(c) (Int32, Int32) -> Int32 = {
    unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns")!, to: (@convention(c) (Int32, Int32) -> Int32).self)
}()
private let cloneNewNet: Int32 = 0x4000_0000

private func setns(_ fd: Int32, _ type: Int32) -> Int32 { setnsCall(fd, type) }

public struct NamespaceError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
