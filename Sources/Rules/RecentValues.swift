// The last hour of each rule instance's charted value, for the status page's sparklines: what is charted
// (ChartSpec), the per-instance ring (RecentValues) and the engine's view of them (Engine.recentValues).
import Alerting
import Reports

/// What a rule's sparkline shows: the value side of the first numeric comparison in its first condition
/// (`used_percent` of `warn used_percent > 85`), with each severity's constant threshold on that value.
struct ChartSpec: Sendable {
    var value: CExpr
    /// The value in the rule language (`used_percent`, `avg(cpu_percent, 5m)`): a reload keeps the samples of a
    /// rule whose charted text did not change.
    var text: String
    /// true: high values are the bad ones (`>`, `>=`); false: low ones (`<`, `<=`); nil: neither (`==`, `!=`).
    var highIsBad: Bool?
    var warn: Double?
    var crit: Double?
    /// An event rule's chart: matching entries in each minute (`RecentValues.add`), 0 for a minute without any.
    var counts = false

    /// An event rule's: its matching entries a minute.
    static let events = ChartSpec(countsText: "matching entries a minute")

    private init(countsText: String) {
        value = .constant(.number(0))
        text = countsText
        highIsBad = true
        counts = true
    }

    /// nil for a rule without a numeric comparison (`warn not synchronized`, `state == "failed"`).
    init?(conditions: [CompiledCondition], names: ExpressionNames) {
        guard let first = conditions.first, let c = ChartSpec.comparisons(first.trigger).first else { return nil }
        value = c.value
        text = names.text(c.value)
        highIsBad = c.op == .gt || c.op == .ge ? true : c.op == .lt || c.op == .le ? false : nil
        for cond in conditions {
            let limit = ChartSpec.comparisons(cond.trigger).first { names.text($0.value) == text && $0.limit != nil }?.limit
            if cond.severity == .warn, warn == nil { warn = limit }
            if cond.severity == .crit, crit == nil { crit = limit }
        }
    }

    /// The comparisons of a condition with a value side that is no constant and no string, in the order written,
    /// through `and`, `or` and `not`; a constant on the left is moved right (`85 < x` is `x > 85`).
    static func comparisons(_ e: CExpr) -> [(op: CompareOp, value: CExpr, limit: Double?)] {
        var out: [(op: CompareOp, value: CExpr, limit: Double?)] = []
        func walk(_ e: CExpr) {
            switch e {
            case .and(let l, let r), .or(let l, let r):
                walk(l)
                walk(r)
            case .not(let x): walk(x)
            case .compare(let op, let l, let r):
                var (op, l, r) = (op, l, r)
                if case .constant = l {
                    swap(&l, &r)
                    switch op {
                    case .lt: op = .gt
                    case .le: op = .ge
                    case .gt: op = .lt
                    case .ge: op = .le
                    case .eq, .ne: break
                    }
                }
                switch (l, r) {
                case (.constant, _): return
                case (_, .constant(.number(let d))): out.append((op, l, d))
                case (_, .constant): return  // a string or a boolean: nothing to chart
                default: out.append((op, l, nil))
                }
            default: return
            }
        }
        walk(e)
        return out
    }
}

/// The last hour of one instance's charted value, one sample per minute of report time (the rule's first fresh
/// evaluation in each minute): a ring of 60 values, NaN for a minute without the row. Kept apart from the alert state:
/// never saved in state.json, never compared, never decides a transition. A clean stop saves the rings in
/// charts.json and the next start takes them back (`recentValuesJSON`, `restoreRecentValues`); after a crash the
/// charts start from what the last clean stop saved.
struct RecentValues: Sendable {
    static let slots = 60
    static let slotSeconds = 60.0

    /// The slot (minutes since the epoch) of a report time.
    static func slot(_ t: Double) -> Int { Int((t / slotSeconds).rounded(.down)) }

    /// By slot, at `slot % slots`; empty before the first sample. Float: a sparkline needs no more precision, and
    /// the ring costs 240 bytes per instance.
    private(set) var values: [Float] = []
    /// The slot of the newest sample.
    private(set) var newest = Int.min

    private static func index(_ slot: Int) -> Int { ((slot % slots) + slots) % slots }

    init() {}

