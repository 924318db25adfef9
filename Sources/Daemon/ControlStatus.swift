// What `shd status` shows, taken on the loop in one turn: written as the JSON result (`shd status --json`,
// `/api/v1/status`) or as the text `shd status` prints, rendered here so the client does not parse 3.6 MB of JSON.
import Alerting
import Reports
import Rules

/// A point-in-time view of the daemon for `status`: alert instances and silences, the meta alert of an invalid
/// configuration, the rules' instance counts, and the small parts (workers, channels, last reload) as JSON values.
struct ControlStatus {
    var host: String
    var now: Timestamp
    var pid: Int64
    var alerts: AlertStatus
    /// `shd_config_invalid`, firing while the files on disk do not check.
    var configInvalid: AlertEvent?
    var rules: [RuleStatus]
    /// Arrays of objects, as the JSON result has them (`name`, `interval`, `last_collection`, `errors`; channels').
    var workers: JSONValue
    var channels: JSONValue
    /// The event rules' sources (``Daemon/eventSourceStatuses()``), an array.
    var sources: JSONValue
    /// ``ReloadOutcome/json`` or null.
    var lastReload: JSONValue

    var firing: Int { alerts.firingCount + (configInvalid == nil ? 0 : 1) }
    var pending: Int { alerts.instances.count - alerts.firingCount }

    /// The `status` result (docs/control.md).
    func write(to j: inout JSONStream) {
        j.beginObject()
        j.key("host"); j.string(host)
        j.key("now"); j.timestamp(now)
        j.key("pid"); j.int(pid)
        j.key("firing"); j.int(Int64(firing))
        j.key("pending"); j.int(Int64(pending))
        j.key("alerts")
        j.beginArray()
        alerts.instances.withUnsafeBufferPointer { all in for i in all.indices { all[i].write(to: &j) } }
        if let meta = configInvalid {
            j.beginObject()
            j.key("rule"); j.string(meta.rule)
            j.key("labels"); j.sortedObject(meta.labels)
            j.key("state"); j.string("firing")
            j.key("severity"); j.string(meta.severity.rawValue)
            j.key("since"); j.timestamp(meta.startsAt)
            j.key("values"); j.sortedObject(meta.values)
            j.key("summary"); j.string(meta.summary)
            j.endObject()
        }
        j.endArray()
        j.key("rules")
        j.beginArray()
        for r in rules {
            j.beginObject()
            j.key("name"); j.string(r.name)
            j.key("on"); j.string(r.worker + "." + r.function)
            j.key("instances"); j.int(Int64(r.instances))
            j.key("pending"); j.int(Int64(r.pending))
            j.key("firing"); j.int(Int64(r.firing))
            j.endObject()
        }
        j.endArray()
        j.key("workers"); j.value(workers)
        j.key("channels"); j.value(channels)
        j.key("sources"); j.value(sources)
        j.key("silences"); j.value(.array(alerts.silences.map(\.json)))
        j.key("config_invalid"); j.bool(configInvalid != nil)
        j.key("last_reload"); j.value(lastReload)
        j.endObject()
    }

    /// The `status` result with `"format":"text"`: `{"firing":N,"pending":N,"text":"…"}`, the text being what
    /// ``ControlText/status(_:alertsOnly:color:)`` prints from the JSON result (the test oracle, and the client's
    /// way with a daemon that does not render).
    func writeText(to j: inout JSONStream, alertsOnly: Bool, color: Bool) {
        j.beginObject()
        j.key("firing"); j.int(Int64(firing))
        j.key("pending"); j.int(Int64(pending))
        var w = writer(color: color)
        writeText(to: &w, alertsOnly: alertsOnly)
        j.key("text")
        w.out.withBytes { j.string(utf8: $0) }
        j.endObject()
    }

    /// The answer to `"format":"raw-text"`: the line `{"ok":true,"result":{"firing":N,"pending":N,"text_bytes":L}}`, then
    /// the L bytes of the text as they are (docs/control.md): neither the daemon nor the client escapes 1.4 MB.
    func rawText(alertsOnly: Bool, color: Bool) -> [UInt8] {
        var w = writer(color: color)
        writeText(to: &w, alertsOnly: alertsOnly)
        return w.out.withBytes { text in
            var line = ControlResponse.successLine(capacity: 128 + text.count) { j in
                j.beginObject()
                j.key("firing"); j.int(Int64(firing))
                j.key("pending"); j.int(Int64(pending))
                j.key("text_bytes"); j.int(Int64(text.count))
                j.endObject()
            }
            line.append(contentsOf: text)
            return line
        }
    }

    private func writer(color: Bool) -> StatusTextWriter {
        StatusTextWriter(now: now, paint: ControlText.Paint(on: color), rules: rules,
                         capacity: 4096 + 160 * (alerts.instances.count + rules.count))
    }

