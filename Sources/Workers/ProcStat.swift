// /proc/stat: the parser, and a reader the cpu and system functions share within one tick.
#if canImport(Glibc)
import Glibc
#endif

/// Cumulative time of one CPU (or of all, `name == "cpu"`) in USER_HZ ticks, per mode.
///
/// `guest` is already counted in `user` and `guestNice` in `nice` (kernel/sched/cputime.c), so
/// `totalTicks` leaves them out.
public struct CPUTicks: Equatable, Sendable {
    /// `cpu` for the all-CPU line, `cpu0`, `cpu1`, … for one CPU.
    public var name: String
    public var user, nice, system, idle, iowait, irq, softirq, steal, guest, guestNice: UInt64

    public init(name: String, user: UInt64 = 0, nice: UInt64 = 0, system: UInt64 = 0, idle: UInt64 = 0,
                iowait: UInt64 = 0, irq: UInt64 = 0, softirq: UInt64 = 0, steal: UInt64 = 0,
                guest: UInt64 = 0, guestNice: UInt64 = 0) {
        self.name = name
        self.user = user; self.nice = nice; self.system = system; self.idle = idle
        self.iowait = iowait; self.irq = irq; self.softirq = softirq; self.steal = steal
        self.guest = guest; self.guestNice = guestNice
    }

    /// Every tick the CPU spent, each counted once (guest time is inside user/nice); saturates
    /// rather than trap on absurd values.
    public var totalTicks: UInt64 {
        saturatingSum(saturatingSum(saturatingSum(user, nice), saturatingSum(system, idle)),
                      saturatingSum(saturatingSum(iowait, irq), saturatingSum(softirq, steal)))
    }

    /// The modes in report order, with their field stems.
    public var modes: [(String, UInt64)] {
        [("user", user), ("nice", nice), ("system", system), ("idle", idle), ("iowait", iowait), ("irq", irq),
         ("softirq", softirq), ("steal", steal), ("guest", guest), ("guest_nice", guestNice)]
    }

    /// Mode names in report order.
    public static let modeNames = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest",
                                   "guest_nice"]
}

/// What shd reads from /proc/stat.
public struct ProcStat: Equatable, Sendable {
    /// The all-CPU line first, then one entry per online CPU in file order.
    public var cpus: [CPUTicks] = []
    public var contextSwitches: UInt64?
    public var interrupts: UInt64?
    public var softirqs: UInt64?
    /// Forks since boot (`processes`).
    public var forks: UInt64?
    public var procsRunning: UInt64?
    public var procsBlocked: UInt64?
    /// Boot time, seconds since the epoch.
    public var bootTime: UInt64?

    public init() {}

    /// The all-CPU line.
    public var total: CPUTicks? { cpus.first { $0.name == "cpu" } }
    /// The per-CPU lines.
    public var perCPU: [CPUTicks] { cpus.filter { $0.name != "cpu" } }
}

/// `/proc/stat` (fs/proc/stat.c), as on Linux 6.x:
/// ```
/// cpu  3525 0 1821 64605 399 0 21 10 0 0
/// cpu0 1388 0 698 33076 15 0 6 4 0 0
/// intr 113442 0 0 0 …
/// ctxt 219480
/// btime 1795594233
/// processes 4173
/// procs_running 3
/// procs_blocked 0
/// softirq 71086 0 8738 3 382 26878 0 2 19076 0 16007
/// ```
/// cpu columns: user nice system idle iowait irq softirq steal guest guest_nice, in USER_HZ.
/// Kernels before 2.6.33 print fewer columns (2.6.24 has no guest_nice, 2.6.11 no guest, …): the
/// missing ones are 0. At least user, nice, system and idle are required. `intr` and `softirq` are
/// reduced to their first (total) number. Unknown lines (`page`, `swap` of 2.4 kernels, lines newer
/// kernels add) are skipped.
public func parseProcStat(_ bytes: [UInt8]) throws(CollectError) -> ProcStat {
    var s = ProcStat()
    var bad: String?
    forEachLine(bytes) { line in
        if bad != nil { return }
        // The intr line carries a thousand numbers or more; only the first two fields are needed of it.
        let f = fields(line, limit: 11)
        guard let key = f.first else { return }
        if hasPrefix(key, "cpu") {
            let suffix = key.dropFirst(3)
            guard suffix.isEmpty || parseUInt64(suffix) != nil else { return }
            guard f.count >= 5 else { bad = "cpu line with \(f.count - 1) columns: '\(string(line))'"; return }
            var v = [UInt64](repeating: 0, count: 10)
            for i in 1..<min(f.count, 11) {
                guard let n = parseUInt64(f[i]) else { bad = "malformed cpu line '\(string(line))'"; return }
                v[i - 1] = n
            }
            s.cpus.append(CPUTicks(name: string(key), user: v[0], nice: v[1], system: v[2], idle: v[3], iowait: v[4],
                                   irq: v[5], softirq: v[6], steal: v[7], guest: v[8], guestNice: v[9]))
            return
        }
        guard f.count >= 2 else { return }
        func number() -> UInt64? {
            guard let n = parseUInt64(f[1]) else { bad = "malformed line '\(string(line))'"; return nil }
            return n
        }
        if equals(key, "ctxt") { s.contextSwitches = number() }
        else if equals(key, "intr") { s.interrupts = number() }
        else if equals(key, "softirq") { s.softirqs = number() }
        else if equals(key, "processes") { s.forks = number() }
        else if equals(key, "procs_running") { s.procsRunning = number() }
        else if equals(key, "procs_blocked") { s.procsBlocked = number() }
        else if equals(key, "btime") { s.bootTime = number() }
    }
    if let bad { throw CollectError("stat: \(bad)") }
    guard s.total != nil else { throw CollectError("stat: no 'cpu' line") }
    return s
}

/// Ticks per second of the cpu lines of /proc/stat (USER_HZ, 100 on every mainstream architecture).
public let userHZ: Double = {
    let v = sysconf(Int32(_SC_CLK_TCK))
    return v > 0 ? Double(v) : 100
}()

/// Reads and parses /proc/stat at most once per tick for every function that holds it.
///
/// cpu.times, cpu.utilisation, cpu.stats and system.info all need /proc/stat; the registry gives the cpu and
/// system workers one reader (`SharedReaders`), and one tick passes the same `CollectContext.tick` to each, so
/// the file is held open once and the first parse of a tick is reused.
public final class ProcStatReader {
    private var file: KernelFile?
    private var cached: (path: String, tick: Double, stat: ProcStat)?

    public init() {}

    /// The path read for these roots.
    func path(_ ctx: CollectContext) -> String { ctx.roots.proc + "/stat" }

    public func read(_ ctx: CollectContext) throws -> ProcStat {
        let path = path(ctx)
        if let c = cached, c.path == path, c.tick == ctx.tick { return c.stat }
        let f: KernelFile
        if let old = file, old.path == path { f = old } else { f = KernelFile(path, cap: 1 << 20, singleRecord: true); file = f }
        let s = try parseProcStat(try f.read())
        cached = (path, ctx.tick, s)
        return s
    }
}