    /// A ring saved by `json`: nil unless it has `slots` values and a newest slot.
    init?(json v: JSONValue) {
        guard let newest = v["newest"]?.int64, let items = v["values"]?.array, items.count == Self.slots else { return nil }
        var values: [Float] = []
        values.reserveCapacity(Self.slots)
        for item in items {
            switch item {
            case .null: values.append(.nan)
            case .int(let i): values.append(Float(i))
            case .double(let d): values.append(Float(d))
            default: return nil
            }
        }
        self.values = values
        self.newest = Int(newest)
    }

    /// `"newest": SLOT, "values": [60 numbers or null]`, the ring as it is stored (its oldest value is not first).
    func write(into o: inout JSONObject) {
        o.append("newest", .int(Int64(newest)))
        o.append("values", .array(values.map { $0.isNaN ? .null : .double(Double($0)) }))
    }

    /// The sample of `slot`; a slot already sampled keeps its first value.
    mutating func record(slot: Int, _ v: Double) {
        guard slot > newest else { return }
        if values.isEmpty {
            values = Array(repeating: .nan, count: Self.slots)
        } else {
            // Minutes skipped since the newest sample (the row was missing, the function failed) have no value.
            var s = newest + 1
            while s < slot && s - newest <= Self.slots {
                values[Self.index(s)] = .nan
                s += 1
            }
        }
        values[Self.index(slot)] = Float(v)
        newest = slot
    }

    /// Counts `v` into `slot` (an event rule's ring): minutes skipped since the newest are 0, not missing; a slot
    /// older than the newest but still in the ring (an entry that arrived late) adds to its own minute.
    mutating func add(slot: Int, _ v: Double) {
        if values.isEmpty {
            values = Array(repeating: 0, count: Self.slots)
            newest = slot
        } else if slot > newest {
            var s = newest + 1
            while s <= slot && s - newest <= Self.slots {
                values[Self.index(s)] = 0
                s += 1
            }
            if slot - newest > Self.slots { values = Array(repeating: 0, count: Self.slots) }
            newest = slot
        } else if slot <= newest - Self.slots {
            return
        }
        values[Self.index(slot)] += Float(v)
    }

    /// A count ring's hour before `now`: every minute up to `now`'s, 0 where nothing was counted.
    func countPoints(now: Double) -> [ChartPoint] {
        guard !values.isEmpty else { return [] }
        let last = Self.slot(now)
        let first = last - Self.slots + 1
        var out: [ChartPoint] = []
        out.reserveCapacity(Self.slots)
        for s in first...last {
            let v = s <= newest && s > newest - Self.slots ? values[Self.index(s)] : 0
            out.append(ChartPoint(time: Double(s) * Self.slotSeconds, value: v.isNaN ? 0 : Double(v)))
        }
        return out
    }

    /// The samples of the hour before `now`, oldest first, each at its slot's start.
    func points(now: Double) -> [ChartPoint] {
        guard !values.isEmpty else { return [] }
        let first = max(newest - Self.slots + 1, Self.slot(now) - Self.slots + 1)
        guard first <= newest else { return [] }
        var out: [ChartPoint] = []
        out.reserveCapacity(newest - first + 1)
        for s in first...newest {
            let v = values[Self.index(s)]
            if !v.isNaN { out.append(ChartPoint(time: Double(s) * Self.slotSeconds, value: Double(v))) }
        }
        return out
    }
}

/// A rule's charted values by instance, and the slot it was last sampled in.
struct RecentRule: Sendable {
    var slot = Int.min
    var instances: [InstanceKey: RecentValues] = [:]
    /// An event rule's instances come and go within the hour its ring shows: their labels are kept with the ring.
    var labels: [InstanceKey: [String: String]] = [:]
}

/// One sample of a sparkline.
public struct ChartPoint: Sendable, Equatable {
    /// Seconds since the epoch.
    public var time: Double
    public var value: Double

    public init(time: Double, value: Double) {
        self.time = time
        self.value = value
    }
}

/// One instance's sparkline.
public struct InstanceChart: Sendable, Equatable {
    /// The row's labels (without `worker` and `function`).
    public var labels: [String: String]
    public var state: AlertState
    public var severity: Severity
    /// The last hour, oldest first.
    public var points: [ChartPoint]

