// The hardware worker: temperatures (hwmon + thermal), fans, sensor alarms, EDAC memory errors, md RAID state.
import Kit
import Reports

/// Sensor inputs found once and re-read each tick; looked for again every few minutes (USB hwmon
/// devices come and go) or when an input disappears.
final class SensorSet {
    private var inputs: [(SensorInput, KernelFile)] = []
    private var discoveredAt: Double?
    private let discover: (SourceRoots) -> [SensorInput]
    static let rediscoverSeconds = 300.0

    init(_ discover: @escaping (SourceRoots) -> [SensorInput]) { self.discover = discover }

    /// Each input with its current value; an input that fails to read (EINVAL, ENODATA from a sleeping
    /// device) is left out this tick.
    func read(_ ctx: CollectContext) -> [(SensorInput, Int64)] {
        if discoveredAt.map({ ctx.monotonic - $0 >= Self.rediscoverSeconds || ctx.monotonic < $0 }) ?? true {
            refresh(ctx)
        }
        var out: [(SensorInput, Int64)] = []
        var vanished = false
        for (s, f) in inputs {
            do {
                out.append((s, try parseSysfsInteger(try f.read())))
            } catch let e as ReadError where e.isMissing {
                vanished = true
            } catch {
                continue
            }
        }
        if vanished { discoveredAt = nil }
        return out
    }

    private func refresh(_ ctx: CollectContext) {
        inputs = discover(ctx.roots).map { ($0, KernelFile($0.inputPath, cap: 256, singleRecord: true)) }
        discoveredAt = ctx.monotonic
    }
}

/// `hardware.temperatures`: every hwmon temperature input and every thermal zone.
public final class TemperaturesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "temperatures", help: "Temperatures from hwmon chips and thermal zones", fields: [
        FieldSchema("source", .label, help: "hwmon or thermal"),
        FieldSchema("device", .label, help: "sysfs directory: hwmonN or thermal_zoneN"),
        FieldSchema("chip", .label, help: "hwmon chip name (coretemp, nvme, …) or thermal zone type"),
        FieldSchema("sensor", .label, help: "Sensor label (Package id 0, Core 1, Composite) or tempN"),
        FieldSchema("celsius", .number, unit: "celsius", help: "Current temperature"),
        FieldSchema("crit_celsius", .number, unit: "celsius", help: "Critical limit (hwmon _crit, thermal critical trip)"),
        FieldSchema("max_celsius", .number, unit: "celsius", help: "High limit (hwmon _max, thermal hot trip)"),
    ])

    private let sensors = SensorSet { discoverHwmon($0.sys, kind: "temp") + discoverThermalZones($0.sys) }

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        sensors.read(ctx).map { s, v in
            var r: Row = ["source": .string(s.source), "device": .string(s.device), "chip": .string(s.chip),
                          "sensor": .string(s.sensor), "celsius": .double(Double(v) / 1000)]
            if let c = s.critical { r.append("crit_celsius", .double(c)) }
            if let m = s.maximum { r.append("max_celsius", .double(m)) }
            return r
        }
    }
}

/// `hardware.fans`: every hwmon fan input.
public final class FansFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "fans", help: "Fan speeds from hwmon chips", fields: [
        FieldSchema("device", .label, help: "sysfs directory: hwmonN"),
        FieldSchema("chip", .label, help: "hwmon chip name (nct6775, it8728, …)"),
        FieldSchema("sensor", .label, help: "Fan label, or fanN"),
        FieldSchema("rpm", .number, help: "Current speed in revolutions per minute (0: stopped or absent)"),
        FieldSchema("min_rpm", .number, help: "Alarm threshold set in the chip (fanN_min)"),
        FieldSchema("below_min", .bool, help: "Turning slower than min_rpm (only when a minimum above 0 is set)"),
    ])

    private let sensors = SensorSet { discoverHwmon($0.sys, kind: "fan") }

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        sensors.read(ctx).map { s, v in
            var r: Row = ["device": .string(s.device), "chip": .string(s.chip), "sensor": .string(s.sensor), "rpm": .int(v)]
            if let m = s.maximum {
                r.append("min_rpm", .int(clampedInt64(m)))
                if m > 0 { r.append("below_min", .bool(Double(v) < m)) }
            }
            return r
        }
    }
}

/// `hardware.sensor_alarms`: the alarm flags hwmon chips raise themselves (a temperature past its
/// limit, a fan below its minimum, a voltage out of range, the chassis opened). `[]` without hwmon
/// chips that have alarm files (most VMs).
public final class SensorAlarmsFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "sensor_alarms", help: "Alarm flags of hwmon chips (*_alarm, intrusion*_alarm)", fields: [
        FieldSchema("device", .label, help: "sysfs directory: hwmonN"),
        FieldSchema("chip", .label, help: "hwmon chip name (nct6775, it8728, …)"),
        FieldSchema("sensor", .label, help: "The channel's label (CPU Fan, Vcore), else the channel (temp2, intrusion0)"),
        FieldSchema("attribute", .label, help: "The alarm file (temp2_crit_alarm, fan1_alarm, intrusion0_alarm)"),
        FieldSchema("kind", .label, help: "temp, fan, in (voltage), curr, power, energy, humidity or intrusion"),
        FieldSchema("limit", .label, help: "Which limit: min, max, crit, lcrit, emergency, cap…; empty for the channel's one alarm"),
        FieldSchema("active", .bool, help: "The chip raises the alarm (the file reads 1)"),
    ])

    private let sensors = SensorSet { discoverHwmonAlarms($0.sys) }

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        sensors.read(ctx).map { s, v in
            let file = String(s.inputPath.split(separator: "/").last ?? "")
            let p = hwmonAlarmParts(file)
            return ["device": .string(s.device), "chip": .string(s.chip), "sensor": .string(s.sensor), "attribute": .string(file),
                    "kind": .string(p.kind), "limit": .string(p.limit), "active": .bool(v != 0)]
        }
    }
}

