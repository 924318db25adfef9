// The rule engine: one alert state machine per (rule, row), fed daemon reports with the time passed in.
// Over 400 lines: the evaluation hot path and the state machine it drives stay together (state.json: EngineState.swift).
import Alerting
import Reports

/// The state of one alert instance (one rule × one row), with the history its series need.
struct AlertInstance: Sendable, Equatable {
    var labels: [String: String]
    var state: AlertState = .inactive
    /// Severity while firing.
    var severity: Severity = .warn
    /// When each severity's condition started to hold (index 0 warn, 1 crit); nil when it does not hold.
    var since: [Timestamp?] = [nil, nil]
    var startsAt: Timestamp?
    /// Whether channels heard about this firing episode (a muted start is announced when the mute ends).
    var notified = false
    /// The severity channels last heard: a change while muted is announced when the mute ends.
    var notifiedSeverity: Severity = .warn
    var lastNotified: Timestamp?
    /// The channels told about this firing episode: after a reload that reroutes the rule, the channels it no
    /// longer goes to still hear the resolution.
    var channels: [String] = []
    /// An event rule's instance: its entries, counted over time.
    var track: EventTrack?
    /// Evaluations with fresh data but without this row.
    var missing = 0
    /// Firing because the row went missing (`on_missing alert`).
    var missingAlert = false
    var summary = ""
    var description: String?
    var values: [String: Double] = [:]
    var series: [SeriesBuffer] = []
    /// Severities (bit 0 warn, 1 crit) whose trigger a reload changed: their next step judges the new trigger,
    /// not the old episode's `clear` (a raised threshold ends an alert the new rule would not have fired).
    var retrigger: UInt8 = 0
    /// `shd ack`: repeats stop until the alert resolves (escalations and the resolution are still sent).
    var ack: Acknowledgement?
    /// A runtime silence held back this firing instance's notifications: when it ends with the alert still firing,
    /// channels hear it again (`repeated`, or what changed).
    var silenceHeld = false
    /// `for N of M`: the trigger's outcome in the last fresh evaluations, newest in bit 0 (index 0 warn, 1 crit).
    var hits: [UInt64] = [0, 0]
    /// Times (seconds) of this instance's starts and ends within the rule's flapping window.
    var flips: [Double] = []
    /// Flapping: held firing until its condition has not changed for the rule's `stable` time.
    var flapping = false
    /// Flapping, and the condition no longer holds: firing only because it is held.
    var flapHeld = false
    /// While flapping: when the condition last started or stopped holding (seconds).
    var lastChange: Double?
}

/// An instance key (`Engine.instanceKey`) with its hash computed once: rows' keys are built once per report and
/// looked up by every rule on the same function, so hashing the string on every lookup would dominate.
struct InstanceKey: Hashable, Comparable, Sendable {
    let text: String
    let hash: Int

    init(_ text: String) {
        self.text = text
        self.hash = text.hashValue
    }

    static func == (a: InstanceKey, b: InstanceKey) -> Bool { a.hash == b.hash && a.text == b.text }
    static func < (a: InstanceKey, b: InstanceKey) -> Bool { a.text < b.text }
    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
}

/// Per-rule runtime state.
struct RuleRuntime: Sendable, Equatable {
    /// `datetime` of the last function report evaluated: a report seen again adds no samples.
    var lastReport: Timestamp?
    var instances: [InstanceKey: AlertInstance] = [:]
    /// The rule's definition changed (reload, or a restart with other rule files): on the next fresh report, an
    /// instance whose row is there but no longer passes `where` has ended, and is resolved (`rule changed`).
    var recheck = false
}

