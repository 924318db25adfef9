// What messages share: ids, the webhook JSON (also exec's stdin), headlines, label names, numbers. Each kind's own payload is in its file in Channels/.
import Kit
import Alerting
import Reports

/// One alert of a message, with the spool id that names it (receivers may use it to drop duplicates).
struct OutgoingAlert {
    var id: String
    var event: AlertEvent
}

enum Payloads {
    static let version = "1"

    /// A message's own id, derived from its alerts' ids only: the alert's id when it carries one alert, else
    /// `m-` and the first 32 hex digits of the SHA-256 of the ids joined by newlines. A message rebuilt from the
    /// same spooled alerts (a re-send after a restart) has the same id; one holding other alerts has another.
    static func messageID(_ ids: [String]) -> String {
        if ids.count == 1 { return ids[0] }
        return "m-" + String(SHA256.hex(SHA256.digest(Array(ids.joined(separator: "\n").utf8))).prefix(32))
    }

    static func messageID(_ alerts: [OutgoingAlert]) -> String { messageID(alerts.map(\.id)) }

    // MARK: webhook

    /// The webhook alert object: the alert's own notification id, then the event's fields without routing
    /// (`channels`).
    static func alertObject(_ a: OutgoingAlert) -> JSONValue {
        guard case .object(let fields) = a.event.json else { return a.event.json }
        var o = JSONObject()
        o.append("id", .string(a.id))
        for (k, v) in fields where k != "channels" && k != "id" { o.append(k, v) }
        return .object(o)
    }

    /// `{version, id, status, alert?, alerts, host, report?}`: `alerts` always lists every alert of the message,
    /// each with its own stable `id`; `alert` is there when the message carries exactly one (the common case);
    /// `id` is `messageID`; `status` is "firing" if any alert is.
    static func webhook(_ alerts: [OutgoingAlert], host: String, report: JSONValue?) -> JSONValue {
        var o = JSONObject()
        o.append("version", .string(version))
        o.append("id", .string(alerts.isEmpty ? "" : messageID(alerts)))
        o.append("status", .string(alerts.contains { $0.event.kind != .resolved } ? "firing" : "resolved"))
        if alerts.count == 1 { o.append("alert", alertObject(alerts[0])) }
        o.append("alerts", .array(alerts.map(alertObject)))
        o.append("host", .string(host))
        if let report { o.append("report", report) }
        return .object(o)
    }

    // MARK: shared by several kinds

    /// "CRIT disk_space", "RESOLVED disk_space", "WARN disk_space (was CRIT)".
    static func headline(_ e: AlertEvent) -> String {
        switch e.kind {
        case .resolved: return "RESOLVED \(e.rule)"
        case .escalated: return "\(e.severity.rawValue.uppercased()) \(e.rule) (escalated)"
        case .deescalated: return "\(e.severity.rawValue.uppercased()) \(e.rule) (de-escalated)"
        case .repeated: return "\(e.severity.rawValue.uppercased()) \(e.rule) (still firing)"
        case .firing: return "\(e.severity.rawValue.uppercased()) \(e.rule)"
        }
    }

    /// A label name Alertmanager accepts: `[a-zA-Z_][a-zA-Z0-9_]*`.
    static func labelName(_ s: String) -> String {
        var out = ""
        for (i, c) in s.unicodeScalars.enumerated() {
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || (i > 0 && c >= "0" && c <= "9")
            out.unicodeScalars.append(ok ? c : "_")
        }
        return out.isEmpty ? "_" : out
    }

    static func valuesText(_ e: AlertEvent, separator: String = ", ") -> String {
        e.values.keys.sorted().map { "\($0)=\(displayNumber(e.values[$0]!))" }.joined(separator: separator)
    }

    /// 96 for 96.0, 96.23 for 96.2345: for people, not for machines (JSON keeps full precision).
    static func displayNumber(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "NaN" : (d > 0 ? "+Inf" : "-Inf") }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        let r = (d * 100).rounded() / 100
        return r == 0 ? d.description : r.description
    }
}
