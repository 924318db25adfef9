// The control commands' answers as text for people (`--json` prints the answers themselves). The daemon renders
// `status` itself (ControlStatus.swift) with the sections it shares from here; ``ControlText/status(_:alertsOnly:color:)``
// renders the JSON result, for a daemon that does not, and is the daemon's oracle in the tests.
import Reports
import Rules

public enum ControlText {
    struct Paint {
        let on: Bool
        func red(_ s: String) -> String { on ? "\u{1B}[31m" + s + "\u{1B}[0m" : s }
        func yellow(_ s: String) -> String { on ? "\u{1B}[33m" + s + "\u{1B}[0m" : s }
        func cyan(_ s: String) -> String { on ? "\u{1B}[36m" + s + "\u{1B}[0m" : s }
        func green(_ s: String) -> String { on ? "\u{1B}[32m" + s + "\u{1B}[0m" : s }
        func bold(_ s: String) -> String { on ? "\u{1B}[1m" + s + "\u{1B}[0m" : s }
    }

    /// `00:12:05 (23m ago)` from an RFC 3339 time, relative to `now`.
    public static func when(_ v: JSONValue?, now: Timestamp) -> String {
        guard let s = v?.string, let t = Timestamp(rfc3339: s) else { return "never" }
        // RFC 3339 is ASCII: the clock is bytes 11..<19, the day 0..<10.
        let b = Array(s.utf8)
        let clock = b.count >= 19 ? String(decoding: b[11..<19], as: UTF8.self) : s
        let age = now.seconds - t.seconds
        let day = age > 86_400 ? String(decoding: b[0..<10], as: UTF8.self) + " " : ""
        return day + clock + " (" + duration(age) + " ago)"
    }

