// The processes worker: summary, top (by cpu and by rss) and zombies, from one walk of /proc per tick.
import CLinux
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// One walk of `/proc/[0-9]*/stat`, shared by the worker's functions so /proc is walked once a tick.
public final class ProcessTable {
    /// The processes found by the latest walk, in pid order.
    public private(set) var processes: [ProcessStat] = []
    /// Monotonic time of the latest walk and of the one before it.
    public private(set) var scannedAt: Double?
    public private(set) var previousScanAt: Double?
    /// CPU ticks per (pid, start time) at the walk before the latest, for cpu_percent.
    private(set) var previousTicks: [Int64: (start: UInt64, ticks: UInt64)] = [:]
    private var buffer = [UInt8](repeating: 0, count: 4096)

    public init() {}

    /// Why the latest walk could not list the proc root (nil when it could).
    private var walkError: ReadError?

    /// Walks /proc unless this tick (same monotonic time) already did. A proc root that cannot be
    /// listed is an error naming it, for every function of the walk: zero processes is not a reading.
    public func refresh(_ ctx: CollectContext) throws(ReadError) {
        if scannedAt != ctx.monotonic {
            var ticks: [Int64: (start: UInt64, ticks: UInt64)] = [:]
            ticks.reserveCapacity(processes.count)
            for p in processes { ticks[p.pid] = (p.startTime, p.cpuTicks) }
            previousTicks = ticks
            previousScanAt = scannedAt
            walkError = nil
            processes = walk(ctx.roots.proc)
            scannedAt = ctx.monotonic
        }
        if let walkError { throw walkError }
    }

    /// CPU percent of one core since the previous walk; nil for a process that is new since then.
    public func cpuPercent(_ p: ProcessStat) -> Double? {
        guard let now = scannedAt, let then = previousScanAt, now > then,
              let old = previousTicks[p.pid], old.start == p.startTime
        else { return nil }
        return Double(counterDelta(p.cpuTicks, since: old.ticks)) / clockTicksPerSecond / (now - then) * 100
    }

    /// `[pid]/stat` files kept open between walks and re-read with pread, by pid. Opening a /proc
    /// file is a path walk and a pid lookup, the larger part of the walk's cost; an open fd of a
    /// process that exited answers ESRCH (also when its pid was reused), and is then closed.
    private var statFDs: [Int64: Int32] = [:]
    private var statFDsRoot = ""
    /// At most this many kept open: each holds a small kernel buffer, and fds are a shared limit.
    public var maxOpenStatFiles = 512

    deinit { for fd in statFDs.values { close(fd) } }

    /// The pid the kernel allocated last, from `/proc/loadavg`, read just before the latest full
    /// walk; nil when unknown or when the shortcut does not apply (see `lastAllocatedPID`).
    private var lastPIDBeforeWalk: Int64?
    /// Whether the latest full walk kept the fd of every process it saw.
    private var keptEveryProcess = false
    private var loadavg: KernelFile?
    /// Whether `/proc/loadavg` speaks of the pid namespace this procfs lists (nil: not checked yet).
    private var loadavgMatchesProc: Bool?
    /// Full walks (getdents of /proc) and walks that only re-read the kept fds; for tests.
    public private(set) var fullWalks = 0
    public private(set) var keptWalks = 0

