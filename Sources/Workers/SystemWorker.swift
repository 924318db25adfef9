// The system worker: info (host, kernel, OS, uptime, boot time), time (clock sync via adjtimex), self (shd's own use).
// Over 400 lines: the worker and its three functions (info, time, self), each with its parser, as every worker file holds.
import Kit
import CLinux
import Reports
#if canImport(Glibc)
import Glibc
#endif

// MARK: - system.info

/// `/proc/uptime` (fs/proc/uptime.c): seconds since boot, then idle seconds summed over CPUs.
/// ```
/// 431.51 782.09
/// ```
public func parseUptime(_ bytes: [UInt8]) throws(CollectError) -> (uptime: Double, idle: Double?) {
    var first: ArraySlice<UInt8> = []
    forEachLine(bytes) { if first.isEmpty { first = $0 } }
    let f = fields(first)
    guard let up = f.first.flatMap(parseDouble), up >= 0, up.isFinite else {
        throw CollectError("uptime: malformed '\(string(first))'")
    }
    return (up, f.count > 1 ? parseDouble(f[1]) : nil)
}

/// `os-release` (os-release(5)): shell-style `KEY=value` lines, values optionally quoted.
/// ```
/// PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
/// ID=debian
/// ```
/// Double quotes allow the escapes `\"`, `\\`, `` \` `` and `\$`; single quotes are literal.
/// Comments, blank lines and lines without `=` are skipped: the file is informational, never fatal.
public func parseOSRelease(_ bytes: [UInt8]) -> [String: String] {
    var out: [String: String] = [:]
    forEachLine(bytes) { line in
        let t = trimmed(line)
        guard let first = t.first, first != UInt8(ascii: "#"), let eq = t.firstIndex(of: UInt8(ascii: "=")) else { return }
        let key = string(t[t.startIndex..<eq])
        let raw = t[(eq + 1)...]
        var value: [UInt8] = []
        if let q = raw.first, q == UInt8(ascii: "\"") || q == UInt8(ascii: "'") {
            var i = raw.startIndex + 1
            while i < raw.endIndex, raw[i] != q {
                if q == UInt8(ascii: "\""), raw[i] == UInt8(ascii: "\\"), i + 1 < raw.endIndex {
                    i += 1
                }
                value.append(raw[i])
                i += 1
            }
        } else {
            value = Array(raw)
        }
        out[key] = String(decoding: value, as: UTF8.self)
    }
    return out
}

