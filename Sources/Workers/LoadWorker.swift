// load.averages from /proc/loadavg, with per-core figures.
import Reports

/// `/proc/loadavg`, one line (fs/proc/loadavg.c):
/// ```
/// 0.21 0.37 0.39 1/719 19737
/// ```
/// load1 load5 load15 runnable/total last_pid. Anything after the fifth field is ignored.
public struct LoadAverages: Equatable, Sendable {
    public var load1, load5, load15: Double
    public var runnable, total: Int64
    public var lastPID: Int64
}

public func parseLoadAvg(_ bytes: [UInt8]) throws(CollectError) -> LoadAverages {
    var firstLine: ArraySlice<UInt8> = []
    forEachLine(bytes) { if firstLine.isEmpty { firstLine = $0 } }
    let f = fields(firstLine)
    guard f.count >= 5 else { throw CollectError("loadavg: expected 5 fields, found \(f.count)") }
    let tasks = f[3].split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
    guard let l1 = parseDouble(f[0]), let l5 = parseDouble(f[1]), let l15 = parseDouble(f[2]),
          tasks.count == 2, let r = parseInt64(tasks[0]), let t = parseInt64(tasks[1]), let pid = parseInt64(f[4])
    else { throw CollectError("loadavg: malformed line '\(string(firstLine))'") }
    return LoadAverages(load1: l1, load5: l5, load15: l15, runnable: r, total: t, lastPID: pid)
}

/// Number of online CPUs from sysfs `devices/system/cpu/online`, else from the cpuN lines of /proc/stat
/// (kernels before 2.6.26, a tree without sysfs). Neither readable is an error naming both.
public func onlineCPUCount(_ roots: SourceRoots) throws(CollectError) -> Int {
    let online = roots.sys + "/devices/system/cpu/online"
    var why: [String] = []
    do {
        let b = try readOnce(online, cap: 4096)
        if let n = parseCPUListCount(b[...]) { return max(n, 1) }
        why.append("\(online): not a CPU list: '\(string(trimmed(b.prefix(40))))'")
    } catch {
        why.append("\(error)")
    }
    let statPath = roots.proc + "/stat"
    do {
        var n = 0
        forEachLine(try readOnce(statPath)) { line in
            if line.count > 3, hasPrefix(line, "cpu"), line[line.startIndex + 3] >= 0x30, line[line.startIndex + 3] <= 0x39 { n += 1 }
        }
        if n > 0 { return n }
        why.append("\(statPath): no cpuN line")
    } catch {
        why.append("\(error)")
    }
    throw CollectError("online CPUs unknown: " + why.joined(separator: "; "))
}

public final class LoadAveragesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "averages", help: "Load averages over 1, 5 and 15 minutes", fields: [
        FieldSchema("load1", .number, help: "1-minute load average"),
        FieldSchema("load5", .number, help: "5-minute load average"),
        FieldSchema("load15", .number, help: "15-minute load average"),
        FieldSchema("load1_per_core", .number, help: "1-minute load average divided by online CPUs"),
        FieldSchema("load5_per_core", .number, help: "5-minute load average divided by online CPUs"),
        FieldSchema("load15_per_core", .number, help: "15-minute load average divided by online CPUs"),
        FieldSchema("runnable_tasks", .number, help: "Tasks currently runnable"),
        FieldSchema("total_tasks", .number, help: "Tasks (threads) that exist"),
        FieldSchema("cpus", .number, help: "Online CPUs used for the per-core figures"),
    ])

    private var file: KernelFile?
    private var cpus: Int?

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let f = file ?? KernelFile(ctx.roots.proc + "/loadavg", cap: 4096, singleRecord: true)
        file = f
        let l = try parseLoadAvg(try f.read())
        var row: Row = ["load1": .double(l.load1), "load5": .double(l.load5), "load15": .double(l.load15)]
        // Without a CPU count the load itself still stands; the per-core figures wait for one.
        var failures = SourceFailures()
        if let n = cpus ?? failures.attempt({ try onlineCPUCount(ctx.roots) }) {
            cpus = n
            let c = Double(n)
            row.append("load1_per_core", .double(rounded(l.load1 / c, 3)))
            row.append("load5_per_core", .double(rounded(l.load5 / c, 3)))
            row.append("load15_per_core", .double(rounded(l.load15 / c, 3)))
        }
        row.append("runnable_tasks", .int(l.runnable))
        row.append("total_tasks", .int(l.total))
        if let n = cpus { row.append("cpus", .int(Int64(n))) }
        return try failures.finish([row])
    }
}

enum LoadWorker {
    static func make() -> Worker { Worker(name: "load", functions: [LoadAveragesFunction()]) }
}
