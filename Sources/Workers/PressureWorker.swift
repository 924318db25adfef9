// The pressure worker: pressure stall information (PSI) for cpu, memory and io from /proc/pressure.
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// One line of a PSI file.
public struct PressureLine: Equatable, Sendable {
    /// `some` (at least one task stalled) or `full` (all non-idle tasks stalled).
    public var kind: String
    /// Percent of wall time stalled, averaged over 10, 60 and 300 seconds.
    public var avg10, avg60, avg300: Double
    /// Total stall time in microseconds.
    public var totalMicroseconds: UInt64
}

/// `/proc/pressure/{cpu,memory,io}` (kernel/sched/psi.c, Linux 4.20+):
/// ```
/// some avg10=0.85 avg60=0.60 avg300=0.48 total=3535200
/// full avg10=0.00 avg60=0.00 avg300=0.00 total=0
/// ```
/// Before 5.13 the cpu file has only the `some` line. Lines of another kind and `key=value` pairs
/// shd does not know are skipped; a line missing avg10, avg60, avg300 or total, or a file without
/// any line, is an error.
public func parsePressure(_ bytes: [UInt8]) throws(CollectError) -> [PressureLine] {
    var out: [PressureLine] = []
    var bad: String?
    forEachLine(bytes) { line in
        if bad != nil { return }
        let f = fields(line)
        guard let kind = f.first, equals(kind, "some") || equals(kind, "full") else { return }
        var a10, a60, a300: Double?
        var total: UInt64?
        for pair in f.dropFirst() {
            guard let eq = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let k = pair[pair.startIndex..<eq]
            let v = pair[(eq + 1)...]
            if equals(k, "avg10") { a10 = parseDouble(v) }
            else if equals(k, "avg60") { a60 = parseDouble(v) }
            else if equals(k, "avg300") { a300 = parseDouble(v) }
            else if equals(k, "total") { total = parseUInt64(v) }
        }
        guard let a10, let a60, let a300, let total else { bad = string(line); return }
        out.append(PressureLine(kind: string(kind), avg10: a10, avg60: a60, avg300: a300, totalMicroseconds: total))
    }
    if let bad { throw CollectError("pressure: malformed line '\(bad)'") }
    if out.isEmpty { throw CollectError("pressure: no some/full line") }
    return out
}

/// Reads one PSI file through a kept fd and turns it into rows.
///
/// Where PSI is absent (kernel before 4.20, `CONFIG_PSI=n`: no `/proc/pressure` directory) or
/// disabled (`psi=0`: the read fails with EOPNOTSUPP) it returns `[]`, no data, and no error. A
/// kernel with PSI has all three files, so one missing beside the others is an error naming it.
public final class PressureReader {
    public let resource: String
    private var file: KernelFile?

    public init(resource: String) { self.resource = resource }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let path = ctx.roots.proc + "/pressure/" + resource
        let f = file?.path == path ? file! : KernelFile(path, cap: 4096, singleRecord: true)
        file = f
        let bytes: [UInt8]
        do {
            bytes = try f.read()
        } catch let e {
            if e.errno == EOPNOTSUPP { return [] }
            if e.isMissing, access(ctx.roots.proc + "/pressure", F_OK) != 0 { return [] }
            throw e
        }
        return try parsePressure(bytes).map { p in
            var row = Row()
            row.append("kind", .string(p.kind))
            row.append("avg10", .double(p.avg10))
            row.append("avg60", .double(p.avg60))
            row.append("avg300", .double(p.avg300))
            row.append("total_seconds", .double(Double(p.totalMicroseconds) / 1_000_000))
            return row
        }
    }
}

/// The schema of one PSI function; the three differ only in name and wording.
func pressureSchema(_ name: String, _ noun: String) -> FunctionSchema {
    FunctionSchema(name: name, help: "\(noun) pressure stall information (/proc/pressure/\(name))", fields: [
        FieldSchema("kind", .label, help: "some: at least one task stalled on \(noun); full: all non-idle tasks stalled"),
        FieldSchema("avg10", .number, unit: "percent", help: "Share of time stalled over the last 10 s"),
        FieldSchema("avg60", .number, unit: "percent", help: "Share of time stalled over the last 60 s"),
        FieldSchema("avg300", .number, unit: "percent", help: "Share of time stalled over the last 300 s"),
        FieldSchema("total_seconds", .counter, unit: "seconds", help: "Total stall time since boot"),
    ])
}

/// pressure.cpu: /proc/pressure/cpu.
public final class CPUPressureFunction: MetricFunction {
    public static let schema = pressureSchema("cpu", "CPU")
    private let reader = PressureReader(resource: "cpu")
    public init() {}
    public func collect(_ ctx: CollectContext) throws -> [Row] { try reader.collect(ctx) }
}

/// pressure.memory: /proc/pressure/memory.
public final class MemoryPressureFunction: MetricFunction {
    public static let schema = pressureSchema("memory", "memory")
    private let reader = PressureReader(resource: "memory")
    public init() {}
    public func collect(_ ctx: CollectContext) throws -> [Row] { try reader.collect(ctx) }
}

/// pressure.io: /proc/pressure/io.
public final class IOPressureFunction: MetricFunction {
    public static let schema = pressureSchema("io", "I/O")
    private let reader = PressureReader(resource: "io")
    public init() {}
    public func collect(_ ctx: CollectContext) throws -> [Row] { try reader.collect(ctx) }
}

enum PressureWorker {
    static func make() -> Worker {
        Worker(name: "pressure", functions: [CPUPressureFunction(), MemoryPressureFunction(), IOPressureFunction()])
    }
}
