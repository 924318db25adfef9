// The webhook channel: the JSON payload POSTed to a URL, optionally signed (X-Shd-Signature) and with the report.
import Alerting
import Reports

struct WebhookChannel: ChannelKind {
    static let name = ChannelKinds.Webhook.kind

    var url: String
    var headers: [(String, String)]
    var hmacSecret: [UInt8]?
    var includeReport = ChannelKinds.includeReport.defaultBool

    init(decoding o: ChannelOptions) throws(NotifyError) {
        url = try o.url(ChannelKinds.Webhook.url)
        headers = try o.headers(ChannelKinds.headers)
        if let s = try o.text(ChannelKinds.Webhook.hmacSecret, secret: true) { hmacSecret = Array(s.utf8) }
        if let b = try o.bool(ChannelKinds.includeReport) { includeReport = b }
    }

    var target: String { ChannelConfig.hostOf(url) }

    func request(_ alerts: [OutgoingAlert], _ m: MessageContext, _ config: ChannelConfig) -> ChannelRequest {
        let body = Payloads.webhook(alerts, host: m.host, report: includeReport ? m.report : nil).encoded()
        return .transfer(jsonPost(url: url, body: Array(body.utf8), ids: alerts.map(\.id), headers: headers,
                                  hmacKey: hmacSecret, config))
    }
}
