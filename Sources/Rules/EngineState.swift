// Alert state across reloads and restarts: state.json export, and restoring saved states against changed rules.
import Alerting
import Reports

/// One rule's saved states, from the engine in force (reload) or from state.json (restart), matched to the new
/// rules by name: a rule's state belongs to its name and each instance's labels, not to the rule's text.
struct SavedRule {
    var name: String
    /// ``AlertRule/identity``: equal means the definition did not change at all.
    var identity: String
    /// What identifies its instances. nil in a state.json from before they were saved: taken as unchanged.
    var shape: Shape?
    /// ``AlertRule/seriesKeys``, in the order of each instance's `series`. nil: unknown (older state.json).
    var seriesKeys: [String]?
    /// ``AlertRule/triggerKeys``. nil: unknown (older state.json, or the rule did not change).
    var triggerKeys: [String?]?
    /// The rule's channels, for instances saved without the channels they told (older state.json).
    var channels: [String]?
    var lastReport: Timestamp?
    var instances: [AlertInstance]

    /// The function a rule reads and the labels that name its instances (`by`, nil: every string field).
    struct Shape: Equatable {
        var worker: String
        var function: String
        var by: [String]?
    }
}

extension AlertRule {
    var shape: SavedRule.Shape { SavedRule.Shape(worker: worker, function: function, by: identityLabels) }

    /// One key per history series: what it samples and computes, without its window, so a series whose window
    /// changed keeps its samples. A series reading a `let` names all of them (a let's slot says nothing alone).
    var seriesKeys: [String] { seriesTexts.map(fnv1a) }

    private var seriesTexts: [String] {
        series.map { spec in
            var key = "\(spec.kind.rawValue)(\(stableText(spec.input)))"
            if let l = spec.limit { key += " limit \(stableText(l))" }
            if key.contains("letRef") { key += " lets \(letNames) \(stableText(lets))" }
            return key
        }
    }

    /// What each severity's trigger tests (index 0 warn, 1 crit; nil: the rule has none), compared across a reload.
    var triggerKeys: [String?] {
        [Severity.warn, .crit].map { sev in
            conditions.first { $0.severity == sev }.map { c in
                let key = stableText(c.trigger)
                return fnv1a(key.contains("letRef") || key.contains("series")
                    ? key + " lets \(letNames) \(stableText(lets)) series \(seriesTexts)" : key)
            }
        }
    }
}

/// A compiled expression as text, without the schema position hints of its fields (they move when a worker gains a
/// field, which changes nothing a rule computes).
func stableText(_ value: Any) -> String {
    var text = Substring("\(value)")
    var out = ""
    while let r = text.firstRange(of: ", hint: ") {
        out += text[..<r.lowerBound]
        text = text[r.upperBound...].drop { $0 == "-" || $0.isNumber }
    }
    return out + text
}

extension Engine {
    // MARK: state across reloads

    /// After a reload: takes over the states of the old engine's rules by name, and returns the resolutions
    /// channels must hear about (instances that no longer exist, channels the rule no longer goes to). See
    /// ``restore(_:now:)``.
    public func adoptState(from old: Engine, now: Timestamp) -> [AlertEvent] {
        var identities: [String: String] = [:]
        for r in configuration.rules where identities[r.name] == nil { identities[r.name] = r.identity }
        let saved = old.configuration.rules.enumerated().map { ri, r in
            // Series and trigger keys only matter to a rule that changed (they cost a description of its expressions).
            let changed = identities[r.name].map { $0 != r.identity } == true
            return SavedRule(name: r.name, identity: r.identity, shape: r.shape, seriesKeys: changed ? old.seriesKeys[ri] : nil,
                      triggerKeys: changed ? old.triggerKeys[ri] : nil, channels: r.channels,
                      lastReport: old.runtimes[ri].lastReport,
                      instances: old.runtimes[ri].instances.keys.sorted().map { old.runtimes[ri].instances[$0]! })
        }
        silences = old.silences
        endedSilences = old.endedSilences
        notes = old.notes
        adoptRecent(from: old)
        return restore(saved, now: now)
    }