    /// The fifth field of /proc/loadavg: the last pid allocated in the reader's pid namespace. Every
    /// new process or thread moves it; nil for a fixture tree (a regular file) or when this procfs
    /// lists another pid namespace than ours (then its pids are not the ones loadavg counts).
    private func lastAllocatedPID(_ proc: String) -> Int64? {
        if loadavgMatchesProc == false { return nil }
        let f = loadavg ?? KernelFile(proc + "/loadavg", cap: 4096, singleRecord: true)
        loadavg = f
        guard let bytes = try? f.read() else { return nil }
        if loadavgMatchesProc == nil {
            var link = [CChar](repeating: 0, count: 64)
            let n = readlink(proc + "/self", &link, link.count - 1)
            let selfPID = n > 0 ? String(decoding: link[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            loadavgMatchesProc = shd_is_procfs(f.descriptor) == 1 && selfPID == String(getpid())
        }
        guard loadavgMatchesProc == true else { return nil }
        return (try? parseLoadAvg(bytes))?.lastPID
    }

    /// Reads every `[pid]/stat` under `proc`. A process that exits mid-walk (ENOENT, ESRCH) or whose
    /// stat is unreadable is skipped: the walk is a snapshot of what could be seen.
    ///
    /// When no pid was allocated since the last full walk (loadavg's last pid has not moved) and
    /// that walk kept every process's fd open, the processes now are those of the last walk minus
    /// the ones that exited: the walk then re-reads the kept fds and skips listing /proc, whose
    /// getdents costs the kernel a dentry lookup per pid (a quarter of the walk on an idle host).
    func walk(_ proc: String) -> [ProcessStat] {
        if statFDsRoot != proc {
            for fd in statFDs.values { close(fd) }
            statFDs = [:]
            statFDsRoot = proc
            lastPIDBeforeWalk = nil
            loadavg = nil
            loadavgMatchesProc = nil
        }
        let lastPID = lastAllocatedPID(proc)
        if let lastPID, lastPID == lastPIDBeforeWalk, keptEveryProcess {
            keptWalks += 1
            return rereadKept()
        }
        fullWalks += 1
        lastPIDBeforeWalk = lastPID
        var out: [ProcessStat] = []
        out.reserveCapacity(processes.count + 16)
        guard let dir = opendir(proc) else {
            walkError = ReadError(path: proc, errno: shd_errno())
            keptEveryProcess = false
            return out
        }
        defer { closedir(dir) }
        var seen: Set<Int64> = []
        seen.reserveCapacity(statFDs.count + 16)
        // "<proc>/<pid>/stat" is built in one reused C buffer: no String per directory entry.
        var path = [CChar](proc.utf8CString.dropLast())
        path.append(CChar(UInt8(ascii: "/")))
        let base = path.count
        while let e = readdir(dir) {
            let name = UnsafeRawPointer(shd_dirent_name(e)).assumingMemoryBound(to: UInt8.self)
            guard name[0] >= 0x30, name[0] <= 0x39 else { continue }
            // A pid has at most 7 digits (PID_MAX_LIMIT is 2^22); 18 digits always fit in Int64, and
            // a longer all-digit name (a damaged tree) is no pid.
            var pid: Int64 = 0
            var i = 0
            while i < 18, name[i] >= 0x30, name[i] <= 0x39 {
                pid = pid * 10 + Int64(name[i] - 0x30)
                i += 1
            }
            guard name[i] == 0 else { continue }
            var n = -1
            if let fd = statFDs[pid] {
                n = preadAll(fd, into: &buffer)
                if n <= 0 {
                    close(fd)
                    statFDs[pid] = nil
                }
            }
            if n <= 0 {
                path.removeSubrange(base...)
                for k in 0..<i { path.append(CChar(bitPattern: name[k])) }
                for b in "/stat".utf8 { path.append(CChar(bitPattern: b)) }
                path.append(0)
                let fd = path.withUnsafeBufferPointer { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
                if fd < 0 { continue }
                n = preadAll(fd, into: &buffer)
                if n > 0 && statFDs.count < maxOpenStatFiles { statFDs[pid] = fd } else { close(fd) }
            }
            if n <= 0 { continue }
            seen.insert(pid)
            if let s = try? parseProcessStat(buffer[0..<n]) { out.append(s) }
        }
        // Processes that are gone.
        if statFDs.count > seen.count {
            for (pid, fd) in statFDs where !seen.contains(pid) {
                close(fd)
                statFDs[pid] = nil
            }
        }
        keptEveryProcess = statFDs.count == seen.count
        out.sort { $0.pid < $1.pid }
        return out
    }

    /// The walk without listing /proc: every kept fd re-read; a process that exited (ESRCH) is dropped.
    private func rereadKept() -> [ProcessStat] {
        var out: [ProcessStat] = []
        out.reserveCapacity(statFDs.count)
        for (pid, fd) in statFDs {
            let n = preadAll(fd, into: &buffer)
            if n <= 0 {
                close(fd)
                statFDs[pid] = nil
                continue
            }
            if let s = try? parseProcessStat(buffer[0..<n]) { out.append(s) }
        }
        out.sort { $0.pid < $1.pid }
        return out
    }

    /// Open stat files kept between walks (for tests).
    public var openStatFiles: Int { statFDs.count }
}

/// Reads a small single-record /proc file (`[pid]/stat`) from offset 0 into `buffer`; bytes read,
/// or -1. The kernel renders such a file whole on every read, so a read shorter than asked is the
/// end: no second `pread` to be told 0 (see `KernelFile.singleRecord`).
func preadAll(_ fd: Int32, into buffer: inout [UInt8]) -> Int {
    var total = 0
    while total < buffer.count {
        let asked = buffer.count - total
        let n = buffer.withUnsafeMutableBytes { p in pread(fd, p.baseAddress! + total, asked, off_t(total)) }
        if n < 0 {
            if shd_errno() == EINTR { continue }
            return -1
        }
        if n == 0 { break }
        total += n
        if n < asked { break }
    }
    return total
}

/// Clock ticks per second for /proc/[pid]/stat times (USER_HZ, 100 on every mainstream arch).
let clockTicksPerSecond: Double = {
    let t = sysconf(Int32(_SC_CLK_TCK))
    return t > 0 ? Double(t) : 100
}()

let pageSizeBytes: Int64 = {
    let p = sysconf(Int32(_SC_PAGESIZE))
    return p > 0 ? Int64(p) : 4096
}()

/// Reads a small file into `buffer` with one open/read/close; returns bytes read, or -1.
/// (Per-pid files come and go, so they are not kept open; the buffer is reused across the walk.)
func readSmall(_ path: String, into buffer: inout [UInt8]) -> Int {
    path.withCString { readSmall($0, into: &buffer) }
}

func readSmall(_ path: UnsafePointer<CChar>, into buffer: inout [UInt8]) -> Int {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return -1 }
    defer { close(fd) }
    var total = 0
    while total < buffer.count {
        let n = buffer.withUnsafeMutableBytes { p in read(fd, p.baseAddress! + total, p.count - total) }
        if n < 0 {
            if shd_errno() == EINTR { continue }
            return -1
        }
        if n == 0 { break }
        total += n
    }
    return total
}

/// `processes.summary`: one row of counts by state, threads and file handles.
public final class ProcessSummaryFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "summary", help: "Processes by state, threads, file handles", fields: [
        FieldSchema("processes", .number, help: "Processes (thread groups) that exist"),
        FieldSchema("threads", .number, help: "Threads, summed over processes"),
        FieldSchema("running", .number, help: "Processes running or runnable (R)"),
        FieldSchema("sleeping", .number, help: "Processes in interruptible sleep (S)"),
        FieldSchema("disk_sleep", .number, help: "Processes in uninterruptible sleep (D), usually waiting for I/O"),
        FieldSchema("zombie", .number, help: "Processes exited but not reaped by their parent (Z)"),
        FieldSchema("stopped", .number, help: "Processes stopped by a signal or a tracer (T, t)"),
        FieldSchema("idle", .number, help: "Idle kernel threads (I)"),
        FieldSchema("other", .number, help: "Processes in any other state (X, P, W, K)"),
        FieldSchema("fds_used", .number, help: "File handles allocated system-wide"),
        FieldSchema("fds_max", .number, help: "System-wide file handle limit (fs.file-max)"),
        FieldSchema("fds_used_percent", .number, unit: "percent", help: "fds_used / fds_max"),
    ])

