// The cpu worker: times, utilisation, stats and frequencies from /proc/stat and /sys/devices/system/cpu.
import Kit
import Reports

// MARK: - cpu.times

/// cpu.times: cumulative seconds per mode, one row per CPU plus `cpu: "total"` first.
public final class CPUTimesFunction: MetricFunction {
    public static let schema = FunctionSchema(
        name: "times", help: "Cumulative CPU time per mode since boot, per CPU and in total (/proc/stat)",
        fields: [FieldSchema("cpu", .label, help: "CPU number, or \"total\" for all CPUs")]
            + CPUTicks.modeNames.map {
                FieldSchema($0 + "_seconds_total", .counter, unit: "seconds",
                            help: "Time spent in \($0) mode" + (($0 == "guest" || $0 == "guest_nice")
                                ? " (already included in \($0 == "guest" ? "user" : "nice"))" : ""))
            })

    private let stat: ProcStatReader

    public init(stat: ProcStatReader = ProcStatReader()) { self.stat = stat }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        try stat.read(ctx).cpus.map { c in
            var row = Row()
            row.append("cpu", .string(cpuLabel(c.name)))
            for (mode, ticks) in c.modes { row.append(mode + "_seconds_total", .double(rounded(Double(ticks) / userHZ))) }
            return row
        }
    }
}

/// `cpu` → `total`, `cpu3` → `3`.
func cpuLabel(_ name: String) -> String { name == "cpu" ? "total" : String(name.dropFirst(3)) }

// MARK: - cpu.utilisation

/// Percentages per mode between two /proc/stat samples.
///
/// `previous` nil gives the since-boot figures of `current`. Each mode's interval value is its own
/// `counterDelta`: a mode that went backwards (iowait may, by the kernel's own documentation; a CPU
/// unplugged and back) counts 0 for the interval, the others keep theirs. nil when no tick passed
/// since `previous` (nothing to divide): the caller keeps `previous` as the baseline.
public func cpuUtilisation(_ current: CPUTicks, since previous: CPUTicks?) -> (percent: [(String, Double)], busy: Double, ticks: UInt64)? {
    var d = current
    if let p = previous {
        d = CPUTicks(name: current.name, user: counterDelta(current.user, since: p.user),
                     nice: counterDelta(current.nice, since: p.nice), system: counterDelta(current.system, since: p.system),
                     idle: counterDelta(current.idle, since: p.idle), iowait: counterDelta(current.iowait, since: p.iowait),
                     irq: counterDelta(current.irq, since: p.irq), softirq: counterDelta(current.softirq, since: p.softirq),
                     steal: counterDelta(current.steal, since: p.steal), guest: counterDelta(current.guest, since: p.guest),
                     guestNice: counterDelta(current.guestNice, since: p.guestNice))
    }
    let total = d.totalTicks
    guard total > 0 else { return previous == nil ? (d.modes.map { ($0.0, 0) }, 0, 0) : nil }
    let t = Double(total)
    // The kernel may count guest ticks a moment before user ticks: clamp so a share never passes 100.
    let percent = d.modes.map { ($0.0, min(100, Double($0.1) * 100 / t)) }
    let busy = max(0, min(100, 100 - (Double(d.idle) + Double(d.iowait)) * 100 / t))
    return (percent, busy, total)
}

/// cpu.utilisation: percentages per mode and `busy_percent` over the time since the previous collect.
///
/// The first collect has no earlier sample: it reports the since-boot figures (as `top` does on its
/// first screen); `window_seconds` tells which span a row covers. Never sleeps.
public final class CPUUtilisationFunction: MetricFunction {
    public static let schema = FunctionSchema(
        name: "utilisation", help: "CPU time per mode as a percentage of the interval since the previous tick",
        fields: [FieldSchema("cpu", .label, help: "CPU number, or \"total\" for all CPUs")]
            + CPUTicks.modeNames.map {
                FieldSchema($0 + "_percent", .number, unit: "percent", help: "Share of time in \($0) mode")
            }
            + [FieldSchema("busy_percent", .number, unit: "percent", help: "100 minus idle and iowait"),
               FieldSchema("window_seconds", .number, unit: "seconds",
                           help: "CPU time the percentages cover (since boot on the first tick)")])

