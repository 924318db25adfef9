// What the control socket asks of the engine: silences (add, list, expire), acknowledgements, and the status snapshot.
// Every change here is in the next state export; the daemon commits it (journal) before answering the client.
import Alerting
import Reports

/// What ``Engine/addSilence(_:now:)`` did.
public enum SilenceChange: String, Sendable, Equatable {
    /// A new silence (or one replacing an ended silence of the same id).
    case added
    /// The id was active or pending with other matchers, window or comment: it now has these.
    case updated
    /// The id already had exactly this: nothing changed (a cron job adding it again).
    case unchanged
}

/// A point-in-time view of the alert instances that are pending or firing, and of the silences: what `shd status`
/// prints. Built on the loop (``Engine/status(now:)``); ``json`` is its wire form.
public struct AlertStatus: Sendable, Equatable {
    public struct Instance: Sendable, Equatable {
        public var rule: String
        /// The instance's own labels (its row's string fields).
        public var rowLabels: [String: String]
        /// The rule's worker and function, labels of the alert too unless its row has labels of those names.
        public var worker: String
        public var function: String
        /// `pending` or `firing`.
        public var state: AlertState
        public var severity: Severity
        /// Firing: when the episode began; pending: when its condition started to hold.
        public var since: Timestamp?
        /// The rule's numeric fields and `let`s at the last evaluation that changed or fired it.
        public var values: [String: Double]
        public var summary: String
        /// Ids of the runtime silences covering it now.
        public var silencedBy: [String]
        /// A `mute` window of the rule or its file holds its notifications now.
        public var muted: Bool
        public var ack: Acknowledgement?
        /// Flapping: held firing until stable (``FlapPolicy``).
        public var flapping = false
        /// Rules whose firing alerts inhibit it now (`inhibited by`).
        public var inhibitedBy: [String] = []

        /// As events carry them (the row's labels, `worker`, `function`).
        public var labels: [String: String] {
            var l = rowLabels
            if l["worker"] == nil { l["worker"] = worker }
            if l["function"] == nil { l["function"] = function }
            return l
        }

        /// Writes the instance as `shd status` and `/api/v1/alerts` show it: rule, labels, state, severity, since,
        /// values, summary, silenced_by, muted, ack, flapping, inhibited_by.
        public func write(to j: inout JSONStream) {
            j.beginObject()
            j.key("rule"); j.string(rule)
            j.key("labels"); writeLabels(to: &j)
            j.key("state"); j.string(state.rawValue)
            j.key("severity"); j.string(severity.rawValue)
            j.key("since"); j.timestamp(since)
            j.key("values"); j.sortedObject(values)
            j.key("summary"); j.string(summary)
            j.key("silenced_by"); j.beginArray(); for s in silencedBy { j.string(s) }; j.endArray()
            j.key("muted"); j.bool(muted)
            j.key("ack"); if let ack { j.value(ack.json) } else { j.null() }
            j.key("flapping"); j.bool(flapping)
            j.key("inhibited_by"); j.beginArray(); for r in inhibitedBy { j.string(r) }; j.endArray()
            j.endObject()
        }

        /// ``labels`` in key order, without building the dictionary: the row's labels with `function` and `worker`
        /// merged in where the row has none of that name.
        func writeLabels(to j: inout JSONStream) {
            var fn: String? = rowLabels["function"] == nil ? function : nil
            var wk: String? = rowLabels["worker"] == nil ? worker : nil
            // "function" < "worker": each extra goes before the first row label that sorts after it.
            func extras(before k: String?) {
                if let f = fn, k.map({ "function" < $0 }) ?? true { j.key("function"); j.string(f); fn = nil }
                if fn == nil, let w = wk, k.map({ "worker" < $0 }) ?? true { j.key("worker"); j.string(w); wk = nil }
            }
            j.beginObject()
            if rowLabels.count == 1, let (k, v) = rowLabels.first {
                extras(before: k)
                j.key(string: k); j.string(v)
            } else if !rowLabels.isEmpty {
                for k in rowLabels.keys.sorted() {
                    extras(before: k)
                    j.key(string: k); j.string(rowLabels[k]!)
                }
            }
            extras(before: nil)
            j.endObject()
        }

        /// ``write(to:)``'s object as a value (tests, small answers).
        public var json: JSONValue {
            var j = JSONStream()
            write(to: &j)
            return (try? JSONValue.parse(bytes: j.bytes)) ?? .null  // the stream always writes one valid value
        }
    }

    /// Rule order, then label order.
    public var instances: [Instance]
    /// Active and future silences, in id order.
    public var silences: [Silence]

