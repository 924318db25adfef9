// processes.watched: the processes declared with `watch NAME process { … }`, followed by identity (pid and start
// time). A discovery (the pid file, the unit's cgroup.procs, or a walk of /proc for names and command lines) runs
// every `interval`; between discoveries only the watched processes' own /proc files are read. The daemon adds a
// pidfd per main process to its loop, so an exit is collected in the loop turn it happens in.
import CLinux
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// A process as the kernel names it for good: a pid is reused, a pid with its start time is not.
public struct ProcessIdentity: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int64
    /// Field 22 of /proc/PID/stat: clock ticks after boot.
    public var startTime: UInt64
    public init(pid: Int64, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }
    public var description: String { "\(pid)@\(startTime)" }
}

/// One declared process watch, decoded by the daemon from `watch NAME process { … }`.
public struct ProcessWatchSpec: Sendable {
    public enum Selector: Sendable {
        /// The process whose pid the file holds (a path on the host: under `root_fs` when set).
        case pidfile(String)
        /// The processes of a systemd unit's cgroup (`nginx.service`).
        case unit(String)
        /// Processes whose command name (comm) is this.
        case name(String)
        /// Processes whose command line `matches` (a regex of the rule language, compiled by the daemon).
        case cmdline(String, matches: @Sendable (String) -> Bool)
    }

    public var name: String
    public var selector: Selector
    /// Seconds between discoveries.
    public var interval: Double

    public init(name: String, selector: Selector, interval: Double) {
        self.name = name
        self.selector = selector
        self.interval = interval
    }

    /// The row's `selector` label: how the watch finds its processes.
    public var selectorText: String {
        switch selector {
        case .pidfile(let p): return "pidfile " + p
        case .unit(let u): return "unit " + u
        case .name(let n): return "name " + n
        case .cmdline(let r, _): return "cmdline " + r
        }
    }
}

/// What a watch knows between collections.
final class ProcessWatchState {
    var spec: ProcessWatchSpec
    /// The processes selected, as of the latest collection.
    var members: [ProcessIdentity] = []
    var main: ProcessIdentity?
    /// The main process before the current one (or the current one): a different one is a restart.
    var lastMain: ProcessIdentity?
    var lastPPID: Int64?
    var pidChanges: Int64 = 0
    var ppidChanges: Int64 = 0
    /// Monotonic time of the next discovery (at once for a new watch).
    var nextDiscovery = -Double.infinity
    /// While the main process is missing after it ran: seconds until the next look (1, 2, 4, … up to the interval),
    /// so a supervisor's restart is found within seconds. 0 otherwise.
    var retry: Double = 0
    /// The unit's cgroup folder, once found.
    var cgroup: String?
    /// Why the pid file names no process (empty, not a pid): part of the row, not a failure of shd.
    var note = ""

    init(_ spec: ProcessWatchSpec) { self.spec = spec }
}

