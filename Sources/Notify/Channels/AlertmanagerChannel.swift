// The Alertmanager channel: postableAlerts to URL/api/v2/alerts, the firing ones again every resend_interval, and
// with `urls` one delivery target per peer of an HA cluster (every alert to every peer, as Prometheus does).
import Alerting
import Reports

struct AlertmanagerChannel: ChannelKind {
    static let name = ChannelKinds.Alertmanager.kind

    /// The base URL this value posts to: the one peer of a target, or the first of a declaration's `urls`.
    var url: String { urls[0] }
    /// Every peer's base URL, in the order written (`url` is a list of one).
    var urls: [String]
    var headers: [(String, String)]
    var resendEvery = ChannelKinds.resendInterval.defaultSeconds
    var generatorURL: String?

    init(decoding o: ChannelOptions) throws(NotifyError) {
        let list = try o.urlList(ChannelKinds.Alertmanager.urls)
        if list != nil, o[ChannelKinds.Alertmanager.url] != nil {
            throw o.bad(ChannelKinds.Alertmanager.urls, "given without `url` (write one of the two)")
        }
        if let list { urls = list } else { urls = [try o.url(ChannelKinds.Alertmanager.url)] }
        headers = try o.headers(ChannelKinds.headers)
        if let t = try o.duration(ChannelKinds.resendInterval) { resendEvery = t }
        generatorURL = try o.text(ChannelKinds.Alertmanager.generatorURL)
    }

    var target: String { ChannelConfig.hostOf(url) }

    /// Several peers: one target each, keyed by host:port (a second URL on the same host:port gets `-2`, …), so a
    /// peer keeps its queue, spool entries and backoff whatever the order of the list.
    func targets() -> [(key: String, kind: any ChannelKind)]? {
        guard urls.count > 1 else { return nil }
        var seen: [String: Int] = [:]
        return urls.map { u in
            let host = ChannelConfig.hostOf(u)
            seen[host, default: 0] += 1
            var peer = self
            peer.urls = [u]
            return (seen[host]! == 1 ? host : host + "-\(seen[host]!)", peer)
        }
    }

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

// MARK: the postableAlerts payload

extension Payloads {
    static func alertmanagerSeverity(_ s: Severity) -> String { s == .crit ? "critical" : "warning" }

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
}
