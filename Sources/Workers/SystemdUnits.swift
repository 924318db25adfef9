// systemd's units as shd keeps them: decoded from the manager's D-Bus replies and signals, turned into rows.
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// What shd knows of one unit: the manager's ListUnits line, then the unit's properties (GetAll, and each
/// PropertiesChanged after it), and the OOM kills its cgroup's memory.events counted.
public struct SystemdUnit: Equatable, Sendable {
    public var name: String
    public var path: String
    public var description = ""
    public var loadState = ""
    public var activeState = ""
    public var subState = ""
    /// The type interface's Result (services, sockets, mounts, timers …): "success", "exit-code", "oom-kill" ….
    public var result: String?
    /// LoadError's message when the unit did not load ("Unit has a bad unit file setting.").
    public var loadError: String?
    /// Realtime µs of the last change of ActiveState (StateChangeTimestamp); 0 = unknown.
    public var stateChangeUsec: UInt64 = 0
    public var restarts: Int64?
    public var mainPID: Int64?
    /// The unit's cgroup below the cgroup root ("/system.slice/nginx.service"), for memory, tasks, CPU and OOM kills.
    public var controlGroup: String?
    /// The timers (or paths, sockets) that start this unit (TriggeredBy, systemd 245+), comma-separated.
    public var triggeredBy = ""
    /// Realtime µs of ExecMainExitTimestamp when that run succeeded: kept across later failures.
    public var lastSuccessUsec: UInt64?
    public var execMainExitUsec: UInt64 = 0
    // Timers.
    public var triggers: String?
    public var lastTriggerUsec: UInt64 = 0
    public var nextElapseRealtimeUsec: UInt64 = 0
    public var nextElapseMonotonicUsec: UInt64 = 0
    /// OOM kills in the unit's cgroups since shd started following it (the cgroup's count restarts with each cgroup).
    public var oomKills: Int64 = 0
    /// The last oom_kill value read from the current cgroup, to add only its rises.
    public var oomKillsSeen: Int64?
    /// The unit's last journal lines, read when it entered "failed" (its alert shows them); nil otherwise.
    public var failureLog: String?

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    /// The suffix after the last dot: service, timer, socket, scope ….
    public var type: String { name.lastIndex(of: ".").map { String(name[name.index(after: $0)...]) } ?? "" }

    /// The unit's type interface (org.freedesktop.systemd1.Service …), for GetAll; nil for types without
    /// the properties shd reads (targets, devices).
    public var typeInterface: String? {
        switch type {
        case "service": return "org.freedesktop.systemd1.Service"
        case "timer": return "org.freedesktop.systemd1.Timer"
        case "socket": return "org.freedesktop.systemd1.Socket"
        case "mount": return "org.freedesktop.systemd1.Mount"
        case "swap": return "org.freedesktop.systemd1.Swap"
        case "scope": return "org.freedesktop.systemd1.Scope"
        case "slice": return "org.freedesktop.systemd1.Slice"
        case "path": return "org.freedesktop.systemd1.Path"
        case "automount": return "org.freedesktop.systemd1.Automount"
        default: return nil
        }
    }

    /// Applies properties of the Unit interface or the type interface (GetAll's reply, PropertiesChanged's
    /// changed values). Unknown names are skipped: systemd adds properties in every release.
    public mutating func apply(_ properties: [(String, BusValue)]) {
        for (name, v) in properties {
            switch name {
            case "Id": if let s = v.string, !s.isEmpty { self.name = s }
            case "Description": description = v.string ?? description
            case "LoadState": loadState = v.string ?? loadState
            case "ActiveState": activeState = v.string ?? activeState
            case "SubState": subState = v.string ?? subState
            case "StateChangeTimestamp": stateChangeUsec = v.uint64 ?? stateChangeUsec
            case "Result": result = v.string
            case "NRestarts": restarts = v.int64
            case "MainPID": mainPID = v.int64
            case "ControlGroup": controlGroup = v.string.flatMap { $0.isEmpty ? nil : $0 }
            case "LoadError":
                // (ss): the D-Bus error name and its message; both empty when the unit loaded.
                if let e = v.items, e.count == 2, let message = e[1].string { loadError = message.isEmpty ? nil : message }
            case "TriggeredBy": triggeredBy = (v.items ?? []).compactMap(\.string).sorted().joined(separator: ",")
            case "ExecMainExitTimestamp": execMainExitUsec = v.uint64 ?? execMainExitUsec
            case "Unit": triggers = v.string.flatMap { $0.isEmpty ? nil : $0 }
            case "LastTriggerUSec": lastTriggerUsec = v.uint64 ?? lastTriggerUsec
            case "NextElapseUSecRealtime": nextElapseRealtimeUsec = v.uint64 ?? nextElapseRealtimeUsec
            case "NextElapseUSecMonotonic": nextElapseMonotonicUsec = v.uint64 ?? nextElapseMonotonicUsec
            default: break
            }
        }
        // A run that ended well: the newest success, which a later failure does not erase.
        if result == "success", execMainExitUsec > 0, execMainExitUsec != UInt64.max, activeState != "failed" {
            lastSuccessUsec = max(lastSuccessUsec ?? 0, execMainExitUsec)
        }
    }