    public init(labels: [String: String], state: AlertState, severity: Severity, points: [ChartPoint]) {
        self.labels = labels
        self.state = state
        self.severity = severity
        self.points = points
    }
}

/// One rule's sparklines (``Engine/recentValues(now:perRule:)``).
public struct RuleChart: Sendable, Equatable {
    public var rule: String
    public var worker: String
    public var function: String
    /// What is charted, in the rule language (`used_percent`).
    public var expression: String
    /// The constant thresholds of the charted value (`warn used_percent > 85`: 85).
    public var warn: Double?
    public var crit: Double?
    /// Firing first, then pending, then the worst latest value.
    public var instances: [InstanceChart]
    /// Instances left out (over `perRule`).
    public var omitted: Int
    /// An event rule's chart: each point is a minute's count of matching entries, every minute of the hour.
    public var counts: Bool

    public init(rule: String, worker: String, function: String, expression: String, warn: Double?, crit: Double?,
                instances: [InstanceChart], omitted: Int, counts: Bool = false) {
        self.counts = counts
        self.rule = rule
        self.worker = worker
        self.function = function
        self.expression = expression
        self.warn = warn
        self.crit = crit
        self.instances = instances
        self.omitted = omitted
    }
}

extension Engine {
    /// Samples the rule's charted value for the row `ev` holds, at the rule's first fresh evaluation in a minute.
    func recordRecent(_ ri: Int, _ key: InstanceKey, slot: Int, _ ev: inout Evaluator) {
        guard let chart = compiled[ri].chart, let v = ev.number(chart.value), v.isFinite else { return }
        recent[ri].instances[key, default: RecentValues()].record(slot: slot, v)
    }

    /// An event rule's matching entry, counted in its instance's ring at the entry's minute.
    func recordEvent(_ ri: Int, _ key: InstanceKey, labels: [String: String], at t: Double) {
        recent[ri].instances[key, default: RecentValues()].add(slot: RecentValues.slot(t), 1)
        if recent[ri].labels[key] == nil { recent[ri].labels[key] = labels }
    }

    /// Once a minute, an event rule's rings with nothing in the last hour are dropped.
    func pruneEventRecent(_ ri: Int, now: Double) {
        let slot = RecentValues.slot(now)
        guard slot > recent[ri].slot else { return }
        recent[ri].slot = slot
        for (key, ring) in recent[ri].instances where ring.newest <= slot - RecentValues.slots {
            recent[ri].instances[key] = nil
            recent[ri].labels[key] = nil
        }
    }

    /// After a sampling evaluation: the slot is done, and the rings of instances that ended are dropped.
    func finishRecent(_ ri: Int, slot: Int, instances: [InstanceKey: AlertInstance]) {
        recent[ri].slot = slot
        if recent[ri].instances.count > instances.count {
            recent[ri].instances = recent[ri].instances.filter { instances[$0.key] != nil }
        }
    }

    /// After a reload: the samples of each rule of the same name whose charted value reads the same.
    func adoptRecent(from old: Engine) {
        guard keepsRecentValues, old.keepsRecentValues else { return }
        var index: [String: Int] = [:]
        for (ri, r) in old.compiled.enumerated() where index[r.name] == nil { index[r.name] = ri }
        for (ri, r) in compiled.enumerated() {
            guard let oi = index[r.name], let text = r.chart?.text, old.compiled[oi].chart?.text == text else { continue }
            recent[ri] = old.recent[oi]
        }
    }

    /// Every ring younger than an hour, for charts.json: `{"rules": [{"rule", "chart", "instances": [{"key", "newest",
    /// "values"}]}]}`, by rule name and charted text (a ring is taken back only by a rule that charts the same).
    public func recentValuesJSON(now: Timestamp) -> JSONValue {
        let oldest = RecentValues.slot(now.seconds) - RecentValues.slots
        var rules: [JSONValue] = []
        for (ri, rule) in compiled.enumerated() {
            guard let chart = rule.chart else { continue }
            var instances: [JSONValue] = []
            for key in recent[ri].instances.keys.sorted() {
                let ring = recent[ri].instances[key]!
                guard ring.newest > oldest else { continue }
                var o = JSONObject()
                o.append("key", .string(key.text))
                if let labels = recent[ri].labels[key] {
                    var l = JSONObject()
                    for k in labels.keys.sorted() { l.append(k, .string(labels[k]!)) }
                    o.append("labels", .object(l))
                }
                ring.write(into: &o)
                instances.append(.object(o))
            }
            if instances.isEmpty { continue }
            var r = JSONObject()
            r.append("rule", .string(rule.name))
            r.append("chart", .string(chart.text))
            r.append("instances", .array(instances))
            rules.append(.object(r))
        }
        var o = JSONObject()
        o.append("version", .int(1))
        o.append("rules", .array(rules))
        return .object(o)
    }

