// systemd.units and systemd.timers: rows from the manager followed over D-Bus, usage from the units' cgroups.
import CLinux
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// The `oom_kill` count of a cgroup's `memory.events` (Documentation/admin-guide/cgroup-v2.rst):
/// ```
/// low 0
/// high 0
/// max 12
/// oom 1
/// oom_kill 1
/// oom_group_kill 0
/// ```
/// nil when the line is missing.
public func parseOOMKills(_ bytes: [UInt8]) -> Int64? {
    var n: Int64?
    forEachLine(bytes) { line in
        let f = fields(line)
        if f.count >= 2, f[0].elementsEqual("oom_kill".utf8) { n = parseInt64(f[1]) }
    }
    return n
}

/// `cpu.stat`'s `usage_usec` line, in seconds.
public func parseCgroupCPUSeconds(_ bytes: [UInt8]) -> Double? {
    var v: Double?
    forEachLine(bytes) { line in
        let f = fields(line)
        if f.count >= 2, f[0].elementsEqual("usage_usec".utf8), let u = parseInt64(f[1]) { v = Double(u) / 1e6 }
    }
    return v
}

/// A unit's memory.current, pids.current and cpu.stat, each nil when its controller is off for the unit.
func readCgroupUsage(_ dir: String) -> CgroupUsage {
    func number(_ name: String) -> Int64? {
        (try? readOnce(dir + "/" + name, cap: 64)).flatMap { parseInt64(trimmed($0[...])) }
    }
    return CgroupUsage(memoryBytes: number("memory.current"), tasks: number("pids.current"),
                       cpuSeconds: (try? readOnce(dir + "/cpu.stat", cap: 4096)).flatMap(parseCgroupCPUSeconds).map { rounded($0, 3) })
}

/// inotify watches on units' `memory.events`: the kernel notifies a change of the file (an OOM kill), so the
/// counts are read only when they move.
final class CgroupOOMWatcher {
    private var fd: Int32 = -1
    private var loop: WorkerLoop?
    private var byWD: [Int32: String] = [:]
    private var wdByPath: [String: Int32] = [:]
    private var files: [String: String] = [:]
    private var onCount: (String, Int64) -> Void = { _, _ in }
    private var onIgnored: (String) -> Void = { _ in }

    func start(on loop: WorkerLoop, onCount: @escaping (String, Int64) -> Void, ignored: @escaping (String) -> Void) {
        self.loop = loop
        self.onCount = onCount
        self.onIgnored = ignored
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { return }
        loop.watchDescriptor(fd, read: true, write: false) { [weak self] in self?.drain() }
    }

    func stop() {
        if fd >= 0 {
            loop?.unwatchDescriptor(fd)
            close(fd)
        }
        fd = -1
        byWD = [:]
        wdByPath = [:]
    }

    /// Watches `file` for the unit at `path` (once; again after its cgroup was removed) and reads it now.
    func watch(path: String, file: String) {
        guard fd >= 0, wdByPath[path] == nil else { return }
        let wd = inotify_add_watch(fd, file, UInt32(IN_MODIFY))
        guard wd >= 0 else { return }
        byWD[wd] = path
        wdByPath[path] = wd
        files[path] = file
        read(path)
    }

    func unwatch(path: String) {
        guard let wd = wdByPath.removeValue(forKey: path) else { return }
        byWD[wd] = nil
        files[path] = nil
        if fd >= 0 { inotify_rm_watch(fd, wd) }
    }

    private func read(_ path: String) {
        guard let file = files[path], let bytes = try? readOnce(file, cap: 4096), let n = parseOOMKills(bytes) else { return }
        onCount(path, n)
    }

    private func drain() {
        var buf = [UInt8](repeating: 0, count: 4096)
        var modified: Set<String> = []
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var off = 0
            while off + 16 <= n {
                let (wd, mask, len) = buf.withUnsafeBytes { p -> (Int32, UInt32, UInt32) in
                    (p.loadUnaligned(fromByteOffset: off, as: Int32.self), p.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self),
                     p.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self))
                }
                off += 16 + Int(len)
                guard let path = byWD[wd] else { continue }
                if mask & UInt32(IN_IGNORED) != 0 {
                    // The cgroup was removed (the unit stopped): its next cgroup is watched when the unit runs again.
                    byWD[wd] = nil
                    wdByPath[path] = nil
                    files[path] = nil
                    onIgnored(path)
                } else {
                    modified.insert(path)
                }
            }
        }
        for p in modified where files[p] != nil { read(p) }
    }
}

/// The systemd worker's shared source: the manager client (in the daemon) or a blocking listing (shd report).
final class SystemdUnitsState {
    let client: SystemdManagerClient
    var attached = false
    /// The tick the blocking listing was made for: the two functions of one collection share it.
    private var listedAt: Timestamp?
    init(address: String?) { client = SystemdManagerClient(address: address) }

    /// The units to report from, or no data / an error as `SystemdManagerClient.Status` says.
    func units(_ ctx: CollectContext) throws -> [SystemdUnit]? {
        // A fixture tree describes another machine: this host's systemd is not its.
        guard ctx.roots.live else { return nil }
        if !attached && listedAt != ctx.now {
            listedAt = ctx.now
            client.refreshBlocking(roots: ctx.roots)
        }
        switch client.status {
        case .noSystemd: return nil
        case .ready: return Array(client.units.values)
        case .listing: return Array(client.units.values)
        case .unavailable(let why):
            if client.units.isEmpty { throw CollectError("systemd: \(why)") }
            throw PartialCollection(rows: [], errors: ["systemd: \(why)"])
        }
    }
}