    private let stat: ProcStatReader
    private var previous: [String: CPUTicks] = [:]
    /// Each CPU's latest row, repeated while no tick has passed since its sample.
    private var lastRows: [String: Row] = [:]

    public init(stat: ProcStatReader = ProcStatReader()) { self.stat = stat }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let s = try stat.read(ctx)
        var rows: [Row] = []
        rows.reserveCapacity(s.cpus.count)
        var next: [String: CPUTicks] = [:]
        for c in s.cpus {
            guard let u = cpuUtilisation(c, since: previous[c.name]) else {
                // No tick since the previous sample: the last interval's figures still stand (they say
                // which window they cover), and the next interval is measured from that sample.
                next[c.name] = previous[c.name]
                if let last = lastRows[c.name] { rows.append(last) }
                continue
            }
            next[c.name] = c
            var row = Row()
            row.append("cpu", .string(cpuLabel(c.name)))
            for (mode, p) in u.percent { row.append(mode + "_percent", .double(rounded(p))) }
            row.append("busy_percent", .double(rounded(u.busy)))
            // The all-CPU line sums every CPU's ticks; divide so the window is wall time, not CPU time.
            let cpus = c.name == "cpu" ? Double(max(1, s.cpus.count - 1)) : 1
            row.append("window_seconds", .double(rounded(Double(u.ticks) / userHZ / cpus)))
            rows.append(row)
            lastRows[c.name] = row
        }
        previous = next
        return rows
    }
}

// MARK: - cpu.stats

/// Physical cores and packages from CPU topology.
public struct CPUTopology: Equatable, Sendable {
    public var physicalCores: Int
    public var packages: Int
}

/// `/proc/cpuinfo` (x86 layout), one block per logical CPU:
/// ```
/// processor	: 0
/// physical id	: 0
/// core id		: 0
/// ```
/// Distinct (physical id, core id) pairs are the physical cores. nil when the file names no cores
/// (arm64 and others print no `core id`). Other keys are skipped.
public func parseCPUInfoTopology(_ bytes: [UInt8]) -> CPUTopology? {
    var pairs = Set<[UInt64]>()
    var packages = Set<UInt64>()
    var package: UInt64?
    var core: UInt64?
    func flush() {
        if let p = package, let c = core { pairs.insert([p, c]); packages.insert(p) }
        package = nil
        core = nil
    }
    forEachLine(bytes) { line in
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            if trimmed(line).isEmpty { flush() }
            return
        }
        let key = trimmed(line[line.startIndex..<colon])
        let value = trimmed(line[(colon + 1)...])
        if equals(key, "processor") { flush() }
        else if equals(key, "physical id") { package = parseUInt64(value) }
        else if equals(key, "core id") { core = parseUInt64(value) }
    }
    flush()
    return pairs.isEmpty ? nil : CPUTopology(physicalCores: pairs.count, packages: packages.count)
}

/// Topology from sysfs `cpuN/topology/{physical_package_id,core_id}`, else /proc/cpuinfo.
public func readCPUTopology(_ roots: SourceRoots) -> CPUTopology? {
    let base = roots.sys + "/devices/system/cpu"
    var pairs = Set<[Int64]>()
    var packages = Set<Int64>()
    for name in listDirectory(base) where isCPUDirectory(name) {
        guard let p = readAttribute(base + "/" + name + "/topology/physical_package_id").flatMap({ Int64($0) }),
              let c = readAttribute(base + "/" + name + "/topology/core_id").flatMap({ Int64($0) }) else { continue }
        pairs.insert([p, c])
        packages.insert(p)
    }
    if !pairs.isEmpty { return CPUTopology(physicalCores: pairs.count, packages: packages.count) }
    guard let b = try? readOnce(roots.proc + "/cpuinfo") else { return nil }
    return parseCPUInfoTopology(b)
}

