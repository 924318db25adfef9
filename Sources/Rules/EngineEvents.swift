// Event rules in the engine: entries in (`ingest`), time passing (`advanceEvents`), one alert state machine per
// rule × captured labels, the same `step` as row rules. A storm is one instance whose count grows.
import Alerting
import Reports

/// What an event alert instance remembers of its entries: counts in time buckets (memory bounded by the window,
/// not by how many entries arrive), the episode's count and its first and latest entries.
struct EventTrack: Sendable, Equatable {
    /// Bucket starts (seconds since the epoch) and their counts, oldest first.
    var starts: [Double] = []
    var counts: [Int] = []
    /// Matching entries since the episode began (the instance was created).
    var count = 0
    var firstMessage = ""
    var firstTime: Timestamp
    var lastMessage = ""
    var lastTime: Timestamp
    /// The latest matching entry's fields, with the captures: what templates and values read between entries.
    var last: Row

    /// Buckets per window: counts are exact to 1/120 of the longest window (at least 1 s).
    static let bucketsPerWindow = 120.0

    static func width(_ spec: EventRuleSpec) -> Double { max(1, (spec.longest / bucketsPerWindow).rounded(.up)) }

    mutating func add(_ t: Double, spec: EventRuleSpec) {
        let w = EventTrack.width(spec)
        let b = (t / w).rounded(.down) * w
        if let last = starts.last, last == b {
            counts[counts.count - 1] += 1
        } else if starts.last.map({ b > $0 }) ?? true {
            starts.append(b)
            counts.append(1)
        } else if let i = starts.lastIndex(where: { $0 <= b }) {
            // An entry older than the newest bucket (journal interleaving): into its own bucket.
            if starts[i] == b { counts[i] += 1 } else { starts.insert(b, at: i + 1); counts.insert(1, at: i + 1) }
        } else {
            starts.insert(b, at: 0)
            counts.insert(1, at: 0)
        }
    }

    /// Drops buckets that ended before the longest window.
    mutating func prune(now: Double, spec: EventRuleSpec) {
        let w = EventTrack.width(spec)
        var drop = 0
        while drop < starts.count && starts[drop] + w <= now - spec.longest { drop += 1 }
        if drop > 0 {
            starts.removeFirst(drop)
            counts.removeFirst(drop)
        }
    }

    /// Entries in the `window` seconds before `now` (buckets that overlap it).
    func count(window: Double, now: Double, spec: EventRuleSpec) -> Int {
        let w = EventTrack.width(spec)
        var n = 0
        var i = starts.count - 1
        while i >= 0 && starts[i] + w > now - window {
            if starts[i] <= now { n += counts[i] }
            i -= 1
        }
        return n
    }

    /// The evaluation row: the latest entry's fields and captures, and the statistics templates name.
    func row() -> Row {
        var r = last
        r["count"] = .int(Int64(count))
        r["first_message"] = .string(firstMessage)
        r["first_time"] = .string(firstTime.rfc3339)
        r["last_message"] = .string(lastMessage)
        r["last_time"] = .string(lastTime.rfc3339)
        return r
    }
}

/// The event rules of one source, indexed so an entry is tested only against the rules it can match. A rule whose
/// filter requires a label field to equal one of some values (`unit == "nginx.service" and …`: the equalities that
/// also become the journal library's matches) is listed under that field and those values; the others are tried on
/// every entry. An entry's candidates are the unindexed rules and those listed under its own values, in rule order:
/// the same transitions, in the same order, as testing every rule.
struct EventPlan {
    /// Rules tried on every entry of the source.
    var always: [Int] = []
    /// For each of `always`: a string field and bytes it must contain for the rule's filter to hold (a conjunct
    /// `message =~ /…/` whose search requires a literal run), or nil. Tested on the entry before its filter row is
    /// made, so an entry no rule can match (most lines of a busy server) costs a few memchr and nothing else.
    var alwaysNeeds: [(field: String, bytes: [UInt8])?] = []
    /// Whether some rule of the source takes only the entries of its argument (`on file "/var/log/*.log"`).
    var argumentGlobs = false
    /// Label field → value → the rules that require it.
    var keyed: [(field: String, rules: [String: [Int]])] = []
    /// The source's fields in schema order: an entry's filter row lists them all at their compiled positions
    /// (`.null` where the entry has none, which reads as "no data" like a missing field), so every field lookup of a
    /// filter hits at its hint instead of scanning the row.
    var schema: [String] = []

    static func plans(_ compiled: [CompiledRule], _ eventRules: [Int]) -> [String: EventPlan] {
        var out: [String: EventPlan] = [:]
        for ri in eventRules {
            let spec = compiled[ri].event!
            var plan = out[spec.source] ?? EventPlan(schema: EventSources.named(spec.source)?.schema.fields.map(\.name) ?? [])
            if spec.argumentGlob != nil { plan.argumentGlobs = true }
            // The first required equality on a label field (numbers, like priority ranges, stay with the filter).
            let key = spec.journalMatches.lazy.compactMap { m -> (String, [String])? in
                guard let f = EventSources.journalFields.first(where: { $0.journal == m.field }), !f.number else { return nil }
                return (f.name, m.values)
            }.first
            if let (field, values) = key {
                let k = plan.keyed.firstIndex { $0.field == field } ?? plan.keyed.count
                if k == plan.keyed.count { plan.keyed.append((field, [:])) }
                for v in Set(values) { plan.keyed[k].rules[v, default: []].append(ri) }
            } else {
                plan.always.append(ri)
                plan.alwaysNeeds.append(compiled[ri].filter.flatMap(need))
            }
            out[spec.source] = plan
        }
        return out
    }