    let table: ProcessTable
    private var fileNr: KernelFile?

    public init(table: ProcessTable = ProcessTable()) { self.table = table }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        try table.refresh(ctx)
        var counts: [String: Int64] = [:]
        var threads: Int64 = 0
        for p in table.processes {
            counts[processStateName(p.state), default: 0] += 1
            threads = saturatingSum(threads, p.numThreads)
        }
        var r: Row = ["processes": .int(Int64(table.processes.count)), "threads": .int(threads)]
        for k in ["running", "sleeping", "disk_sleep", "zombie", "stopped", "idle", "other"] {
            r.append(k, .int(counts[k] ?? 0))
        }
        // The process counts stand without file-nr; its fields need it.
        var failures = SourceFailures()
        let f = fileNr ?? KernelFile(ctx.roots.proc + "/sys/fs/file-nr", cap: 4096, singleRecord: true)
        fileNr = f
        if let b = failures.attempt({ try f.read() }), let nr = failures.attempt({ try parseFileNr(b) }) {
            // Since 2.6 the kernel frees handles at once, so "free" is 0; subtract it for older ones.
            let used = nr.allocated >= nr.free ? nr.allocated - nr.free : 0
            r.append("fds_used", counterValue(used))
            r.append("fds_max", counterValue(nr.max))
            if nr.max > 0 { r.append("fds_used_percent", .double(rounded(Double(used) / Double(nr.max) * 100, 4))) }
        }
        return try failures.finish([r])
    }
}