/// `cpu0`, `cpu12`: a CPU directory in /sys/devices/system/cpu (not `cpufreq`, `cpuidle`).
func isCPUDirectory(_ name: String) -> Bool {
    let u = Array(name.utf8)
    return u.count > 3 && hasPrefix(u[...], "cpu") && parseUInt64(u[3...]) != nil
}

/// cpu.stats: CPU counts, scheduler counters with rates, and a frequency summary.
public final class CPUStatsFunction: MetricFunction {
    static let counters: [(field: String, help: String)] = [
        ("context_switches", "Context switches"), ("interrupts", "Interrupts serviced"),
        ("softirqs", "Softirqs serviced"), ("forks", "Processes and threads created"),
    ]

    public static let schema = FunctionSchema(
        name: "stats", help: "CPU counts, context switches, interrupts, softirqs, forks and frequencies",
        fields: [
            FieldSchema("logical_cpus", .number, help: "Online logical CPUs"),
            FieldSchema("physical_cores", .number, help: "Distinct physical cores (absent when topology is unknown)"),
            FieldSchema("packages", .number, help: "CPU packages (sockets)"),
        ]
        + counters.map { FieldSchema($0.field + "_total", .counter, help: $0.help + " since boot") }
        + counters.map { FieldSchema($0.field + "_per_second", .number, unit: "per second",
                                     help: $0.help + " per second since the previous tick") }
        + [
            FieldSchema("procs_running", .number, help: "Tasks runnable now"),
            FieldSchema("procs_blocked", .number, help: "Tasks blocked on I/O now"),
            FieldSchema("frequency_mhz", .number, unit: "megahertz", help: "Mean current frequency over CPUs (cpufreq, else cpu MHz of /proc/cpuinfo)"),
            FieldSchema("frequency_min_mhz", .number, unit: "megahertz", help: "Lowest hardware frequency of any CPU"),
            FieldSchema("frequency_max_mhz", .number, unit: "megahertz", help: "Highest hardware frequency of any CPU"),
        ])

    private let stat: ProcStatReader
    private let frequencies: CPUFrequencyReader
    private var topology: (roots: SourceRoots, value: CPUTopology?)?
    private var previous: CounterSample?

    public init(stat: ProcStatReader = ProcStatReader(), frequencies: CPUFrequencyReader = CPUFrequencyReader()) {
        self.stat = stat
        self.frequencies = frequencies
    }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let s = try stat.read(ctx)
        // Topology is read once: it changes only with hotplug, and reading 2 files per CPU each tick costs.
        if topology == nil || topology?.roots != ctx.roots { topology = (ctx.roots, readCPUTopology(ctx.roots)) }
        var row = Row()
        row.append("logical_cpus", .int(Int64(s.perCPU.count)))
        if let t = topology?.value {
            row.append("physical_cores", .int(Int64(t.physicalCores)))
            row.append("packages", .int(Int64(t.packages)))
        }
        let values: [(String, UInt64?)] = [("context_switches", s.contextSwitches), ("interrupts", s.interrupts),
                                           ("softirqs", s.softirqs), ("forks", s.forks)]
        var sample: [String: UInt64] = [:]
        for (name, v) in values { if let v { row.append(name + "_total", .int(Int64(clamping: v))); sample[name] = v } }
        for (name, v) in values {
            if let v, let r = previous?.rate(name, to: v, at: ctx.monotonic) { row.append(name + "_per_second", .double(rounded(r))) }
        }
        previous = CounterSample(monotonic: ctx.monotonic, values: sample)
        if let r = s.procsRunning { row.append("procs_running", .int(Int64(clamping: r))) }
        if let b = s.procsBlocked { row.append("procs_blocked", .int(Int64(clamping: b))) }
        // The frequencies stand apart from the counters: an unreadable cpuinfo leaves them out here
        // and fails cpu.frequencies, which reports it.
        let f = (try? frequencies.read(ctx)) ?? []
        let current = f.compactMap(\.currentKHz)
        if !current.isEmpty {
            // Summed as Doubles: an absurd kHz value must not overflow the sum.
            row.append("frequency_mhz", .double(rounded(current.reduce(0.0) { $0 + Double($1) } / Double(current.count) / 1000)))
        }
        if let lo = f.compactMap(\.minKHz).min() { row.append("frequency_min_mhz", .double(rounded(Double(lo) / 1000))) }
        if let hi = f.compactMap(\.maxKHz).max() { row.append("frequency_max_mhz", .double(rounded(Double(hi) / 1000))) }
        return [row]
    }
}