    /// A conjunct of `filter` that holds only when a string field contains some bytes: `field =~ /…/` (not negated)
    /// with a required literal run. A field the entry lacks, or that is not a string, fails the conjunct too.
    static func need(_ filter: CExpr) -> (field: String, bytes: [UInt8])? {
        switch filter {
        case .and(let l, let r):
            return need(l) ?? need(r)
        case .match(.field(let name, _), let p, negated: false) where p.isSearch && !p.required.isEmpty:
            return (name, p.required)
        default:
            return nil
        }
    }

    /// The rules `entry` can match, in rule order.
    func candidates(_ entry: EventEntry, into out: inout [Int]) {
        out.removeAll(keepingCapacity: true)
        // Most needs are on `message`: each field is looked up once per entry.
        var lastField = "", lastValue: String?
        for (k, ri) in always.enumerated() {
            if let need = alwaysNeeds[k] {
                if need.field != lastField {
                    lastField = need.field
                    if case .string(let v)? = entry.fields[need.field] { lastValue = v } else { lastValue = nil }
                }
                guard let v = lastValue, Pattern.containsBytes(v, need.bytes) else { continue }
            }
            out.append(ri)
        }
        var merged = false
        for (field, rules) in keyed {
            guard case .string(let v)? = entry.fields[field], let rs = rules[v] else { continue }
            out.append(contentsOf: rs)
            merged = true
        }
        if merged { out.sort() }
    }

    /// The entry's fields at their schema positions, for the filters.
    func filterRow(_ entry: EventEntry) -> Row {
        var row = Row()
        row.reserveCapacity(schema.count)
        var at = 0
        let fields = entry.fields.entries
        for name in schema {
            // Entries list their fields in schema order (EventSources.journalEntry), so the next one is usually it.
            if at < fields.count && fields[at].key == name {
                row.append(name, fields[at].value)
                at += 1
            } else {
                row.append(name, entry.fields[name] ?? .null)
            }
        }
        return row
    }
}

extension Engine {
    /// At most this many instances per event rule: captures with many values (a pid, an address) must not grow the
    /// engine without bound. Entries for further instances are counted in ``droppedEventInstances``.
    public static let maxEventInstances = 1000

    /// The event sources some rule reads (`journal`, …), in rule order.
    public var eventSources: [String] {
        var out: [String] = []
        for ri in eventRules where !out.contains(compiled[ri].event!.source) { out.append(compiled[ri].event!.source) }
        return out
    }

    /// The paths the `file` rules follow (`/var/log/app/*.log`), each with the rules that name it, in rule order.
    public var filePatterns: [(path: String, rules: [String])] {
        var out: [(path: String, rules: [String])] = []
        for ri in eventRules where compiled[ri].event!.source == "file" {
            guard let p = compiled[ri].event!.argument else { continue }
            if let i = out.firstIndex(where: { $0.path == p }) { out[i].rules.append(compiled[ri].name) } else { out.append((p, [compiled[ri].name])) }
        }
        return out
    }

    /// The journal matches of every journal rule, or nil when some rule can match any entry (no library filter).
    /// Each element is one rule's conjunction; the library ORs them (`sd_journal_add_disjunction`).
    public var journalMatches: [[(field: String, values: [String])]]? {
        var out: [[(field: String, values: [String])]] = []
        for ri in eventRules where compiled[ri].event!.source == "journal" {
            let m = compiled[ri].event!.journalMatches
            // A rule the library cannot narrow reads every entry; a contradictory one (no value left) reads none.
            if m.isEmpty { return nil }
            if m.contains(where: { $0.values.isEmpty }) { continue }
            out.append(m)
        }
        return out
    }

    /// Feeds entries (in time order) to the event rules of their source; returns the transitions, like ``evaluate(report:now:)``.
    public func ingest(_ entries: [EventEntry], now: Timestamp) -> [AlertEvent] {
        var events: [AlertEvent] = []
        updateSilences(now: now)
        for e in entries { ingest(e, now: now, into: &events) }
        return events
    }