    /// Adds the rise of the cgroup's oom_kill count (a new cgroup starts again from its own count).
    public mutating func noteOOMKills(_ count: Int64) {
        if let seen = oomKillsSeen, count >= seen { oomKills += count - seen } else { oomKills += count }
        oomKillsSeen = count
    }
}

/// The manager's ListUnits reply, `a(ssssssouso)`: name, description, load state, active state, sub state,
/// followed unit, object path, job id, job type, job path. Every unit in memory is a line, units that failed
/// to load (not-found, bad-setting, error, masked) included.
public func decodeListUnits(_ body: [BusValue]) throws(BusDecodingError) -> [SystemdUnit] {
    guard let lines = body.first?.items else { throw BusDecodingError("ListUnits: expected a(ssssssouso), got \(body.count) value(s)") }
    var out: [SystemdUnit] = []
    out.reserveCapacity(lines.count)
    for line in lines {
        guard let f = line.items, f.count >= 7, let name = f[0].string, let path = f[6].string else {
            throw BusDecodingError("ListUnits: a line is not (ssssssouso)")
        }
        var u = SystemdUnit(name: name, path: path)
        u.description = f[1].string ?? ""
        u.loadState = f[2].string ?? ""
        u.activeState = f[3].string ?? ""
        u.subState = f[4].string ?? ""
        out.append(u)
    }
    return out
}

/// GetAll's reply, `a{sv}`.
public func decodeProperties(_ body: [BusValue]) throws(BusDecodingError) -> [(String, BusValue)] {
    guard let p = body.first?.properties else { throw BusDecodingError("GetAll: expected a{sv}") }
    return p
}

/// PropertiesChanged, `sa{sv}as`: the interface, the changed values, the names that changed without a value.
public func decodePropertiesChanged(_ body: [BusValue]) throws(BusDecodingError) -> (interface: String, changed: [(String, BusValue)], invalidated: [String]) {
    guard body.count >= 2, let iface = body[0].string, let changed = body[1].properties else {
        throw BusDecodingError("PropertiesChanged: expected sa{sv}as")
    }
    let invalidated = body.count > 2 ? (body[2].items ?? []).compactMap(\.string) : []
    return (iface, changed, invalidated)
}

/// UnitNew and UnitRemoved, `so`: the unit's name and object path.
public func decodeUnitSignal(_ body: [BusValue]) throws(BusDecodingError) -> (name: String, path: String) {
    guard body.count >= 2, let name = body[0].string, let path = body[1].string else { throw BusDecodingError("UnitNew/UnitRemoved: expected so") }
    return (name, path)
}

/// JobRemoved, `uoss`: the job id and path, the unit's name, the job's result.
public func decodeJobRemoved(_ body: [BusValue]) throws(BusDecodingError) -> (unit: String, result: String) {
    guard body.count >= 4, let unit = body[2].string, let result = body[3].string else { throw BusDecodingError("JobRemoved: expected uoss") }
    return (unit, result)
}

// MARK: - Rows

/// Units hidden from `systemd.units` by default: the transient scopes of logins and `systemd-run`, and the
/// per-user managers (their health is the user's). `set exclude_units [...]` replaces the list.
public let defaultExcludedUnits = ["run-*.scope", "session-*.scope", "user@*.service", "user-runtime-dir@*.service"]