// MARK: - cpu.frequencies

/// One CPU's cpufreq reading, in kHz as sysfs gives it.
public struct CPUFrequency: Equatable, Sendable {
    public var cpu: Int
    public var currentKHz: UInt64?
    public var minKHz: UInt64?
    public var maxKHz: UInt64?
    public var governor: String?
}

/// `/proc/cpuinfo`'s `cpu MHz` of each `processor` block (x86; arch/x86/kernel/cpu/proc.c):
/// ```
/// processor	: 0
/// cpu MHz		: 2596.134
/// ```
/// In kHz, by CPU number, in file order. `[]` when no block has one (arm64, s390 print none).
/// A `cpu MHz` value that is not a number is an error.
public func parseCPUInfoMHz(_ bytes: [UInt8]) throws(CollectError) -> [(cpu: Int, kHz: UInt64)] {
    var out: [(cpu: Int, kHz: UInt64)] = []
    var cpu: Int?
    var bad: String?
    forEachLine(bytes) { line in
        guard bad == nil, let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let key = trimmed(line[line.startIndex..<colon])
        let value = trimmed(line[(colon + 1)...])
        if equals(key, "processor") {
            cpu = parseUInt64(value).flatMap { Int(exactly: $0) }
        } else if equals(key, "cpu MHz"), let n = cpu {
            guard let mhz = parseDouble(value), mhz.isFinite, mhz >= 0, mhz < 1e9 else { bad = string(line); return }
            out.append((n, UInt64((mhz * 1000).rounded())))
            cpu = nil
        }
    }
    if let bad { throw CollectError("cpuinfo: 'cpu MHz' is not a frequency: '\(bad)'") }
    return out
}

/// Reads `cpuN/cpufreq/{scaling_cur_freq,cpuinfo_min_freq,cpuinfo_max_freq,scaling_governor}`.
///
/// Files are single numbers in kHz (drivers/cpufreq/cpufreq.c `show_scaling_cur_freq`), e.g. `2596134`.
/// The CPUs with a cpufreq directory are found once; the hardware limits are read once; the current
/// frequency and governor are re-read through kept fds. Without cpufreq (most VMs, some arm
/// boards) the current frequency is `cpu MHz` of /proc/cpuinfo, as psutil's `cpu_freq` does,
/// without limits or governor; neither (arm64 without cpufreq) → `[]`.
/// Shared by cpu.stats and cpu.frequencies and read once per tick.
public final class CPUFrequencyReader {
    private final class Source {
        let cpu: Int
        let current: KernelFile
        let governor: KernelFile
        let minKHz: UInt64?
        let maxKHz: UInt64?
        init(cpu: Int, dir: String) {
            self.cpu = cpu
            let cur = dir + "/scaling_cur_freq"
            current = KernelFile(readAttribute(cur) != nil ? cur : dir + "/cpuinfo_cur_freq", cap: 256, singleRecord: true)
            governor = KernelFile(dir + "/scaling_governor", cap: 256, singleRecord: true)
            minKHz = readAttribute(dir + "/cpuinfo_min_freq").flatMap { UInt64($0) }
            maxKHz = readAttribute(dir + "/cpuinfo_max_freq").flatMap { UInt64($0) }
        }
    }

    private var sources: (sys: String, list: [Source])?
    private var cpuinfo: KernelFile?
    private var cached: (monotonic: Double, roots: SourceRoots, values: Result<[CPUFrequency], CollectError>)?

    public init() {}

