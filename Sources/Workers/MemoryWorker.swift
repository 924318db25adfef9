// The memory worker: usage from /proc/meminfo, paging and OOM counters from /proc/vmstat.
import Reports
#if canImport(Glibc)
import Glibc
#endif

// MARK: - /proc/meminfo

/// `/proc/meminfo` (fs/proc/meminfo.c):
/// ```
/// MemTotal:       24684084 kB
/// MemAvailable:   24285128 kB
/// HugePages_Total:       0
/// ```
/// Returns the keys in `keys` (by default those memory.usage reads) with their value in bytes
/// (`kB` is KiB) or, for unit-less lines such as `HugePages_Total`, the plain number. Every line is
/// checked, but other keys are dropped, so keys a newer kernel adds do no harm. A line that is not
/// `key: number [kB]`, or a file without `MemTotal` and `MemFree`, is an error.
public func parseMeminfo(_ bytes: [UInt8], keys: Set<String> = MemoryUsageFunction.meminfoKeys) throws(CollectError) -> [String: UInt64] {
    let filter = keys == MemoryUsageFunction.meminfoKeys ? MemoryUsageFunction.meminfoFilter : ProcKeyFilter(keys)
    var out: [String: UInt64] = [:]
    out.reserveCapacity(keys.count)
    var bad: String?
    forEachLine(bytes) { line in
        if bad != nil || trimmed(line).isEmpty { return }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { bad = string(line); return }
        let key = trimmed(line[line.startIndex..<colon])
        let (number, unit) = splitFirstToken(line[(colon + 1)...])
        guard !key.isEmpty, let n = parseUInt64(number) else { bad = string(line); return }
        var value = n
        if !unit.isEmpty {
            guard equals(unit, "kB") else { bad = string(line); return }
            let (b, o) = n.multipliedReportingOverflow(by: 1024)
            value = o ? UInt64.max : b
        }
        if let k = filter.match(key) { out[k] = value }
    }
    if let bad { throw CollectError("meminfo: malformed line '\(bad)'") }
    guard out["MemTotal"] != nil, out["MemFree"] != nil else { throw CollectError("meminfo: no MemTotal/MemFree") }
    return out
}

/// memory.usage: one row of memory and swap figures in bytes.
public final class MemoryUsageFunction: MetricFunction {
    /// (field, meminfo key, help) copied straight from meminfo when present.
    static let direct: [(String, String, String)] = [
        ("buffers_bytes", "Buffers", "Block device buffers"),
        ("cached_bytes", "Cached", "Page cache (without swap cache)"),
        ("shmem_bytes", "Shmem", "Shared memory and tmpfs"),
        ("slab_bytes", "Slab", "Kernel slab allocations"),
        ("slab_reclaimable_bytes", "SReclaimable", "Reclaimable part of the slab"),
        ("dirty_bytes", "Dirty", "Waiting to be written back to disk"),
        ("writeback_bytes", "Writeback", "Being written back to disk now"),
        ("swap_cached_bytes", "SwapCached", "Swapped out and back in, still in swap"),
        ("committed_bytes", "Committed_AS", "Memory committed to processes (Committed_AS)"),
        ("commit_limit_bytes", "CommitLimit", "Commit limit under strict overcommit"),
    ]

    /// The meminfo keys the row is built from.
    public static let meminfoKeys: Set<String> = Set(direct.map(\.1)).union([
        "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree", "HugePages_Total",
        "HugePages_Free", "Hugepagesize", "Active(file)", "Inactive(file)",
    ])
    static let meminfoFilter = ProcKeyFilter(meminfoKeys)

    public static let schema = FunctionSchema(name: "usage", help: "Memory and swap usage (/proc/meminfo)", fields: [
        FieldSchema("total_bytes", .number, unit: "bytes", help: "Usable RAM (MemTotal)"),
        FieldSchema("free_bytes", .number, unit: "bytes", help: "Unused RAM (MemFree)"),
        FieldSchema("available_bytes", .number, unit: "bytes",
                    help: "RAM available for new work without swapping (MemAvailable; before Linux 3.14 the kernel's own estimate from meminfo and the zoneinfo low watermarks; absent when neither can be had)"),
        FieldSchema("used_bytes", .number, unit: "bytes", help: "total minus available"),
        FieldSchema("used_percent", .number, unit: "percent", help: "used as a percentage of total"),
        FieldSchema("available_percent", .number, unit: "percent", help: "available as a percentage of total"),
    ] + direct.map { FieldSchema($0.0, .number, unit: "bytes", help: $0.2) } + [
        FieldSchema("swap_total_bytes", .number, unit: "bytes", help: "Swap space"),
        FieldSchema("swap_free_bytes", .number, unit: "bytes", help: "Unused swap space"),
        FieldSchema("swap_used_bytes", .number, unit: "bytes", help: "Swap in use"),
        FieldSchema("swap_used_percent", .number, unit: "percent", help: "Swap in use as a percentage (0 without swap)"),
        FieldSchema("hugepages_total", .number, help: "Huge pages in the pool"),
        FieldSchema("hugepages_free", .number, help: "Huge pages not allocated"),
        FieldSchema("hugepage_size_bytes", .number, unit: "bytes", help: "Default huge page size"),
    ])

