// The disk worker: disk.filesystems (mountinfo + statvfs with a deadline) and disk.io (/proc/diskstats).
import CLinux
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// A counter value for JSON; kernel counters fit in Int64 for centuries, clamping guards garbage.
@inline(__always)
func counterValue(_ v: UInt64) -> JSONValue { .int(Int64(clamping: v)) }


/// `disk.filesystems`: one row per real mounted filesystem.
public final class FilesystemsFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "filesystems", help: "Mounted filesystems: space, inodes, state", fields: [
        FieldSchema("mount", .label, help: "Mount point"),
        FieldSchema("device", .label, help: "Mount source (block device, server:/export, …)"),
        FieldSchema("fstype", .label, help: "Filesystem type"),
        FieldSchema("size_bytes", .number, unit: "bytes", help: "Total size"),
        FieldSchema("used_bytes", .number, unit: "bytes", help: "Space in use (size minus free)"),
        FieldSchema("avail_bytes", .number, unit: "bytes", help: "Space available to unprivileged users"),
        FieldSchema("used_percent", .number, unit: "percent", help: "used / (used + avail), as df computes it"),
        FieldSchema("inodes_total", .number, help: "Inodes the filesystem has (0 when it does not count them)"),
        FieldSchema("inodes_used", .number, help: "Inodes in use"),
        FieldSchema("inodes_free", .number, help: "Inodes free"),
        FieldSchema("inodes_used_percent", .number, unit: "percent", help: "inodes_used / inodes_total"),
        FieldSchema("read_only", .bool, help: "Mounted read-only"),
        FieldSchema("stuck", .bool, help: "statvfs did not answer before the deadline (dead NFS, hung FUSE); no sizes then"),
        FieldSchema("statfs_errno", .number, help: "errno of a statvfs that failed (13: a folder on the path the shd user may not search); no sizes then"),
    ])

    private let injected: (any StatfsSource)?
    private var prober: StatfsProber?
    private var file: KernelFile?
    /// The filtered mount list and the options it was filtered with, kept while the mount table
    /// has not changed (see `mountTableUnchanged`).
    private var cached: (options: WorkerOptions, mounts: [MountEntry], inline: Set<String>)?
    /// Whether the mountinfo fd is on procfs, so poll() reports mount table changes (nil: not asked yet).
    private var pollable: Bool?

    /// - Parameter statfs: where sizes come from. nil picks `LiveStatfs` (through `rootFS` when set) for
    ///   a live proc root and, for a fixture tree, `FixtureStatfs` over `SourceRoots.fixtureStatvfs`.
    public init(statfs: (any StatfsSource)? = nil) {
        self.injected = statfs
    }

    /// Times the mount table was read and parsed (for tests: a tick with no mount change reads none).
    public private(set) var mountTableReads = 0

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        // A host root that is not there would make every statvfs fail with ENOENT, which reads as
        // "the mount went away": say so instead of reporting no filesystems.
        if ctx.roots.live, let r = ctx.roots.rootFS, access(r, F_OK) != 0 {
            throw CollectError("root filesystem \(r): \(String(cString: strerror(shd_errno())))")
        }
        let path = ctx.roots.mountInfoPath
        let f = file?.path == path ? file! : KernelFile(path)
        if file?.path != path { cached = nil; pollable = nil }
        file = f
        let mounts: [MountEntry]
        let inline: Set<String>
        let fromCache: Bool
        if let c = cached, c.options == ctx.options, mountTableUnchanged(f) {
            mounts = c.mounts
            inline = c.inline
            fromCache = true
        } else {
            cached = nil
            // Every kernel has a mount table: without it there is nothing to report, which is an error.
            let bytes = try f.read()
            mountTableReads += 1
            let all = try parseMountInfo(bytes)
            mounts = Self.reported(all, ctx.options)
            inline = Self.inlineMountPoints(all: all, reported: mounts)
            cached = (ctx.options, mounts, inline)
            fromCache = false
        }
        let p = prober ?? StatfsProber(source: injected ?? Self.defaultSource(ctx.roots))
        prober = p
        // Local disk filesystems answer statvfs from memory: asked on this thread, they cost no
        // handoff to the prober's thread and back. Only for the real statvfs: a fixture or injected
        // source's behaviour has nothing to do with the filesystem type.
        var outcomes: [String: StatfsOutcome]
        if injected == nil, p.source is LiveStatfs, !inline.isEmpty {
            outcomes = p.probe(mounts.map(\.mountPoint).filter { !inline.contains($0) }, timeout: ctx.options.statfsTimeoutSeconds)
            for point in inline { outcomes[point] = p.source.statfs(point) }
        } else {
            outcomes = p.probe(mounts.map(\.mountPoint), timeout: ctx.options.statfsTimeoutSeconds)
        }
        var rows: [Row] = []
        rows.reserveCapacity(mounts.count)
        for m in mounts {
            let outcome = outcomes[m.mountPoint] ?? .stuck
            // The mount went away between reading mountinfo and statvfs.
            if case .failed(let e) = outcome, e == ENOENT, ctx.roots.live { continue }
            // A filesystem the kernel remounted read-only after errors (errors=remount-ro) changes its
            // super options without a mount table event: statvfs's ST_RDONLY (mount or superblock
            // read-only) disagreeing with the kept options means the kept list is stale.
            if fromCache, case .stats(let s) = outcome, s.readOnly != (m.options.contains("ro") || m.readOnly) {
                cached = nil
                return try collect(ctx)
            }
            rows.append(Self.row(m, outcome))
        }
        return rows
    }

    /// The mounts reported, in mountinfo order: excluded types and prefixes left out, a later mount
    /// on the same point shadowing the earlier one (and replacing the early-boot rootfs), bind
    /// mounts of a listed filesystem left out.
    static func reported(_ all: [MountEntry], _ options: WorkerOptions) -> [MountEntry] {
        var order: [String] = []
        var byPoint: [String: MountEntry] = [:]
        for m in all where !isExcludedMount(m, options) {
            if byPoint[m.mountPoint] == nil { order.append(m.mountPoint) }
            byPoint[m.mountPoint] = m
        }
        return withoutBindMounts(order.map { byPoint[$0]! })
    }

    /// Filesystem types whose statfs is answered from in-memory counters (no I/O, no server, no
    /// userspace daemon), so it cannot hang: these are asked without the prober's deadline.
    static let inMemoryStatfsTypes: Set<String> = ["ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "vfat", "exfat"]
    /// Filesystems a path walk crosses without waiting on anything (in-memory pseudo filesystems).
    static let nonBlockingWalkTypes: Set<String> = [
        "rootfs", "tmpfs", "ramfs", "devtmpfs", "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue",
        "securityfs", "debugfs", "tracefs", "pstore", "bpf", "configfs", "efivarfs", "hugetlbfs",
    ]

    /// The reported mount points that may be asked statvfs on the collecting thread: a filesystem
    /// of an in-memory-statfs type whose path crosses only such filesystems or pseudo ones. A local
    /// disk mounted under an NFS share or an automount point stays with the prober, since resolving
    /// its path could wait on the server.
    static func inlineMountPoints(all: [MountEntry], reported: [MountEntry]) -> Set<String> {
        var out: Set<String> = []
        for m in reported where inMemoryStatfsTypes.contains(m.fstype) {
            let crossesOnlyLocal = all.allSatisfy { a in
                let p = a.mountPoint
                let ancestor = p == "/" || m.mountPoint == p || m.mountPoint.hasPrefix(p.hasSuffix("/") ? p : p + "/")
                return !ancestor || inMemoryStatfsTypes.contains(a.fstype) || nonBlockingWalkTypes.contains(a.fstype)
            }
            if crossesOnlyLocal { out.insert(m.mountPoint) }
        }
        return out
    }

    /// True when the kept mountinfo fd is on procfs and poll() reports no mount or unmount since the
    /// last check (the kernel flags POLLPRI|POLLERR on a change, proc(5)): the tick then skips
    /// reading and parsing the table, most of this function's cost. A fixture file is always re-read.
    private func mountTableUnchanged(_ f: KernelFile) -> Bool {
        let fd = f.descriptor
        guard fd >= 0 else { return false }
        if pollable == nil {
            pollable = shd_is_procfs(fd) == 1
        }
        guard pollable == true else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLPRI), revents: 0)
        let n = poll(&p, 1, 0)
        if n < 0 { return false }
        return n == 0 || p.revents & Int16(POLLPRI | POLLERR) == 0
    }

    /// Keeps one row per filesystem view: a mount of a filesystem already listed whose root is the
    /// same folder or inside the listed one's (a bind mount, such as the ReadWritePaths= systemd adds
    /// for the service) would report the same disk twice and alert twice. Btrfs subvolumes mounted
    /// side by side (`/@`, `/@home`) are not inside each other and stay.
    static func withoutBindMounts(_ mounts: [MountEntry]) -> [MountEntry] {
        var kept: [MountEntry] = []
        var rootsByDevice: [String: [String]] = [:]
        for m in mounts {
            let roots = rootsByDevice[m.deviceNumber] ?? []
            let inside = !m.deviceNumber.isEmpty && roots.contains { r in
                r == m.root || r == "/" || m.root.hasPrefix(r.hasSuffix("/") ? r : r + "/")
            }
            if inside { continue }
            kept.append(m)
            rootsByDevice[m.deviceNumber, default: []].append(m.root)
        }
        return kept
    }

    static func defaultSource(_ roots: SourceRoots) -> any StatfsSource {
        if let sidecar = roots.fixtureStatvfs { return FixtureStatfs(path: sidecar) }
        return LiveStatfs(root: roots.rootFS)
    }

    /// One row from a mount and its statvfs outcome.
    public static func row(_ m: MountEntry, _ outcome: StatfsOutcome) -> Row {
        var r: Row = ["mount": .string(m.mountPoint), "device": .string(m.source), "fstype": .string(m.fstype)]
        let readOnly = m.readOnly
        var stuck = false
        var failure: Int32?
        switch outcome {
        case .stats(let s):
            let size = saturatingProduct(s.blocks, s.blockSize)
            let used = saturatingProduct(s.blocks >= s.blocksFree ? s.blocks - s.blocksFree : 0, s.blockSize)
            let avail = saturatingProduct(s.blocksAvailable, s.blockSize)
            r.append("size_bytes", counterValue(size))
            r.append("used_bytes", counterValue(used))
            r.append("avail_bytes", counterValue(avail))
            let denom = Double(used) + Double(avail)
            r.append("used_percent", .double(denom > 0 ? rounded(Double(used) / denom * 100) : 0))
            let iused = s.files >= s.filesFree ? s.files - s.filesFree : 0
            r.append("inodes_total", counterValue(s.files))
            r.append("inodes_used", counterValue(iused))
            r.append("inodes_free", counterValue(s.filesFree))
            if s.files > 0 { r.append("inodes_used_percent", .double(rounded(Double(iused) / Double(s.files) * 100))) }
        case .failed(let e):
            failure = e
        case .stuck:
            stuck = true
        }
        r.append("read_only", .bool(readOnly))
        r.append("stuck", .bool(stuck))
        if let failure { r.append("statfs_errno", .int(Int64(failure))) }
        return r
    }
}