    /// The frequencies of this tick; fails only when there is no cpufreq and /proc/cpuinfo cannot
    /// be read or parsed.
    public func read(_ ctx: CollectContext) throws(CollectError) -> [CPUFrequency] {
        if let c = cached, c.monotonic == ctx.monotonic, c.roots == ctx.roots { return try c.values.get() }
        let values = Result<[CPUFrequency], CollectError> { () throws(CollectError) in try readNow(ctx) }
        cached = (ctx.monotonic, ctx.roots, values)
        return try values.get()
    }

    private func readNow(_ ctx: CollectContext) throws(CollectError) -> [CPUFrequency] {
        if sources?.sys != ctx.roots.sys {
            let base = ctx.roots.sys + "/devices/system/cpu"
            let cpus = listDirectory(base).filter(isCPUDirectory).compactMap { Int($0.dropFirst(3)) }.sorted()
            let list = cpus.compactMap { n -> Source? in
                let dir = base + "/cpu\(n)/cpufreq"
                return listDirectory(dir).isEmpty ? nil : Source(cpu: n, dir: dir)
            }
            sources = (ctx.roots.sys, list)
        }
        let list = sources?.list ?? []
        if list.isEmpty {
            let path = ctx.roots.proc + "/cpuinfo"
            let f = cpuinfo?.path == path ? cpuinfo! : KernelFile(path, cap: 1 << 22)
            cpuinfo = f
            let bytes: [UInt8]
            do { bytes = try f.read() } catch { throw CollectError("\(error)") }
            return try parseCPUInfoMHz(bytes).map { CPUFrequency(cpu: $0.cpu, currentKHz: $0.kHz) }
        }
        return list.map { s in
            CPUFrequency(cpu: s.cpu, currentKHz: (try? s.current.read()).flatMap { parseUInt64(trimmed($0[...])) },
                         minKHz: s.minKHz, maxKHz: s.maxKHz,
                         governor: (try? s.governor.read()).map { string(trimmed($0[...])) }.flatMap { $0.isEmpty ? nil : $0 })
        }
    }
}

/// cpu.frequencies: one row per CPU with cpufreq, else per CPU of /proc/cpuinfo with a `cpu MHz`
/// (current_mhz only); `[]` where the kernel gives neither.
public final class CPUFrequenciesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "frequencies", help: "Per-CPU frequency from cpufreq, else from cpu MHz of /proc/cpuinfo", fields: [
        FieldSchema("cpu", .label, help: "CPU number"),
        FieldSchema("governor", .label, help: "cpufreq scaling governor"),
        FieldSchema("current_mhz", .number, unit: "megahertz", help: "Current frequency"),
        FieldSchema("min_mhz", .number, unit: "megahertz", help: "Lowest hardware frequency"),
        FieldSchema("max_mhz", .number, unit: "megahertz", help: "Highest hardware frequency"),
    ])

    private let frequencies: CPUFrequencyReader

    public init(frequencies: CPUFrequencyReader = CPUFrequencyReader()) { self.frequencies = frequencies }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        try frequencies.read(ctx).map { f in
            var row = Row()
            row.append("cpu", .string(String(f.cpu)))
            if let g = f.governor { row.append("governor", .string(g)) }
            if let c = f.currentKHz { row.append("current_mhz", .double(rounded(Double(c) / 1000))) }
            if let m = f.minKHz { row.append("min_mhz", .double(rounded(Double(m) / 1000))) }
            if let m = f.maxKHz { row.append("max_mhz", .double(rounded(Double(m) / 1000))) }
            return row
        }
    }
}

enum CPUWorker {
    static func make(_ shared: SharedReaders = SharedReaders()) -> Worker {
        let stat = shared.procStat
        let frequencies = CPUFrequencyReader()
        return Worker(name: "cpu", functions: [
            CPUTimesFunction(stat: stat), CPUUtilisationFunction(stat: stat),
            CPUStatsFunction(stat: stat, frequencies: frequencies), CPUFrequenciesFunction(frequencies: frequencies),
        ])
    }
}
