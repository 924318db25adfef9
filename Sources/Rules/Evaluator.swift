// Expression evaluation over one row, history series (rates, windows, prediction) and templates.
import Reports

/// Samples of one series for one alert instance, oldest first, trimmed to the window the rule needs.
struct SeriesBuffer: Sendable, Equatable {
    var times: [Double] = []
    var values: [Double] = []

    /// Hard cap per series so a long window at a short interval cannot grow without bound.
    static let maxSamples = 10_000

    mutating func push(_ t: Double, _ v: Double, keep spec: SeriesSpec) {
        if let last = times.last, t <= last { return }
        times.append(t)
        values.append(v)
        var drop = 0
        switch spec.kind {
        case .rate, .delta: drop = max(0, times.count - 2)
        default:
            let horizon = t - spec.window
            while drop < times.count - 1 && times[drop] < horizon { drop += 1 }
        }
        drop = max(drop, times.count - SeriesBuffer.maxSamples)
        if drop > 0 {
            times.removeFirst(drop)
            values.removeFirst(drop)
        }
    }

    /// The series' value now, or nil for "no data" (one sample for a rate, a counter reset, a window too short).
    func value(_ spec: SeriesSpec, limit: Double?) -> Double? {
        guard let tLast = times.last, let vLast = values.last else { return nil }
        switch spec.kind {
        case .events, .eventRate, .sinceLast: return nil
        case .rate, .delta:
            guard times.count >= 2 else { return nil }
            let dv = vLast - values[values.count - 2]
            let dt = tLast - times[times.count - 2]
            // A counter that went down was reset (reboot, driver reload): no rate this time.
            guard dv >= 0, dt > 0 else { return nil }
            return spec.kind == .rate ? dv / dt : dv
        case .avg, .min, .max, .sum, .count:
            let from = tLast - spec.window
            var n = 0.0, sum = 0.0, lo = Double.infinity, hi = -Double.infinity
            for (t, v) in zip(times, values) where t >= from {
                n += 1
                sum += v
                lo = Swift.min(lo, v)
                hi = Swift.max(hi, v)
            }
            switch spec.kind {
            case .avg: return sum / n
            case .min: return lo
            case .max: return hi
            case .sum: return sum
            default: return n
            }
        case .increase:
            let from = tLast - spec.window
            var total = 0.0
            var prev: Double?
            for (t, v) in zip(times, values) where t >= from {
                if let p = prev { total += v >= p ? v - p : v }
                prev = v
            }
            return total
        case .timeTo:
            guard let limit else { return nil }
            // A line through a handful of seconds of data is noise: wait for a quarter of the window and 3 samples.
            guard times.count >= 3, tLast - times[0] >= spec.window / 4 else { return nil }
            var st = 0.0, sv = 0.0, stt = 0.0, stv = 0.0
            let n = Double(times.count)
            for (t0, v) in zip(times, values) {
                let t = t0 - tLast
                st += t; sv += v; stt += t * t; stv += t * v
            }
            let den = n * stt - st * st
            guard den != 0 else { return nil }
            let slope = (n * stv - st * sv) / den
            let now = (sv - slope * st) / n
            if slope == 0 { return .infinity }
            if (slope < 0 && vLast <= limit) || (slope > 0 && vLast >= limit) { return 0 }
            let eta = (limit - now) / slope
            return eta < 0 ? .infinity : eta
        }
    }
}

/// Evaluates compiled expressions over one row.
struct Evaluator {
    private(set) var row: Row
    let lets: [CExpr]
    var letCache: [Value??]
    var seriesValues: [Value?]

    init(row: Row, lets: [CExpr], seriesCount: Int) {
        self.init(row: row, lets: lets, seriesCount: seriesCount, letCache: [], seriesValues: [])
    }

    /// Same, reusing the storage of `letCache` and `seriesValues` (their contents are discarded).
    init(row: Row, lets: [CExpr], seriesCount: Int, letCache: [Value??], seriesValues: [Value?]) {
        self.row = row
        self.lets = lets
        self.letCache = letCache
        self.seriesValues = seriesValues
        self.letCache.removeAll(keepingCapacity: true)
        self.seriesValues.removeAll(keepingCapacity: true)
        for _ in 0..<lets.count { self.letCache.append(nil) }
        for _ in 0..<seriesCount { self.seriesValues.append(nil) }
    }

