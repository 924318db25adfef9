// The Slack channel: a Block Kit message to an incoming-webhook URL (the URL is the credential).
import Reports
import Rules

struct SlackChannel: ChannelKind {
    static let name = "slack"
    static let maxBatch = 20  // Slack allows 50 blocks per message; each alert takes two.

    var url: String
    var headers: [(String, String)]
    var channel: String?
    var username: String?

    init(decoding o: ChannelOptions) throws(NotifyError) {
        url = try o.url("url")
        headers = try o.headers(ChannelKinds.headers.name)
        channel = try o.text("channel")
        username = try o.text("username")
    }

    var target: String { ChannelConfig.hostOf(url) }

    func request(_ alerts: [OutgoingAlert], _ m: MessageContext, _ config: ChannelConfig) -> ChannelRequest {
        let body = Payloads.slack(alerts, host: m.host, reportPath: m.reportPath, channel: channel, username: username).encoded()
        return .transfer(jsonPost(url: url, body: Array(body.utf8), ids: alerts.map(\.id), headers: headers, config))
    }
}