    public var firingCount: Int {
        var n = 0
        for i in instances.indices where instances[i].state == .firing { n += 1 }
        return n
    }

    /// `{"instances": […], "silences": […]}` (`/api/v1/alerts`).
    public func write(to j: inout JSONStream) {
        j.beginObject()
        j.key("instances")
        j.beginArray()
        for i in instances.indices { instances[i].write(to: &j) }
        j.endArray()
        j.key("silences")
        j.value(.array(silences.map(\.json)))
        j.endObject()
    }

    public var json: JSONValue {
        var j = JSONStream()
        write(to: &j)
        return (try? JSONValue.parse(bytes: j.bytes)) ?? .null
    }
}

extension Engine {
    /// How long an ended silence stays listed (``silences(now:includeEnded:)``) and in state.json.
    static let endedSilenceRetention: Double = 24 * 3600

    // MARK: silences

    /// Adds a silence, or changes the one with its id. Refused (nothing changes) when the id is malformed, there
    /// is no matcher, the window is empty or over, or it matches no rule of the configuration when it names one by
    /// `rule=` exactly. Matchers on labels are not checked against the rules: a silence may precede its alert.
    @discardableResult
    public func addSilence(_ silence: Silence, now: Timestamp) throws(ControlError) -> SilenceChange {
        guard Silence.validID(silence.id) else {
            throw ControlError("silence id '\(silence.id)' must be 1-64 letters, digits, '.', '_' or '-'")
        }
        guard !silence.matchers.isEmpty else { throw ControlError("a silence needs at least one matcher (e.g. rule=disk_space)") }
        guard silence.endsAt > silence.startsAt else { throw ControlError("the silence ends before it starts") }
        guard silence.endsAt > now else { throw ControlError("the silence ends in the past (\(silence.endsAt.rfc3339))") }
        if let m = silence.matchers.first(where: { $0.name == "rule" && !$0.isGlob }),
           !configuration.rules.contains(where: { $0.name == m.value }) {
            throw ControlError("no rule named '\(m.value)' (rule=… must name a loaded rule, or be a glob)")
        }
        var s = silence
        s.expiredBy = nil
        if let i = silences.firstIndex(where: { $0.id == s.id }) {
            let old = silences[i]
            let live = old.endsAt > now
            if live && old.sameRequest(as: s) { return .unchanged }
            silences[i] = s
            endedSilences.remove(s.id)
            return live ? .updated : .added
        }
        silences.append(s)
        silences.sort { $0.id < $1.id }
        endedSilences.remove(s.id)
        return .added
    }

    /// Ends a silence now; returns it as ended. Refused for an unknown id or one that already ended.
    @discardableResult
    public func expireSilence(id: String, by actor: Actor, now: Timestamp) throws(ControlError) -> Silence {
        guard let i = silences.firstIndex(where: { $0.id == id }) else { throw ControlError("no silence with id '\(id)'") }
        guard silences[i].endsAt > now else { throw ControlError("silence '\(id)' already ended at \(silences[i].endsAt.rfc3339)") }
        silences[i].endsAt = max(now, silences[i].startsAt)
        silences[i].expiredBy = actor
        // Expired by a person: the log has that record; no second "ended" note.
        endedSilences.insert(id)
        return silences[i]
    }

    /// Silences that are active or start later (and, with `includeEnded`, those that ended in the last 24 h), by id.
    public func silences(now: Timestamp, includeEnded: Bool = false) -> [Silence] {
        silences.filter { includeEnded || $0.endsAt > now }
    }

    /// At each evaluation: the silences active now; a note for each that ran out; ended ones past retention dropped.
    func updateSilences(now: Timestamp) {
        guard !silences.isEmpty else {
            activeSilences = []
            return
        }
        activeSilences = silences.filter { $0.isActive(at: now) }
        for s in silences where s.endsAt <= now && !endedSilences.contains(s.id) {
            endedSilences.insert(s.id)
            notes.append(EngineNote(kind: .silenceEnded, time: now, rule: nil, labels: [:], silenceID: s.id))
        }
        let before = silences.count
        silences.removeAll { now.seconds - $0.endsAt.seconds > Engine.endedSilenceRetention }
        if silences.count != before { endedSilences.formIntersection(silences.map(\.id)) }
    }

    // MARK: acknowledgements