    /// Restores saved states against this engine's rules. For a rule of the same name:
    /// - unchanged: everything as it was;
    /// - changed, reading the same function with the same `by`: each instance keeps its state, timers and the
    ///   history of every series the new definition still computes; a firing instance is not announced again,
    ///   and the new conditions decide on the next evaluation (a severity whose trigger changed is judged by the new
    ///   trigger even while firing with `clear`; an unchanged trigger keeps its hysteresis);
    ///   on the next fresh report, an instance whose row no longer passes `where` is resolved (`rule changed`);
    /// - changed function or `by`: its firing instances are resolved (`rule changed`).
    ///
    /// A firing instance of a rule that is gone (removed or renamed) is resolved (`rule removed`). Every
    /// resolution goes to the channels that were told the alert fired; a firing alert whose rule now goes to other
    /// channels is resolved on those it left and announced on those it joined.
    func restore(_ saved: [SavedRule], now: Timestamp) -> [AlertEvent] {
        var events: [AlertEvent] = []
        var index: [String: Int] = [:]
        for (ri, r) in configuration.rules.enumerated() where index[r.name] == nil { index[r.name] = ri }
        for s in saved {
            guard let ri = index[s.name] else {
                for inst in s.instances { endEpisode(inst, of: s, reason: "rule removed", now: now, into: &events) }
                continue
            }
            let rule = configuration.rules[ri]
            var rt = RuleRuntime()
            rt.lastReport = s.lastReport
            if s.identity != rule.identity {
                rt.recheck = true
                if let shape = s.shape, shape != rule.shape {
                    for inst in s.instances { endEpisode(inst, of: s, reason: "rule changed", now: now, into: &events) }
                    runtimes[ri] = rt
                    continue
                }
            }
            let newKeys = s.identity != rule.identity ? seriesKeys[ri] : []
            let severities = Set(rule.conditions.map(\.severity))
            var retrigger: UInt8 = 0
            if s.identity != rule.identity, let old = s.triggerKeys, old.count == 2 {
                let new = triggerKeys[ri]
                for si in 0..<2 where old[si] != nil && new[si] != nil && old[si] != new[si] { retrigger |= 1 << si }
            }
            for var inst in s.instances {
                if s.identity != rule.identity {
                    // History the new definition computes too; the rest starts empty.
                    var series = Array(repeating: SeriesBuffer(), count: newKeys.count)
                    if let old = s.seriesKeys, old.count == inst.series.count {
                        var used = Set<Int>()
                        for (i, k) in newKeys.enumerated() {
                            if let j = old.indices.first(where: { old[$0] == k && !used.contains($0) }) {
                                used.insert(j)
                                series[i] = inst.series[j]
                            }
                        }
                    }
                    inst.series = series
                    // A severity the rule no longer has holds no timer.
                    for (si, sev) in [Severity.warn, .crit].enumerated() where !severities.contains(sev) { inst.since[si] = nil }
                    inst.retrigger |= retrigger
                }
                reroute(&inst, rule, saved: s, now: now, into: &events)
                rt.instances[InstanceKey(Engine.instanceKey(inst.labels))] = inst
            }
            runtimes[ri] = rt
        }
        return events
    }