    /// `250ms`, `45s`, `3h1m`, `2d7h` (TextBuffer.duration, which the status text writes directly).
    public static func duration(_ seconds: Double) -> String {
        var b = TextBuffer(capacity: 16)
        b.duration(seconds)
        return b.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// `a=1,b=2` from an object of labels or an array of `name=value` matchers; `-` for none. `hiding` leaves out
    /// labels with those values (an alert's own worker and function, which its rule already says).
    public static func labels(_ v: JSONValue?, hiding: [String: String] = [:]) -> String {
        if let a = v?.array { return a.isEmpty ? "-" : a.compactMap(\.string).joined(separator: ",") }
        guard let o = v?.object else { return "-" }
        let shown = o.filter { hiding[$0.key] == nil || hiding[$0.key] != $0.value.string }
        return shown.isEmpty ? "-" : shown.map { "\($0.key)=\($0.value.string ?? $0.value.encoded())" }.joined(separator: ",")
    }

    public static func number(_ v: JSONValue) -> String {
        guard let d = v.number else { return v.string ?? v.encoded() }
        var b = TextBuffer(capacity: 32)
        b.number(d)
        return b.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// nil for a missing key or JSON null.
    public static func present(_ v: JSONValue?) -> JSONValue? {
        guard let v, v != .null else { return nil }
        return v
    }

    static func now(_ result: JSONValue) -> Timestamp {
        result["now"]?.string.flatMap { Timestamp(rfc3339: $0) } ?? .now()
    }

    // MARK: status

    public static func status(_ r: JSONValue, alertsOnly: Bool, color: Bool) -> String {
        let paint = Paint(on: color)
        let now = now(r)
        var out = ""
        let alerts = r["alerts"]?.array ?? []
        if !alertsOnly {
            let firing = Int(r["firing"]?.number ?? 0), pending = Int(r["pending"]?.number ?? 0)
            let head = "shd on \(r["host"]?.string ?? "?"): \(firing) firing, \(pending) pending"
            out += paint.bold(head) + (r["config_invalid"]?.bool == true ? paint.red(" — configuration invalid, the last good rules are in force") : "") + "\n"
        }
        if alerts.isEmpty && !alertsOnly { out += "No alert is pending or firing.\n" }
        var ruleOn: [String: [String: String]] = [:]
        for rule in r["rules"]?.array ?? [] {
            guard let name = rule["name"]?.string, let on = rule["on"]?.string, let dot = on.firstIndex(of: ".") else { continue }
            ruleOn[name] = ["worker": String(on[..<dot]), "function": String(on[on.index(after: dot)...])]
        }
        ruleOn["shd_config_invalid"] = ["worker": "shd", "function": "config"]
        for a in alerts {
            // One pass over the alert's members (a status of 10,000 alerts is read here, not looked up key by key).
            var firing = false, sev = "?", rule = "?", summary = "", muted = false
            var labelsValue: JSONValue?, since: JSONValue?, values: JSONObject?, silencedBy: [JSONValue] = [], ack: JSONValue?
            for (k, v) in a.object ?? JSONObject() {
                switch k {
                case "state": firing = v.string == "firing"
                case "severity": sev = v.string ?? "?"
                case "rule": rule = v.string ?? "?"
                case "labels": labelsValue = v
                case "since": since = v
                case "values": values = v.object
                case "silenced_by": silencedBy = v.array ?? []
                case "muted": muted = v.bool == true
                case "ack": ack = present(v)
                case "summary": summary = v.string ?? ""
                default: break
                }
            }
            var state = (firing ? "FIRING " : "PENDING") + " " + (sev == "crit" ? "crit" : "warn")
            state = firing ? (sev == "crit" ? paint.red(state) : paint.yellow(state)) : paint.cyan(state)
            var line = state + "  " + rule + "  " + labels(labelsValue, hiding: ruleOn[rule] ?? [:]) + "  since " + when(since, now: now)
            if let values, !values.isEmpty {
                line += "  " + values.map { "\($0.key)=\(number($0.value))" }.joined(separator: " ")
            }
            if !silencedBy.isEmpty { line += "  [silenced: " + silencedBy.compactMap(\.string).joined(separator: ",") + "]" }
            if muted { line += "  [muted]" }
            if let ack { line += "  [acked by " + (ack["by"]?["user"]?.string ?? "?") + "]" }
            if firing && !summary.isEmpty { line += "  — " + summary }
            out += line
            out += "\n"
        }
        if alertsOnly { return out }
        let rules = r["rules"]?.array ?? []
        out += "\n" + paint.bold("Rules") + " (\(rules.count))\n"
        for rule in rules {
            let inst = Int(rule["instances"]?.number ?? 0), f = Int(rule["firing"]?.number ?? 0), p = Int(rule["pending"]?.number ?? 0)
            out += "  \(rule["name"]?.string ?? "?")  on \(rule["on"]?.string ?? "?")  \(inst) instance\(inst == 1 ? "" : "s")"
                + (f > 0 ? ", \(f) firing" : "") + (p > 0 ? ", \(p) pending" : "") + "\n"
        }
        return out + statusSections(r, now: now, paint: paint)
    }

    /// The status after its rules: workers, channels, silences and the last reload, from those members of `r`.
    static func statusSections(_ r: JSONValue, now: Timestamp, paint: Paint) -> String {
        var out = "\n" + paint.bold("Workers") + "\n"
        for w in r["workers"]?.array ?? [] {
            var line = "  \(w["name"]?.string ?? "?")  every \(duration(w["interval"]?.number ?? 0)), last collection "
                + when(w["last_collection"], now: now)
            if let errors = w["errors"]?.object, !errors.isEmpty {
                line += "  " + paint.red("errors: " + errors.map { "\($0.key): \($0.value.string ?? "")" }.joined(separator: "; "))
            }
            out += line + "\n"
        }
        out += "\n" + paint.bold("Channels") + "\n"
        for c in r["channels"]?.array ?? [] {
            var line = "  \(c["name"]?.string ?? "?")  \(c["kind"]?.string ?? "(no longer configured)")  queued \(Int(c["queued"]?.number ?? 0))"
                + "  last delivery " + when(c["last_delivery"], now: now)
            if c["failing"]?.bool == true {
                line += "  " + paint.red("FAILING (\(Int(c["failures"]?.number ?? 0)) attempts): \(c["last_error"]?.string ?? "?")")
            }
            out += line + "\n"
        }
        if let sources = r["sources"]?.array, !sources.isEmpty {
            out += "\n" + paint.bold("Event sources") + "\n"
            for s in sourceLines(sources) {
                out += "  " + s.source + (s.reading.isEmpty ? "" : "  " + s.reading) + (s.problem.map { "  " + paint.red($0) } ?? "") + "\n"
            }
        }
        out += "\n" + paint.bold("Silences") + "\n" + silences(r["silences"], indent: "  ", now: now)
        if let reload = r["last_reload"], reload != .null {
            out += "\nLast reload " + when(reload["at"], now: now) + ": " + (reload["message"]?.string ?? "") + "\n"
        }
        return out
    }

    /// The event sources of a status (`sources`, docs/control.md) for people: what is read (`journal`,
    /// `file /var/log/app/*.log  (rule app_errors)`), how far (`1234 entries read`, each file and the byte read to) and
    /// the problem, if any. The status text and the status page both show these.
    static func sourceLines(_ sources: [JSONValue]) -> [(source: String, reading: String, problem: String?)] {
        sources.map { s in
            let kind = s["source"]?.string ?? "?"
            var source = kind, reading = ""
            if kind == "file" {
                let rules = (s["rules"]?.array ?? []).compactMap(\.string)
                source += " \(s["path"]?.string ?? "?")  (rule\(rules.count == 1 ? "" : "s") \(rules.joined(separator: ", ")))"
                reading = (s["files"]?.array ?? []).map { f in
                    "\(f["path"]?.string ?? "?")\(f["draining"]?.bool == true ? " (rotated away)" : "") at byte \(Int(f["offset"]?.number ?? 0))"
                }.joined(separator: ", ")
            } else {
                if let p = s["path"]?.string { source += " " + p }
                reading = "\(Int(s["entries"]?.number ?? 0)) entries read"
                if let lost = s["lost"]?.number, lost > 0 { reading += ", \(Int(lost)) lost (the kernel's buffer wrapped)" }
            }
            return (source, reading, s["problem"]?.string)
        }
    }

    // MARK: explain

    static func truth(_ v: JSONValue?, _ paint: Paint) -> String {
        switch v?.bool {
        case true?: return paint.red("true")
        case false?: return paint.green("false")
        default: return paint.yellow("no data")
        }
    }

    public static func explain(_ r: JSONValue, color: Bool) -> String {
        let paint = Paint(on: color)
        let now = now(r)
        var out = paint.bold("rule \(r["rule"]?.string ?? "?")") + " on \(r["on"]?.string ?? "?"): function "
            + (r["function"]?.string ?? "?") + ", report of " + when(r["report_time"], now: now) + "\n"
        if let w = r["where"]?.string { out += "  where \(w)\n" }
        if let rep = r["repeat"]?.number { out += "  repeat every \(duration(rep))\n" }
        let mutes = (r["mutes"]?.array ?? []).compactMap(\.string)
        out += "  mutes in force: " + (mutes.isEmpty ? "none" : mutes.joined(separator: "; ")) + "\n"
        let sil = r["silences"]?.array ?? []
        out += "  silences that apply: " + (sil.isEmpty ? "none" : sil.map { s in
            (s["id"]?.string ?? "?") + " until " + (s["ends_at"]?.string ?? "?")
        }.joined(separator: "; ")) + "\n"
        let instances = r["instances"]?.array ?? []
        if instances.isEmpty { out += "No instance matches (no row of the report passes `where` with those labels).\n" }
        for i in instances {
            let state = i["state"]?.string ?? "?"
            let l = labels(i["labels"])
            out += "\n" + paint.bold("instance " + (l == "-" ? "(no labels)" : l)) + ": " + state
                + (state == "inactive" ? "" : " " + (i["severity"]?.string ?? ""))
                + (present(i["starts_at"]).map { " since " + when($0, now: now) } ?? "") + "\n"
            let fields = i["fields"]?.object ?? JSONObject()
            out += "  fields: " + (fields.isEmpty ? "none" : fields.map { "\($0.key) = \($0.value.string ?? "no data")" }.joined(separator: ", ")) + "\n"
            if let lets = i["lets"]?.object, !lets.isEmpty {
                out += "  lets:   " + lets.map { "\($0.key) = \($0.value.string ?? "no data")" }.joined(separator: ", ") + "\n"
            }
            for c in i["conditions"]?.array ?? [] {
                var line = "  \(c["severity"]?.string ?? "?")  \(c["trigger"]?.string ?? "?")"
                let forS = c["for"]?.number ?? 0
                if forS > 0 { line += " for \(duration(forS))" }
                if let clear = c["clear"]?.string { line += " clear \(clear)" }
                line += ": " + truth(c["trigger_holds"], paint)
                if c["clear"]?.string != nil { line += ", clear " + truth(c["clear_holds"], paint) }
                if let since = c["since"], since != .null {
                    line += "; holding since " + when(since, now: now)
                    if let f = c["fires_in"]?.number { line += f > 0 ? ", fires in \(duration(f))" : ", for elapsed" }
                }
                out += line + "\n"
                for s in c["steps"]?.array ?? [] {
                    let right = s["right"]?.string.map { " vs " + $0 } ?? ""
                    out += "        \(s["text"]?.string ?? "?"): \(s["left"]?.string ?? "?")\(right) → " + truth(s["result"], paint) + "\n"
                }
            }
            let m = i["missing"]
            out += "  missing data: " + (i["row_present"]?.bool == true ? "row present" : "row missing for \(Int(m?["evaluations"]?.number ?? 0)) evaluation(s)")
                + " (on_missing \(m?["policy"]?.string ?? "?") after \(Int(m?["after"]?.number ?? 0)))\n"
            if let s = i["summary"]?.string, !s.isEmpty { out += "  summary: \(s)\n" }
        }
        if let n = r["omitted"]?.number, n > 0 { out += "\n… and \(Int(n)) more instance(s): name labels to narrow it\n" }
        return out
    }

    // MARK: reload, silences, acks, history

    public static func reload(_ r: JSONValue) -> String {
        var out = (r["message"]?.string ?? "") + "\n"
        if let d = r["diagnostics"]?.string, !d.isEmpty { out += d + (d.hasSuffix("\n") ? "" : "\n") }
        return out
    }

    /// "in 2h" counts from `now` (in `status`, the daemon's).
    public static func silences(_ v: JSONValue?, indent: String = "", now: Timestamp = .now()) -> String {
        let list = v?.array ?? []
        if list.isEmpty { return indent + "none\n" }
        return list.map { s in
            var line = indent + (s["id"]?.string ?? "?") + "  " + labels(s["matchers"]) + "  until " + (s["ends_at"]?.string ?? "?")
            if let e = s["ends_at"]?.string.flatMap({ Timestamp(rfc3339: $0) }) { line += " (in \(duration(e.seconds - now.seconds)))" }
            if let by = s["created_by"]?["user"]?.string { line += "  by " + by }
            if let c = s["comment"]?.string, !c.isEmpty { line += "  \"\(c)\"" }
            return line + "\n"
        }.joined()
    }

    public static func silenceAdded(_ r: JSONValue) -> String {
        let s = r["silence"] ?? r
        return "silence \(s["id"]?.string ?? "?") " + (r["change"]?.string ?? "added") + ": "
            + labels(s["matchers"]) + " until " + (s["ends_at"]?.string ?? "?") + "\n"
    }

    public static func acked(_ r: JSONValue) -> String {
        let n = Int(r["acknowledged"]?.number ?? Double(r["instances"]?.array?.count ?? 0))
        return "acknowledged \(n) firing instance\(n == 1 ? "" : "s")\n"
    }

    public static func history(_ v: JSONValue?) -> String {
        let list = v?.array ?? []
        if list.isEmpty { return "no entries\n" }
        return list.map { e in
            // One record of STATE_DIR/history.jsonl: time, type, and the type's own fields (docs/control.md).
            let type = e["type"]?.string ?? "?"
            var line = (e["time"]?.string ?? "?") + "  " + type
            if let k = e["kind"]?.string ?? e["action"]?.string ?? e["status"]?.string { line += " " + k }
            if let rule = e["rule"]?.string {
                line += "  " + rule
            } else if let rules = e["rules"]?.array, !rules.isEmpty {
                line += "  " + rules.compactMap(\.string).joined(separator: ",")
            }
            if let l = present(e["labels"]) { line += "  " + labels(l) }
            if let s = e["severity"]?.string { line += "  " + s }
            if let s = present(e["silence"]) { line += "  " + (s["id"]?.string ?? "?") + " " + labels(s["matchers"]) }
            if let c = e["channel"]?.string { line += "  channel " + c }
            if let by = e["by"]?["user"]?.string { line += "  by " + by }
            if let t = e["summary"]?.string ?? e["reason"]?.string ?? e["detail"]?.string, !t.isEmpty {
                line += "  " + (t.split(separator: "\n").first.map(String.init) ?? t)
            }
            return line + "\n"
        }.joined()
    }
}
