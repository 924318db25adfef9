// The Alertmanager channel: postableAlerts to URL/api/v2/alerts, the firing ones again every resend_interval, and
// with `urls` one delivery target per peer of an HA cluster (every alert to every peer, as Prometheus does), and with
// `resolve_peers` one per address the URLs' host names resolve to.
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
    /// `resolve_peers`: every address of each URL's host name is a peer, looked up every `resolveEvery` seconds.
    var resolvePeers = false
    var resolveEvery = ChannelKinds.Alertmanager.resolveInterval.defaultSeconds
    /// A resolved peer: the address its requests connect to (`CURLOPT_CONNECT_TO`), the URL keeping the name.
    var address: String?

    init(decoding o: ChannelOptions) throws(NotifyError) {
        let list = try o.urlList(ChannelKinds.Alertmanager.urls)
        if list != nil, o[ChannelKinds.Alertmanager.url] != nil {
            throw o.bad(ChannelKinds.Alertmanager.urls, "given without `url` (write one of the two)")
        }
        if let list { urls = list } else { urls = [try o.url(ChannelKinds.Alertmanager.url)] }
        headers = try o.headers(ChannelKinds.headers)
        if let t = try o.duration(ChannelKinds.resendInterval) { resendEvery = t }
        generatorURL = try o.text(ChannelKinds.Alertmanager.generatorURL)
        if let b = try o.bool(ChannelKinds.Alertmanager.resolvePeers) { resolvePeers = b }
        if let t = try o.duration(ChannelKinds.Alertmanager.resolveInterval) {
            let key = ChannelKinds.Alertmanager.resolveInterval
            guard key.accepts(t) else { throw o.bad(key, "a duration of \(key.rangeText!)") }
            resolveEvery = t
        }
    }

    var target: String {
        let h = ChannelConfig.hostOf(url)
        return address.map { h + " at " + Self.hostPort($0, port: Self.port(of: url)) } ?? h
    }

    var lookups: [(host: String, every: Double)] {
        guard resolvePeers else { return [] }
        var seen = Set<String>()
        return urls.map(Self.hostName).filter { seen.insert($0).inserted }.map { ($0, resolveEvery) }
    }

    /// Several peers: one target each, keyed by host:port (a second URL on the same host:port gets `-2`, …), so a
    /// peer keeps its queue, spool entries and backoff whatever the order of the list. With `resolve_peers`, a URL
    /// whose name has been resolved is one peer per address, keyed by address:port; one not resolved yet (or
    /// never: the lookup failed from the start) is one peer by its name, for libcurl to resolve when it sends.
    func targets(resolved: [String: [String]]) -> [(key: String, kind: any ChannelKind)]? {
        var peers: [(key: String, kind: any ChannelKind)] = []
        var seen: [String: Int] = [:]
        func add(_ key: String, _ peer: AlertmanagerChannel) {
            seen[key, default: 0] += 1
            peers.append((seen[key]! == 1 ? key : key + "-\(seen[key]!)", peer))
        }
        for u in urls {
            var peer = self
            peer.urls = [u]
            if resolvePeers, let addresses = resolved[Self.hostName(u)], !addresses.isEmpty {
                for a in addresses {
                    peer.address = a
                    add(Self.hostPort(a, port: Self.port(of: u)), peer)
                }
            } else {
                add(ChannelConfig.hostOf(u), peer)
            }
        }
        if peers.count == 1, (peers[0].kind as? AlertmanagerChannel)?.address == nil { return nil }
        return peers
    }

    /// The host name of a URL, without user info, port or IPv6 brackets.
    static func hostName(_ url: String) -> String {
        var h = Substring(ChannelConfig.hostOf(url))
        if h.hasPrefix("[") { return String(h.dropFirst().prefix { $0 != "]" }) }
        if let colon = h.lastIndex(of: ":") { h = h[..<colon] }
        return String(h)
    }

    /// The port a URL connects to: its own, or the scheme's.
    static func port(of url: String) -> Int {
        let h = ChannelConfig.hostOf(url)
        if let colon = h.lastIndex(of: ":"), !h.hasSuffix("]"), let p = Int(h[h.index(after: colon)...]) { return p }
        return url.lowercased().hasPrefix("https:") ? 443 : 80
    }

    /// `10.0.0.1:9093`, `[::1]:9093`.
    static func hostPort(_ address: String, port: Int) -> String {
        (address.contains(":") ? "[" + address + "]" : address) + ":\(port)"
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
        var r = jsonPost(url: alertsURL, body: Array(body.utf8), ids: ids, headers: headers, config)
        // Any host and port of the URL (and of nothing else: redirects are not followed) connects to this address.
        if let a = address { r.connectTo = "::" + Self.hostPort(a, port: Self.port(of: url)) }
        return r
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
