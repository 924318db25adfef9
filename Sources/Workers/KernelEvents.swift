// Kernel notifications shd waits on instead of a timer: rtnetlink links, uevents, PSI triggers, mdstat.
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor the kernel makes ready when a function's data changed. The daemon's loop
/// watches `fd` (EPOLLPRI when `priority`, else EPOLLIN) and, when it is ready, calls `drain()` and
/// collects the functions it names at once, then evaluates: the alert follows the kernel's event,
/// not the next tick. Every source is optional: where it cannot be opened (old kernel, no
/// privilege, a sandbox without AF_NETLINK) its function is polled at the rules' pace as before.
public protocol KernelEventSource: AnyObject {
    var fd: Int32 { get }
    var priority: Bool { get }
    /// How the kernel tells (`rtnetlink RTMGRP_LINK`, `PSI trigger "full 1000000 10000000"`).
    var mechanism: String { get }
    /// The `worker.function`s whose data this source follows.
    var functions: [String] { get }
    /// Reads what is pending (without blocking); returns the `worker.function`s to collect now
    /// (empty: nothing that matters changed).
    func drain() -> [String]
}

/// The link table rtnetlink keeps shd told about (`RTMGRP_LINK`, any user, Linux 2.2+; operstate
/// 2.6.17+): operstate, carrier and mtu of every interface of shd's network namespace, from one dump
/// at open and the kernel's RTM_NEWLINK/RTM_DELLINK messages after it. `network.interfaces` reads
/// this table instead of three sysfs files per interface per tick. A lost message (ENOBUFS: the
/// socket's buffer overflowed during a burst of changes) makes it dump the table again.
public final class LinkMonitor: KernelEventSource {
    public let fd: Int32
    public let priority = false
    public let mechanism = "rtnetlink RTMGRP_LINK"
    public let functions = ["network.interfaces"]
    private var byIndex: [Int32: LinkMessage] = [:]
    private var byName: [String: Int32] = [:]
    /// Interfaces whose link changed since `takeChanged()` (their speed is read again).
    private var changed: Set<String> = []
    private var seq: UInt32 = 0
    private var buffer = [UInt8](repeating: 0, count: 65536)
    /// Messages applied since open (dumps included).
    public private(set) var messages: UInt64 = 0

    /// Opens the socket and dumps the table; nil where rtnetlink cannot be used (errno is left set).
    public init?() {
        fd = shd_netlink_open(NETLINK_ROUTE, UInt32(RTMGRP_LINK), 1 << 20)
        if fd < 0 { return nil }
        guard resync() else {
            close(fd)
            return nil
        }
    }

    deinit { close(fd) }

    /// The link of the interface called `name`, nil when rtnetlink does not know it.
    public func link(_ name: String) -> LinkMessage? {
        byName[name].flatMap { byIndex[$0] }
    }

    /// Names whose link changed since the last call.
    public func takeChanged() -> Set<String> {
        defer { changed = [] }
        return changed
    }

    /// Dumps the whole table again (at open, after a lost message); false when the dump failed.
    @discardableResult
    func resync() -> Bool {
        seq &+= 1
        guard shd_rtnl_request_links(fd, seq) == 0 else { return false }
        var fresh: [Int32: LinkMessage] = [:]
        var waited = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                let e = shd_errno()
                if e == EINTR { continue }
                // The dump's next part is made in recv; a moment's wait only under a storm of changes.
                if e == EAGAIN && waited < 100 {
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    _ = poll(&p, 1, 10)
                    waited += 1
                    continue
                }
                if e == ENOBUFS { return resync() }
                return false
            }
            guard let batch = try? parseNetlinkRoute(buffer[0..<n]) else { return false }
            if batch.error != nil { return false }
            for m in batch.links where !m.deleted { fresh[m.index] = m }
            messages &+= UInt64(batch.links.count)
            if batch.dumpDone { break }
        }
        for (i, m) in fresh where byIndex[i] != m { if let name = m.name { changed.insert(name) } }
        byIndex = fresh
        byName = [:]
        for (i, m) in fresh { if let name = m.name { byName[name] = i } }
        return true
    }

    /// Applies the messages waiting; ["network.interfaces"] when any link changed.
    public func drain() -> [String] {
        var any = false
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                let e = shd_errno()
                if e == EINTR { continue }
                if e == ENOBUFS {
                    resync()
                    any = true
                    continue
                }
                break
            }
            if n == 0 { break }
            guard let batch = try? parseNetlinkRoute(buffer[0..<n]) else { continue }
            for m in batch.links { any = apply(m) || any }
        }
        return any ? functions : []
    }

    /// One message into the table; true when what shd reports changed (a new interface, a gone
    /// one, operstate, carrier, mtu or IFF_UP).
    func apply(_ m: LinkMessage) -> Bool {
        messages &+= 1
        if m.deleted {
            guard let old = byIndex.removeValue(forKey: m.index) else { return false }
            if let name = old.name, byName[name] == m.index { byName.removeValue(forKey: name) }
            return true
        }
        var merged = byIndex[m.index] ?? m
        // A change message carries every attribute, but keep what an older kernel leaves out.
        merged.flags = m.flags
        if let v = m.name {
            if let old = merged.name, old != v, byName[old] == m.index { byName.removeValue(forKey: old) }
            merged.name = v
        }
        if let v = m.mtu { merged.mtu = v }
        if let v = m.operstate { merged.operstate = v }
        if let v = m.carrier { merged.carrier = v }
        let old = byIndex[m.index]
        byIndex[m.index] = merged
        if let name = merged.name { byName[name] = m.index }
        guard old != merged else { return false }
        if let name = merged.name { changed.insert(name) }
        return old?.operstate != merged.operstate || old?.carrier != merged.carrier || old?.mtu != merged.mtu
            || old?.up != merged.up || old?.name != merged.name
    }
}

