// The Slack channel: a Block Kit message to an incoming-webhook URL (the URL is the credential).
import Alerting
import Reports

struct SlackChannel: ChannelKind {
    static let name = ChannelKinds.Slack.kind
    static let maxBatch = 20  // Slack allows 50 blocks per message; each alert takes two.

    var url: String
    var channel: String?
    var username: String?

    init(decoding o: ChannelOptions) throws(NotifyError) {
        url = try o.url(ChannelKinds.Slack.url)
        channel = try o.text(ChannelKinds.Slack.channel)
        username = try o.text(ChannelKinds.Slack.username)
    }

    var target: String { ChannelConfig.hostOf(url) }

    func request(_ alerts: [OutgoingAlert], _ m: MessageContext, _ config: ChannelConfig) -> ChannelRequest {
        let body = Payloads.slack(alerts, host: m.host, reportPath: m.reportPath, channel: channel, username: username).encoded()
        return .transfer(jsonPost(url: url, body: Array(body.utf8), ids: alerts.map(\.id), headers: [], config))
    }
}

// MARK: the Block Kit payload

extension Payloads {
    static func slackColour(_ e: AlertEvent) -> String {
        if e.kind == .resolved { return "#2eb886" }
        return e.severity == .crit ? "#d50200" : "#de9e31"
    }

    static func slackEmoji(_ e: AlertEvent) -> String {
        if e.kind == .resolved { return ":white_check_mark:" }
        return e.severity == .crit ? ":red_circle:" : ":warning:"
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
}