/// `processes.top`: the top N processes by CPU and by resident memory.
public final class TopProcessesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "top", help: "Top processes by CPU and by resident memory", fields: [
        FieldSchema("pid", .label, help: "Process id (a label, so an alert follows one process)"),
        FieldSchema("name", .label, help: "Command name (comm)"),
        FieldSchema("user", .label, help: "Owner (real uid) by name from passwd, else the number"),
        FieldSchema("rank_by", .label, help: "Which list the row belongs to: cpu or rss"),
        FieldSchema("rank", .number, help: "Position in its list, from 1"),
        FieldSchema("cpu_percent", .number, unit: "percent", help: "CPU used since the previous tick, in percent of one core"),
        FieldSchema("rss_bytes", .number, unit: "bytes", help: "Resident set size"),
        FieldSchema("threads", .number, help: "Threads in the process"),
    ])

    let table: ProcessTable
    private var users: [UInt32: String]?
    private var buffer = [UInt8](repeating: 0, count: 8192)

    public init(table: ProcessTable = ProcessTable()) { self.table = table }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        try table.refresh(ctx)
        let n = max(0, ctx.options.topProcesses)
        var rows: [Row] = []
        if n == 0 { return rows }
        let withCPU = table.processes.compactMap { p in table.cpuPercent(p).map { (p, $0) } }
        // Ties (idle processes at 0 %) fall back to pid order, so output is deterministic.
        let byCPU = withCPU.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.pid < $1.0.pid }.prefix(n)
        let byRSS = table.processes.sorted { $0.rssPages != $1.rssPages ? $0.rssPages > $1.rssPages : $0.pid < $1.pid }.prefix(n)
        for (i, (p, cpu)) in byCPU.enumerated() { rows.append(row(p, cpu: cpu, by: "cpu", rank: i + 1, ctx)) }
        for (i, p) in byRSS.enumerated() { rows.append(row(p, cpu: table.cpuPercent(p), by: "rss", rank: i + 1, ctx)) }
        return rows
    }

    private func row(_ p: ProcessStat, cpu: Double?, by: String, rank: Int, _ ctx: CollectContext) -> Row {
        var r: Row = ["pid": .string(String(p.pid)), "name": .string(p.comm), "user": .string(user(of: p, ctx)),
                      "rank_by": .string(by), "rank": .int(Int64(rank))]
        if let cpu { r.append("cpu_percent", .double(rounded(cpu))) }
        r.append("rss_bytes", .int(saturatingProduct(max(0, p.rssPages), pageSizeBytes)))
        r.append("threads", .int(p.numThreads))
        return r
    }

    /// Owner names by (pid, start time): the top lists change little between ticks, so status is read
    /// once per process, not once per tick.
    private var owners: [Int64: (start: UInt64, user: String)] = [:]
    private var passwdReadAt: Double?

    private func user(of p: ProcessStat, _ ctx: CollectContext) -> String {
        if let o = owners[p.pid], o.start == p.startTime { return o.user }
        let n = readSmall(ctx.roots.proc + "/\(p.pid)/status", into: &buffer)
        guard n > 0, let uid = (try? parseProcessStatus(Array(buffer[0..<n])))?.uid else { return "" }
        // A uid passwd does not know may be a user added since: re-read it, at most once a minute.
        if users == nil || (users?[uid] == nil && ctx.monotonic - (passwdReadAt ?? 0) >= 60) {
            users = parsePasswd((try? readOnce(ctx.roots.etc + "/passwd", cap: 1 << 22)) ?? [])
            passwdReadAt = ctx.monotonic
        }
        let name = users?[uid] ?? String(uid)
        if owners.count > 4 * max(16, ctx.options.topProcesses) { owners.removeAll(keepingCapacity: true) }
        owners[p.pid] = (p.startTime, name)
        return name
    }
}

/// `processes.zombies`: every process in state Z, with its parent (the one that should reap it).
public final class ZombiesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "zombies", help: "Zombie processes and their parents", fields: [
        FieldSchema("pid", .label, help: "Process id of the zombie"),
        FieldSchema("name", .label, help: "Command name of the zombie"),
        FieldSchema("ppid", .number, help: "Parent process id, which has not reaped it"),
    ])

    let table: ProcessTable

    public init(table: ProcessTable = ProcessTable()) { self.table = table }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        try table.refresh(ctx)
        return table.processes.filter { $0.state == UInt8(ascii: "Z") }.map {
            ["pid": .string(String($0.pid)), "name": .string($0.comm), "ppid": .int($0.ppid)]
        }
    }
}

enum ProcessesWorker {
    static func make() -> Worker {
        let table = ProcessTable()
        return Worker(name: "processes", functions: [
            ProcessSummaryFunction(table: table), TopProcessesFunction(table: table), ZombiesFunction(table: table),
            WatchedProcessesFunction(table: table),
        ])
    }
}