/// system.info: hostname, kernel release, OS name, uptime and boot time.
public final class SystemInfoFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "info", help: "Host name, kernel, OS, uptime and boot time", fields: [
        FieldSchema("hostname", .label, help: "Host name (/proc/sys/kernel/hostname)"),
        FieldSchema("kernel", .label, help: "Kernel release (/proc/sys/kernel/osrelease)"),
        FieldSchema("os", .label, help: "PRETTY_NAME of os-release"),
        FieldSchema("os_id", .label, help: "ID of os-release"),
        FieldSchema("os_version", .label, help: "VERSION_ID of os-release"),
        FieldSchema("boot_time", .label, help: "Boot time, RFC 3339 in UTC"),
        FieldSchema("boot_time_seconds", .number, unit: "seconds", help: "Boot time, seconds since the Unix epoch"),
        FieldSchema("uptime_seconds", .number, unit: "seconds", help: "Seconds since boot"),
    ])

    private let stat: ProcStatReader
    private var hostname: KernelFile?
    private var osrelease: KernelFile?
    private var uptime: KernelFile?
    private var osRelease: (etc: String, values: [String: String])?

    public init(stat: ProcStatReader = ProcStatReader()) { self.stat = stat }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let p = ctx.roots.proc
        if hostname?.path != p + "/sys/kernel/hostname" {
            hostname = KernelFile(p + "/sys/kernel/hostname", cap: 256, singleRecord: true)
            osrelease = KernelFile(p + "/sys/kernel/osrelease", cap: 256, singleRecord: true)
            uptime = KernelFile(p + "/uptime", cap: 256, singleRecord: true)
        }
        // os-release changes only with an OS upgrade; read it once.
        if osRelease?.etc != ctx.roots.etc {
            let b = (try? readOnce(ctx.roots.etc + "/os-release", cap: 65536))
                ?? (try? readOnce(ctx.roots.etc + "/../usr/lib/os-release", cap: 65536)) ?? []
            osRelease = (ctx.roots.etc, parseOSRelease(b))
        }
        // Each source stands alone: boot time comes from /proc/stat even when /proc/uptime is missing.
        var failures = SourceFailures()
        var row = Row()
        if let h = hostname, let b = failures.attempt({ try h.read() }) { row.append("hostname", .string(string(trimmed(b[...])))) }
        if let k = osrelease, let b = failures.attempt({ try k.read() }) { row.append("kernel", .string(string(trimmed(b[...])))) }
        let os = osRelease?.values ?? [:]
        if let v = os["PRETTY_NAME"] ?? os["NAME"] { row.append("os", .string(v)) }
        if let v = os["ID"] { row.append("os_id", .string(v)) }
        if let v = os["VERSION_ID"] { row.append("os_version", .string(v)) }
        if let s = failures.attempt({ try stat.read(ctx) }) {
            if let bt = s.bootTime {
                if let valid = failures.attempt({ try validBootTime(bt, file: stat.path(ctx)) }) {
                    row.append("boot_time", .string(Timestamp(microseconds: valid * 1_000_000).rfc3339))
                    row.append("boot_time_seconds", .int(valid))
                }
            } else {
                failures.note(CollectError("\(stat.path(ctx)): no btime line"))
            }
        }
        if let u = uptime, let b = failures.attempt({ try u.read() }),
           let up = failures.attempt({ try parseUptime(b).uptime }) {
            row.append("uptime_seconds", .double(up))
        }
        return try failures.finish([row])
    }
}

/// The latest boot time shd accepts: 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
let maxBootTimeSeconds: UInt64 = 253_402_300_799

/// `btime` as seconds since the epoch, or an error for a value no clock can have been at (a damaged
/// /proc/stat such as `btime 9223372036854775807`, which would overflow the conversion to microseconds).
func validBootTime(_ bt: UInt64, file: String = "stat") throws(CollectError) -> Int64 {
    guard bt <= maxBootTimeSeconds else { throw CollectError("\(file): btime \(bt) is after the year 9999") }
    return Int64(bt)
}

// MARK: - system.time

/// The kernel clock discipline state, as adjtimex(2) returns it.
public struct ClockState: Equatable, Sendable {
    /// adjtimex's return value: TIME_OK 0, TIME_INS 1, TIME_DEL 2, TIME_OOP 3, TIME_WAIT 4, TIME_ERROR 5.
    public var state: Int64
    /// `status` bits (STA_PLL 0x1, STA_UNSYNC 0x40, STA_NANO 0x2000, …).
    public var status: Int64
    /// Offset in µs, or ns when STA_NANO is set.
    public var offset: Int64
    /// Frequency offset in ppm scaled by 2^16.
    public var frequency: Int64
    /// Maximum and estimated error, µs.
    public var maxError: Int64
    public var estError: Int64

    public init(state: Int64, status: Int64, offset: Int64, frequency: Int64, maxError: Int64, estError: Int64) {
        self.state = state
        self.status = status
        self.offset = offset
        self.frequency = frequency
        self.maxError = maxError
        self.estError = estError
    }

    static let unsync: Int64 = 0x40
    static let nano: Int64 = 0x2000
    static let timeError: Int64 = 5

    /// As timedatectl's "System clock synchronized": not TIME_ERROR and STA_UNSYNC clear.
    public var synchronised: Bool { state != Self.timeError && status & Self.unsync == 0 }

    public var offsetSeconds: Double { Double(offset) / (status & Self.nano != 0 ? 1e9 : 1e6) }

    public var stateName: String {
        switch state {
        case 0: return "ok"
        case 1: return "insert_leap"
        case 2: return "delete_leap"
        case 3: return "leap_in_progress"
        case 4: return "leap_done"
        case 5: return "error"
        default: return "unknown"
        }
    }
}

