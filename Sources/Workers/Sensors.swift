// hwmon, thermal-zone and EDAC sysfs discovery, and the parser for their one-number files.
import Kit

/// A sysfs attribute holding one integer (Documentation/hwmon/sysfs-interface.rst):
/// ```
/// 45000
/// ```
/// `temp*_input`, `_crit`, `_max` in millidegrees Celsius, `fan*_input` in RPM, `ce_count` in events.
/// Surrounding whitespace is allowed; anything else is an error.
public func parseSysfsInteger(_ bytes: [UInt8]) throws(CollectError) -> Int64 {
    guard let v = parseInt64(trimmed(bytes[...])) else {
        throw CollectError("sysfs: expected an integer, found '\(string(bytes.prefix(40)))'")
    }
    return v
}

/// One temperature or fan input found under hwmon or thermal.
public struct SensorInput: Sendable, Equatable {
    /// `hwmon` or `thermal`.
    public var source: String
    /// `hwmon3` or `thermal_zone0`: the sysfs directory.
    public var device: String
    /// hwmon `name` (coretemp, nvme, nct6775) or the thermal zone `type` (x86_pkg_temp, acpitz).
    public var chip: String
    /// hwmon `temp1_label` (Package id 0, Core 1, Composite), else `temp1`; for thermal the zone type.
    public var sensor: String
    /// Path of the value file read each tick.
    public var inputPath: String
    /// Limits read once at discovery: critical and maximum (°C), or a fan's minimum (RPM).
    public var critical: Double?
    public var maximum: Double?
}

/// Finds hwmon inputs with the given prefix (`temp` or `fan`), in a stable order.
///
/// Older drivers keep their attributes in `hwmonN/device/` instead of `hwmonN/`, so both are looked at.
public func discoverHwmon(_ sys: String, kind: String) -> [SensorInput] {
    var out: [SensorInput] = []
    let base = sys + "/class/hwmon"
    for dev in listDirectory(base).filter({ $0.hasPrefix("hwmon") }).sorted(by: naturalLess) {
        var dir = base + "/" + dev
        var names = listDirectory(dir)
        if !names.contains(where: { $0.hasPrefix(kind) && $0.hasSuffix("_input") }) {
            dir += "/device"
            names = listDirectory(dir)
        }
        let chip = readAttribute(base + "/" + dev + "/name") ?? readAttribute(dir + "/name") ?? dev
        let inputs = names.filter { $0.hasPrefix(kind) && $0.hasSuffix("_input") }.sorted(by: naturalLess)
        for input in inputs {
            let stem = String(input.dropLast("_input".count))
            func limit(_ suffix: String) -> Double? {
                guard let b = try? readOnce(dir + "/" + stem + suffix, cap: 256), let v = try? parseSysfsInteger(b) else { return nil }
                return kind == "temp" ? Double(v) / 1000 : Double(v)
            }
            let label = readAttribute(dir + "/" + stem + "_label").flatMap { $0.isEmpty ? nil : $0 } ?? stem
            out.append(SensorInput(source: "hwmon", device: dev, chip: chip, sensor: label, inputPath: dir + "/" + input,
                                   critical: kind == "temp" ? limit("_crit") : nil,
                                   maximum: kind == "temp" ? limit("_max") : limit("_min")))
        }
    }
    return out
}

