// What the engine can say about its rules without changing them: instance counts per rule (`shd status`) and an
// evaluation trace of one rule against a report (`shd explain`): values, conditions, timers, missing data, mutes.
import Alerting
import Reports

/// How many instances each rule holds, by state.
public struct RuleStatus: Sendable, Equatable {
    public var name: String
    public var worker: String
    public var function: String
    public var instances: Int
    public var pending: Int
    public var firing: Int
}

/// One step of an evaluation trace: a comparison or match inside a condition, with the values it saw.
public struct TraceStep: Sendable, Equatable {
    /// The sub-expression, written back in the rule language (`used_percent > 85`).
    public var text: String
    /// Its operands' values as text (`91.2`, `"ext4"`, `no data`).
    public var left: String
    public var right: String?
    /// true, false, or nil for "no data".
    public var result: Bool?
}

/// One `warn`/`crit` line of a rule evaluated for one instance.
public struct ConditionTrace: Sendable, Equatable {
    public var severity: Severity
    public var trigger: String
    public var triggerHolds: Bool?
    public var clear: String?
    /// nil when there is no clear condition, or it has no data.
    public var clearHolds: Bool?
    public var forSeconds: Double
    /// When this severity's condition started to hold (nil: it does not hold).
    public var since: Timestamp?
    /// Seconds until the `for` is over and the severity fires (0 when it is over or was waived; nil when not pending).
    public var firesIn: Double?
    public var steps: [TraceStep]
}

/// Why one instance of a rule is in its state.
public struct InstanceExplanation: Sendable, Equatable {
    public var labels: [String: String]
    public var state: AlertState
    public var severity: Severity
    public var startsAt: Timestamp?
    /// The row is in the latest report (false: the instance is held, missing-data policy applies).
    public var rowPresent: Bool
    /// Consecutive fresh evaluations without the row, and what happens after `missingAfter` of them.
    public var missingEvaluations: Int
    public var missingPolicy: MissingPolicy
    /// Every field the rule reads, with its value in the row (nil: not in the row).
    public var fields: [(name: String, value: String?)]
    public var lets: [(name: String, value: String?)]
    public var conditions: [ConditionTrace]
    public var summary: String

    public static func == (a: InstanceExplanation, b: InstanceExplanation) -> Bool {
        a.labels == b.labels && a.state == b.state && a.severity == b.severity && a.conditions == b.conditions
            && a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.value) == b.fields.map(\.value)
            && a.lets.map(\.name) == b.lets.map(\.name) && a.lets.map(\.value) == b.lets.map(\.value)
    }
}

/// `shd explain RULE`: the rule's function report and every instance that matches the labels asked for.
public struct RuleExplanation: Sendable {
    public var rule: String
    public var worker: String
    public var function: String
    /// "ok", "no report" (the worker has not reported or does not run) or the function's error.
    public var functionState: String
    public var reportTime: Timestamp?
    public var filter: String?
    public var repeatSeconds: Double?
    /// Mute windows of the rule and of the files that are active now (as written: `mute daily 02:00-03:00`).
    public var activeMutes: [String]
    public var instances: [InstanceExplanation]
    /// Instances that matched but were left out (the list is capped).
    public var omitted: Int
}

extension Engine {
    /// Instance counts of every rule, in rule order.
    public func ruleStatuses() -> [RuleStatus] {
        compiled.enumerated().map { ri, rule in
            var pending = 0, firing = 0
            // Read in place: iterating the values would copy every instance (a dozen references retained, released).
            let instances = runtimes[ri].instances.values
            for i in instances.indices {
                let state = instances[i].state
                if state == .pending { pending += 1 } else if state == .firing { firing += 1 }
            }
            return RuleStatus(name: rule.name, worker: rule.worker, function: rule.function,
                              instances: runtimes[ri].instances.count, pending: pending, firing: firing)
        }
    }

    /// ``ruleStatuses()`` with the pending and firing counts taken from `status`, this engine's ``status(now:)`` (its
    /// instances are in rule order), instead of reading every instance again (`shd status` of 10,000 alerts).
    public func ruleStatuses(counting status: AlertStatus) -> [RuleStatus] {
        var at = 0
        let list = status.instances
        return compiled.enumerated().map { ri, rule in
            var pending = 0, firing = 0
            while at < list.count, list[at].rule == rule.name {
                if list[at].state == .firing { firing += 1 } else if list[at].state == .pending { pending += 1 }
                at += 1
            }
            return RuleStatus(name: rule.name, worker: rule.worker, function: rule.function,
                              instances: runtimes[ri].instances.count, pending: pending, firing: firing)
        }
    }

    /// The rule names, in rule order (an unknown name in `explain` lists them).
    public var ruleNames: [String] { compiled.map(\.name) }

