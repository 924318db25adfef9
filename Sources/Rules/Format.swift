// Number, duration and byte-size formatting for templates and messages (no String(format:)).

/// `85`, `85.5`, `0.33`: integral values without a fraction, others rounded to 2 decimals.
public func formatNumber(_ v: Double, decimals requested: Int = 2) -> String {
    let decimals = min(max(requested, 0), 9)
    guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "inf" : "-inf") }
    if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    if abs(v) >= 1e15 { return v.description }
    var scale = 1.0
    for _ in 0..<max(0, decimals) { scale *= 10 }
    let r = (v * scale).rounded() / scale
    if r == r.rounded() { return String(Int64(r)) }
    let neg = r < 0
    let a = abs(r)
    let whole = Int64(a)
    var frac = Int64(((a - Double(whole)) * scale).rounded())
    var digits = ""
    for _ in 0..<decimals {
        digits = String(frac % 10) + digits
        frac /= 10
    }
    while digits.hasSuffix("0") { digits.removeLast() }
    return (neg ? "-" : "") + String(whole) + (digits.isEmpty ? "" : "." + digits)
}

/// `1d2h`, `5m`, `30s`, `1.5s`: the two largest units, as people write durations.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return seconds > 0 ? "never" : "-" }
    if seconds < 0 { return "-" + formatDuration(-seconds) }
    if seconds < 60 { return formatNumber(seconds, decimals: seconds < 10 ? 1 : 0) + "s" }
    if seconds > 1e15 { return formatNumber(seconds) + "s" }
    var s = Int64(seconds.rounded())
    let units: [(String, Int64)] = [("w", 604_800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
    var parts: [String] = []
    for (u, n) in units where s >= n && parts.count < 2 {
        parts.append(String(s / n) + u)
        s %= n
    }
    // Two units at most: "1d2h", never "1d2h3m4s".
    return parts.joined()
}

/// `1.5 GiB`, `512 B`: binary units with up to one decimal.
func formatBytes(_ v: Double) -> String {
    guard v.isFinite else { return formatNumber(v) }
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var x = abs(v)
    var i = 0
    while x >= 1024 && i < units.count - 1 {
        x /= 1024
        i += 1
    }
    return (v < 0 ? "-" : "") + formatNumber(x, decimals: i == 0 ? 0 : 1) + " " + units[i]
}