/// The output of `adjtimex --print` (adjtimex(8)), which fixture trees hold in a file `adjtimex`
/// beside `proc`, because adjtimex(2) is a syscall with no file in /proc:
/// ```
///          mode: 0
///        offset: 0
///     frequency: 0
///      maxerror: 16000000
///      esterror: 16000000
///        status: 64
/// time_constant: 2
///  return value = 5
/// ```
/// Unknown lines are skipped; a file without `status` or `return value` is an error.
public func parseAdjtimexPrint(_ bytes: [UInt8]) throws(CollectError) -> ClockState {
    var v: [String: Int64] = [:]
    forEachLine(bytes) { line in
        let t = trimmed(line)
        if hasPrefix(t, "return value") {
            if let eq = t.firstIndex(of: UInt8(ascii: "=")), let n = parseInt64(trimmed(t[(eq + 1)...])) { v["return"] = n }
            return
        }
        guard let colon = t.firstIndex(of: UInt8(ascii: ":")), let n = parseInt64(trimmed(t[(colon + 1)...])) else { return }
        v[string(trimmed(t[t.startIndex..<colon]))] = n
    }
    guard let state = v["return"], let status = v["status"] else {
        throw CollectError("adjtimex: no 'status' or 'return value' line")
    }
    return ClockState(state: state, status: status, offset: v["offset"] ?? 0, frequency: v["frequency"] ?? 0,
                      maxError: v["maxerror"] ?? 0, estError: v["esterror"] ?? 0)
}

/// Calls adjtimex(2) read-only (modes 0).
public func readKernelClock() throws(CollectError) -> ClockState {
    var t = timex()
    t.modes = 0
    let r = adjtimex(&t)
    if r < 0 { throw CollectError("adjtimex: \(String(cString: strerror(shd_errno())))") }
    return ClockState(state: Int64(r), status: Int64(t.status), offset: Int64(t.offset), frequency: Int64(t.freq),
                      maxError: Int64(t.maxerror), estError: Int64(t.esterror))
}

/// system.time: whether the kernel clock is synchronised (NTP/PTP discipline), its offset and error.
///
/// On a live proc root (`SourceRoots.live`) this calls adjtimex(2). On a fixture tree it reads the
/// recorded `adjtimex --print` output (`SourceRoots.fixtureAdjtimex`), so golden reports stay
/// deterministic; without that file it reports `[]` (no data): the syscall would describe this
/// machine, not the tree.
public final class SystemTimeFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "time", help: "Kernel clock synchronisation (adjtimex)", fields: [
        FieldSchema("synchronised", .bool, help: "The clock is disciplined by NTP/PTP (STA_UNSYNC clear, not TIME_ERROR)"),
        FieldSchema("clock_state", .label, help: "ok, insert_leap, delete_leap, leap_in_progress, leap_done or error"),
        FieldSchema("status_flags", .number, help: "adjtimex status bits (STA_*)"),
        FieldSchema("offset_seconds", .number, unit: "seconds", help: "Estimated offset from the reference time"),
        FieldSchema("frequency_ppm", .number, unit: "ppm", help: "Frequency correction"),
        FieldSchema("max_error_seconds", .number, unit: "seconds", help: "Maximum error"),
        FieldSchema("est_error_seconds", .number, unit: "seconds", help: "Estimated error"),
    ])

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let c: ClockState
        if let record = ctx.roots.fixtureAdjtimex {
            let bytes: [UInt8]
            do {
                bytes = try readOnce(record, cap: 65536)
            } catch let e {
                if e.isMissing { return [] }
                throw e
            }
            c = try parseAdjtimexPrint(bytes)
        } else {
            c = try readKernelClock()
        }
        return [[
            "synchronised": .bool(c.synchronised), "clock_state": .string(c.stateName), "status_flags": .int(c.status),
            "offset_seconds": .double(c.offsetSeconds), "frequency_ppm": .double(rounded(Double(c.frequency) / 65536, 3)),
            "max_error_seconds": .double(Double(c.maxError) / 1e6), "est_error_seconds": .double(Double(c.estError) / 1e6),
        ]]
    }
}

