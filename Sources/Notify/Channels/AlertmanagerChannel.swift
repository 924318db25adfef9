// The Alertmanager channel: postableAlerts to URL/api/v2/alerts, and the firing ones again every resend_interval.
import Reports
import Rules

struct AlertmanagerChannel: ChannelKind {
    static let name = "alertmanager"

    var url: String
    var headers: [(String, String)]
    var resendEvery = ChannelKinds.resendInterval.defaultSeconds
    var generatorURL: String?

    init(decoding o: ChannelOptions) throws(NotifyError) {
        url = try o.url("url")
        headers = try o.headers(ChannelKinds.headers.name)
        if let t = try o.duration(ChannelKinds.resendInterval.name) { resendEvery = t }
        generatorURL = try o.text("generator_url")
    }

    var target: String { ChannelConfig.hostOf(url) }

    /// `URL/api/v2/alerts`, whatever number of slashes ends the configured base URL.
    var alertsURL: String {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/api/v2/alerts"
    }

    func request(_ alerts: [OutgoingAlert], _ m: MessageContext, _ config: ChannelConfig) -> ChannelRequest {
        .transfer(post(alerts.map(\.event), ids: alerts.map(\.id), host: m.host, config))
    }

    var resendInterval: Double? { resendEvery }

    func resend(_ firing: [AlertEvent], host: String, _ config: ChannelConfig) -> TransferRequest? {
        post(firing, ids: [], host: host, config)
    }

    private func post(_ events: [AlertEvent], ids: [String], host: String, _ config: ChannelConfig) -> TransferRequest {
        let body = Payloads.alertmanager(events, host: host, generatorURL: generatorURL).encoded()
        return jsonPost(url: alertsURL, body: Array(body.utf8), ids: ids, headers: headers, config)
    }
}