    /// Takes back the rings of `recentValuesJSON` for the rules of the same name and charted text; a ring whose
    /// instance does not come back is dropped at the rule's next sampling evaluation. Returns how many rings.
    @discardableResult
    public func restoreRecentValues(_ v: JSONValue) -> Int {
        guard keepsRecentValues, v["version"]?.int64 == 1, let saved = v["rules"]?.array else { return 0 }
        var index: [String: Int] = [:]
        for (ri, r) in compiled.enumerated() where index[r.name] == nil { index[r.name] = ri }
        var n = 0
        for r in saved {
            guard let name = r["rule"]?.string, let ri = index[name], let text = compiled[ri].chart?.text, r["chart"]?.string == text else { continue }
            for i in r["instances"]?.array ?? [] {
                guard let key = i["key"]?.string, let ring = RecentValues(json: i) else { continue }
                recent[ri].instances[InstanceKey(key)] = ring
                if case .object(let l)? = i["labels"] {
                    var labels: [String: String] = [:]
                    for (k, v) in l { if let s = v.string { labels[k] = s } }
                    recent[ri].labels[InstanceKey(key)] = labels
                }
                n += 1
            }
        }
        return n
    }

    /// The sparklines of every rule that charts a value: per rule at most `perRule` instances, firing first, then
    /// pending, then those whose latest value is the worst (highest for `>`, lowest for `<`).
    public func recentValues(now: Timestamp, perRule: Int = 6) -> [RuleChart] {
        var out: [RuleChart] = []
        for (ri, rule) in compiled.enumerated() {
            guard let chart = rule.chart else { continue }
            func rank(_ s: AlertState) -> Int { s == .firing ? 0 : s == .pending ? 1 : 2 }
            var rows: [(key: InstanceKey, inst: AlertInstance, points: [ChartPoint])] = []
            rows.reserveCapacity(runtimes[ri].instances.count)
            if chart.counts {
                // Every ring of the hour, whether its instance is still there (pending, firing) or over.
                for (key, ring) in recent[ri].instances {
                    let points = ring.countPoints(now: now.seconds)
                    guard points.contains(where: { $0.value > 0 }) else { continue }
                    let inst = runtimes[ri].instances[key] ?? AlertInstance(labels: recent[ri].labels[key] ?? [:])
                    rows.append((key, inst, points))
                }
            } else {
                for (key, inst) in runtimes[ri].instances {
                    rows.append((key, inst, recent[ri].instances[key]?.points(now: now.seconds) ?? []))
                }
            }
            rows.sort { a, b in
                if rank(a.inst.state) != rank(b.inst.state) { return rank(a.inst.state) < rank(b.inst.state) }
                if a.inst.severity != b.inst.severity { return a.inst.severity > b.inst.severity }
                if chart.counts {
                    // The most entries in the hour first.
                    let sa = a.points.reduce(0) { $0 + $1.value }, sb = b.points.reduce(0) { $0 + $1.value }
                    if sa != sb { return sa > sb }
                } else if let high = chart.highIsBad, let va = a.points.last?.value, let vb = b.points.last?.value, va != vb {
                    return high ? va > vb : va < vb
                }
                if (a.points.last == nil) != (b.points.last == nil) { return a.points.last != nil }
                return a.key < b.key
            }
            let shown = rows.prefix(max(0, perRule)).map {
                InstanceChart(labels: $0.inst.labels, state: $0.inst.state, severity: $0.inst.severity, points: $0.points)
            }
            out.append(RuleChart(rule: rule.name, worker: rule.worker, function: rule.function, expression: chart.text,
                                 warn: chart.warn, crit: chart.crit, instances: shown, omitted: rows.count - shown.count,
                                 counts: chart.counts))
        }
        return out
    }
}