// MARK: - system.self

/// What shd learns about itself from `/proc/self/status` and `/proc/self/stat`.
public struct SelfUsage: Equatable, Sendable {
    public var rssBytes: UInt64?
    public var peakRSSBytes: UInt64?
    public var virtualBytes: UInt64?
    public var threads: UInt64?
    /// utime + stime in USER_HZ ticks.
    public var cpuTicks: UInt64?
}

/// `/proc/self/status` through the one status parser (`scanProcessStatus`); a file without `Threads`
/// (truncated) is an error.
public func parseSelfStatus(_ bytes: [UInt8]) throws(CollectError) -> SelfUsage {
    let s = scanProcessStatus(bytes)
    guard let threads = s.threads else { throw CollectError("status: no Threads line") }
    return SelfUsage(rssBytes: s.vmRSSBytes, peakRSSBytes: s.vmHWMBytes, virtualBytes: s.vmSizeBytes, threads: threads)
}

/// shd's own bookkeeping of its collections: the daemon feeds it each worker report, system.self and
/// system.errors read it.
///
/// - Important: Nothing is recorded unless the daemon calls `record(_:)` after each worker collect;
///   until then the fields built from it are omitted. `shared` is the instance the registry's system
///   worker reads.
public final class SelfAccounting: @unchecked Sendable {
    /// The instance `WorkerRegistry.make("system")` reads.
    public static let shared = SelfAccounting()

    /// Failures and collections of one `worker.function`.
    public struct FunctionCounts: Equatable, Sendable {
        public var collections: Int64 = 0
        public var errors: Int64 = 0
        /// The error of the latest collection, nil when it succeeded.
        public var lastError: String?
    }

    // A pthread mutex rather than Synchronization.Mutex, which needs macOS 15 in the package's platforms.
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var functions: [String: FunctionCounts] = [:]
    private var order: [String] = []
    private var workerSeconds: [String: Double] = [:]

    public init() {
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Counts each function's collection and failure, and keeps the worker's latest collect time
    /// (the sum of its functions' `duration_seconds`).
    public func record(_ report: WorkerReport) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        var seconds = 0.0
        for f in report.functionReports {
            let key = report.name + "." + f.name
            if functions[key] == nil { order.append(key) }
            var c = functions[key] ?? FunctionCounts()
            c.collections += 1
            if f.error != nil { c.errors += 1 }
            c.lastError = f.error
            functions[key] = c
            seconds += f.durationSeconds ?? 0
        }
        workerSeconds[report.name] = seconds
    }

    /// Every recorded `worker.function` in first-seen order, with its counts.
    public var functionCounts: [(name: String, counts: FunctionCounts)] {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return order.map { ($0, functions[$0]!) }
    }

    /// Seconds one full cycle takes: the latest collect time of every recorded worker, summed; nil
    /// before any record.
    public var cycleSeconds: Double? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return workerSeconds.isEmpty ? nil : workerSeconds.values.reduce(0, +)
    }
}