    private var file: KernelFile?
    private var zoneinfo: KernelFile?

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let path = ctx.roots.proc + "/meminfo"
        let f = file?.path == path ? file! : KernelFile(path, cap: 1 << 16, singleRecord: true)
        file = f
        let m = try parseMeminfo(try f.read())
        var low: UInt64?
        // Kernels before 3.14 print no MemAvailable: estimate it as the kernel does, from the zones'
        // low watermarks. Without the LRU file counts (before 2.6.28) there is nothing to estimate from.
        // Without zoneinfo the rest of meminfo still stands: the row keeps it, and the error names the file.
        var failures = SourceFailures()
        if m["MemAvailable"] == nil, m["Active(file)"] != nil, m["Inactive(file)"] != nil {
            let zpath = ctx.roots.proc + "/zoneinfo"
            let z = zoneinfo?.path == zpath ? zoneinfo! : KernelFile(zpath, cap: 1 << 22)
            zoneinfo = z
            low = failures.attempt { saturatingProduct(try parseZoneinfoLowWatermarkPages(try z.read()), pageSize) }
        }
        return try failures.finish([memoryUsageRow(m, lowWatermarkBytes: low)])
    }

    /// Bytes per page, for the zoneinfo page counts (the tree's own kernel for a fixture is assumed
    /// to use this machine's page size).
    let pageSize = UInt64(max(1, sysconf(Int32(_SC_PAGESIZE))))
}

/// `/proc/zoneinfo` (mm/vmstat.c `zoneinfo_show_print`), one block per zone:
/// ```
/// Node 0, zone    DMA32
///   pages free     19620
///         min      14715
///         low      18393
///         high     22072
/// ```
/// Returns the sum of every zone's `low` watermark, in pages. Other lines are skipped (their set
/// changes between kernels). A file without any zone `low` line, or whose `low` is not a number,
/// is an error.
public func parseZoneinfoLowWatermarkPages(_ bytes: [UInt8]) throws(CollectError) -> UInt64 {
    var sum: UInt64 = 0
    var zones = 0
    var bad: String?
    forEachLine(bytes) { line in
        guard bad == nil else { return }
        let f = fields(line)
        guard f.count >= 2, equals(f[0], "low") else { return }
        guard f.count == 2, let n = parseUInt64(f[1]) else { bad = string(line); return }
        sum = saturatingSum(sum, n)
        zones += 1
    }
    if let bad { throw CollectError("zoneinfo: malformed low watermark '\(bad)'") }
    guard zones > 0 else { throw CollectError("zoneinfo: no zone low watermark") }
    return sum
}

/// MemAvailable as Linux 3.14 introduced it (mm/page_alloc.c `si_mem_available`, commit
/// 34e431b0ae39): free memory minus the low watermarks, plus the page cache on the file LRUs and
/// the reclaimable slab, less whichever is smaller of half of each and the low watermarks (that
/// much must stay). Clamped at zero. nil without the LRU file counts. Not free + buffers + cached:
/// Cached includes tmpfs and shared memory, which cannot be dropped.
public func estimatedAvailableBytes(_ m: [String: UInt64], lowWatermarkBytes low: UInt64) -> UInt64? {
    guard let free = m["MemFree"], let active = m["Active(file)"], let inactive = m["Inactive(file)"] else { return nil }
    let pagecache = saturatingSum(active, inactive)
    let slab = m["SReclaimable"] ?? 0
    let kept = saturatingSum(pagecache - min(pagecache / 2, low), slab - min(slab / 2, low))
    let plus = saturatingSum(free, kept)
    return plus > low ? plus - low : 0
}

