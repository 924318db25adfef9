// The SMTP channel: one RFC 5322 message with the report attached, over STARTTLS (or implicit TLS) unless `tls "none"`.
import Alerting
import Reports

struct SMTPChannel: ChannelKind {
    static let name = ChannelKinds.SMTP.kind

    var server: String
    var from: String
    var to: [String]
    var user: String?
    var password: String?
    var requireTLS = ChannelKinds.tls.defaultString == "required"
    var subjectPrefix = ChannelKinds.subjectPrefix.defaultString

    init(decoding o: ChannelOptions) throws(NotifyError) {
        server = try o.required(ChannelKinds.SMTP.server)
        from = try o.required(ChannelKinds.SMTP.from)
        switch o[ChannelKinds.SMTP.to] {
        case .string(let s)?: to = [s]
        case .list(let l)?:
            to = l.compactMap(\.stringValue)
            if to.count != l.count || to.isEmpty { throw o.bad(ChannelKinds.SMTP.to, "an address or a list of addresses") }
        case nil: throw o.missing(ChannelKinds.SMTP.to)
        default: throw o.bad(ChannelKinds.SMTP.to, "an address or a list of addresses")
        }
        // An address goes into the envelope as <address> and into the From/To header as it is: a space, a
        // bracket or a line break there would break both (or add a header), and non-ASCII needs SMTPUTF8.
        func plainAddress(_ a: String) -> Bool {
            a.utf8.count <= 254 && a.contains("@") && a.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") && $0 != UInt8(ascii: ",") }
        }
        let addressText = "a plain e-mail address such as \"ops@example.com\" (ASCII, no spaces, <, > or commas)"
        if !plainAddress(from) { throw o.bad(ChannelKinds.SMTP.from, addressText) }
        if !to.allSatisfy(plainAddress) { throw o.bad(ChannelKinds.SMTP.to, addressText) }
        user = try o.text(ChannelKinds.SMTP.user)
        password = try o.text(ChannelKinds.SMTP.password, secret: true)
        if let t = try o.text(ChannelKinds.tls) {
            guard t == "none" || t == "required" else { throw o.bad(ChannelKinds.tls, "\"required\" or \"none\"") }
            requireTLS = t == "required"
        }
        if let p = try o.text(ChannelKinds.subjectPrefix) { subjectPrefix = p }
    }

    var target: String { ChannelConfig.hostOf(server) }

    /// The message as sent (its Date is `date`).
    func message(_ alerts: [OutgoingAlert], host: String, reportJSON: String, reportPath: String, date: Timestamp) -> [UInt8] {
        Payloads.email(alerts, from: from, to: to, subjectPrefix: subjectPrefix, host: host, reportJSON: reportJSON,
                       reportPath: reportPath, date: date)
    }

    func request(_ alerts: [OutgoingAlert], _ m: MessageContext, _ config: ChannelConfig) -> ChannelRequest {
        let body = message(alerts, host: m.host, reportJSON: (m.report ?? .null).encoded(pretty: true), reportPath: m.reportPath,
                           date: Timestamp.now())
        return .transfer(TransferRequest(proto: .smtp, url: server, body: body, timeout: config.timeout, caFile: config.caFile,
                                         mailFrom: from, recipients: to, requireTLS: requireTLS, username: user, password: password))
    }

    /// 5xx replies are permanent in SMTP; 4xx replies and connection trouble are worth another try.
    func classify(_ answer: AttemptAnswer, _ config: ChannelConfig) -> Verdict {
        guard case .transfer(let r) = answer else { return .permanent(code: nil, detail: "not a transfer") }
        if r.completed { return .delivered }
        if (500..<600).contains(r.status) { return .permanent(code: r.status, detail: config.failureText(r)) }
        return .retry(code: r.status == 0 ? nil : r.status, detail: config.failureText(r), after: nil)
    }
}

// MARK: the message

extension Payloads {
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
}