/// `disk.io`: one row per block device with I/O, whole disks and partitions alike (a `partition`
/// flag tells them apart, so rules can pick either); RAM disks, loop devices and devices whose
/// counters are all zero are left out.
public final class DiskIOFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "io", help: "Block device I/O from /proc/diskstats", fields: [
        FieldSchema("device", .label, help: "Kernel device name (sda, nvme0n1p1, dm-0)"),
        FieldSchema("partition", .bool, help: "The device is a partition of another"),
        FieldSchema("reads_total", .counter, help: "Reads completed"),
        FieldSchema("writes_total", .counter, help: "Writes completed"),
        FieldSchema("reads_merged_total", .counter, help: "Adjacent reads merged"),
        FieldSchema("writes_merged_total", .counter, help: "Adjacent writes merged"),
        FieldSchema("read_bytes_total", .counter, unit: "bytes", help: "Bytes read (512-byte sectors)"),
        FieldSchema("write_bytes_total", .counter, unit: "bytes", help: "Bytes written"),
        FieldSchema("read_time_seconds_total", .counter, unit: "seconds", help: "Time spent reading"),
        FieldSchema("write_time_seconds_total", .counter, unit: "seconds", help: "Time spent writing"),
        FieldSchema("io_time_seconds_total", .counter, unit: "seconds", help: "Time the device had I/O in flight"),
        FieldSchema("discards_total", .counter, help: "Discards completed (kernel 4.18+)"),
        FieldSchema("flushes_total", .counter, help: "Flushes completed (kernel 5.5+)"),
        FieldSchema("in_flight", .number, help: "I/Os in progress now"),
        FieldSchema("reads_per_second", .number, help: "Reads completed per second since the last tick"),
        FieldSchema("writes_per_second", .number, help: "Writes completed per second since the last tick"),
        FieldSchema("read_bytes_per_second", .number, unit: "bytes", help: "Bytes read per second"),
        FieldSchema("write_bytes_per_second", .number, unit: "bytes", help: "Bytes written per second"),
        FieldSchema("busy_percent", .number, unit: "percent", help: "Share of the interval with I/O in flight (iostat %util)"),
        FieldSchema("await_seconds", .number, unit: "seconds", help: "Average time per read or write completed in the interval"),
        FieldSchema("read_await_seconds", .number, unit: "seconds", help: "Average time per read completed in the interval"),
        FieldSchema("write_await_seconds", .number, unit: "seconds", help: "Average time per write completed in the interval"),
    ])

    private var file: KernelFile?
    private var previous: [String: DiskStat] = [:]
    private var previousTime: Double?
    private var partitions: [String: Bool] = [:]

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let f = file ?? KernelFile(ctx.roots.proc + "/diskstats")
        file = f
        let stats = try parseDiskStats(try f.read())
        let elapsed = previousTime.map { ctx.monotonic - $0 } ?? 0
        var current: [String: DiskStat] = [:]
        var rows: [Row] = []
        // A device sysfs does not know leaves `partition` out of its row and names the path; the
        // counters stand.
        var failures = SourceFailures()
        for s in stats where !isIgnoredBlockDevice(s.device) && !s.isIdle {
            current[s.device] = s
            let isPartition = partitions[s.device] ?? failures.attempt { try isPartitionDevice(ctx.roots, s.device) }
            partitions[s.device] = isPartition
            rows.append(Self.row(s, partition: isPartition, previous: previous[s.device], elapsed: elapsed))
        }
        previous = current
        previousTime = ctx.monotonic
        return try failures.finish(rows)
    }

    /// One row; rates only when there is a previous sample and time passed.
    public static func row(_ s: DiskStat, partition: Bool?, previous p: DiskStat?, elapsed: Double) -> Row {
        var r: Row = ["device": .string(s.device)]
        if let partition { r.append("partition", .bool(partition)) }
        r.append("reads_total", counterValue(s.reads))
        r.append("writes_total", counterValue(s.writes))
        r.append("reads_merged_total", counterValue(s.readsMerged))
        r.append("writes_merged_total", counterValue(s.writesMerged))
        r.append("read_bytes_total", counterValue(saturatingProduct(s.sectorsRead, 512)))
        r.append("write_bytes_total", counterValue(saturatingProduct(s.sectorsWritten, 512)))
        r.append("read_time_seconds_total", .double(Double(s.readMilliseconds) / 1000))
        r.append("write_time_seconds_total", .double(Double(s.writeMilliseconds) / 1000))
        r.append("io_time_seconds_total", .double(Double(s.ioMilliseconds) / 1000))
        if let d = s.discards { r.append("discards_total", counterValue(d)) }
        if let fl = s.flushes { r.append("flushes_total", counterValue(fl)) }
        r.append("in_flight", counterValue(s.inFlight))
        guard let p, elapsed > 0 else { return r }
        // Each counter's own increase: one that went backwards is 0 and leaves the others' rates alone.
        func delta(_ new: UInt64, _ old: UInt64) -> Double { Double(counterDelta(new, since: old)) }
        let dr = delta(s.reads, p.reads), dw = delta(s.writes, p.writes)
        let dsr = delta(s.sectorsRead, p.sectorsRead), dsw = delta(s.sectorsWritten, p.sectorsWritten)
        let dio = delta(s.ioMilliseconds, p.ioMilliseconds)
        let drm = delta(s.readMilliseconds, p.readMilliseconds), dwm = delta(s.writeMilliseconds, p.writeMilliseconds)
        r.append("reads_per_second", .double(rounded(dr / elapsed)))
        r.append("writes_per_second", .double(rounded(dw / elapsed)))
        r.append("read_bytes_per_second", .double(rounded(dsr * 512 / elapsed)))
        r.append("write_bytes_per_second", .double(rounded(dsw * 512 / elapsed)))
        r.append("busy_percent", .double(rounded(min(100, dio / (elapsed * 1000) * 100))))
        r.append("await_seconds", .double(dr + dw > 0 ? rounded((drm + dwm) / (dr + dw) / 1000, 6) : 0))
        r.append("read_await_seconds", .double(dr > 0 ? rounded(drm / dr / 1000, 6) : 0))
        r.append("write_await_seconds", .double(dw > 0 ? rounded(dwm / dw / 1000, 6) : 0))
        return r
    }
}

/// sysfs marks partitions with a `partition` attribute (block/partitions/… in Documentation/ABI)
/// in `class/block/NAME`; `block/NAME` lists whole disks only (kernels and trees without
/// class/block). A device in neither is unknown: an error naming the path, not "not a partition".
func isPartitionDevice(_ roots: SourceRoots, _ device: String) throws(ReadError) -> Bool {
    // Device names with '/' (cciss!c0d0) appear in sysfs with '!'.
    let name = String(device.map { $0 == "/" ? "!" : $0 })
    let dir = roots.sys + "/class/block/" + name
    if access(dir, F_OK) == 0 { return access(dir + "/partition", F_OK) == 0 }
    let e = shd_errno()
    if access(roots.sys + "/block/" + name, F_OK) == 0 { return false }
    throw ReadError(path: dir, errno: e)
}

enum DiskWorker {
    static func make() -> Worker { Worker(name: "disk", functions: [FilesystemsFunction(), DiskIOFunction()]) }
}