/// Evaluates a configuration's rules against daemon reports and tracks every alert's state.
///
/// - Important: The engine never reads the clock: pass `now` to ``evaluate(report:now:)``. Rates and windows use
///   each function report's own `datetime`, so evaluating the same report twice adds no sample.
public final class Engine {
    public let configuration: Configuration
    var runtimes: [RuleRuntime]
    /// The rules as objects: the hot path passes one reference instead of copying a struct of arrays.
    let compiled: [CompiledRule]
    /// For each rule, the index of its `worker.function` among the distinct ones (``functionCount``).
    let functionSlots: [Int]
    let functionCount: Int
    /// Evaluation buffers reused from rule to rule (taken out while a rule runs).
    var letScratch: [Value??] = []
    var seriesScratch: [Value?] = []
    var passedScratch: [Int] = []
    /// The rules an entry can match (``ingest(_:now:into:)``), kept between entries.
    var eventScratch: [Int] = []
    /// ``AlertRule/seriesKeys`` of each rule, made on first use (state.json, a reload that changed the rule).
    lazy var seriesKeys: [[String]] = configuration.rules.map(\.seriesKeys)
    /// ``AlertRule/triggerKeys`` of each rule, made on first use.
    lazy var triggerKeys: [[String?]] = configuration.rules.map(\.triggerKeys)
    /// Runtime silences (control socket), active, future and recently ended (``addSilence(_:now:)``).
    public internal(set) var silences: [Silence] = []
    /// The silences active at the evaluation's `now`.
    var activeSilences: [Silence] = []
    /// Ids of silences whose end was noted (``EngineNote``).
    var endedSilences: Set<String> = []
    /// What the engine did on its own since the last ``takeNotes()``, for the alert log.
    var notes: [EngineNote] = []
    /// `set send_resolved_silenced`: whether an alert that resolves while silenced sends its resolved notice.
    let sendResolvedSilenced: Bool
    /// The event rules' indices (EngineEvents.swift).
    lazy var eventRules: [Int] = compiled.indices.filter { compiled[$0].event != nil }
    /// Which event rules an entry of each source can match (EngineEvents.swift), made on first use.
    lazy var eventPlans: [String: EventPlan] = EventPlan.plans(compiled, eventRules)
    /// Entries that matched a rule but found its instance table full (``Engine/maxEventInstances``).
    public internal(set) var droppedEventInstances = 0
    /// The order rules are evaluated in: rules that inhibit others first, so an inhibition applies in the same tick.
    let order: [Int]
    /// Each rule's charted values (RecentValues.swift): the status page's sparklines, not alert state.
    var recent: [RecentRule]
    /// Whether ``recent`` is kept: only by a daemon that serves the status page (`http_listen`).
    public let keepsRecentValues: Bool

    /// An engine with every alert inactive; restore with ``importState(_:)`` or ``adoptState(from:)``.
    /// `recentValues`: keep one value a minute per instance for the status page (``recentValues(now:perRule:)``).
    public init(configuration: Configuration, recentValues: Bool = false) {
        keepsRecentValues = recentValues
        self.configuration = configuration
        self.runtimes = Array(repeating: RuleRuntime(), count: configuration.rules.count)
        self.recent = Array(repeating: RecentRule(), count: configuration.rules.count)
        let compiled = configuration.rules.map { CompiledRule($0, in: configuration.rules) }
        self.compiled = compiled
        var slots: [String: Int] = [:]
        self.functionSlots = compiled.map { r in
            if let s = slots[r.functionKey] { return s }
            slots[r.functionKey] = slots.count
            return slots.count - 1
        }
        self.functionCount = slots.count
        var sources = Set<Int>()
        for r in compiled { for i in r.inhibitors { sources.insert(i.source) } }
        order = sources.sorted() + compiled.indices.filter { !sources.contains($0) }
        if case .bool(let b)? = configuration.settings[KnownSettings.sendResolvedSilenced.name] {
            sendResolvedSilenced = b
        } else {
            sendResolvedSilenced = KnownSettings.sendResolvedSilenced.defaultBool
        }
    }

    /// One function report of the report being evaluated, looked up once and shared by every rule on it.
    struct FunctionRows {
        let report: FunctionReport?
        /// Instance keys of the rows (rules without `by`), built on first use.
        var keys: [InstanceKey]?
        /// No two rows share a key: rules need no set to skip duplicate rows.
        var unique = true
    }