    /// Points the evaluator at another row of the same rule, keeping its buffers.
    mutating func reset(row: Row) {
        self.row = row
        for i in letCache.indices { letCache[i] = nil }
        for i in seriesValues.indices { seriesValues[i] = nil }
    }

    static func fieldValue(_ v: JSONValue?) -> Value? {
        switch v {
        case .int(let i)?: return .number(Double(i))
        case .double(let d)?: return .number(d)
        case .string(let s)?: return .string(s)
        case .bool(let b)?: return .bool(b)
        default: return nil
        }
    }

    static func arith(_ op: ArithOp, _ a: Double, _ b: Double) -> Double? {
        switch op {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return b == 0 ? nil : a / b
        }
    }

    static func compare(_ op: CompareOp, _ a: Value, _ b: Value) -> Bool? {
        switch (a, b) {
        case (.number(let x), .number(let y)):
            if x.isNaN || y.isNaN { return nil }
            switch op {
            case .lt: return x < y
            case .le: return x <= y
            case .gt: return x > y
            case .ge: return x >= y
            case .eq: return x == y
            case .ne: return x != y
            }
        case (.string(let x), .string(let y)):
            return op == .eq ? x == y : op == .ne ? x != y : nil
        case (.bool(let x), .bool(let y)):
            return op == .eq ? x == y : op == .ne ? x != y : nil
        default: return nil
        }
    }

    /// nil is "no data": it propagates through arithmetic, comparisons and `not`; `and`/`or` treat it as not true.
    mutating func eval(_ e: CExpr) -> Value? {
        switch e {
        case .constant(let v): return v
        case .field(let n, let hint):
            if hint >= 0 && hint < row.entries.count && row.entries[hint].key == n { return Evaluator.fieldValue(row.entries[hint].value) }
            return Evaluator.fieldValue(row[n])
        case .letRef(let i):
            if let cached = letCache[i] { return cached }
            let v = eval(lets[i])
            letCache[i] = .some(v)
            return v
        case .series(let i): return seriesValues[i]
        case .neg(let x):
            if case .number(let d)? = eval(x) { return .number(-d) }
            return nil
        case .abs(let x):
            if case .number(let d)? = eval(x) { return .number(Swift.abs(d)) }
            return nil
        case .not(let x):
            if case .bool(let b)? = eval(x) { return .bool(!b) }
            return nil
        case .arith(let op, let l, let r):
            guard case .number(let a)? = eval(l), case .number(let b)? = eval(r), let v = Evaluator.arith(op, a, b) else { return nil }
            return .number(v)
        case .compare(let op, let l, let r):
            guard let a = eval(l), let b = eval(r) else { return nil }
            return Evaluator.compare(op, a, b).map(Value.bool)
        case .and(let l, let r):
            // No data counts as "not true": a rule never fires on data it does not have.
            guard case .bool(true)? = eval(l) else { return .bool(false) }
            if case .bool(true)? = eval(r) { return .bool(true) }
            return .bool(false)
        case .or(let l, let r):
            if case .bool(true)? = eval(l) { return .bool(true) }
            if case .bool(true)? = eval(r) { return .bool(true) }
            return .bool(false)
        case .match(let x, let p, let negated):
            guard case .string(let s)? = eval(x) else { return nil }
            return .bool(p.matches(s) != negated)
        }
    }

    mutating func condition(_ e: CExpr) -> Bool? {
        if case .bool(let b)? = eval(e) { return b }
        return nil
    }

    mutating func number(_ e: CExpr) -> Double? {
        if case .number(let d)? = eval(e) { return d }
        return nil
    }
}

extension Template {
    /// Renders with a name lookup; unknown or missing values print as `?`.
    func render(_ lookup: (String) -> Value?) -> String {
        var out = ""
        for p in parts {
            switch p {
            case .text(let t): out += t
            case .ref(let name, let filter, let arg):
                guard let v = lookup(name) else { out += "?"; continue }
                switch v {
                case .string(let s): out += s
                case .bool(let b): out += b ? "true" : "false"
                case .number(let d):
                    switch filter {
                    case "bytes"?: out += formatBytes(d)
                    case "percent"?: out += formatNumber(d, decimals: arg ?? 1) + "%"
                    case "duration"?: out += formatDuration(d)
                    case "round"?: out += formatNumber(d, decimals: arg ?? 0)
                    default: out += formatNumber(d)
                    }
                }
            }
        }
        return out
    }
}