    /// Evaluates rule `name` against `report` as the next tick would, without changing any state or sample, for every
    /// instance whose labels include `labels` (rows of the report and instances held without a row). nil: no such rule.
    public func explain(rule name: String, labels: [String: String], report: DaemonReport, now: Timestamp,
                        limit: Int = 50) -> RuleExplanation?
    {
        guard let ri = compiled.firstIndex(where: { $0.name == name }) else { return nil }
        let rule = compiled[ri]
        let names = ExpressionNames(letNames: rule.letNames, series: rule.series)
        let fr = report.function(worker: rule.worker, function: rule.function)
        var mutes = rule.mutes.filter { $0.isActive(at: now) }.map { "rule: " + $0.text }
        mutes += configuration.mutes.filter { $0.isActive(at: now) }.map { "file: " + $0.text }
        var out = RuleExplanation(rule: rule.name, worker: rule.worker, function: rule.function,
                                  functionState: fr == nil ? "no report" : fr!.error.map { "error: \($0)" } ?? "ok",
                                  reportTime: fr?.datetime, filter: rule.filter.map(names.text),
                                  repeatSeconds: rule.repeatSeconds, activeMutes: mutes, instances: [], omitted: 0)
        let fields = rule.fieldsRead
        func wanted(_ l: [String: String]) -> Bool { labels.allSatisfy { l[$0.key] == $0.value } }
        var seen: Set<String> = []
        for row in fr?.data ?? [] {
            var ev = Evaluator(row: row, lets: rule.lets, seriesCount: rule.series.count)
            if let f = rule.filter, ev.condition(f) != true { continue }
            let instLabels = Engine.labels(row, only: rule.identityLabels)
            guard wanted(instLabels) else { continue }
            let key = Engine.instanceKey(instLabels)
            guard seen.insert(key).inserted else { continue }
            if out.instances.count >= limit { out.omitted += 1; continue }
            let inst = runtimes[ri].instances[InstanceKey(key)] ?? AlertInstance(labels: instLabels)
            for (si, spec) in rule.series.enumerated() where si < inst.series.count {
                ev.seriesValues[si] = inst.series[si].value(spec, limit: spec.limit.flatMap { ev.number($0) }).map(Value.number)
            }
            out.instances.append(explainInstance(rule, inst, &ev, rowPresent: true, fields: fields, names: names, now: now))
        }
        // Instances held without their row (missing-data policy `keep`, or not yet resolved).
        for (key, inst) in runtimes[ri].instances.sorted(by: { $0.key < $1.key }) where !seen.contains(key.text) && wanted(inst.labels) {
            if out.instances.count >= limit { out.omitted += 1; continue }
            var ev = Evaluator(row: JSONObject(), lets: rule.lets, seriesCount: rule.series.count)
            out.instances.append(explainInstance(rule, inst, &ev, rowPresent: false, fields: fields, names: names, now: now))
        }
        return out
    }

    func explainInstance(_ rule: CompiledRule, _ inst: AlertInstance, _ ev: inout Evaluator, rowPresent: Bool, fields: [String],
                         names: ExpressionNames, now: Timestamp) -> InstanceExplanation
    {
        let fieldValues = fields.map { (name: $0, value: Evaluator.fieldValue(ev.row[$0]).map(\.display)) }
        var lets: [(name: String, value: String?)] = []
        for (i, n) in rule.letNames.enumerated() { lets.append((n, ev.eval(.letRef(i)).map(\.display))) }
        var conditions: [ConditionTrace] = []
        for c in rule.conditions {
            let si = c.severity == .warn ? 0 : 1
            var steps: [TraceStep] = []
            ev.trace(c.trigger, names: names, into: &steps)
            if let clear = c.clear { ev.trace(clear, names: names, into: &steps) }
            let since = inst.since[si]
            var firesIn: Double?
            if let s = since {
                let waived = inst.state == .firing && !inst.missingAlert && c.severity <= inst.severity
                firesIn = waived ? 0 : max(0, c.forSeconds - (now.seconds - s.seconds))
            }
            conditions.append(ConditionTrace(severity: c.severity, trigger: names.text(c.trigger), triggerHolds: ev.condition(c.trigger),
                                             clear: c.clear.map(names.text), clearHolds: c.clear.flatMap { ev.condition($0) },
                                             forSeconds: c.forSeconds, since: since, firesIn: firesIn, steps: steps))
        }
        return InstanceExplanation(labels: inst.labels, state: inst.state, severity: inst.severity, startsAt: inst.startsAt,
                                   rowPresent: rowPresent, missingEvaluations: inst.missing, missingPolicy: rule.missing,
                                   fields: fieldValues, lets: lets, conditions: conditions, summary: inst.summary)
    }
}

extension CompiledRule {
    /// Every row field the rule's filter, conditions, `let`s and series read, in first-use order.
    var fieldsRead: [String] {
        var out: [String] = []
        func walk(_ e: CExpr) {
            switch e {
            case .constant, .letRef, .series: return
            case .field(let n, _): if !out.contains(n) { out.append(n) }
            case .neg(let x), .not(let x), .abs(let x), .match(let x, _, _): walk(x)
            case .arith(_, let l, let r), .compare(_, let l, let r), .and(let l, let r), .or(let l, let r):
                walk(l)
                walk(r)
            }
        }
        if let f = filter { walk(f) }
        for c in conditions {
            walk(c.trigger)
            if let cl = c.clear { walk(cl) }
        }
        for l in lets { walk(l) }
        for s in series {
            walk(s.input)
            if let l = s.limit { walk(l) }
        }
        return out
    }
}