/// Kernel uevents (`NETLINK_KOBJECT_UEVENT` group 1; any user may listen, Linux 2.6.10+; inside a
/// network namespace the kernel sends that namespace's net devices' events): a disk, NIC or md
/// array that appears or goes away re-reads the function that lists it, and only that one.
public final class UeventMonitor: KernelEventSource {
    public let fd: Int32
    public let priority = false
    public let mechanism = "uevent NETLINK_KOBJECT_UEVENT"
    public let functions = ["disk.io", "network.interfaces", "hardware.raid"]
    private var buffer = [UInt8](repeating: 0, count: 16384)
    public private(set) var events: UInt64 = 0

    public init?() {
        fd = shd_netlink_open(15 /* NETLINK_KOBJECT_UEVENT */, 1, 1 << 20)
        if fd < 0 { return nil }
    }

    deinit { close(fd) }

    /// The functions an uevent makes stale: block devices list in diskstats (md arrays also in
    /// mdstat), net devices in net/dev. `change` events (a media change, a resize) count as well;
    /// other subsystems (usb, input, …) are nothing shd reports.
    public static func functions(for e: Uevent) -> [String] {
        switch e.subsystem {
        case "block":
            var out = ["disk.io"]
            if e.properties["DEVNAME"]?.hasPrefix("md") == true || e.devpath.contains("/md") { out.append("hardware.raid") }
            return out
        case "net": return ["network.interfaces"]
        default: return []
        }
    }

    public func drain() -> [String] {
        var out: [String] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if shd_errno() == EINTR { continue }
                break
            }
            if n == 0 { break }
            guard let e = parseUevent(buffer[0..<n]) else { continue }
            events &+= 1
            for f in Self.functions(for: e) where !out.contains(f) { out.append(f) }
        }
        return out
    }
}

/// One PSI trigger (`/proc/pressure/{cpu,memory,io}`, Linux 5.2+; `CONFIG_PSI`): `KIND STALL_US
/// WINDOW_US` written to the open file; the kernel then raises POLLPRI (at most once per window)
/// when tasks were stalled for STALL_US within WINDOW_US. Writing needs CAP_SYS_RESOURCE, except
/// since Linux 6.5 for a window that is a multiple of 2 s (the files are mode 0666): shd uses 10 s,
/// the kernel's largest window, so the trigger works as the unprivileged `shd` user.
public final class PressureTrigger: KernelEventSource {
    public let fd: Int32
    public let priority = true
    public let mechanism: String
    public let functions: [String]
    public let line: String
    public private(set) var events: UInt64 = 0

    /// Opens `proc/pressure/RESOURCE` and registers the trigger; throws the errno's text (EACCES:
    /// no privilege, EINVAL: an old kernel's limits, ENOENT: no PSI) so the caller can log it.
    public init(proc: String, resource: String, kind: String, stallMicroseconds: Int, windowMicroseconds: Int) throws(ReadError) {
        let path = proc + "/pressure/" + resource
        line = "\(kind) \(stallMicroseconds) \(windowMicroseconds)"
        mechanism = "PSI trigger \"\(line)\""
        functions = ["pressure." + resource]
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { throw ReadError(path: path, errno: shd_errno()) }
        var text = Array(line.utf8)
        text.append(0)
        if write(fd, text, text.count) < 0 {
            let e = shd_errno()
            close(fd)
            throw ReadError(path: path, errno: e)
        }
    }

    deinit { close(fd) }

    public func drain() -> [String] {
        events &+= 1
        return functions
    }
}

/// `/proc/mdstat` made ready by the md driver (POLLPRI, since Linux 2.6.17) when an array starts,
/// stops, degrades or finishes a sync, as `mdadm --monitor` waits for it; the fd must be read again
/// after each event. Absent without the md driver (then hardware.raid is polled, and reports no data).
public final class MdstatMonitor: KernelEventSource {
    public let fd: Int32
    public let priority = true
    public let mechanism = "poll(2) POLLPRI on /proc/mdstat"
    public let functions = ["hardware.raid"]
    private var buffer = [UInt8](repeating: 0, count: 4096)
    public private(set) var events: UInt64 = 0

    public init?(proc: String) {
        fd = open(proc + "/mdstat", O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        readToEnd()
    }

    deinit { close(fd) }

    private func readToEnd() {
        var off: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off) }
            if n <= 0 { break }
            off += off_t(n)
        }
    }

    public func drain() -> [String] {
        readToEnd()
        events &+= 1
        return functions
    }
}