    /// A firing instance that channels heard of, and whose rule now routes elsewhere: the channels it left hear it
    /// resolved, those it joined hear it firing (unless muted now: they hear its next transition).
    func reroute(_ inst: inout AlertInstance, _ rule: AlertRule, saved: SavedRule, now: Timestamp, into events: inout [AlertEvent]) {
        guard inst.state == .firing, inst.notified else { return }
        let told = inst.channels.isEmpty ? (saved.channels ?? rule.channels) : inst.channels
        let left = told.filter { !rule.channels.contains($0) }
        let joined = rule.channels.filter { !told.contains($0) }
        if !left.isEmpty {
            var e = savedEvent(.resolved, inst, of: saved, channels: left, now: now)
            e.reason = "rule changed"
            e.summary = inst.summary + " (resolved: rule changed)"
            events.append(e)
        }
        inst.channels = told.filter { rule.channels.contains($0) }
        guard !joined.isEmpty, let ri = configuration.rules.firstIndex(where: { $0.name == rule.name }),
              !isMuted(compiled[ri], now) else { return }
        events.append(savedEvent(.firing, inst, of: saved, channels: joined, now: now))
        inst.channels += joined
    }

    /// Ends a saved instance whose alert no longer exists: channels that heard it fire hear it resolved, and why.
    func endEpisode(_ inst: AlertInstance, of saved: SavedRule, reason: String, now: Timestamp, into events: inout [AlertEvent]) {
        guard inst.state == .firing, inst.notified else { return }
        let channels = inst.channels.isEmpty ? (saved.channels ?? configuration.defaultChannels) : inst.channels
        var e = savedEvent(.resolved, inst, of: saved, channels: channels, now: now)
        e.reason = reason
        e.summary = inst.summary + " (resolved: \(reason))"
        events.append(e)
    }

    /// The event of a saved instance, labelled as its rule labelled it (``event(_:_:_:now:)``).
    func savedEvent(_ kind: AlertEvent.Kind, _ inst: AlertInstance, of saved: SavedRule, channels: [String], now: Timestamp) -> AlertEvent {
        var labels = inst.labels
        if let shape = saved.shape ?? configuration.rules.first(where: { $0.name == saved.name })?.shape {
            if labels["worker"] == nil { labels["worker"] = shape.worker }
            if labels["function"] == nil { labels["function"] = shape.function }
        }
        return AlertEvent(kind: kind, rule: saved.name, severity: inst.severity, labels: labels, values: inst.values,
                          summary: inst.summary, description: inst.description, startsAt: inst.startsAt ?? now,
                          endsAt: kind == .resolved ? now : nil, channels: channels)
    }

    /// After a changed definition, on the first fresh report: instances whose row is in the report but did not pass
    /// `where` (their keys are not in `passed`) have ended.
    func endExcluded(_ rule: CompiledRule, _ rt: inout RuleRuntime, report: FunctionReport, passed: Set<InstanceKey>,
                     now: Timestamp, into events: inout [AlertEvent])
    {
        guard rule.filter != nil, rt.instances.count > passed.count else { return }
        let present = Set(report.data.map { row in
            InstanceKey(rule.identityLabels.map { Engine.instanceKey(Engine.labels(row, only: $0)) } ?? Engine.instanceKey(row: row))
        })
        for (key, inst) in rt.instances where !passed.contains(key) && present.contains(key) {
            if inst.state == .firing && inst.notified {
                var e = event(.resolved, rule, inst, now: now)
                if !inst.channels.isEmpty { e.channels = inst.channels }
                e.reason = "rule changed"
                e.summary = inst.summary + " (resolved: rule changed)"
                events.append(e)
            }
            rt.instances[key] = nil
        }
    }

    // MARK: state.json

