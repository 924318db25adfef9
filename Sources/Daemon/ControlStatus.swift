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
        for i in alerts.instances.indices { alerts.instances[i].write(to: &j) }
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
        j.key("text"); j.string(utf8: text(alertsOnly: alertsOnly, color: color))
        j.endObject()
    }

    /// The text of ``ControlText/status(_:alertsOnly:color:)``, written from the instances themselves: one line per
    /// alert and per rule appended as bytes (10,000 of each in a large status).
    func text(alertsOnly: Bool, color: Bool) -> [UInt8] {
        let paint = ControlText.Paint(on: color)
        var out: [UInt8] = []
        out.reserveCapacity(4096 + 160 * (alerts.instances.count + rules.count))
        if !alertsOnly {
            out += paint.bold("shd on \(host): \(firing) firing, \(pending) pending").utf8
            if configInvalid != nil { out += paint.red(" — configuration invalid, the last good rules are in force").utf8 }
            out.append(0x0A)
            if alerts.instances.isEmpty && configInvalid == nil { out += "No alert is pending or firing.\n".utf8 }
        }
        // The labels each rule's alerts do not repeat: its worker and function, as `on` splits at its first dot.
        var ruleOn: [String: (worker: String, function: String)] = [:]
        ruleOn.reserveCapacity(rules.count + 1)
        for r in rules {
            if r.worker.utf8.contains(UInt8(ascii: ".")) {
                let on = r.worker + "." + r.function
                let dot = on.firstIndex(of: ".")!
                ruleOn[r.name] = (String(on[..<dot]), String(on[on.index(after: dot)...]))
            } else {
                ruleOn[r.name] = (r.worker, r.function)
            }
        }
        ruleOn["shd_config_invalid"] = ("shd", "config")
        // The state column: FIRING/PENDING and the severity, coloured (four spellings).
        func state(_ firing: Bool, _ crit: Bool) -> [UInt8] {
            let s = (firing ? "FIRING " : "PENDING") + " " + (crit ? "crit" : "warn")
            return Array((firing ? (crit ? paint.red(s) : paint.yellow(s)) : paint.cyan(s)).utf8)
        }
        let states = [state(false, false), state(false, true), state(true, false), state(true, true)]
        var stamp: [UInt8] = []
        stamp.reserveCapacity(40)
        var pairs: [(key: String, value: String)] = []
        for i in alerts.instances.indices {
            let a = alerts.instances[i]
            var labels = a.rowLabels.map { (key: $0.key, value: $0.value) }
            if a.rowLabels["worker"] == nil { labels.append((key: "worker", value: a.worker)) }
            if a.rowLabels["function"] == nil { labels.append((key: "function", value: a.function)) }
            line(&out, state: states[(a.state == .firing ? 2 : 0) + (a.severity == .crit ? 1 : 0)], firing: a.state == .firing,
                 rule: a.rule, labels: &labels, hiding: ruleOn[a.rule], since: a.since, values: a.values, stamp: &stamp)
            if !a.silencedBy.isEmpty {
                out += "  [silenced: ".utf8
                for (k, s) in a.silencedBy.enumerated() {
                    if k > 0 { out.append(UInt8(ascii: ",")) }
                    out += s.utf8
                }
                out.append(UInt8(ascii: "]"))
            }
            if a.muted { out += "  [muted]".utf8 }
            if let ack = a.ack { out += "  [acked by ".utf8; out += ack.by.user.utf8; out.append(UInt8(ascii: "]")) }
            if a.state == .firing && !a.summary.isEmpty { out += "  — ".utf8; out += a.summary.utf8 }
            out.append(0x0A)
        }
        if let meta = configInvalid {
            pairs = meta.labels.map { (key: $0.key, value: $0.value) }
            line(&out, state: states[2 + (meta.severity == .crit ? 1 : 0)], firing: true, rule: meta.rule, labels: &pairs,
                 hiding: ruleOn[meta.rule], since: meta.startsAt, values: meta.values, stamp: &stamp)
            if !meta.summary.isEmpty { out += "  — ".utf8; out += meta.summary.utf8 }
            out.append(0x0A)
        }
        if alertsOnly { return out }
        out += "\n".utf8
        out += paint.bold("Rules").utf8
        out += " (\(rules.count))\n".utf8
        for r in rules {
            out += "  ".utf8; out += r.name.utf8
            out += "  on ".utf8; out += r.worker.utf8; out.append(UInt8(ascii: ".")); out += r.function.utf8
            out += "  ".utf8; JSONValue.writeInt(Int64(r.instances), into: &out)
            out += (r.instances == 1 ? " instance" : " instances").utf8
            if r.firing > 0 { out += ", ".utf8; JSONValue.writeInt(Int64(r.firing), into: &out); out += " firing".utf8 }
            if r.pending > 0 { out += ", ".utf8; JSONValue.writeInt(Int64(r.pending), into: &out); out += " pending".utf8 }
            out.append(0x0A)
        }
        let small: JSONValue = .object(JSONObject([
            ("workers", workers), ("channels", channels), ("silences", .array(alerts.silences.map(\.json))),
            ("last_reload", lastReload),
        ]))
        out += ControlText.statusSections(small, now: now, paint: paint).utf8
        return out
    }

    /// One alert line up to its values: state, rule, labels (without those `hiding` names), since, values.
    private func line(_ out: inout [UInt8], state: [UInt8], firing: Bool, rule: String, labels: inout [(key: String, value: String)],
                      hiding: (worker: String, function: String)?, since: Timestamp?, values: [String: Double],
                      stamp: inout [UInt8])
    {
        out += state
        out += "  ".utf8
        out += rule.utf8
        out += "  ".utf8
        if labels.count > 1 { labels.sort { $0.key < $1.key } }
        var shown = 0
        for l in labels {
            if let h = hiding, (l.key == "worker" && l.value == h.worker) || (l.key == "function" && l.value == h.function) { continue }
            if shown > 0 { out.append(UInt8(ascii: ",")) }
            out += l.key.utf8
            out.append(UInt8(ascii: "="))
            out += l.value.utf8
            shown += 1
        }
        if shown == 0 { out.append(UInt8(ascii: "-")) }
        out += "  since ".utf8
        if let since {
            // As ControlText.when reads the RFC 3339 text: the clock is bytes 11..<19, the day 0..<10.
            stamp.removeAll(keepingCapacity: true)
            since.writeRFC3339(into: &stamp)
            let age = now.seconds - since.seconds
            if age > 86_400 { out += stamp[0..<10]; out.append(0x20) }
            out += stamp[11..<19]
            out += " (".utf8
            out += ControlText.duration(age).utf8
            out += " ago)".utf8
        } else {
            out += "never".utf8
        }
        if !values.isEmpty {
            out += "  ".utf8
            var first = true
            func value(_ k: String, _ d: Double) {
                if !first { out.append(0x20) }
                first = false
                out += k.utf8
                out.append(UInt8(ascii: "="))
                // ControlText.number of the JSON value: non-finite numbers are JSON null.
                out += (d.isFinite ? ControlText.number(.double(d)) : "null").utf8
            }
            if values.count == 1, let (k, d) = values.first {
                value(k, d)
            } else {
                for k in values.keys.sorted() { value(k, values[k]!) }
            }
        }
    }
}