/// `hardware.edac`: corrected and uncorrected memory errors per memory controller.
public final class EdacFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "edac", help: "Memory errors counted by EDAC memory controllers", fields: [
        FieldSchema("controller", .label, help: "Memory controller (mc0, mc1, …)"),
        FieldSchema("name", .label, help: "Controller driver name (mc_name)"),
        FieldSchema("correctable_errors_total", .counter, help: "Corrected errors (ce_count)"),
        FieldSchema("uncorrectable_errors_total", .counter, help: "Uncorrected errors (ue_count)"),
    ])

    private var controllers: [(name: String, driver: String, ce: KernelFile, ue: KernelFile)]?

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let list = controllers ?? {
            let base = ctx.roots.sys + "/devices/system/edac/mc"
            return listDirectory(base).filter { $0.hasPrefix("mc") }.sorted(by: naturalLess).map { mc in
                let dir = base + "/" + mc
                return (mc, readAttribute(dir + "/mc_name") ?? "", KernelFile(dir + "/ce_count", cap: 256, singleRecord: true),
                        KernelFile(dir + "/ue_count", cap: 256, singleRecord: true))
            }
        }()
        controllers = list
        // No EDAC driver (no mc directory) is no data; a controller without its counters is an error
        // naming the file, and the other controllers still report.
        var failures = SourceFailures()
        var rows: [Row] = []
        for c in list {
            guard let ce = failures.attempt({ try parseSysfsInteger(try c.ce.read()) }),
                  let ue = failures.attempt({ try parseSysfsInteger(try c.ue.read()) }) else { continue }
            rows.append(["controller": .string(c.name), "name": .string(c.driver),
                         "correctable_errors_total": .int(ce), "uncorrectable_errors_total": .int(ue)])
        }
        return try failures.finish(rows)
    }
}

/// `hardware.raid`: md arrays from /proc/mdstat.
public final class RaidFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "raid", help: "Linux software RAID (md) arrays", fields: [
        FieldSchema("array", .label, help: "Array name (md0)"),
        FieldSchema("level", .label, help: "RAID level (raid1, raid5, linear, …); empty while inactive"),
        FieldSchema("state", .label, help: "clean, degraded, recovering, resyncing, reshaping, checking or inactive"),
        FieldSchema("degraded", .bool, help: "The kernel says devices are missing (sysfs md/degraded, or [n/m] with m < n)"),
        FieldSchema("read_only", .bool, help: "Array is read-only or auto-read-only"),
        FieldSchema("devices_total", .number, help: "Devices the array should have ([n/m] n; raid0/linear: members; inactive: members listed)"),
        FieldSchema("devices_active", .number, help: "Devices working ([n/m] m; 0 while inactive)"),
        FieldSchema("devices_failed", .number, help: "Members marked failed (F)"),
        FieldSchema("devices_spare", .number, help: "Members marked spare (S); on an inactive array, members without a role yet"),
        FieldSchema("sync_percent", .number, unit: "percent", help: "Progress of a running recovery, resync, reshape or check"),
        FieldSchema("sync_remaining_seconds", .number, unit: "seconds", help: "Kernel's estimate of the time left for it"),
    ], key: ["array"])

    private var file: KernelFile?

    public init() {}

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let f = file ?? KernelFile(ctx.roots.proc + "/mdstat", cap: 1 << 20)
        file = f
        guard let bytes = try f.readIfPresent() else { return [] }
        return try parseMdStat(bytes).map { a in
            var a = a
            // drivers/md/md.c degraded_show: one number, devices missing; only arrays with redundancy have it.
            if a.activity == "active", let d = readAttribute(ctx.roots.sys + "/block/" + a.name + "/md/degraded").flatMap({ Int($0) }) {
                a.sysfsDegraded = d
            }
            return Self.row(a)
        }
    }

    public static func row(_ a: MdArray) -> Row {
        let (total, active) = a.counts
        var r: Row = ["array": .string(a.name), "level": .string(a.level), "state": .string(a.state),
                      "degraded": .bool(a.degraded), "read_only": .bool(a.readOnly),
                      "devices_total": .int(Int64(total)), "devices_active": .int(Int64(active)),
                      "devices_failed": .int(Int64(a.failedMembers)), "devices_spare": .int(Int64(a.spareMembers))]
        if let p = a.syncPercent { r.append("sync_percent", .double(p)) }
        if let s = a.syncRemainingSeconds { r.append("sync_remaining_seconds", .double(rounded(s, 1))) }
        return r
    }
}

enum HardwareWorker {
    static func make() -> Worker {
        Worker(name: "hardware", functions: [TemperaturesFunction(), FansFunction(), SensorAlarmsFunction(), EdacFunction(), RaidFunction()])
    }
}