    /// One entry: every event rule of its source whose filter it passes counts it in the instance its captures name.
    public func ingest(_ entry: EventEntry, now: Timestamp, into events: inout [AlertEvent]) {
        guard let plan = eventPlans[entry.source] else { return }
        var candidates: [Int] = []
        swap(&candidates, &eventScratch)
        defer { swap(&candidates, &eventScratch) }
        plan.candidates(entry, into: &candidates)
        guard !candidates.isEmpty else { return }
        let row = plan.filterRow(entry)
        var shared = Evaluator(row: row, lets: [], seriesCount: 0)
        for ri in candidates {
            let rule = compiled[ri]
            if plan.argumentGlobs, let g = rule.event!.argumentGlob { guard let a = entry.argument, g.matches(a) else { continue } }
            if let f = rule.filter {
                if rule.lets.isEmpty {
                    guard shared.condition(f) == true else { continue }
                } else {
                    var ev = Evaluator(row: row, lets: rule.lets, seriesCount: rule.series.count)
                    guard ev.condition(f) == true else { continue }
                }
            }
            let spec = rule.event!
            var labels: [String: String] = [:]
            for c in spec.captures {
                guard case .string(let s)? = entry.fields[c.field], let caps = c.pattern.captures(s) else { continue }
                for (k, v) in caps { labels[k] = v }
            }
            if let by = rule.identityLabels { for k in by { if case .string(let s)? = entry.fields[k] { labels[k] = s } } }
            let key = InstanceKey(Engine.instanceKey(labels))
            var rt = RuleRuntime()
            swap(&rt, &runtimes[ri])
            defer { swap(&rt, &runtimes[ri]) }
            if rt.instances[key] == nil {
                guard rt.instances.count < Engine.maxEventInstances else { droppedEventInstances += 1; continue }
                var inst = AlertInstance(labels: labels)
                inst.track = EventTrack(firstMessage: entry.message, firstTime: entry.time, lastMessage: entry.message,
                                        lastTime: entry.time, last: entry.fields)
                rt.instances[key] = inst
            }
            let idx = rt.instances.index(forKey: key)!
            var inst = rt.instances.values[idx]
            var track = inst.track ?? EventTrack(firstTime: entry.time, lastTime: entry.time, last: entry.fields)
            track.add(entry.time.seconds, spec: spec)
            track.count += 1
            if keepsRecentValues { recordEvent(ri, key, labels: labels, at: entry.time.seconds) }
            if entry.time >= track.lastTime || track.count == 1 {
                track.lastTime = entry.time
                track.lastMessage = entry.message
                var last = entry.fields
                for (k, v) in labels { last[k] = .string(v) }
                track.last = last
            }
            track.prune(now: now.seconds, spec: spec)
            inst.track = track
            eventStep(rule, &inst, now: now, sinceLast: max(0, now.seconds - track.lastTime.seconds), into: &events)
            rt.instances.values[idx] = inst
        }
    }

    /// Time passing: firing event alerts resolve once quiet for their `quiet` period (and send `repeat` reminders);
    /// instances that never fired are forgotten once their entries are out of every window.
    public func advanceEvents(now: Timestamp) -> [AlertEvent] {
        var events: [AlertEvent] = []
        updateSilences(now: now)
        for ri in eventRules {
            let rule = compiled[ri]
            let spec = rule.event!
            if keepsRecentValues { pruneEventRecent(ri, now: now.seconds) }
            guard !runtimes[ri].instances.isEmpty else { continue }
            var rt = RuleRuntime()
            swap(&rt, &runtimes[ri])
            for key in Array(rt.instances.keys) {
                var inst = rt.instances[key]!
                guard var track = inst.track else { continue }
                let quietFor = max(0, now.seconds - track.lastTime.seconds)
                track.prune(now: now.seconds, spec: spec)
                inst.track = track
                if inst.state == .firing {
                    eventStep(rule, &inst, now: now, sinceLast: quietFor, into: &events)
                    rt.instances[key] = inst.state == .firing ? inst : nil
                } else if quietFor >= max(spec.quiet, spec.longest) {
                    rt.instances[key] = nil
                } else {
                    rt.instances[key] = inst
                }
            }
            swap(&rt, &runtimes[ri])
        }
        return events
    }

    /// The row rules' state machine over the instance's track: count()/rate() and the quiet test as series values.
    func eventStep(_ rule: CompiledRule, _ inst: inout AlertInstance, now: Timestamp, sinceLast: Double, into events: inout [AlertEvent]) {
        guard let track = inst.track, let spec = rule.event else { return }
        var ev = Evaluator(row: track.row(), lets: rule.lets, seriesCount: rule.series.count)
        for (si, s) in rule.series.enumerated() {
            switch s.kind {
            case .events: ev.seriesValues[si] = .number(Double(track.count(window: s.window, now: now.seconds, spec: spec)))
            case .eventRate: ev.seriesValues[si] = .number(Double(track.count(window: s.window, now: now.seconds, spec: spec)) / s.window)
            case .sinceLast: ev.seriesValues[si] = .number(sinceLast)
            default: ev.seriesValues[si] = nil
            }
        }
        let wasFiring = inst.state == .firing
        let silenced = isSilenced(rule, inst.labels)
        step(rule, &inst, &ev, fresh: true, now: now, muted: isMuted(rule, now) || silenced, silenced: silenced, into: &events)
        if silenced && inst.state == .firing { inst.silenceHeld = true }
        // An episode that ended starts afresh with the next entry; a firing one has no pending severities to keep.
        if wasFiring && inst.state != .firing { inst.state = .inactive }
    }
}