/// Finds hwmon alarm flags (Documentation/hwmon/sysfs-interface.rst, "Alarms"): every
/// `<channel>[_<limit>]_alarm` file, such as `temp1_alarm`, `temp2_crit_alarm`, `in0_min_alarm`,
/// `fan1_alarm`, `curr1_max_alarm` and the chassis `intrusion0_alarm`, each `0` or `1`, in a
/// stable order. The input path is the alarm file; the sensor is the channel's label, else the
/// channel (`temp2`, `intrusion0`). Attributes in `hwmonN/device/` (older drivers) are found too.
public func discoverHwmonAlarms(_ sys: String) -> [SensorInput] {
    var out: [SensorInput] = []
    let base = sys + "/class/hwmon"
    for dev in listDirectory(base).filter({ $0.hasPrefix("hwmon") }).sorted(by: naturalLess) {
        var dir = base + "/" + dev
        var names = listDirectory(dir)
        if !names.contains(where: { $0.hasSuffix("_alarm") }) {
            dir += "/device"
            names = listDirectory(dir)
        }
        let chip = readAttribute(base + "/" + dev + "/name") ?? readAttribute(dir + "/name") ?? dev
        for file in names.filter({ $0.hasSuffix("_alarm") && $0.count > "_alarm".count }).sorted(by: naturalLess) {
            let channel = hwmonAlarmParts(file).channel
            let label = readAttribute(dir + "/" + channel + "_label").flatMap { $0.isEmpty ? nil : $0 } ?? channel
            out.append(SensorInput(source: "hwmon", device: dev, chip: chip, sensor: label, inputPath: dir + "/" + file))
        }
    }
    return out
}

/// `temp2_crit_alarm` → channel `temp2`, kind `temp`, limit `crit`; `fan1_alarm` → `fan1`, `fan`, "".
public func hwmonAlarmParts(_ file: String) -> (channel: String, kind: String, limit: String) {
    let stem = file.hasSuffix("_alarm") ? String(file.dropLast("_alarm".count)) : file
    let channel = stem.split(separator: "_", maxSplits: 1).first.map(String.init) ?? stem
    let limit = stem.count > channel.count ? String(stem.dropFirst(channel.count + 1)) : ""
    let kind = String(channel.prefix { !("0"..."9").contains($0) })
    return (channel, kind, limit)
}

/// Finds thermal zones; a zone's `critical` trip point is its critical limit, its `hot` trip its maximum.
public func discoverThermalZones(_ sys: String) -> [SensorInput] {
    var out: [SensorInput] = []
    let base = sys + "/class/thermal"
    for zone in listDirectory(base).filter({ $0.hasPrefix("thermal_zone") }).sorted(by: naturalLess) {
        let dir = base + "/" + zone
        let type = readAttribute(dir + "/type") ?? zone
        var crit: Double?
        var hot: Double?
        for name in listDirectory(dir).filter({ $0.hasPrefix("trip_point_") && $0.hasSuffix("_type") }).sorted(by: naturalLess) {
            let stem = String(name.dropLast("_type".count))
            guard let t = readAttribute(dir + "/" + name),
                  let b = try? readOnce(dir + "/" + stem + "_temp", cap: 256), let v = try? parseSysfsInteger(b)
            else { continue }
            if t == "critical", crit == nil { crit = Double(v) / 1000 }
            if t == "hot", hot == nil { hot = Double(v) / 1000 }
        }
        out.append(SensorInput(source: "thermal", device: zone, chip: type, sensor: type, inputPath: dir + "/temp",
                               critical: crit, maximum: hot))
    }
    return out
}

/// Orders `temp2` before `temp10` and `thermal_zone2` before `thermal_zone10`: runs of digits
/// compare as numbers, everything else byte by byte.
public func naturalLess(_ a: String, _ b: String) -> Bool {
    var i = Array(a.utf8)[...]
    var j = Array(b.utf8)[...]
    func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    while let x = i.first, let y = j.first {
        if isDigit(x) && isDigit(y) {
            let da = i.prefix { isDigit($0) }
            let db = j.prefix { isDigit($0) }
            let na = da.drop { $0 == 0x30 }
            let nb = db.drop { $0 == 0x30 }
            if na.count != nb.count { return na.count < nb.count }
            if !na.elementsEqual(nb) { return na.lexicographicallyPrecedes(nb) }
            i = i.dropFirst(da.count)
            j = j.dropFirst(db.count)
        } else {
            if x != y { return x < y }
            i = i.dropFirst()
            j = j.dropFirst()
        }
    }
    return i.isEmpty && !j.isEmpty
}