public final class SystemdUnitsFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "units", help: "One row per unit systemd has loaded (units that failed to load included), from its D-Bus API", fields: [
        FieldSchema("unit", .label, help: "Unit name (nginx.service)"),
        FieldSchema("type", .label, help: "Unit type: service, timer, socket, mount, scope …"),
        FieldSchema("description", .label, help: "The unit's Description="),
        FieldSchema("load_state", .label, help: "loaded, not-found, bad-setting, error or masked"),
        FieldSchema("load_error", .label, help: "Why the unit did not load (empty when it did)"),
        FieldSchema("active_state", .label, help: "active, reloading, inactive, failed, activating or deactivating"),
        FieldSchema("sub_state", .label, help: "The type's own state: running, exited, dead, auto-restart …"),
        FieldSchema("result", .label, help: "The last run's result: success, exit-code, signal, core-dump, timeout, oom-kill …"),
        FieldSchema("triggered_by", .label, help: "The units that start this one (its timer, path or socket), comma-separated"),
        FieldSchema("journal", .label, help: "A failed unit's last journal lines (up to 5, oldest first, read when it failed); empty otherwise"),
        FieldSchema("in_state_seconds", .number, unit: "seconds", help: "Time since active_state last changed"),
        FieldSchema("restarts_total", .counter, help: "Automatic restarts (NRestarts; services only)"),
        FieldSchema("main_pid", .number, help: "The main process (services with one running)"),
        FieldSchema("memory_bytes", .number, unit: "bytes", help: "The unit's cgroup memory.current"),
        FieldSchema("tasks", .number, help: "The unit's cgroup pids.current"),
        FieldSchema("cpu_seconds_total", .counter, unit: "seconds", help: "CPU time of the unit's cgroup (cpu.stat usage_usec)"),
        FieldSchema("oom_kills_total", .counter, help: "Processes the kernel's OOM killer killed in the unit's cgroup while shd watched (memory.events oom_kill)"),
    ], key: ["unit"])

    let state: SystemdUnitsState
    init(state: SystemdUnitsState) { self.state = state }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        var failure: PartialCollection?
        let units: [SystemdUnit]
        do {
            guard let u = try state.units(ctx) else { return [] }
            units = u
        } catch let p as PartialCollection {
            failure = p
            units = Array(state.client.units.values)
        }
        let now = ctx.now.microseconds
        let cgroupRoot = ctx.roots.sys + "/fs/cgroup"
        var rows: [Row] = []
        for u in units.sorted(by: { $0.name < $1.name }) where !unitExcluded(u.name, by: ctx.options.excludedUnits) {
            let running = u.activeState == "active" || u.activeState == "activating" || u.activeState == "reloading" || u.activeState == "deactivating"
            let usage = running ? u.controlGroup.map { readCgroupUsage(cgroupRoot + $0) } : nil
            rows.append(unitRow(u, usage: usage, nowUsec: now))
        }
        if let failure { throw PartialCollection(rows: rows, errors: failure.errors) }
        return rows
    }
}

public final class SystemdTimersFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "timers", help: "One row per timer unit, with the unit it triggers", fields: [
        FieldSchema("timer", .label, help: "Timer unit name (logrotate.timer)"),
        FieldSchema("unit", .label, help: "The unit it triggers (logrotate.service)"),
        FieldSchema("active_state", .label, help: "The timer's active_state (active = waiting to elapse)"),
        FieldSchema("unit_active_state", .label, help: "The triggered unit's active_state"),
        FieldSchema("unit_result", .label, help: "The triggered unit's last result: success, exit-code …"),
        FieldSchema("last_trigger_age_seconds", .number, unit: "seconds", help: "Time since the timer last elapsed"),
        FieldSchema("next_elapse_seconds", .number, unit: "seconds", help: "Time until it elapses next"),
        FieldSchema("period_seconds", .number, unit: "seconds", help: "From the last trigger to the next elapse"),
        FieldSchema("unit_last_success_age_seconds", .number, unit: "seconds",
                    help: "Time since a run of the triggered unit last ended in success (unknown until shd has seen one)"),
    ], key: ["timer"])

    let state: SystemdUnitsState
    init(state: SystemdUnitsState) { self.state = state }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        var failure: PartialCollection?
        let units: [SystemdUnit]
        do {
            guard let u = try state.units(ctx) else { return [] }
            units = u
        } catch let p as PartialCollection {
            failure = p
            units = Array(state.client.units.values)
        }
        var byName: [String: SystemdUnit] = [:]
        for u in units { byName[u.name] = u }
        let mono = Int64(monotonicSeconds() * 1e6)
        var rows: [Row] = []
        for t in units.sorted(by: { $0.name < $1.name }) where t.type == "timer" && !unitExcluded(t.name, by: ctx.options.excludedUnits) {
            let service = byName[t.triggers ?? String(t.name.dropLast("timer".count)) + "service"]
            rows.append(timerRow(t, service: service, nowUsec: ctx.now.microseconds, monotonicUsec: mono))
        }
        if let failure { throw PartialCollection(rows: rows, errors: failure.errors) }
        return rows
    }
}

enum SystemdWorker {
    static func make() -> Worker {
        let state = SystemdUnitsState(address: nil)
        return Worker(name: "systemd", functions: [SystemdUnitsFunction(state: state), SystemdTimersFunction(state: state)],
                      source: SystemdSource(state: state))
    }
}

/// Starts the manager client on the daemon's loop; from then on the functions read its table.
final class SystemdSource: WorkerEventSource {
    let state: SystemdUnitsState
    init(state: SystemdUnitsState) { self.state = state }
    func start(on loop: WorkerLoop, roots: SourceRoots, log: WorkerLog, changed: @escaping () -> Void) {
        guard roots.live else { return }
        state.attached = true
        state.client.start(on: loop, roots: roots, log: log, changed: changed)
    }
    func stop() {
        state.client.stop()
        state.attached = false
    }
}
