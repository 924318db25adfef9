// Alert events: what the rule engine hands to the notifier when an alert instance changes state.
import Reports

/// How bad a firing alert is. `crit` outranks `warn`.
public enum Severity: String, Sendable, Equatable, Comparable, CaseIterable {
    case warn, crit
    public static func < (a: Severity, b: Severity) -> Bool { a == .warn && b == .crit }
}

/// The state of one alert instance (rule × row).
public enum AlertState: String, Sendable, Equatable {
    case inactive, pending, firing, resolved
}

/// One transition of one alert instance that channels must hear about: it started firing,
/// changed severity, is re-sent by `repeat`, or resolved.
public struct AlertEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// Started firing (from inactive or pending).
        case firing
        /// Severity changed while firing (warn → crit or crit → warn).
        case escalated, deescalated
        /// Still firing; sent again because of `repeat`.
        case repeated
        /// Stopped firing.
        case resolved
    }

    public var kind: Kind
    /// Rule name.
    public var rule: String
    /// Current severity; for `resolved`, the last severity it fired with.
    public var severity: Severity
    /// The row's string fields (mount, interface, cpu, …), plus `worker` and `function`.
    public var labels: [String: String]
    /// The row's numeric fields the rule used, and `let` values, at the time of the event.
    public var values: [String: Double]
    public var summary: String
    public var description: String?
    /// When this firing episode began.
    public var startsAt: Timestamp
    /// When it resolved (only for `resolved`).
    public var endsAt: Timestamp?
    /// The channel names this alert is routed to (already resolved against defaults).
    public var channels: [String]
    /// Why a `resolved` came without its condition clearing: `rule removed`, `rule changed` (after a reload
    /// or a restart with other rule files), `configuration valid again`. nil for an ordinary transition.
    public var reason: String?

    public init(kind: Kind, rule: String, severity: Severity, labels: [String: String], values: [String: Double],
                summary: String, description: String? = nil, startsAt: Timestamp, endsAt: Timestamp? = nil,
                channels: [String], reason: String? = nil)
    {
        self.kind = kind
        self.rule = rule
        self.severity = severity
        self.labels = labels
        self.values = values
        self.summary = summary
        self.description = description
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.channels = channels
        self.reason = reason
    }

    /// Stable identity of the alert instance: rule name plus its labels in key order.
    public var fingerprint: String {
        var s = rule
        for k in labels.keys.sorted() { s += "|" + k + "=" + labels[k]! }
        return s
    }

    /// `firing` or `resolved`, as Alertmanager and webhooks say it.
    public var status: String { kind == .resolved ? "resolved" : "firing" }

    public var json: JSONValue {
        var o = JSONObject()
        o.append("kind", .string(kind.rawValue))
        o.append("rule", .string(rule))
        o.append("severity", .string(severity.rawValue))
        o.append("state", .string(status))
        var l = JSONObject()
        for k in labels.keys.sorted() { l.append(k, .string(labels[k]!)) }
        o.append("labels", .object(l))
        var v = JSONObject()
        for k in values.keys.sorted() { v.append(k, .double(values[k]!)) }
        o.append("values", .object(v))
        o.append("summary", .string(summary))
        if let description { o.append("description", .string(description)) }
        o.append("starts_at", .string(startsAt.rfc3339))
        o.append("ends_at", endsAt.map { .string($0.rfc3339) } ?? .null)
        o.append("channels", .array(channels.map { .string($0) }))
        if let reason { o.append("reason", .string(reason)) }
        return .object(o)
    }

    public init(json: JSONValue) throws(ReportDecodingError) {
        guard let o = json.object, let kind = o["kind"]?.string.flatMap(Kind.init(rawValue:)),
              let rule = o["rule"]?.string, let sev = o["severity"]?.string.flatMap(Severity.init(rawValue:)),
              let starts = o["starts_at"]?.string.flatMap(Timestamp.init(rfc3339:))
        else { throw ReportDecodingError("alert event: missing kind, rule, severity or starts_at") }
        var labels: [String: String] = [:]
        for (k, v) in o["labels"]?.object ?? JSONObject() { labels[k] = v.string ?? "" }
        var values: [String: Double] = [:]
        for (k, v) in o["values"]?.object ?? JSONObject() { if let n = v.number { values[k] = n } }
        self.init(kind: kind, rule: rule, severity: sev, labels: labels, values: values,
                  summary: o["summary"]?.string ?? "", description: o["description"]?.string, startsAt: starts,
                  endsAt: o["ends_at"]?.string.flatMap(Timestamp.init(rfc3339:)),
                  channels: (o["channels"]?.array ?? []).compactMap(\.string), reason: o["reason"]?.string)
    }
}