    /// Every rule's instances, timers and history as JSON for STATE_DIR/state.json.
    public func exportState() -> JSONValue {
        var rules: [JSONValue] = []
        for (ri, rule) in configuration.rules.enumerated() {
            let rt = runtimes[ri]
            var o = JSONObject()
            o.append("rule", .string(rule.name))
            o.append("identity", .string(rule.identity))
            o.append("worker", .string(rule.worker))
            o.append("function", .string(rule.function))
            o.append("by", rule.identityLabels.map { .array($0.map { .string($0) }) } ?? .null)
            o.append("series_keys", .array(seriesKeys[ri].map { .string($0) }))
            o.append("trigger_keys", .array(triggerKeys[ri].map { $0.map { .string($0) } ?? .null }))
            o.append("channels", .array(rule.channels.map { .string($0) }))
            o.append("last_report", rt.lastReport.map { .int($0.microseconds) } ?? .null)
            if rt.recheck { o.append("recheck", .bool(true)) }
            var list: [JSONValue] = []
            for key in rt.instances.keys.sorted() {
                let inst = rt.instances[key]!
                var io = JSONObject()
                var l = JSONObject()
                for k in inst.labels.keys.sorted() { l.append(k, .string(inst.labels[k]!)) }
                io.append("labels", .object(l))
                io.append("state", .string(inst.state.rawValue))
                io.append("severity", .string(inst.severity.rawValue))
                io.append("since", .array(inst.since.map { $0.map { .int($0.microseconds) } ?? .null }))
                io.append("starts_at", inst.startsAt.map { .int($0.microseconds) } ?? .null)
                io.append("notified", .bool(inst.notified))
                io.append("notified_severity", .string(inst.notifiedSeverity.rawValue))
                io.append("last_notified", inst.lastNotified.map { .int($0.microseconds) } ?? .null)
                io.append("channels", .array(inst.channels.map { .string($0) }))
                if inst.retrigger != 0 { io.append("retrigger", .int(Int64(inst.retrigger))) }
                if let ack = inst.ack { io.append("ack", ack.json) }
                if inst.silenceHeld { io.append("silence_held", .bool(true)) }
                if inst.hits != [0, 0] { io.append("hits", .array(inst.hits.map { .string(String($0, radix: 16)) })) }
                if !inst.flips.isEmpty { io.append("flips", .array(inst.flips.map { .double($0) })) }
                if inst.flapping { io.append("flapping", .bool(true)) }
                if inst.flapHeld { io.append("flap_held", .bool(true)) }
                if let c = inst.lastChange { io.append("last_change", .double(c)) }
                io.append("missing", .int(Int64(inst.missing)))
                io.append("missing_alert", .bool(inst.missingAlert))
                io.append("summary", .string(inst.summary))
                io.append("description", inst.description.map { .string($0) } ?? .null)
                var v = JSONObject()
                for k in inst.values.keys.sorted() { v.append(k, .double(inst.values[k]!)) }
                io.append("values", .object(v))
                if let tr = inst.track { io.append("event", Engine.exportTrack(tr)) }
                io.append("series", .array(inst.series.map { s in
                    .array(zip(s.times, s.values).map { .array([.double($0), .double($1)]) })
                }))
                list.append(.object(io))
            }
            o.append("instances", .array(list))
            rules.append(.object(o))
        }
        var o = JSONObject()
        o.append("version", .int(1))
        o.append("rules", .array(rules))
        if !silences.isEmpty { o.append("silences", silencesJSON) }
        return .object(o)
    }

    /// Restores what ``exportState()`` wrote, against this engine's rules (which may differ: ``restore(_:now:)``),
    /// and returns the resolutions of alerts that no longer exist. A malformed state throws and changes nothing.
    public func importState(_ json: JSONValue, now: Timestamp) throws(StateError) -> [AlertEvent] {
        let saved = try Engine.savedRules(json)
        try importSilences(json["silences"], now: now)
        return restore(saved, now: now)
    }