    /// Acknowledges the firing instances of `rule` whose labels include every `labels` pair (none given: all of the
    /// rule's firing instances); returns their labels (as events carry them), in label order. Acknowledging again
    /// replaces who and why. Refused for an unknown rule, or when no firing instance matches.
    @discardableResult
    public func acknowledge(rule name: String, labels wanted: [String: String], by actor: Actor, comment: String,
                            now: Timestamp) throws(ControlError) -> [[String: String]]
    {
        let indices = compiled.indices.filter { compiled[$0].name == name }
        guard !indices.isEmpty else { throw ControlError("no rule named '\(name)'") }
        var acked: [[String: String]] = []
        for ri in indices {
            let rule = compiled[ri]
            for key in runtimes[ri].instances.keys.sorted() {
                let inst = runtimes[ri].instances[key]!
                guard inst.state == .firing else { continue }
                let labels = eventLabels(rule, inst.labels)
                guard wanted.allSatisfy({ labels[$0.key] == $0.value }) else { continue }
                runtimes[ri].instances[key]!.ack = Acknowledgement(by: actor, at: now, comment: comment)
                acked.append(labels)
            }
        }
        guard !acked.isEmpty else {
            let which = wanted.isEmpty ? "" : " with " + wanted.keys.sorted().map { "\($0)=\(wanted[$0]!)" }.joined(separator: ",")
            throw ControlError("no firing alert of rule '\(name)'\(which) to acknowledge")
        }
        return acked
    }

    // MARK: status and notes

    /// Pending and firing instances with their timers, values, silences, mutes and acknowledgements, and the
    /// silences that are active or pending.
    public func status(now: Timestamp) -> AlertStatus {
        let active = silences.filter { $0.isActive(at: now) }
        var out: [AlertStatus.Instance] = []
        out.reserveCapacity(runtimes.reduce(0) { $0 + $1.instances.count })
        var order: [Dictionary<InstanceKey, AlertInstance>.Index] = []
        for (ri, rule) in compiled.enumerated() {
            let muted = isMuted(rule, now)
            let keys = rule.inhibitors.isEmpty ? [] : inhibitingKeys(rule)
            // Each instance reached in place (inout through the dictionary's `_modify`, nothing changed): taken out of
            // the dictionary or read through its getter, it is copied whole, a dozen references retained and released
            // (a third of a 10,000-alert status). Only its own fields are read during the access; silences and
            // inhibitions (which read other rules' instances) are added after it.
            func add(_ inst: inout AlertInstance) {
                guard inst.state != .inactive else { return }
                let since = inst.state == .firing ? inst.startsAt : inst.since.compactMap { $0 }.min()
                out.append(AlertStatus.Instance(
                    rule: rule.name, rowLabels: inst.labels, worker: rule.worker, function: rule.function, state: inst.state,
                    severity: inst.severity, since: since, values: inst.values, summary: inst.summary, silencedBy: [],
                    muted: muted, ack: inst.ack, flapping: inst.flapping))
            }
            let first = out.count
            // In key order, comparing the keys alone; the order is taken first, so that no second reference to the
            // dictionary makes the in-place access copy it.
            let count = runtimes[ri].instances.count
            if count == 1 {
                add(&runtimes[ri].instances.values[runtimes[ri].instances.startIndex])
            } else if count > 1 {
                order.removeAll(keepingCapacity: true)
                do {
                    let instances = runtimes[ri].instances
                    let names = instances.keys
                    order.append(contentsOf: instances.indices)
                    order.sort { names[$0] < names[$1] }
                }
                for i in order { add(&runtimes[ri].instances.values[i]) }
            }
            if !active.isEmpty || !keys.isEmpty {
                for k in first..<out.count {
                    let labels = out[k].rowLabels
                    if !active.isEmpty {
                        out[k].silencedBy = active.filter { $0.matches(rule: rule.name, labels: eventLabels(rule, labels)) }.map(\.id)
                    }
                    if !keys.isEmpty { out[k].inhibitedBy = inhibitors(rule, labels, keys: keys) }
                }
            }
        }
        return AlertStatus(instances: out, silences: silences(now: now))
    }

    /// What the engine did on its own since the last call (silences that ran out, acknowledgements that ended with
    /// their alert), oldest first; the daemon writes them to the alert log.
    public func takeNotes() -> [EngineNote] {
        defer { notes = [] }
        return notes
    }

    // MARK: state.json

    /// The silences as state.json's engine object holds them.
    var silencesJSON: JSONValue { .array(silences.map(\.json)) }

    /// Restores state.json's silences (ended ones are not noted again).
    func importSilences(_ json: JSONValue?, now: Timestamp) throws(StateError) {
        guard let json, json != .null else { return }
        guard let list = json.array else { throw StateError("silences is not an array") }
        var out: [Silence] = []
        for (i, v) in list.enumerated() { out.append(try Silence(json: v, "silences[\(i)]")) }
        silences = out.sorted { $0.id < $1.id }
        endedSilences = Set(silences.filter { $0.endsAt <= now }.map(\.id))
    }
}