/// `processes.watched`: one row per declared process watch.
public final class WatchedProcessesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "watched",
        help: "Declared process watches (`watch NAME process`): one row per watch, its main process and the processes it selects", fields: [
        FieldSchema("watch", .label, help: "the watch's name"),
        FieldSchema("selector", .label, help: "how it selects: `pidfile PATH`, `unit NAME`, `name COMM` or `cmdline REGEX`"),
        FieldSchema("running", .number, help: "processes selected that are alive (zombies are not)"),
        FieldSchema("main_pid", .number, help: "the main process: the pid file's, else the eldest whose parent is not selected"),
        FieldSchema("ppid", .number, help: "the main process's parent"),
        FieldSchema("state", .label, help: "the main process's state: running, sleeping, disk_sleep, stopped, idle or other"),
        FieldSchema("user", .label, help: "the main process's owner (real uid) by name, else the number"),
        FieldSchema("uptime_seconds", .number, unit: "seconds", help: "how long the main process has run"),
        FieldSchema("cpu_percent", .number, unit: "percent", help: "CPU the main process used since the previous reading, in percent of one core"),
        FieldSchema("total_cpu_percent", .number, unit: "percent", help: "the same, summed over every process selected"),
        FieldSchema("rss_bytes", .number, unit: "bytes", help: "the main process's resident set"),
        FieldSchema("pss_bytes", .number, unit: "bytes", help: "its proportional set (shared pages divided among their users; smaps_rollup, when readable)"),
        FieldSchema("total_rss_bytes", .number, unit: "bytes", help: "resident sets summed over every process selected"),
        FieldSchema("threads", .number, help: "the main process's threads"),
        FieldSchema("children", .number, help: "processes whose parent is the main process"),
        FieldSchema("open_fds", .number, help: "file descriptors the main process has open (when /proc/PID/fd is readable)"),
        FieldSchema("fd_limit", .number, help: "its soft limit of open files (absent when unlimited)"),
        FieldSchema("fds_used_percent", .number, unit: "percent", help: "open_fds / fd_limit"),
        FieldSchema("pid_changes_total", .counter, help: "times another process became the main one (a restart) since shd started watching"),
        FieldSchema("ppid_changes_total", .counter, help: "times the main process changed parent (reparented) since shd started watching"),
        FieldSchema("error", .label, help: "why the pid file names no process (empty otherwise)"),
        FieldSchema("unreadable", .label, help: "the fields left out because the kernel refused their file, and why (empty when all are read): another user's process takes CAP_SYS_PTRACE"),
    ], key: ["watch"])

    let table: ProcessTable
    private var watches: [ProcessWatchState] = []
    /// CPU ticks of each process at its last reading, and the percent computed then.
    private var samples: [ProcessIdentity: (ticks: UInt64, at: Double, percent: Double?)] = [:]
    /// Command lines by identity: read once per process, not once per walk.
    private var cmdlines: [ProcessIdentity: String] = [:]
    private var uptime: KernelFile?
    private var uptimeRoot = ""
    private var users = UserNames()
    private var buffer = [UInt8](repeating: 0, count: 4096)
    /// Whether /proc/PID/task/TID/children exists (CONFIG_PROC_CHILDREN); nil until tried.
    private var childrenFiles: Bool?

    public init(table: ProcessTable = ProcessTable()) { self.table = table }

    /// Without a declared watch the function is not collected and not in the report.
    public var isActive: Bool { !watches.isEmpty }

    /// Replaces the watches (at start and on every reload). A watch that keeps its name and selector keeps what it
    /// knows (its main process and counters); the others start afresh.
    public func configure(_ specs: [ProcessWatchSpec]) {
        var old: [String: ProcessWatchState] = [:]
        for w in watches { old[w.spec.name + "\n" + w.spec.selectorText] = w }
        watches = specs.map { spec in
            if let w = old[spec.name + "\n" + spec.selectorText] {
                // Another interval: the next discovery is at once, not at the end of the old one.
                if w.spec.interval != spec.interval { w.nextDiscovery = -.infinity }
                w.spec = spec
                return w
            }
            return ProcessWatchState(spec)
        }
        if watches.isEmpty {
            samples = [:]
            cmdlines = [:]
        }
    }

    /// The main process of every watch that has one: the daemon holds a pidfd for each.
    public var mainProcesses: [(watch: String, process: ProcessIdentity)] {
        watches.compactMap { w in w.main.map { (w.spec.name, $0) } }
    }

    /// Monotonic time of the earliest discovery due, nil without watches.
    public var nextDiscovery: Double? { watches.map(\.nextDiscovery).min() }

    /// The folders holding the watches' pid files (under `root_fs` when set), for inotify.
    public func pidfileFolders(_ roots: SourceRoots) -> [String] {
        var out: Set<String> = []
        for w in watches {
            if case .pidfile(let p) = w.spec.selector { out.insert(parentFolder(hostPath(p, roots))) }
        }
        return out.sorted()
    }

    /// A watched main process exited (its pidfd said so): the next collection sees it gone, and the watches whose
    /// main process it was look for a successor a second later (a supervisor restarting it).
    public func exited(_ p: ProcessIdentity, now: Double) {
        for w in watches where w.main == p { lost(w, now) }
    }

    /// A pid file's folder changed: the pidfile watches read their files at the next collection.
    public func pidfilesChanged() {
        for w in watches { if case .pidfile = w.spec.selector { w.nextDiscovery = -.infinity } }
    }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        if watches.isEmpty { return [] }
        let proc = ctx.roots.proc
        // /proc itself must answer: without it every watched process would read as gone.
        if uptimeRoot != proc || uptime == nil {
            uptime = KernelFile(proc + "/uptime", cap: 4096, singleRecord: true)
            uptimeRoot = proc
        }
        let up = try parseUptime(try uptime!.read()).uptime
        var failures = SourceFailures()
        var rows: [Row] = []
        var alive: Set<ProcessIdentity> = []
        for w in watches {
            var stats: [Int64: ProcessStat] = [:]
            if ctx.monotonic >= w.nextDiscovery {
                do {
                    try discover(w, ctx, &stats)
                    if w.main != nil || w.retry == 0 {
                        w.retry = 0
                        w.nextDiscovery = ctx.monotonic + w.spec.interval
                    } else {
                        w.retry = min(w.retry * 2, w.spec.interval)
                        w.nextDiscovery = ctx.monotonic + w.retry
                    }
                } catch {
                    failures.note(error)
                    // Unknown is not "not running": the row says nothing it cannot stand behind.
                    rows.append(["watch": .string(w.spec.name), "selector": .string(w.spec.selectorText), "error": .string("\(error)")])
                    w.nextDiscovery = ctx.monotonic + min(w.spec.interval, 5)
                    continue
                }
            } else {
                reread(w, ctx, &stats)
            }
            rows.append(row(w, stats, uptime: up, ctx))
            alive.formUnion(w.members)
        }
        samples = samples.filter { alive.contains($0.key) }
        if cmdlines.count > 4 * max(64, table.processes.count) { cmdlines.removeAll(keepingCapacity: true) }
        return try failures.finish(rows)
    }

    // MARK: finding the processes

    /// Selects the watch's processes anew. Throws when it cannot tell (a pid file or cgroup it may not read, an
    /// unreadable /proc); a pid file or cgroup that does not exist means nothing runs.
    private func discover(_ w: ProcessWatchState, _ ctx: CollectContext, _ stats: inout [Int64: ProcessStat]) throws {
        w.note = ""
        var found: [ProcessStat] = []
        var byPidfile = false
        switch w.spec.selector {
        case .pidfile(let path):
            byPidfile = true
            let file = hostPath(path, ctx.roots)
            do {
                let bytes = try readOnce(file, cap: 4096)
                if let pid = parsePidfile(bytes[...]) {
                    if let s = readStat(pid, ctx.roots.proc), isAlive(s) { found = [s] }
                } else {
                    w.note = "\(path) holds no pid"
                }
            } catch {
                if !error.isMissing { throw error }
            }
        case .unit(let unit):
            for pid in try cgroupPids(w, unit, ctx.roots) {
                if let s = readStat(pid, ctx.roots.proc), isAlive(s) { found.append(s) }
            }
        case .name(let name):
            try table.refresh(ctx)
            found = table.processes.filter { $0.comm == name && isAlive($0) }
        case .cmdline(_, let matches):
            try table.refresh(ctx)
            let me = ctx.roots.live ? Int64(getpid()) : -1
            for p in table.processes where isAlive(p) && p.pid != me && !isKernelThread(p) {
                if matches(cmdline(of: p, ctx.roots.proc)) { found.append(p) }
            }
        }
        for s in found { stats[s.pid] = s }
        let members = found.map { ProcessIdentity(pid: $0.pid, startTime: $0.startTime) }
        w.members = members
        if let m = w.main, members.contains(m) { return }
        let next: ProcessIdentity?
        if byPidfile {
            next = members.first
        } else {
            let pids = Set(members.map(\.pid))
            next = found.filter { !pids.contains($0.ppid) }.min { ($0.startTime, $0.pid) < ($1.startTime, $1.pid) }
                .map { ProcessIdentity(pid: $0.pid, startTime: $0.startTime) }
        }
        setMain(w, next)
    }

    /// Between discoveries: the known processes' stat files only. One that is gone (no stat, another start time, a
    /// zombie) leaves the watch; the main process leaving schedules a discovery a second later.
    private func reread(_ w: ProcessWatchState, _ ctx: CollectContext, _ stats: inout [Int64: ProcessStat]) {
        var kept: [ProcessIdentity] = []
        for m in w.members {
            guard let s = readStat(m.pid, ctx.roots.proc), s.startTime == m.startTime, isAlive(s) else { continue }
            stats[m.pid] = s
            kept.append(m)
        }
        w.members = kept
        if let m = w.main, !kept.contains(m) {
            setMain(w, nil)
            lost(w, ctx.monotonic)
        }
    }

    /// The main process is gone: look for a successor in a second, then at growing delays up to the interval.
    private func lost(_ w: ProcessWatchState, _ now: Double) {
        if w.retry == 0 { w.retry = min(1, w.spec.interval) }
        w.nextDiscovery = min(w.nextDiscovery, now + w.retry)
    }

    private func setMain(_ w: ProcessWatchState, _ next: ProcessIdentity?) {
        w.main = next
        guard let next else { return }
        if let last = w.lastMain, last != next {
            w.pidChanges = saturatingSum(w.pidChanges, 1)
            w.lastPPID = nil
        }
        w.lastMain = next
    }

    /// The pids of the unit's cgroup and of the cgroups below it (a delegated unit keeps its processes in leaves).
    /// The folder is looked up under system.slice first (cgroup v2, then the hybrid and v1 layouts), then anywhere
    /// in the tree; a unit that is not running has none.
    private func cgroupPids(_ w: ProcessWatchState, _ unit: String, _ roots: SourceRoots) throws(ReadError) -> [Int64] {
        if let dir = w.cgroup, access(dir + "/cgroup.procs", F_OK) != 0 { w.cgroup = nil }
        if w.cgroup == nil { w.cgroup = findCgroup(unit, roots.sys + "/fs/cgroup") }
        guard let dir = w.cgroup else { return [] }
        var pids: [Int64] = []
        var folders = [dir]
        var visited = 0
        while let d = folders.popLast(), visited < 256 {
            visited += 1
            do {
                pids += parseCgroupProcs(try readOnce(d + "/cgroup.procs", cap: 1 << 22))
            } catch {
                if error.isMissing { continue }
                throw error
            }
            for name in listDirectory(d).sorted() where !name.contains(".") || name.hasSuffix(".scope") || name.hasSuffix(".slice") || name.hasSuffix(".service") {
                if isFolder(d + "/" + name) { folders.append(d + "/" + name) }
            }
        }
        return Array(Set(pids)).sorted()
    }

    private func cmdline(of p: ProcessStat, _ proc: String) -> String {
        let id = ProcessIdentity(pid: p.pid, startTime: p.startTime)
        if let c = cmdlines[id] { return c }
        var big = [UInt8](repeating: 0, count: 8192)
        let n = readSmall(proc + "/\(p.pid)/cmdline", into: &big)
        let c = n > 0 ? parseCmdline(big[0..<n]) : ""
        cmdlines[id] = c
        return c
    }

    private func readStat(_ pid: Int64, _ proc: String) -> ProcessStat? {
        let n = readSmall(proc + "/\(pid)/stat", into: &buffer)
        guard n > 0 else { return nil }
        return try? parseProcessStat(buffer[0..<n])
    }

    // MARK: the row

    private func row(_ w: ProcessWatchState, _ stats: [Int64: ProcessStat], uptime: Double, _ ctx: CollectContext) -> Row {
        var r: Row = ["watch": .string(w.spec.name), "selector": .string(w.spec.selectorText), "running": .int(Int64(w.members.count))]
        var totalCPU: Double?
        var totalRSS: Int64 = 0
        for m in w.members {
            guard let s = stats[m.pid] else { continue }
            totalRSS = saturatingSum(totalRSS, saturatingProduct(max(0, s.rssPages), pageSizeBytes))
            if let c = cpuPercent(m, s, ctx.monotonic) { totalCPU = (totalCPU ?? 0) + c }
        }
        if let m = w.main, let s = stats[m.pid] {
            if let last = w.lastPPID, last != s.ppid { w.ppidChanges = saturatingSum(w.ppidChanges, 1) }
            w.lastPPID = s.ppid
            let base = ctx.roots.proc + "/\(m.pid)"
            r.append("main_pid", .int(m.pid))
            r.append("ppid", .int(s.ppid))
            r.append("state", .string(processStateName(s.state)))
            let n = readSmall(base + "/status", into: &buffer)
            if n > 0, let uid = (try? parseProcessStatus(Array(buffer[0..<n])))?.uid {
                r.append("user", .string(users.name(uid, etc: ctx.roots.etc, now: ctx.monotonic)))
            }
            r.append("uptime_seconds", .double(rounded(max(0, uptime - Double(s.startTime) / clockTicksPerSecond), 1)))
            if let c = samples[m]?.percent { r.append("cpu_percent", .double(rounded(c))) }
            if let totalCPU { r.append("total_cpu_percent", .double(rounded(totalCPU))) }
            r.append("rss_bytes", .int(saturatingProduct(max(0, s.rssPages), pageSizeBytes)))
            var refused: [String] = []
            var refusal: String?
            func note(_ fields: String, _ e: Int32, _ path: String) {
                guard e == EACCES || e == EPERM else { return }
                refused.append(fields)
                if refusal == nil { refusal = "\(path.hasPrefix(ctx.roots.proc) ? "/proc" + path.dropFirst(ctx.roots.proc.count) : path): \(errnoText(e))" }
            }
            do {
                if let pss = parseSmapsRollupPss(try readOnce(base + "/smaps_rollup", cap: 8192)) { r.append("pss_bytes", counterValue(pss)) }
            } catch { note("pss_bytes", error.errno, error.path) }
            r.append("total_rss_bytes", .int(totalRSS))
            r.append("threads", .int(s.numThreads))
            if let c = children(of: m.pid, ctx) { r.append("children", .int(Int64(c))) }
            var fds: Int?
            do { fds = try readDirectory(base + "/fd").count } catch { note("open_fds, fds_used_percent", error.errno, error.path) }
            if let fds { r.append("open_fds", .int(Int64(fds))) }
            if let b = try? readOnce(base + "/limits", cap: 8192), let lim = parseLimit(b, "Max open files"), let soft = lim.soft {
                r.append("fd_limit", counterValue(soft))
                if let fds, soft > 0 { r.append("fds_used_percent", .double(rounded(Double(fds) / Double(soft) * 100, 2))) }
            }
            // Absent fields are said absent, with the reason: a rule on them has nothing to judge, and a sysadmin who
            // declared the watch should see why in the report, not find an alert that never fires.
            r.append("unreadable", .string(refusal.map { refused.sorted().joined(separator: ", ") + " (\($0); another user's process "
                + "takes CAP_SYS_PTRACE, docs/packaging.md)" } ?? ""))
        } else if let totalCPU {
            r.append("total_cpu_percent", .double(rounded(totalCPU)))
            r.append("total_rss_bytes", .int(totalRSS))
        } else if !w.members.isEmpty {
            r.append("total_rss_bytes", .int(totalRSS))
        }
        r.append("pid_changes_total", .int(w.pidChanges))
        r.append("ppid_changes_total", .int(w.ppidChanges))
        r.append("error", .string(w.note))
        return r
    }

    /// CPU percent of one core since the reading at least a second before (a collection right after another, on an
    /// event, repeats the last figure instead of dividing by a few milliseconds); nil before the second reading.
    private func cpuPercent(_ id: ProcessIdentity, _ s: ProcessStat, _ now: Double) -> Double? {
        guard let old = samples[id] else {
            samples[id] = (s.cpuTicks, now, nil)
            return nil
        }
        let dt = now - old.at
        if dt < 1 { return old.percent }
        let p = Double(counterDelta(s.cpuTicks, since: old.ticks)) / clockTicksPerSecond / dt * 100
        samples[id] = (s.cpuTicks, now, p)
        return p
    }

    /// Direct children: the kernel's `task/TID/children` lists where it has them (CONFIG_PROC_CHILDREN), else the
    /// processes whose parent it is in the latest walk of /proc (the processes worker's, or this function's own,
    /// made here when none is recent).
    private func children(of pid: Int64, _ ctx: CollectContext) -> Int? {
        let task = ctx.roots.proc + "/\(pid)/task"
        if childrenFiles != false {
            var kids: Set<Int64> = []
            var read = false
            for tid in listDirectory(task).prefix(256) {
                guard let b = try? readOnce(task + "/" + tid + "/children", cap: 1 << 20) else { continue }
                read = true
                for f in fields(b[...]) { if let p = parseInt64(f) { kids.insert(p) } }
            }
            if read {
                childrenFiles = true
                return kids.count
            }
            // The process went away meanwhile, or the kernel has no such lists: only a task that exists tells.
            if childrenFiles == true || access(task, F_OK) != 0 { return nil }
            childrenFiles = false
        }
        if table.scannedAt.map({ ctx.monotonic - $0 > 60 }) ?? true { try? table.refresh(ctx) }
        guard table.scannedAt != nil else { return nil }
        return table.processes.reduce(0) { $1.ppid == pid && isAlive($1) ? $0 + 1 : $0 }
    }
}