    static func savedRules(_ json: JSONValue) throws(StateError) -> [SavedRule] {
        guard let o = json.object else { throw StateError("not a JSON object") }
        guard o["version"]?.number == 1 else { throw StateError("unknown or missing \"version\" (expected 1)") }
        guard let rules = o["rules"]?.array else { throw StateError("missing \"rules\" array") }
        func time(_ v: JSONValue?, _ what: String) throws(StateError) -> Timestamp? {
            switch v {
            case nil, .null?: return nil
            // Years 1970–9999 only: anything else is corruption, and would overflow when printed.
            case .int(let m)? where m >= 0 && m <= 253_402_300_799_999_999: return Timestamp(microseconds: m)
            default: throw StateError("\(what) is not a microsecond count")
            }
        }
        func strings(_ v: JSONValue?, _ what: String) throws(StateError) -> [String]? {
            guard let v, v != .null else { return nil }
            guard let a = v.array else { throw StateError("\(what) is not an array of strings") }
            var out: [String] = []
            for e in a {
                guard let s = e.string else { throw StateError("\(what) is not an array of strings") }
                out.append(s)
            }
            return out
        }
        var out: [SavedRule] = []
        for (n, r) in rules.enumerated() {
            guard let ro = r.object, let name = ro["rule"]?.string, let identity = ro["identity"]?.string,
                  let instances = ro["instances"]?.array
            else { throw StateError("rules[\(n)] needs \"rule\", \"identity\" and \"instances\"") }
            var s = SavedRule(name: name, identity: identity, lastReport: try time(ro["last_report"], "rules[\(n)].last_report"),
                              instances: [])
            if let worker = ro["worker"]?.string, let function = ro["function"]?.string {
                s.shape = SavedRule.Shape(worker: worker, function: function, by: try strings(ro["by"], "rules[\(n)].by"))
            }
            s.seriesKeys = try strings(ro["series_keys"], "rules[\(n)].series_keys")
            s.channels = try strings(ro["channels"], "rules[\(n)].channels")
            if let keys = ro["trigger_keys"]?.array {
                guard keys.count == 2, keys.allSatisfy({ $0 == .null || $0.string != nil }) else {
                    throw StateError("rules[\(n)].trigger_keys is not [warn, crit] strings or nulls")
                }
                s.triggerKeys = keys.map(\.string)
            }
            for (k, iv) in instances.enumerated() {
                let at = "rules[\(n)].instances[\(k)]"
                guard let io = iv.object, let lo = io["labels"]?.object,
                      let state = io["state"]?.string.flatMap(AlertState.init(rawValue:)),
                      let sev = io["severity"]?.string.flatMap(Severity.init(rawValue:)),
                      let since = io["since"]?.array, since.count == 2
                else { throw StateError("\(at) needs labels, state, severity and since[2]") }
                var labels: [String: String] = [:]
                for (lk, lv) in lo {
                    guard let s = lv.string else { throw StateError("\(at).labels.\(lk) is not a string") }
                    labels[lk] = s
                }
                var inst = AlertInstance(labels: labels)
                inst.state = state
                inst.severity = sev
                inst.since = [try time(since[0], "\(at).since[0]"), try time(since[1], "\(at).since[1]")]
                inst.startsAt = try time(io["starts_at"], "\(at).starts_at")
                inst.notified = io["notified"]?.bool ?? false
                inst.notifiedSeverity = io["notified_severity"]?.string.flatMap(Severity.init(rawValue:)) ?? sev
                inst.lastNotified = try time(io["last_notified"], "\(at).last_notified")
                inst.channels = try strings(io["channels"], "\(at).channels") ?? []
                let retrigger = io["retrigger"]?.number ?? 0
                guard retrigger >= 0, retrigger <= 3, retrigger == retrigger.rounded() else { throw StateError("\(at).retrigger is not 0-3") }
                inst.retrigger = UInt8(retrigger)
                let missing = io["missing"]?.number ?? 0
                guard missing >= 0, missing <= 1e9 else { throw StateError("\(at).missing is out of range") }
                inst.missing = Int(missing)
                inst.missingAlert = io["missing_alert"]?.bool ?? false
                inst.ack = try io["ack"].flatMap { j throws(StateError) in j == .null ? nil : try Acknowledgement(json: j, "\(at).ack") }
                inst.silenceHeld = io["silence_held"]?.bool ?? false
                if let hits = io["hits"]?.array {
                    let parsed = hits.compactMap { $0.string.flatMap { UInt64($0, radix: 16) } }
                    guard parsed.count == 2, hits.count == 2 else { throw StateError("\(at).hits is not [warn, crit] hex strings") }
                    inst.hits = parsed
                }
                if let flips = io["flips"]?.array {
                    let parsed = flips.compactMap(\.number)
                    guard parsed.count == flips.count, parsed.count <= 1000, parsed.allSatisfy({ $0.isFinite }) else {
                        throw StateError("\(at).flips is not a list of times")
                    }
                    inst.flips = parsed
                }
                inst.flapping = io["flapping"]?.bool ?? false
                inst.flapHeld = inst.flapping && io["flap_held"]?.bool == true
                inst.lastChange = io["last_change"]?.number.flatMap { $0.isFinite ? $0 : nil }
                inst.summary = io["summary"]?.string ?? ""
                inst.description = io["description"]?.string
                for (vk, vv) in io["values"]?.object ?? JSONObject() { if let d = vv.number { inst.values[vk] = d } }
                if let ev = io["event"], ev != .null { inst.track = try Engine.importTrack(ev, at: at) }
                let series = io["series"]?.array ?? []
                if let keys = s.seriesKeys, !series.isEmpty, series.count != keys.count {
                    throw StateError("\(at).series has \(series.count) entries, the rule had \(keys.count)")
                }
                for (si, sv) in series.enumerated() {
                    guard let samples = sv.array else { throw StateError("\(at).series[\(si)] is not an array") }
                    var buffer = SeriesBuffer()
                    for sample in samples {
                        guard let pair = sample.array, pair.count == 2, let t = pair[0].number, let v = pair[1].number,
                              t.isFinite, v.isFinite, t >= 0, t <= 253_402_300_799,
                              buffer.times.last.map({ t > $0 }) ?? true
                        else {
                            throw StateError("\(at).series[\(si)] holds a sample that is not [time, value] in time order")
                        }
                        buffer.times.append(t)
                        buffer.values.append(v)
                    }
                    inst.series.append(buffer)
                }
                s.instances.append(inst)
            }
            if ro["recheck"]?.bool == true { s.identity = "" }
            out.append(s)
        }
        return out
    }