    /// A malformed state.json: the daemon moves the file aside and starts clean.
    public struct StateError: Error, Equatable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { "invalid alert state: " + message }
    }

    // MARK: evaluation

    /// Evaluates every rule against the latest report; returns the transitions channels must hear about.
    public func evaluate(report: DaemonReport, now: Timestamp) -> [AlertEvent] {
        var events: [AlertEvent] = []
        // Function reports and instance keys depend only on the report: look them up once per function, not once per rule.
        var functions = [FunctionRows?](repeating: nil, count: functionCount)
        updateSilences(now: now)
        for i in order {
            evaluate(ruleIndex: i, report: report, now: now, functions: &functions, into: &events)
        }
        return events
    }

    /// Whether a runtime silence active now covers the instance (`rule`, its labels, `worker`, `function`).
    func isSilenced(_ rule: CompiledRule, _ labels: [String: String]) -> Bool {
        guard !activeSilences.isEmpty else { return false }
        return activeSilences.contains { s in
            s.matchers.allSatisfy { m in
                switch m.name {
                case "rule": return m.matches(rule.name)
                case "worker": return m.matches(labels["worker"] ?? rule.worker)
                case "function": return m.matches(labels["function"] ?? rule.function)
                default: return m.matches(labels[m.name])
                }
            }
        }
    }

    /// For each of the rule's inhibitors, the `on` label values of the source rule's firing instances.
    func inhibitingKeys(_ rule: CompiledRule) -> [Set<[String?]>] {
        rule.inhibitors.map { inh in
            var keys = Set<[String?]>()
            let source = compiled[inh.source]
            for inst in runtimes[inh.source].instances.values where inst.state == .firing {
                keys.insert(inh.labels.map { inhibitLabel(source, inst.labels, $0) })
            }
            return keys
        }
    }

    func inhibitLabel(_ rule: CompiledRule, _ labels: [String: String], _ name: String) -> String? {
        switch name {
        case "worker": return labels["worker"] ?? rule.worker
        case "function": return labels["function"] ?? rule.function
        default: return labels[name]
        }
    }

    /// The rules whose firing instances inhibit this instance now (`keys`: ``inhibitingKeys(_:)``).
    func inhibitors(_ rule: CompiledRule, _ labels: [String: String], keys: [Set<[String?]>]) -> [String] {
        var out: [String] = []
        for (i, inh) in rule.inhibitors.enumerated() where !keys[i].isEmpty {
            let key = inh.labels.map { inhibitLabel(rule, labels, $0) }
            if !key.contains(nil) && keys[i].contains(key) { out.append(compiled[inh.source].name) }
        }
        return out
    }

    func isMuted(_ rule: CompiledRule, _ now: Timestamp) -> Bool {
        rule.mutes.contains { $0.isActive(at: now) } || configuration.mutes.contains { $0.isActive(at: now) }
    }

    /// The row's string fields: the alert instance's labels.
    static func labels(_ row: Row, only: [String]? = nil) -> [String: String] {
        var labels: [String: String] = [:]
        if let only {
            for k in only { if case .string(let s)? = row[k] { labels[k] = s } }
            return labels
        }
        for (k, v) in row { if case .string(let s) = v { labels[k] = s } }
        return labels
    }

    /// Same as `instanceKey(labels(row))`, without building the dictionary.
    static func instanceKey(row: Row) -> String {
        // Fast path: rows usually list their labels in the same (often sorted) order; sort only when they are not.
        var s = ""
        var last: String?
        for (k, v) in row {
            guard case .string(let str) = v else { continue }
            if let l = last, k < l {
                var pairs: [(String, String)] = []
                for (k2, v2) in row { if case .string(let s2) = v2 { pairs.append((k2, s2)) } }
                pairs.sort { $0.0 < $1.0 }
                s = ""
                for (k2, v2) in pairs { s += k2 + "=" + v2 + "\u{1F}" }
                return s
            }
            last = k
            s += k + "=" + str + "\u{1F}"
        }
        return s
    }

    static func instanceKey(_ labels: [String: String]) -> String {
        var s = ""
        for k in labels.keys.sorted() { s += k + "=" + labels[k]! + "\u{1F}" }
        return s
    }

    func evaluate(ruleIndex ri: Int, report: DaemonReport, now: Timestamp, functions: inout [FunctionRows?],
                  into events: inout [AlertEvent])
    {
        let rule = compiled[ri]
        // A function that failed, or a worker not running, says nothing about the rows: keep every state.
        let slot = functionSlots[ri]
        if functions[slot] == nil { functions[slot] = FunctionRows(report: report.function(worker: rule.worker, function: rule.function)) }
        guard let fr = functions[slot]!.report, fr.error == nil else { return }
        // Take the runtime out of the array (and each instance out of its dictionary) while mutating it,
        // so copy-on-write never duplicates instance tables or history buffers.
        var rt = RuleRuntime()
        swap(&rt, &runtimes[ri])
        defer { swap(&rt, &runtimes[ri]) }
        let fresh = rt.lastReport.map { fr.datetime > $0 } ?? true
        let t = fr.datetime.seconds
        let muted = isMuted(rule, now)
        let inhibitKeys = rule.inhibitors.isEmpty ? [] : inhibitingKeys(rule)
        var onlyKey: InstanceKey?
        // The rule's first fresh evaluation in a minute samples its charted value (once per minute: off the hot path).
        let minute = RecentValues.slot(t)
        let sampling = keepsRecentValues && fresh && rule.chart?.counts == false && minute > recent[ri].slot

        var rowKeys: [InstanceKey] = []
        var unique = false
        if rule.identityLabels == nil {
            if functions[slot]!.keys == nil {
                let keys = fr.data.map { InstanceKey(Engine.instanceKey(row: $0)) }
                functions[slot]!.keys = keys
                functions[slot]!.unique = keys.count < 2 || Set(keys).count == keys.count
            }
            rowKeys = functions[slot]!.keys!
            unique = functions[slot]!.unique
        }
        // Rows whose keys are known to be distinct need no set: the rows that passed are listed, and a set is built
        // from them only when some instance went unseen. Other multi-row cases skip duplicate keys with a set.
        let useSet = fr.data.count > 1 && !unique
        var seen: Set<InstanceKey> = []
        if useSet { seen.reserveCapacity(fr.data.count) }
        var passed: [Int] = []
        swap(&passed, &passedScratch)
        passed.removeAll(keepingCapacity: true)
        defer { swap(&passed, &passedScratch) }

        // One evaluator per rule, reset per row, with buffers kept from rule to rule.
        var ev = Evaluator(row: JSONObject(), lets: rule.lets, seriesCount: rule.series.count, letCache: letScratch,
                           seriesValues: seriesScratch)
        letScratch = []
        seriesScratch = []
        defer {
            letScratch = ev.letCache
            seriesScratch = ev.seriesValues
        }
        for (rowIndex, row) in fr.data.enumerated() {
            ev.reset(row: row)
            if let f = rule.filter, ev.condition(f) != true { continue }
            let key = rule.identityLabels.map { InstanceKey(Engine.instanceKey(Engine.labels(row, only: $0))) } ?? rowKeys[rowIndex]
            if fr.data.count == 1 {
                onlyKey = key
            } else if useSet {
                if !seen.insert(key).inserted { continue }
            } else {
                passed.append(rowIndex)
            }
            // Mutate the instance where it lives: one hash lookup, no removal and re-insertion.
            let idx: Dictionary<InstanceKey, AlertInstance>.Index
            if rt.instances.count == 1, rt.instances.keys.first == key {
                idx = rt.instances.startIndex
            } else if let i = rt.instances.index(forKey: key) {
                idx = i
            } else {
                rt.instances[key] = AlertInstance(labels: Engine.labels(row, only: rule.identityLabels))
                idx = rt.instances.index(forKey: key)!
            }
            let inhibited = !inhibitKeys.isEmpty && !inhibitors(rule, rt.instances.values[idx].labels, keys: inhibitKeys).isEmpty
            update(rule, &rt.instances.values[idx], &ev, fresh: fresh, t: t, now: now, muted: muted || inhibited, into: &events)
            if sampling { recordRecent(ri, key, slot: minute, &ev) }
        }

        if fresh && rt.recheck {
            rt.recheck = false
            endExcluded(rule, &rt, report: fr, passed: onlyKey.map { [$0] } ?? (useSet ? seen : Set(passed.map { rowKeys[$0] })),
                        now: now, into: &events)
        }
        let allSeen = onlyKey.map { rt.instances.count == 1 && rt.instances[$0] != nil }
            ?? ((useSet ? seen.count : passed.count) == rt.instances.count)
        if fresh && !allSeen {
            if !useSet && onlyKey == nil { seen = Set(passed.map { rowKeys[$0] }) }
            for (key, var inst) in rt.instances where !seen.contains(key) && key != onlyKey {
                inst.missing += 1
                switch rule.missing.action {
                case .keep:
                    if inst.state == .inactive { rt.instances[key] = nil } else { rt.instances[key] = inst }
                case .resolve:
                    if inst.missing >= rule.missing.after {
                        if inst.state == .firing { resolve(rule, &inst, silenced: isSilenced(rule, inst.labels), now: now, into: &events) }
                        rt.instances[key] = nil
                    } else {
                        rt.instances[key] = inst
                    }
                case .alert:
                    let silenced = isSilenced(rule, inst.labels)
                    let muted = muted || silenced
                    if inst.missing >= rule.missing.after && inst.state != .firing {
                        inst.state = .firing
                        inst.severity = .warn
                        inst.startsAt = now
                        inst.missingAlert = true
                        inst.notified = false
                        inst.summary = "\(rule.name): no data for " + labelText(inst.labels) + " in \(rule.worker).\(rule.function)"
                        notify(.firing, rule, &inst, now: now, muted: muted, into: &events)
                    } else if inst.state == .firing && !inst.notified {
                        notify(.firing, rule, &inst, now: now, muted: muted, into: &events)
                    }
                    if silenced && inst.state == .firing { inst.silenceHeld = true }
                    rt.instances[key] = inst
                }
            }
        }
        if fresh { rt.lastReport = fr.datetime }
        if sampling { finishRecent(ri, slot: minute, instances: rt.instances) }
    }

    /// Samples the rule's series for a row that is present, then steps the instance's state machine.
    func update(_ rule: CompiledRule, _ inst: inout AlertInstance, _ ev: inout Evaluator, fresh: Bool, t: Double, now: Timestamp,
                muted: Bool, into events: inout [AlertEvent])
    {
        if inst.series.count != rule.series.count { inst.series = Array(repeating: SeriesBuffer(), count: rule.series.count) }
        inst.missing = 0
        inst.missingAlert = false
        // Every series is sampled on fresh data before any condition runs, so `and`/`or` short-circuits never leave gaps.
        for (si, spec) in rule.series.enumerated() {
            if fresh, let v = ev.number(spec.input), v.isFinite { inst.series[si].push(t, v, keep: spec) }
            let limit = spec.limit.flatMap { ev.number($0) }
            ev.seriesValues[si] = inst.series[si].value(spec, limit: limit).map(Value.number)
        }
        let silenced = isSilenced(rule, inst.labels)
        step(rule, &inst, &ev, fresh: fresh, now: now, muted: muted || silenced, silenced: silenced, into: &events)
        if silenced && inst.state == .firing { inst.silenceHeld = true }
    }

    func labelText(_ labels: [String: String]) -> String {
        labels.isEmpty ? "the function" : labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ", ")
    }

    /// One state-machine step for one instance whose row is present.
    /// `muted`: a `mute` window or a runtime silence holds notifications back; `silenced`: a runtime silence does.
    func step(_ rule: CompiledRule, _ inst: inout AlertInstance, _ ev: inout Evaluator, fresh: Bool, now: Timestamp, muted: Bool,
              silenced: Bool, into events: inout [AlertEvent])
    {
        var target: Severity?
        var breached: Severity?
        for c in rule.conditions {
            let si = c.severity == .warn ? 0 : 1
            let trig = ev.condition(c.trigger)
            if c.countM > 0 {
                // `for N of M`: a sliding window of the last M fresh evaluations.
                if fresh {
                    let mask: UInt64 = c.countM >= 64 ? ~0 : (1 << UInt64(c.countM)) - 1
                    inst.hits[si] = ((inst.hits[si] << 1) | (trig == true ? 1 : 0)) & mask
                }
                let count = inst.hits[si].nonzeroBitCount
                let firingHere = inst.state == .firing && !inst.missingAlert && inst.severity >= c.severity
                let holds: Bool
                if firingHere, let clear = c.clear, inst.retrigger & (1 << si) == 0 {
                    holds = ev.condition(clear) != true
                } else {
                    holds = count >= c.countN
                }
                if holds || count > 0 {
                    if inst.since[si] == nil { inst.since[si] = now }
                    breached = c.severity
                    if holds { target = c.severity }
                } else {
                    inst.since[si] = nil
                }
                continue
            }
            if inst.since[si] != nil {
                let firingHere = inst.state == .firing && !inst.missingAlert && inst.severity >= c.severity
                let ended: Bool
                if firingHere, let clear = c.clear, inst.retrigger & (1 << si) == 0 {
                    // Hysteresis: once firing, only the clear condition ends it.
                    ended = ev.condition(clear) == true
                } else {
                    // Pending, or no clear condition: it ends when the trigger is not true (false or no data).
                    ended = trig != true
                }
                if ended { inst.since[si] = nil }
            } else if trig == true {
                inst.since[si] = now
            }
            if let s = inst.since[si] {
                breached = c.severity
                // De-escalating from crit to a warn that held all along must not resolve and re-fire:
                // an alert already firing waives the `for` of the severities at or below its own.
                let waived = inst.state == .firing && !inst.missingAlert && c.severity <= inst.severity
                if waived || now.seconds - s.seconds >= c.forSeconds { target = c.severity }
            }
        }
        inst.retrigger = 0

        let prev = inst.state
        if target != nil || prev == .firing {
            // Values as of now, for events and the firing list (not needed while all is well).
            var values: [String: Double] = [:]
            for f in rule.valueFields { if case .number(let d)? = Evaluator.fieldValue(ev.row[f]) { values[f] = d } }
            for (i, n) in rule.letNames.enumerated() { if case .number(let d)? = ev.eval(.letRef(i)), d.isFinite { values[n] = d } }
            inst.values = values
        }
        if let target {
            if inst.flapping {
                if inst.flapHeld {
                    // The condition holds again while held: a change, and no new episode.
                    inst.flapHeld = false
                    inst.lastChange = now.seconds
                    noteFlip(rule, &inst, now)
                } else if now.seconds - (inst.lastChange ?? now.seconds) >= rule.flap.stable {
                    inst.flapping = false
                    inst.flips = []
                    notes.append(EngineNote(kind: .flappingEnded, time: now, rule: rule.name, labels: eventLabels(rule, inst.labels)))
                }
            }
            inst.severity = target
            render(rule, &inst, &ev)
            if prev != .firing || inst.missingAlert {
                if !inst.missingAlert { noteFlip(rule, &inst, now) }
                inst.state = .firing
                inst.missingAlert = false
                inst.startsAt = now
                inst.notified = false
                notify(.firing, rule, &inst, now: now, muted: muted, into: &events)
            } else if !inst.notified {
                notify(.firing, rule, &inst, now: now, muted: muted, into: &events)
            } else if target != inst.notifiedSeverity {
                notify(target > inst.notifiedSeverity ? .escalated : .deescalated, rule, &inst, now: now, muted: muted, into: &events)
            } else if inst.silenceHeld && inst.ack == nil {
                // The silence ended and the alert still fires: say so once.
                notify(.repeated, rule, &inst, now: now, muted: muted, into: &events)
            } else if inst.ack == nil, let r = rule.repeatSeconds, let last = inst.lastNotified, now.seconds - last.seconds >= r {
                notify(.repeated, rule, &inst, now: now, muted: muted, into: &events)
            }
        } else {
            if prev == .firing && rule.flap.transitions > 0 && !inst.missingAlert
                && holdFlapping(rule, &inst, now: now, muted: muted, into: &events)
            {
                return
            }
            if prev == .firing {
                render(rule, &inst, &ev)
                resolve(rule, &inst, silenced: silenced, now: now, into: &events)
            }
            if let b = breached {
                inst.state = .pending
                inst.severity = b
            } else {
                inst.state = .inactive
            }
        }
    }

    /// A start or an end of the instance, counted within the rule's flapping window.
    func noteFlip(_ rule: CompiledRule, _ inst: inout AlertInstance, _ now: Timestamp) {
        guard rule.flap.transitions > 0 else { return }
        let t = now.seconds
        inst.flips.removeAll { t - $0 >= rule.flap.window }
        inst.flips.append(t)
        if inst.flips.count > rule.flap.transitions { inst.flips.removeFirst(inst.flips.count - rule.flap.transitions) }
    }

    /// A firing instance whose condition no longer holds: returns true when flapping keeps it firing. The end that
    /// makes it flapping sends one notice (`repeated`, reason `flapping`) instead of `resolved`; it is then held
    /// until the condition has not changed for `stable`, and resolves then if it still does not hold.
    func holdFlapping(_ rule: CompiledRule, _ inst: inout AlertInstance, now: Timestamp, muted: Bool, into events: inout [AlertEvent]) -> Bool {
        if !inst.flapHeld {
            noteFlip(rule, &inst, now)
            if inst.flapping {
                inst.lastChange = now.seconds
            } else if inst.flips.count >= rule.flap.transitions {
                inst.flapping = true
                inst.lastChange = now.seconds
                notes.append(EngineNote(kind: .flapping, time: now, rule: rule.name, labels: eventLabels(rule, inst.labels)))
                let before = events.count
                notify(.repeated, rule, &inst, now: now, muted: muted, into: &events)
                if events.count > before {
                    events[before].reason = "flapping"
                    events[before].summary = inst.summary + " (flapping: \(inst.flips.count) starts and ends in "
                        + formatDuration(rule.flap.window) + "; held firing until stable for " + formatDuration(rule.flap.stable) + ")"
                }
            }
            guard inst.flapping else { return false }
            inst.flapHeld = true
            return true
        }
        guard now.seconds - (inst.lastChange ?? now.seconds) >= rule.flap.stable else { return true }
        inst.flapping = false
        inst.flapHeld = false
        inst.flips = []
        notes.append(EngineNote(kind: .flappingEnded, time: now, rule: rule.name, labels: eventLabels(rule, inst.labels)))
        return false
    }

    /// The end of a firing episode: the resolved notice (when the start was sent: receivers must not keep a stale
    /// alert; unless a silence covers it and `send_resolved_silenced` is false), and the end of its acknowledgement.
    func resolve(_ rule: CompiledRule, _ inst: inout AlertInstance, silenced: Bool, now: Timestamp, into events: inout [AlertEvent]) {
        if inst.notified && (!silenced || sendResolvedSilenced) { events.append(event(.resolved, rule, inst, now: now)) }
        if inst.ack != nil { notes.append(EngineNote(kind: .ackEnded, time: now, rule: rule.name, labels: eventLabels(rule, inst.labels))) }
        inst.ack = nil
        inst.silenceHeld = false
        inst.flapping = false
        inst.flapHeld = false
        inst.startsAt = nil
        inst.notified = false
        inst.lastNotified = nil
    }

    func notify(_ kind: AlertEvent.Kind, _ rule: CompiledRule, _ inst: inout AlertInstance, now: Timestamp, muted: Bool,
                into events: inout [AlertEvent])
    {
        guard !muted else { return }
        inst.lastNotified = now
        inst.notified = true
        inst.silenceHeld = false
        inst.notifiedSeverity = inst.severity
        inst.channels = rule.channels
        events.append(event(kind, rule, inst, now: now))
    }

    func render(_ rule: CompiledRule, _ inst: inout AlertInstance, _ ev: inout Evaluator) {
        let sev = inst.severity
        let lookup: (String) -> Value? = { name in
            switch name {
            case "rule": return .string(rule.name)
            case "severity": return .string(sev.rawValue)
            // A row's own field of that name wins, as it does for the labels (system.errors' `function`
            // is the failing function, which is what shd_function_failing's summary must name).
            case "worker": return Evaluator.fieldValue(ev.row[name]) ?? .string(rule.worker)
            case "function": return Evaluator.fieldValue(ev.row[name]) ?? .string(rule.function)
            default:
                if let i = rule.letNames.firstIndex(of: name) { return ev.eval(.letRef(i)) }
                return Evaluator.fieldValue(ev.row[name])
            }
        }
        if let s = rule.summary {
            inst.summary = s.render(lookup)
        } else {
            inst.summary = "\(rule.name) is \(sev.rawValue)" + (inst.labels.isEmpty ? "" : " for " + labelText(inst.labels))
        }
        inst.description = rule.description?.render(lookup)
    }

    /// The instance's labels as events carry them: the row's, plus `worker` and `function`.
    func eventLabels(_ rule: CompiledRule, _ labels: [String: String]) -> [String: String] {
        var labels = labels
        // One allocation for the copy and the two labels added, not a copy and a resize.
        labels.reserveCapacity(labels.count + 2)
        // A row's own label wins (system.errors has a `function` label): overriding it would merge distinct alerts.
        if labels["worker"] == nil { labels["worker"] = rule.worker }
        if labels["function"] == nil { labels["function"] = rule.function }
        return labels
    }

    func event(_ kind: AlertEvent.Kind, _ rule: CompiledRule, _ inst: AlertInstance, now: Timestamp) -> AlertEvent {
        let labels = eventLabels(rule, inst.labels)
        return AlertEvent(kind: kind, rule: rule.name, severity: inst.severity, labels: labels, values: inst.values,
                          summary: inst.summary, description: inst.description, startsAt: inst.startsAt ?? now,
                          endsAt: kind == .resolved ? now : nil, channels: rule.channels)
    }

    // MARK: queries

    /// Currently firing alerts (for SIGUSR1 dumps and Alertmanager re-sends), in rule order then label order.
    public var firingAlerts: [AlertEvent] {
        var out: [AlertEvent] = []
        for (ri, rule) in compiled.enumerated() {
            for key in runtimes[ri].instances.keys.sorted() {
                let inst = runtimes[ri].instances[key]!
                if inst.state == .firing { out.append(event(.firing, rule, inst, now: inst.startsAt ?? Timestamp(microseconds: 0))) }
            }
        }
        return out
    }

    /// Firing alerts channels were told about and that no runtime silence covers (as of the last evaluation): what
    /// Alertmanager channels re-send. A silenced alert is not re-sent, so Alertmanager lets it expire.
    public var announcedFiringAlerts: [AlertEvent] {
        var out: [AlertEvent] = []
        for (ri, rule) in compiled.enumerated() {
            for key in runtimes[ri].instances.keys.sorted() {
                let inst = runtimes[ri].instances[key]!
                if inst.state == .firing && inst.notified && !isSilenced(rule, inst.labels) {
                    out.append(event(.firing, rule, inst, now: inst.startsAt ?? Timestamp(microseconds: 0)))
                }
            }
        }
        return out
    }

    /// Pending and firing instances: `(rule, labels, state, severity)`, for tests and dumps.
    public var activeStates: [(rule: String, labels: [String: String], state: AlertState, severity: Severity)] {
        var out: [(rule: String, labels: [String: String], state: AlertState, severity: Severity)] = []
        for (ri, rule) in configuration.rules.enumerated() {
            for key in runtimes[ri].instances.keys.sorted() {
                let inst = runtimes[ri].instances[key]!
                if inst.state != .inactive { out.append((rule.name, inst.labels, inst.state, inst.severity)) }
            }
        }
        return out
    }

    /// Number of alert instances held (for memory accounting).
    public var instanceCount: Int { runtimes.reduce(0) { $0 + $1.instances.count } }

    // MARK: meta-alert

    /// The daemon's own alert while the configuration on disk is broken: `shd_config_invalid`.
    /// Pass `.firing` with the time the bad version was seen, then `.resolved` with `endsAt` when a good one loads.
    public static func configInvalidEvent(kind: AlertEvent.Kind, summary: String, channels: [String], startsAt: Timestamp,
                                          endsAt: Timestamp? = nil, errors: Int? = nil) -> AlertEvent
    {
        AlertEvent(kind: kind, rule: "shd_config_invalid", severity: .warn, labels: ["worker": "shd", "function": "config"],
                   values: errors.map { ["errors": Double($0)] } ?? [:], summary: summary, startsAt: startsAt,
                   endsAt: kind == .resolved ? (endsAt ?? startsAt) : nil, channels: channels)
    }
}