/// system.self: shd's own memory, threads, open files, CPU time, collection time and failures.
///
/// Reads `<proc>/self`; on a fixture tree that is the recorded process, which keeps golden output
/// deterministic. `open_fds` is omitted where `<proc>/self/fd` cannot be listed (fixtures), and
/// `cycle_seconds` (a measured duration) is reported on the live `/proc` only, for the same reason.
public final class SystemSelfFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "self", help: "shd's own resource use", fields: [
        FieldSchema("rss_bytes", .number, unit: "bytes", help: "Resident memory (VmRSS)"),
        FieldSchema("rss_peak_bytes", .number, unit: "bytes", help: "Peak resident memory (VmHWM)"),
        FieldSchema("virtual_bytes", .number, unit: "bytes", help: "Virtual memory (VmSize)"),
        FieldSchema("threads", .number, help: "Threads"),
        FieldSchema("open_fds", .number, help: "Open file descriptors"),
        FieldSchema("cpu_seconds_total", .counter, unit: "seconds", help: "User plus system CPU time since start"),
        FieldSchema("cycle_seconds", .number, unit: "seconds",
                    help: "Time of one full collection: the latest collect of every worker, summed"),
        FieldSchema("function_errors_total", .counter, help: "Failed function collections since start, all functions"),
    ])

    private let accounting: SelfAccounting
    private var status: KernelFile?
    private var stat: KernelFile?

    public init(accounting: SelfAccounting = .shared) { self.accounting = accounting }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let p = ctx.roots.proc + "/self"
        if status?.path != p + "/status" {
            status = KernelFile(p + "/status", cap: 1 << 16, singleRecord: true)
            stat = KernelFile(p + "/stat", cap: 4096, singleRecord: true)
        }
        // status (memory, threads) and stat (CPU time) stand alone: one failing leaves the other's fields.
        var failures = SourceFailures()
        var row = Row()
        if let s = status, let b = failures.attempt({ try s.read() }), let u = failures.attempt({ try parseSelfStatus(b) }) {
            if let v = u.rssBytes { row.append("rss_bytes", .int(Int64(clamping: v))) }
            if let v = u.peakRSSBytes { row.append("rss_peak_bytes", .int(Int64(clamping: v))) }
            if let v = u.virtualBytes { row.append("virtual_bytes", .int(Int64(clamping: v))) }
            if let v = u.threads { row.append("threads", .int(Int64(clamping: v))) }
        }
        let live = ctx.roots.live
        let fds = listDirectory(p + "/fd")
        if !fds.isEmpty {
            // On the live /proc the listing's own directory fd is among the entries.
            row.append("open_fds", .int(Int64(fds.count - (live ? 1 : 0))))
        }
        if let s = stat, let b = failures.attempt({ try s.read() }), let ticks = failures.attempt({ try parseProcessStat(b[...]).cpuTicks }) {
            row.append("cpu_seconds_total", .double(rounded(Double(ticks) / userHZ)))
        }
        if live, let c = accounting.cycleSeconds { row.append("cycle_seconds", .double(rounded(c, 6))) }
        let counts = accounting.functionCounts
        if !counts.isEmpty {
            row.append("function_errors_total", .int(counts.reduce(0) { $0 + $1.counts.errors }))
        }
        return try failures.finish([row])
    }
}

/// system.errors: one row per function shd has collected, with its collections and failures.
///
/// Built from `SelfAccounting`; `[]` until the daemon records a worker report.
public final class SystemErrorsFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "errors", help: "Collections and failures of each function", fields: [
        FieldSchema("function", .label, help: "worker.function"),
        FieldSchema("last_error", .label, help: "The latest collection's error; absent when it succeeded"),
        FieldSchema("collections_total", .counter, help: "Collections since start"),
        FieldSchema("errors_total", .counter, help: "Failed collections since start"),
        FieldSchema("failing", .bool, help: "The latest collection failed"),
    ], key: ["function"])

    private let accounting: SelfAccounting

    public init(accounting: SelfAccounting = .shared) { self.accounting = accounting }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        accounting.functionCounts.map { name, c in
            var row = Row()
            row.append("function", .string(name))
            if let e = c.lastError { row.append("last_error", .string(e)) }
            row.append("collections_total", .int(c.collections))
            row.append("errors_total", .int(c.errors))
            row.append("failing", .bool(c.lastError != nil))
            return row
        }
    }
}

/// The system worker's constructors.
public enum SystemWorker {
    static func make(_ shared: SharedReaders = SharedReaders()) -> Worker { make(accounting: .shared, stat: shared.procStat) }

    /// With its own `SelfAccounting`, e.g. a fresh one per golden run so counts do not carry over.
    public static func make(accounting: SelfAccounting, stat: ProcStatReader = ProcStatReader()) -> Worker {
        Worker(name: "system", functions: [SystemInfoFunction(stat: stat), SystemTimeFunction(),
                                           SystemSelfFunction(accounting: accounting),
                                           SystemErrorsFunction(accounting: accounting), SystemSourcesFunction()])
    }
}
