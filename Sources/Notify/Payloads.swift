// What each channel sends: webhook JSON, Slack Block Kit, Alertmanager v2 alerts, the e-mail, exec's environment, log lines.
import Reports
import Rules

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

    // MARK: Slack

    static func slackColour(_ e: AlertEvent) -> String {
        if e.kind == .resolved { return "#2eb886" }
        return e.severity == .crit ? "#d50200" : "#de9e31"
    }

    static func slackEmoji(_ e: AlertEvent) -> String {
        if e.kind == .resolved { return ":white_check_mark:" }
        return e.severity == .crit ? ":red_circle:" : ":warning:"
    }

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

    /// Block Kit message with a `text` fallback (notifications, screen readers); colour by severity through
    /// an attachment; the full report does not fit, so the message says where it is.
    static func slack(_ alerts: [OutgoingAlert], host: String, reportPath: String, channel: String?, username: String?) -> JSONValue {
        let first = alerts[0].event
        var fallback = alerts.count == 1
            ? "\(slackEmoji(first)) \(headline(first)) on \(host): \(first.summary)"
            : "\(alerts.count) alerts on \(host): " + alerts.map { headline($0.event) }.joined(separator: ", ")
        if fallback.count > 2900 { fallback = String(fallback.prefix(2900)) + "…" }

        var attachments: [JSONValue] = []
        for a in alerts {
            let e = a.event
            var blocks: [JSONValue] = []
            var text = "\(slackEmoji(e)) *\(slackEscape(headline(e)))* on `\(slackEscape(host))`"
            if !e.summary.isEmpty { text += "\n" + slackEscape(e.summary) }
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": .string(String(text.prefix(2900)))]])
            var fields: [JSONValue] = []
            for k in e.labels.keys.sorted() where k != "worker" && k != "function" && fields.count < 10 {
                fields.append(["type": "mrkdwn", "text": .string(String("*\(slackEscape(k))*\n\(slackEscape(e.labels[k]!))".prefix(1900)))])
            }
            for k in e.values.keys.sorted() where fields.count < 10 {
                fields.append(["type": "mrkdwn", "text": .string("*\(slackEscape(k))*\n\(displayNumber(e.values[k]!))")])
            }
            if !fields.isEmpty { blocks.append(["type": "section", "fields": .array(fields)]) }
            var when = "started \(e.startsAt.rfc3339)"
            if let end = e.endsAt { when += " · resolved \(end.rfc3339)" }
            blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": .string(when)]]])
            attachments.append(["color": .string(slackColour(e)), "blocks": .array(blocks)])
        }
        var o = JSONObject()
        o.append("text", .string(fallback))
        if let channel { o.append("channel", .string(channel)) }
        if let username { o.append("username", .string(username)) }
        o.append("blocks", [["type": "context", "elements": [["type": "mrkdwn", "text": .string(
            "Full daemon report: `\(slackEscape(reportPath))` on `\(slackEscape(host))`")]]]])
        o.append("attachments", .array(attachments))
        return .object(o)
    }

    /// Slack's mrkdwn needs only &, < and > escaped.
    static func slackEscape(_ s: String) -> String {
        s.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
    }

    // MARK: Alertmanager

    static func alertmanagerSeverity(_ s: Severity) -> String { s == .crit ? "critical" : "warning" }

    /// A label name Alertmanager accepts: `[a-zA-Z_][a-zA-Z0-9_]*`.
    static func labelName(_ s: String) -> String {
        var out = ""
        for (i, c) in s.unicodeScalars.enumerated() {
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || (i > 0 && c >= "0" && c <= "9")
            out.unicodeScalars.append(ok ? c : "_")
        }
        return out.isEmpty ? "_" : out
    }

    /// The `POST /api/v2/alerts` body: an array of postableAlert (labels, annotations, startsAt, endsAt, generatorURL).
    static func alertmanager(_ events: [AlertEvent], host: String, generatorURL: String?) -> JSONValue {
        .array(events.map { e in
            var labels = JSONObject()
            for k in e.labels.keys.sorted() where !e.labels[k]!.isEmpty { labels[labelName(k)] = .string(e.labels[k]!) }
            // Reserved names last, so a row label cannot override them.
            labels["alertname"] = .string(e.rule)
            labels["instance"] = .string(host)
            labels["severity"] = .string(alertmanagerSeverity(e.severity))
            var annotations = JSONObject()
            annotations.append("summary", .string(e.summary))
            annotations.append("description", .string(e.description ?? valuesText(e)))
            if let reason = e.reason { annotations.append("reason", .string(reason)) }
            var o = JSONObject()
            o.append("labels", .object(labels))
            o.append("annotations", .object(annotations))
            o.append("startsAt", .string(e.startsAt.rfc3339))
            // A firing alert carries no endsAt: Alertmanager keeps it until resolve_timeout, and we re-send sooner.
            if e.kind == .resolved { o.append("endsAt", .string((e.endsAt ?? Timestamp.now()).rfc3339)) }
            if let g = generatorURL, !g.isEmpty { o.append("generatorURL", .string(g)) }
            return .object(o)
        })
    }

    // MARK: e-mail

    /// At most this many characters of a summary go into a Subject (the body has all of it): a mail client shows one line.
    static let subjectSummaryLimit = 200

    /// `[shd] CRIT disk_space on web1: / is 96.25% full`, or `[shd] 3 alerts on web1 (2 firing, 1 resolved)`.
    static func emailSubject(_ alerts: [OutgoingAlert], prefix: String, host: String) -> String {
        let first = alerts[0].event
        if alerts.count == 1 {
            var summary = first.summary
            if summary.count > subjectSummaryLimit { summary = String(summary.prefix(subjectSummaryLimit)) + "…" }
            return "\(prefix) \(headline(first)) on \(host)" + (summary.isEmpty ? "" : ": \(summary)")
        }
        let firing = alerts.filter { $0.event.kind != .resolved }.count
        return "\(prefix) \(alerts.count) alerts on \(host) (\(firing) firing, \(alerts.count - firing) resolved)"
    }

    /// The text part, before its transfer encoding: per alert its headline, summary, description, labels, values and
    /// times, then where the report is.
    static func emailText(_ alerts: [OutgoingAlert], host: String, reportPath: String) -> String {
        var body: [String] = []
        for a in alerts {
            let e = a.event
            body.append("\(headline(e)) on \(host)")
            if !e.summary.isEmpty { body.append(e.summary) }
            if let d = e.description { body.append(d) }
            let labels = e.labels.keys.sorted().map { "\($0)=\(e.labels[$0]!)" }
            if !labels.isEmpty { body.append("Labels: " + labels.joined(separator: ", ")) }
            if !e.values.isEmpty { body.append("Values: " + valuesText(e)) }
            body.append("Started: " + e.startsAt.rfc3339)
            if let end = e.endsAt { body.append("Resolved: " + end.rfc3339) }
            body.append("Notification-Id: " + a.id)
            body.append("")
        }
        body.append("The full daemon report is attached as daemon-report.json (on \(host) it is \(reportPath)).")
        return body.joined(separator: "\n") + "\n"
    }

    /// An RFC 5322 message: headers, a text/plain part and the report as a base64 `daemon-report.json` attachment.
    /// Every line is CRLF-ended and at most 78 characters, and the message is 7-bit (folded headers, RFC 2047 encoded
    /// words, a quoted-printable or base64 text part), so no summary's length or script makes a server refuse it and
    /// no server needs 8BITMIME.
    static func email(_ alerts: [OutgoingAlert], from: String, to: [String], subjectPrefix: String, host: String,
                      reportJSON: String, reportPath: String, date: Timestamp) -> [UInt8] {
        let id = messageID(alerts)
        let boundary = "=_shd_" + id.filter { $0.isLetter || $0.isNumber }
        let text = MIME.textBody(emailText(alerts, host: host, reportPath: reportPath))
        var lines: [String] = []
        lines.append("Date: " + rfc5322Date(date))
        lines.append(MIME.listField("From", [from]))
        lines.append(MIME.listField("To", to))
        lines.append(MIME.unstructuredField("Subject", emailSubject(alerts, prefix: subjectPrefix, host: host)))
        lines.append(MIME.listField("Message-ID", ["<\(id)@\(host.isEmpty ? "localhost" : host)>"]))
        lines.append("X-Shd-Notification-Id: " + id)
        if alerts.count > 1 { lines.append(MIME.listField("X-Shd-Alert-Ids", alerts.map(\.id))) }
        lines.append("MIME-Version: 1.0")
        lines.append("Content-Type: multipart/mixed;\r\n boundary=\"\(boundary)\"")
        lines.append("")
        lines.append("This is a multi-part message in MIME format.")
        lines.append("--" + boundary)
        lines.append("Content-Type: text/plain; charset=utf-8")
        lines.append("Content-Transfer-Encoding: " + text.encoding)
        lines.append("")
        var message = lines.joined(separator: "\r\n") + "\r\n" + text.body
        lines = []
        lines.append("--" + boundary)
        lines.append("Content-Type: application/json; name=\"daemon-report.json\"")
        lines.append("Content-Disposition: attachment; filename=\"daemon-report.json\"")
        lines.append("Content-Transfer-Encoding: base64")
        lines.append("")
        lines.append(Encoding.base64(Array(reportJSON.utf8), lineLength: 76))
        lines.append("--" + boundary + "--")
        lines.append("")
        message += lines.joined(separator: "\r\n")
        return Array(message.utf8)
    }

    /// `Wed, 25 Nov 2026 08:00:01 +0000` (RFC 5322 §3.3), in the timestamp's own UTC offset.
    static func rfc5322Date(_ t: Timestamp) -> String {
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let c = t.localComponents
        let off = Int64(t.utcOffsetSeconds)
        let sign = off < 0 ? "-" : "+"
        return "\(weekdays[Int(c.weekday)]), \(c.day) \(months[Int(c.month - 1)]) \(c.year) \(two(c.hour)):\(two(c.minute)):\(two(c.second)) "
            + "\(sign)\(two(abs(off) / 3600))\(two(abs(off) % 3600 / 60))"
    }

    private static func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }

    // MARK: exec and log

    /// The child's whole environment: a fixed PATH and the `SHD_*` variables (the daemon's own is not inherited).
    static func execEnvironment(_ a: OutgoingAlert, host: String, channel: String) -> [String] {
        let e = a.event
        var env = [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SHD_RULE=\(e.rule)", "SHD_SEVERITY=\(e.severity.rawValue)", "SHD_STATE=\(e.status)",
            "SHD_KIND=\(e.kind.rawValue)", "SHD_SUMMARY=\(e.summary)", "SHD_HOST=\(host)",
            "SHD_CHANNEL=\(channel)", "SHD_NOTIFICATION_ID=\(a.id)", "SHD_STARTS_AT=\(e.startsAt.rfc3339)",
            "SHD_LABELS=" + e.labels.keys.sorted().map { "\($0)=\(e.labels[$0]!)" }.joined(separator: ","),
            "SHD_VALUES=" + valuesText(e, separator: ","),
        ]
        if let end = e.endsAt { env.append("SHD_ENDS_AT=\(end.rfc3339)") }
        if let reason = e.reason { env.append("SHD_REASON=\(reason)") }
        for k in e.labels.keys.sorted() { env.append("SHD_LABEL_\(labelName(k).uppercased())=\(e.labels[k]!)") }
        for k in e.values.keys.sorted() { env.append("SHD_VALUE_\(labelName(k).uppercased())=\(displayNumber(e.values[k]!))") }
        return env
    }

    /// One structured line: `alert firing rule=disk_space severity=crit host=web1 mount=/ used_percent=96.2 summary="…"`.
    static func logLine(_ e: AlertEvent, host: String, channel: String) -> (LogLevel, String) {
        var s = "alert \(e.kind.rawValue) rule=\(quoted(e.rule)) severity=\(e.severity.rawValue) host=\(quoted(host))"
        for k in e.labels.keys.sorted() { s += " \(k)=\(quoted(e.labels[k]!))" }
        for k in e.values.keys.sorted() { s += " \(k)=\(displayNumber(e.values[k]!))" }
        s += " summary=\(quoted(e.summary)) channel=\(channel)"
        let level: LogLevel = e.kind == .resolved ? .notice : (e.severity == .crit ? .error : .warning)
        return (level, s)
    }

    /// A value bare when it is a simple word, else in double quotes with `"` and `\` escaped.
    static func quoted(_ s: String) -> String {
        if !s.isEmpty, s.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "=" && $0 != "\\" }) {
            return s
        }
        return "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"").replacingAll("\n", with: "\\n") + "\""
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