/// True when `name` matches one of the globs (fnmatch(3): `*`, `?`, `[…]`).
public func unitExcluded(_ name: String, by globs: [String]) -> Bool {
    globs.contains { fnmatch($0, name, 0) == 0 }
}

/// A µs timestamp (realtime) as "seconds from `now`" (positive: in the past); nil for 0 and UINT64_MAX (unset).
func secondsSince(_ usec: UInt64, nowUsec: Int64) -> Double? {
    guard usec > 0, usec != .max, usec <= UInt64(Int64.max) else { return nil }
    return rounded(Double(nowUsec - Int64(usec)) / 1e6, 3)
}

/// What a unit's cgroup holds now: read at collect time from the cgroup's own files.
public struct CgroupUsage: Equatable, Sendable {
    public var memoryBytes: Int64?
    public var tasks: Int64?
    public var cpuSeconds: Double?
    public init(memoryBytes: Int64? = nil, tasks: Int64? = nil, cpuSeconds: Double? = nil) {
        self.memoryBytes = memoryBytes
        self.tasks = tasks
        self.cpuSeconds = cpuSeconds
    }
}

/// One `systemd.units` row.
public func unitRow(_ u: SystemdUnit, usage: CgroupUsage?, nowUsec: Int64) -> Row {
    var r: Row = ["unit": .string(u.name), "type": .string(u.type), "description": .string(u.description),
                  "load_state": .string(u.loadState), "active_state": .string(u.activeState), "sub_state": .string(u.subState)]
    r.append("result", .string(u.result ?? ""))
    r.append("load_error", .string(u.loadError ?? ""))
    r.append("triggered_by", .string(u.triggeredBy))
    r.append("journal", .string(u.activeState == "failed" ? u.failureLog ?? "" : ""))
    if let s = secondsSince(u.stateChangeUsec, nowUsec: nowUsec) { r.append("in_state_seconds", .double(max(0, s))) }
    if let n = u.restarts { r.append("restarts_total", .int(n)) }
    if let p = u.mainPID, p > 0 { r.append("main_pid", .int(p)) }
    if let m = usage?.memoryBytes { r.append("memory_bytes", .int(m)) }
    if let t = usage?.tasks { r.append("tasks", .int(t)) }
    if let c = usage?.cpuSeconds { r.append("cpu_seconds_total", .double(c)) }
    if u.controlGroup != nil || u.oomKillsSeen != nil { r.append("oom_kills_total", .int(u.oomKills)) }
    return r
}

/// One `systemd.timers` row; `service` is the unit the timer triggers, when shd knows it.
public func timerRow(_ t: SystemdUnit, service: SystemdUnit?, nowUsec: Int64, monotonicUsec: Int64) -> Row {
    var r: Row = ["timer": .string(t.name), "unit": .string(t.triggers ?? service?.name ?? "")]
    r.append("active_state", .string(t.activeState))
    r.append("unit_active_state", .string(service?.activeState ?? ""))
    r.append("unit_result", .string(service?.result ?? ""))
    let last = secondsSince(t.lastTriggerUsec, nowUsec: nowUsec)
    if let last { r.append("last_trigger_age_seconds", .double(max(0, last))) }
    var next: Double?
    if let s = secondsSince(t.nextElapseRealtimeUsec, nowUsec: nowUsec) {
        next = -s
    } else if t.nextElapseMonotonicUsec > 0, t.nextElapseMonotonicUsec != .max, t.nextElapseMonotonicUsec <= UInt64(Int64.max) {
        next = rounded(Double(Int64(t.nextElapseMonotonicUsec) - monotonicUsec) / 1e6, 3)
    }
    if let next { r.append("next_elapse_seconds", .double(next)) }
    // The period as systemd will keep it: from the last trigger to the next elapse.
    if let last, let next, last + next > 0 { r.append("period_seconds", .double(rounded(last + next, 3))) }
    if let s = service?.lastSuccessUsec, let age = secondsSince(s, nowUsec: nowUsec) {
        r.append("unit_last_success_age_seconds", .double(max(0, age)))
    }
    return r
}