    /// The text of ``ControlText/status(_:alertsOnly:color:)``, written from the instances themselves: one line per
    /// alert and per rule appended as bytes (10,000 of each in a large status), each instance read in place.
    func text(alertsOnly: Bool, color: Bool) -> [UInt8] {
        var w = writer(color: color)
        writeText(to: &w, alertsOnly: alertsOnly)
        return w.out.array()
    }

    private func writeText(to w: inout StatusTextWriter, alertsOnly: Bool) {
        let paint = w.paint
        if !alertsOnly {
            w.text(paint.bold("shd on \(host): \(firing) firing, \(pending) pending"))
            if configInvalid != nil { w.text(paint.red(" — configuration invalid, the last good rules are in force")) }
            w.out.append(0x0A)
            if alerts.instances.isEmpty && configInvalid == nil { w.put("No alert is pending or firing.\n") }
        }
        alerts.instances.withUnsafeBufferPointer { all in for i in all.indices { w.statusLine(all.baseAddress! + i) } }
        if let meta = configInvalid {
            w.labels.removeAll(keepingCapacity: true)
            for (k, v) in meta.labels { w.labels.append((key: k, value: v)) }
            w.alertLine(firing: true, crit: meta.severity == .crit, rule: meta.rule, since: meta.startsAt, values: meta.values)
            if !meta.summary.isEmpty { w.put("  — "); w.text(meta.summary) }
            w.out.append(0x0A)
        }
        if alertsOnly { return }
        w.put("\n")
        w.text(paint.bold("Rules"))
        w.put(" ("); w.out.int(Int64(rules.count)); w.put(")\n")
        for r in rules {
            w.put("  "); w.text(r.name)
            w.put("  on "); w.text(r.worker); w.out.append(UInt8(ascii: ".")); w.text(r.function)
            w.put("  "); w.out.int(Int64(r.instances))
            if r.instances == 1 { w.put(" instance") } else { w.put(" instances") }
            if r.firing > 0 { w.put(", "); w.out.int(Int64(r.firing)); w.put(" firing") }
            if r.pending > 0 { w.put(", "); w.out.int(Int64(r.pending)); w.put(" pending") }
            w.out.append(0x0A)
        }
        let small: JSONValue = .object(JSONObject([
            ("workers", workers), ("channels", channels), ("sources", sources), ("silences", .array(alerts.silences.map(\.json))),
            ("last_reload", lastReload),
        ]))
        w.text(ControlText.statusSections(small, now: now, paint: paint))
    }
}

/// The status text being written, and what every alert line needs: the state column's four spellings, each rule's
/// worker and function (labels its alerts do not repeat), scratch space for a timestamp and the labels.
struct StatusTextWriter: ~Copyable {
    var out: TextBuffer
    let now: Timestamp
    let paint: ControlText.Paint
    /// pending warn, pending crit, firing warn, firing crit.
    let states: [[UInt8]]
    let rules: [RuleStatus]
    /// Where the last alert's rule was found in ``rules``: the alerts come in rule order.
    var cursor = 0
    var stamp: [UInt8] = []
    /// The line's labels, filled by the caller.
    var labels: [(key: String, value: String)] = []

    init(now: Timestamp, paint: ControlText.Paint, rules: [RuleStatus], capacity: Int) {
        self.now = now
        self.paint = paint
        out = TextBuffer(capacity: capacity)
        stamp.reserveCapacity(40)
        labels.reserveCapacity(8)
        func state(_ firing: Bool, _ crit: Bool) -> [UInt8] {
            let s = (firing ? "FIRING " : "PENDING") + " " + (crit ? "crit" : "warn")
            return Array((firing ? (crit ? paint.red(s) : paint.yellow(s)) : paint.cyan(s)).utf8)
        }
        states = [state(false, false), state(false, true), state(true, false), state(true, true)]
        self.rules = rules
    }

    /// One alert line up to its values: state, rule, labels (without the rule's worker and function), since, values.
    /// The labels are ``labels``, or, for an alert whose row has none, `own`: its rule's worker and function.
    mutating func alertLine(firing: Bool, crit: Bool, rule: String, since: Timestamp?, values: [String: Double],
                            own: (worker: String, function: String)? = nil) {
        out.append(states[(firing ? 2 : 0) + (crit ? 1 : 0)])
        put("  ")
        text(rule)
        put("  ")
        let hiding = on(rule)
        var shown = 0
        if let own {
            // The labels `function` and `worker`, in key order, without building the list.
            if hiding?.function != own.function { label("function", own.function, &shown) }
            if hiding?.worker != own.worker { label("worker", own.worker, &shown) }
        } else {
            if labels.count > 1 { labels.sort { $0.key < $1.key } }
            for l in labels {
                if let h = hiding, (l.key == "worker" && l.value == h.worker) || (l.key == "function" && l.value == h.function) { continue }
                label(l.key, l.value, &shown)
            }
        }
        if shown == 0 { out.append(UInt8(ascii: "-")) }
        put("  since ")
        if let since {
            // As ControlText.when reads the RFC 3339 text: the clock is bytes 11..<19, the day 0..<10. Within a day
            // and in years 0000-9999 (a four-digit year), the clock is the local seconds of the day.
            let age = now.seconds - since.seconds
            let local = since.microseconds + Int64(since.utcOffsetSeconds) * 1_000_000
            let secs = local / 1_000_000 - (local % 1_000_000 < 0 ? 1 : 0)
            if age <= 86_400, secs >= 0, secs < 253_402_300_800 {
                let day = secs % 86_400
                two(day / 3600); out.append(UInt8(ascii: ":")); two(day / 60 % 60); out.append(UInt8(ascii: ":")); two(day % 60)
            } else {
                stamp.removeAll(keepingCapacity: true)
                since.writeRFC3339(into: &stamp)
                if age > 86_400 { out.append(stamp[0..<10]); out.append(0x20) }
                out.append(stamp[11..<19])
            }
            put(" (")
            out.duration(age)
            put(" ago)")
        } else {
            put("never")
        }
        if !values.isEmpty {
            put("  ")
            if values.count == 1 {
                for (k, d) in values { value(k, d) }
            } else {
                for (n, k) in values.keys.sorted().enumerated() {
                    if n > 0 { out.append(0x20) }
                    value(k, values[k]!)
                }
            }
        }
    }