/// One rule's evaluation data, held by reference.
final class CompiledRule {
    let name: String
    let worker: String
    let function: String
    let repeatSeconds: Double?
    let channels: [String]
    let missing: MissingPolicy
    let mutes: [MuteWindow]
    let filter: CExpr?
    let conditions: [CompiledCondition]
    let letNames: [String]
    let lets: [CExpr]
    let series: [SeriesSpec]
    let summary: Template?
    let description: Template?
    let valueFields: [String]
    let identityLabels: [String]?
    let event: EventRuleSpec?
    let flap: FlapPolicy
    /// `inhibited by`: the source rule's index in the configuration, and the labels matched.
    let inhibitors: [(source: Int, labels: [String])]
    /// `worker.function`, the key of the per-evaluation instance-key cache.
    let functionKey: String
    /// What the status page charts (an event rule: its matching entries a minute; nil: no numeric comparison).
    let chart: ChartSpec?

    init(_ r: AlertRule, in rules: [AlertRule]) {
        identityLabels = r.identityLabels
        event = r.event
        flap = r.flap
        inhibitors = r.inhibitors.compactMap { i in rules.firstIndex { $0.name == i.rule }.map { ($0, i.labels) } }
        functionKey = r.worker + "." + r.function
        name = r.name
        worker = r.worker
        function = r.function
        repeatSeconds = r.repeatSeconds
        channels = r.channels
        missing = r.missing
        mutes = r.mutes
        filter = r.filter
        conditions = r.conditions
        letNames = r.letNames
        lets = r.lets
        series = r.series
        summary = r.summary
        description = r.description
        valueFields = r.valueFields
        chart = r.event == nil ? ChartSpec(conditions: r.conditions, names: ExpressionNames(letNames: r.letNames, series: r.series)) : .events
    }
}