/// `/proc/PID/stat` of one process, or nil when it is gone or unreadable.
public func readProcessStat(proc: String, pid: Int64) -> ProcessStat? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = readSmall(proc + "/\(pid)/stat", into: &buffer)
    guard n > 0 else { return nil }
    return try? parseProcessStat(buffer[0..<n])
}

/// Zombies (Z) and dead tasks (X) have exited: they are not running.
func isAlive(_ s: ProcessStat) -> Bool { s.state != UInt8(ascii: "Z") && s.state != UInt8(ascii: "X") }

/// Kernel threads are children of kthreadd (pid 2), or kthreadd itself; they have no command line to match.
func isKernelThread(_ s: ProcessStat) -> Bool { s.pid == 2 || s.ppid == 2 }

/// A declared host path as shd reads it: under `root_fs` when set (a container seeing the host at /host).
func hostPath(_ path: String, _ roots: SourceRoots) -> String {
    guard let r = roots.rootFS, !r.isEmpty, r != "/" else { return path }
    return (r.hasSuffix("/") ? String(r.dropLast()) : r) + path
}

func parentFolder(_ path: String) -> String {
    guard let i = path.lastIndex(of: "/") else { return "." }
    return i == path.startIndex ? "/" : String(path[..<i])
}

func isFolder(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// The cgroup folder of `unit`: `system.slice/UNIT` under the v2 root, the hybrid `unified` root or the v1 `systemd`
/// root, else the first folder of that name in the tree (units of other slices, user managers), at most 6 levels
/// down through slices and services.
public func findCgroup(_ unit: String, _ base: String) -> String? {
    let roots = [base, base + "/unified", base + "/systemd"]
    for r in roots where access(r + "/system.slice/" + unit + "/cgroup.procs", F_OK) == 0 { return r + "/system.slice/" + unit }
    for r in roots where access(r + "/cgroup.procs", F_OK) == 0 {
        var level = [r]
        var visited = 0
        for _ in 0..<6 {
            var next: [String] = []
            for d in level {
                for name in listDirectory(d).sorted() where name.hasSuffix(".slice") || name.hasSuffix(".service") || name.hasSuffix(".scope") {
                    visited += 1
                    if visited > 4096 { return nil }
                    let path = d + "/" + name
                    if name == unit, access(path + "/cgroup.procs", F_OK) == 0 { return path }
                    if !name.hasSuffix(".scope") { next.append(path) }
                }
            }
            if next.isEmpty { break }
            level = next
        }
    }
    return nil
}

/// User names by uid from `etc/passwd`, read again at most once a minute when a uid is not in it.
struct UserNames {
    private var names: [UInt32: String]?
    private var readAt = -Double.infinity
    private var file = "passwd"

    init(file: String = "passwd") { self.file = file }

    mutating func name(_ uid: UInt32, etc: String, now: Double) -> String {
        if names == nil || (names?[uid] == nil && now - readAt >= 60) {
            names = parsePasswd((try? readOnce(etc + "/" + file, cap: 1 << 22)) ?? [])
            readAt = now
        }
        return names?[uid] ?? String(uid)
    }
}