    /// The rule's worker and function as ControlText reads them from `on`, split at its first dot; the meta alert's
    /// are shd and config.
    mutating func on(_ rule: String) -> (worker: String, function: String)? {
        if rule == "shd_config_invalid" { return ("shd", "config") }
        var k = cursor
        while k < rules.count, rules[k].name != rule { k += 1 }
        if k == rules.count {
            guard let found = rules.firstIndex(where: { $0.name == rule }) else { return nil }
            k = found
        }
        cursor = k
        // A worker name with a dot is rare; looked for in the bytes (the UTF-8 view's iterator costs 40 times more).
        // The rule's fields are read in place (a copy of its status retains and releases three strings).
        let dotted = rules[k].worker.utf8.withContiguousStorageIfAvailable { $0.contains(UInt8(ascii: ".")) }
            ?? rules[k].worker.utf8.contains(UInt8(ascii: "."))
        guard dotted else { return (rules[k].worker, rules[k].function) }
        let joined = rules[k].worker + "." + rules[k].function
        let dot = joined.firstIndex(of: ".")!
        return (String(joined[..<dot]), String(joined[joined.index(after: dot)...]))
    }

    mutating func two(_ v: Int64) { out.twoDigits(v) }

    /// `key=value`, after a comma unless it is the first.
    mutating func label(_ key: String, _ value: String, _ shown: inout Int) {
        if shown > 0 { out.append(UInt8(ascii: ",")) }
        text(key)
        out.append(UInt8(ascii: "="))
        text(value)
        shown += 1
    }

    @inline(__always) mutating func put(_ s: StaticString) { out.append(s) }

    /// A String's bytes (a literal goes to ``text(_:)``, a StaticString: a literal argument would otherwise be a String).
    mutating func text(_ s: String) { out.append(s) }

    /// `name=number` as ControlText.number prints the JSON value (non-finite numbers are JSON null).
    mutating func value(_ k: String, _ d: Double) {
        text(k)
        out.append(UInt8(ascii: "="))
        if d.isFinite { out.number(d) } else { put("null") }
    }
}

extension StatusTextWriter {
    /// The line of the alert `a` points to, read in place: an element taken out of the array, or even one whose
    /// method is called through a buffer's subscript, is copied (a dozen references retained and released).
    mutating func statusLine(_ a: UnsafePointer<AlertStatus.Instance>) {
        if a.pointee.rowLabels.isEmpty {
            alertLine(firing: a.pointee.state == .firing, crit: a.pointee.severity == .crit, rule: a.pointee.rule,
                      since: a.pointee.since, values: a.pointee.values, own: (a.pointee.worker, a.pointee.function))
        } else {
            labels.removeAll(keepingCapacity: true)
            for (k, v) in a.pointee.rowLabels { labels.append((key: k, value: v)) }
            if a.pointee.rowLabels["worker"] == nil { labels.append((key: "worker", value: a.pointee.worker)) }
            if a.pointee.rowLabels["function"] == nil { labels.append((key: "function", value: a.pointee.function)) }
            alertLine(firing: a.pointee.state == .firing, crit: a.pointee.severity == .crit, rule: a.pointee.rule,
                      since: a.pointee.since, values: a.pointee.values)
        }
        if !a.pointee.silencedBy.isEmpty {
            put("  [silenced: ")
            for (k, s) in a.pointee.silencedBy.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                text(s)
            }
            out.append(UInt8(ascii: "]"))
        }
        if a.pointee.muted { put("  [muted]") }
        if let ack = a.pointee.ack { put("  [acked by "); text(ack.by.user); out.append(UInt8(ascii: "]")) }
        if a.pointee.state == .firing && !a.pointee.summary.isEmpty { put("  — "); text(a.pointee.summary) }
        out.append(0x0A)
    }
}