/// Names a compiled expression's `let` slots and series, to write it back as rule-language text.
struct ExpressionNames {
    var letNames: [String]
    var series: [SeriesSpec]

    func text(_ e: CExpr) -> String { text(e, parent: 0) }

    /// `parent`: the binding strength of the enclosing operator (or 1, and 2, comparison 3, + - 4, * / 5).
    private func text(_ e: CExpr, parent: Int) -> String {
        func wrap(_ s: String, _ strength: Int) -> String { strength < parent ? "(" + s + ")" : s }
        switch e {
        case .constant(let v): return v.literal
        case .field(let n, _): return n
        case .letRef(let i): return i < letNames.count ? letNames[i] : "let#\(i)"
        case .series(let i):
            guard i < series.count else { return "series#\(i)" }
            let s = series[i]
            let input = text(s.input, parent: 0)
            switch s.kind {
            case .rate, .delta: return "\(s.kind.rawValue)(\(input))"
            case .timeTo:
                if case .constant(.number(0))? = s.limit { return "predict_zero(\(input), window \(formatDuration(s.window)))" }
                return "time_to(\(input), \(s.limit.map { text($0, parent: 0) } ?? "?"), window \(formatDuration(s.window)))"
            default: return "\(s.kind.rawValue)(\(input), \(formatDuration(s.window)))"
            }
        case .neg(let x): return "-" + text(x, parent: 6)
        case .abs(let x): return "abs(" + text(x, parent: 0) + ")"
        case .not(let x): return "not " + text(x, parent: 6)
        case .arith(let op, let l, let r):
            let (sym, strength) = switch op {
            case .add: ("+", 4)
            case .sub: ("-", 4)
            case .mul: ("*", 5)
            case .div: ("/", 5)
            }
            return wrap(text(l, parent: strength) + " " + sym + " " + text(r, parent: strength + 1), strength)
        case .compare(let op, let l, let r): return wrap(text(l, parent: 4) + " " + op.rawValue + " " + text(r, parent: 4), 3)
        case .and(let l, let r): return wrap(text(l, parent: 2) + " and " + text(r, parent: 2), 2)
        case .or(let l, let r): return wrap(text(l, parent: 1) + " or " + text(r, parent: 1), 1)
        case .match(let x, let p, let negated): return wrap(text(x, parent: 4) + (negated ? " !~ " : " ~ ") + Value.string(p.source).literal, 3)
        }
    }
}

extension Evaluator {
    /// The evaluation trace of `e`: every comparison and match in it, with the operands' values and its truth
    /// (`and`/`or` do not short-circuit here: the trace shows every part). Uses the `let` cache like `eval`.
    mutating func trace(_ e: CExpr, names: ExpressionNames, into steps: inout [TraceStep]) {
        switch e {
        case .compare(_, let l, let r):
            let a = eval(l), b = eval(r)
            steps.append(TraceStep(text: names.text(e), left: a?.display ?? "no data", right: b?.display ?? "no data",
                                   result: condition(e)))
        case .match(let x, _, _):
            steps.append(TraceStep(text: names.text(e), left: eval(x)?.display ?? "no data", right: nil, result: condition(e)))
        case .and(let l, let r), .or(let l, let r):
            trace(l, names: names, into: &steps)
            trace(r, names: names, into: &steps)
        case .not(let x):
            trace(x, names: names, into: &steps)
        default:
            // A bare boolean (a field or let used as a condition).
            steps.append(TraceStep(text: names.text(e), left: eval(e)?.display ?? "no data", right: nil, result: condition(e)))
        }
    }
}

extension Value {
    /// As `shd explain` shows it: numbers as the templates print them, strings quoted.
    var display: String {
        switch self {
        case .number(let d): return formatNumber(d, decimals: 3)
        case .string: return literal
        case .bool(let b): return b ? "true" : "false"
        }
    }

    /// As the rule language writes it.
    var literal: String {
        switch self {
        case .number(let d): return formatNumber(d, decimals: 6)
        case .string(let s): return "\"" + s.replacingOccurrences("\\", "\\\\").replacingOccurrences("\"", "\\\"") + "\""
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(_ a: String, _ b: String) -> String {
        guard contains(a) else { return self }
        return split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}

extension MuteWindow {
    /// As the rule language writes it.
    public var text: String {
        switch self {
        case .daily(let s, let e):
            func hm(_ m: Int) -> String {
                let h = m / 60, mm = m % 60
                return (h < 10 ? "0" : "") + String(h) + ":" + (mm < 10 ? "0" : "") + String(mm)
            }
            return "mute \"\(hm(s))-\(hm(e))\""
        case .range(let from, let until): return "mute from \"\(from.rfc3339)\" until \"\(until.rfc3339)\""
        }
    }
}