    /// An event instance's track in state.json: buckets as [start, count] pairs, the episode's count and entries.
    static func exportTrack(_ tr: EventTrack) -> JSONValue {
        var o = JSONObject()
        o.append("buckets", .array(zip(tr.starts, tr.counts).map { .array([.double($0), .int(Int64($1))]) }))
        o.append("count", .int(Int64(tr.count)))
        o.append("first_message", .string(tr.firstMessage))
        o.append("first_time", .int(tr.firstTime.microseconds))
        o.append("last_message", .string(tr.lastMessage))
        o.append("last_time", .int(tr.lastTime.microseconds))
        o.append("last", .object(tr.last))
        return .object(o)
    }

    static func importTrack(_ v: JSONValue, at: String) throws(StateError) -> EventTrack {
        guard let o = v.object, let first = o["first_time"]?.number, let last = o["last_time"]?.number, let row = o["last"]?.object,
              let count = o["count"]?.number, count >= 0, count <= 1e15, first >= 0, last >= 0, first <= 2.534e17,
              last <= 2.534e17
        else { throw StateError("\(at).event needs count, first_time, last_time and last") }
        var tr = EventTrack(count: Int(count), firstMessage: o["first_message"]?.string ?? "", firstTime: Timestamp(microseconds: Int64(first)),
                            lastMessage: o["last_message"]?.string ?? "", lastTime: Timestamp(microseconds: Int64(last)), last: row)
        for b in o["buckets"]?.array ?? [] {
            guard let pair = b.array, pair.count == 2, let t = pair[0].number, let n = pair[1].number, t.isFinite, t >= 0,
                  t <= 253_402_300_799, n >= 0, n <= 1e15, tr.starts.last.map({ t > $0 }) ?? true
            else { throw StateError("\(at).event.buckets holds a bucket that is not [start, count] in time order") }
            tr.starts.append(t)
            tr.counts.append(Int(n))
        }
        return tr
    }
}