/// The memory.usage row from parsed meminfo (pure, for tests). Available memory is MemAvailable,
/// else the kernel's estimate when `lowWatermarkBytes` is given; otherwise available, used and
/// their percentages are left out (no data).
public func memoryUsageRow(_ m: [String: UInt64], lowWatermarkBytes: UInt64? = nil) -> Row {
    func i(_ v: UInt64) -> JSONValue { .int(Int64(clamping: v)) }
    func pct(_ part: UInt64, _ whole: UInt64) -> JSONValue {
        .double(whole == 0 ? 0 : rounded(min(100, Double(part) * 100 / Double(whole))))
    }
    let total = m["MemTotal"] ?? 0
    let free = m["MemFree"] ?? 0
    var row = Row()
    row.append("total_bytes", i(total))
    row.append("free_bytes", i(free))
    if let a = m["MemAvailable"] ?? lowWatermarkBytes.flatMap({ estimatedAvailableBytes(m, lowWatermarkBytes: $0) }) {
        let available = min(total, a)
        let used = total - available
        row.append("available_bytes", i(available))
        row.append("used_bytes", i(used))
        row.append("used_percent", pct(used, total))
        row.append("available_percent", pct(available, total))
    }
    for (field, key, _) in MemoryUsageFunction.direct { if let v = m[key] { row.append(field, i(v)) } }
    if let st = m["SwapTotal"], let sf = m["SwapFree"] {
        let su = st > sf ? st - sf : 0
        row.append("swap_total_bytes", i(st))
        row.append("swap_free_bytes", i(sf))
        row.append("swap_used_bytes", i(su))
        row.append("swap_used_percent", pct(su, st))
    }
    if let v = m["HugePages_Total"] { row.append("hugepages_total", i(v)) }
    if let v = m["HugePages_Free"] { row.append("hugepages_free", i(v)) }
    if let v = m["Hugepagesize"] { row.append("hugepage_size_bytes", i(v)) }
    return row
}

// MARK: - /proc/vmstat

/// `/proc/vmstat` (mm/vmstat.c), one `name value` pair a line:
/// ```
/// pgfault 2920573
/// pgmajfault 1743
/// oom_kill 0
/// ```
/// Returns the counters named in `keys` that the file has (`oom_kill` exists since Linux 4.13);
/// other lines are skipped. A line that is not `name number`, or a file without `pgfault`, is an error.
public func parseVmstat(_ bytes: [UInt8], keys: Set<String> = VMCountersFunction.keySet) throws(CollectError) -> [String: UInt64] {
    let filter = keys == VMCountersFunction.keySet ? VMCountersFunction.keyFilter : ProcKeyFilter(keys)
    var out: [String: UInt64] = [:]
    var bad: String?
    var sawAny = false
    forEachLine(bytes) { line in
        if bad != nil || trimmed(line).isEmpty { return }
        let (name, number) = splitFirstToken(line)
        guard let n = parseUInt64(number) else { bad = string(line); return }
        sawAny = true
        if let k = filter.match(name) { out[k] = n }
    }
    if let bad { throw CollectError("vmstat: malformed line '\(bad)'") }
    guard sawAny, out["pgfault"] != nil || !keys.contains("pgfault") else { throw CollectError("vmstat: no pgfault counter") }
    return out
}

/// memory.vm: paging, swapping and OOM kill counters with per-second rates since the previous tick.
public final class VMCountersFunction: MetricFunction {
    static let counters: [(String, String)] = [
        ("pgfault", "Page faults (minor and major)"), ("pgmajfault", "Major page faults (needed I/O)"),
        ("pgpgin", "KiB paged in from disk"), ("pgpgout", "KiB paged out to disk"),
        ("pswpin", "Pages swapped in"), ("pswpout", "Pages swapped out"),
        ("oom_kill", "Processes killed by the OOM killer"),
    ]
    public static let keySet = Set(counters.map(\.0))
    static let keyFilter = ProcKeyFilter(keySet)

    public static let schema = FunctionSchema(
        name: "vm", help: "Page faults, paging, swapping and OOM kills (/proc/vmstat)",
        fields: counters.map { FieldSchema($0.0 + "_total", .counter, help: $0.1 + " since boot") }
            + counters.map { FieldSchema($0.0 + "_per_second", .number, unit: "per second",
                                         help: $0.1 + " per second since the previous tick") })

    private var file: KernelFile?
    private var previous: CounterSample?

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let path = ctx.roots.proc + "/vmstat"
        let f = file?.path == path ? file! : KernelFile(path, cap: 1 << 18)
        file = f
        let v = try parseVmstat(try f.read())
        var row = Row()
        for (k, _) in Self.counters { if let n = v[k] { row.append(k + "_total", .int(Int64(clamping: n))) } }
        for (k, _) in Self.counters {
            if let n = v[k], let r = previous?.rate(k, to: n, at: ctx.monotonic) { row.append(k + "_per_second", .double(rounded(r))) }
        }
        previous = CounterSample(monotonic: ctx.monotonic, values: v)
        return [row]
    }
}

enum MemoryWorker {
    static func make() -> Worker { Worker(name: "memory", functions: [MemoryUsageFunction(), VMCountersFunction()]) }
}
