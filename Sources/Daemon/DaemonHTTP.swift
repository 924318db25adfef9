// What the HTTP endpoint serves: the status page (/), /metrics (Prometheus text or OpenMetrics), /api/v1/status,
// /api/v1/alerts, /api/v1/history, /healthz.
import Alerting
import Kit
import Notify
import Reports
import Rules
import Workers

/// Counters of the daemon's own work, exported on /metrics.
struct DaemonCounters {
    /// Delivery attempts by channel and outcome (delivered, retrying, failed, expired).
    var deliveries: [String: [String: UInt64]] = [:]
    /// Notifications (alert transitions) delivered, by channel: an attempt may carry several.
    var delivered: [String: UInt64] = [:]
    /// Monotonic time of the last full collection a scrape made.
    var scrapeCollected = -Double.infinity
}

extension Daemon {
    /// Starts the endpoint when `http_listen` is set.
    func startHTTP() throws(UsageError) {
        guard let address = settings.httpListen else { return }
        let auth = try settings.httpAuthFile.map { path throws(UsageError) in try HTTPAuth.fromFile(path) } ?? HTTPAuth(token: nil)
        var tls: (cert: String, key: String)?
        if let c = settings.httpTLSCertFile, let k = settings.httpTLSKeyFile {
            tls = (try readSettingFile(c, setting: KnownSettings.httpTLSCertFile.name, private: false),
                   try readSettingFile(k, setting: KnownSettings.httpTLSKeyFile.name, private: true))
        }
        if !address.isLocal && auth.token == nil {
            log.warning("http_listen \(address) is reachable from other hosts and http_auth_file is not set: anyone who can reach it reads the metrics and alerts")
        }
        http = try HTTPEndpoint(address: address, host: loop, auth: auth, tls: tls) { [unowned self] in self.answer($0) }
        log.notice("HTTP endpoint on \(tls == nil ? "http" : "https")://\(address) (/, /metrics, /api/v1/status, /api/v1/alerts, /api/v1/history)")
    }

    func answer(_ r: HTTPRequest) -> HTTPResponse {
        switch r.path {
        case "/":
            return HTTPResponse(contentType: "text/html; charset=utf-8", body: StatusPage.render(statusPageModel()),
                                header: ("Content-Security-Policy", StatusPage.contentSecurityPolicy))
        case "/api/v1/status":
            // What `shd status --json` prints: the same function.
            var j = JSONStream(capacity: 4096 + 400 * engine.configuration.rules.count)
            writeStatus(to: &j)
            var body = j.take()
            body.append(0x0A)
            return HTTPResponse(contentType: "application/json", body: body)
        case "/metrics":
            let text = metricsText()
            if let accept = r.header("Accept"), accept.contains("application/openmetrics-text") {
                return HTTPResponse(contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                    body: Array(PrometheusText.openMetrics(text).utf8))
            }
            return HTTPResponse(contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
        case "/api/v1/alerts":
            var j = JSONStream(capacity: 1 << 16)
            alertStatus().write(to: &j)
            var body = j.take()
            body.append(0x0A)
            return HTTPResponse(contentType: "application/json", body: body)
        case "/api/v1/history":
            var since: Timestamp?
            if let t = r.query("since") {
                guard let d = try? Literal.duration(t), d > 0 else { return .text(400, "since: expected a duration such as 24h, not '\(t)'") }
                since = Timestamp(microseconds: Timestamp.now().microseconds - Int64(d * 1e6))
            }
            return json(.array(history(since: since, rule: r.query("rule"))))
        case "/healthz":
            return .text(200, "ok")
        default:
            return .text(404, "not found: \(r.path) (try /, /metrics, /api/v1/status, /api/v1/alerts, /api/v1/history)")
        }
    }

    func json(_ v: JSONValue) -> HTTPResponse {
        var body = v.encodedBytes()
        body.append(0x0A)
        return HTTPResponse(contentType: "application/json", body: body)
    }

    /// Every function (collected now if older than the shortest interval: a scrape sees fresh values, not those of
    /// the last report_interval), the alert instances and shd's own health.
    func metricsText() -> String {
        let mono = monotonicSeconds()
        if mono - counters.scrapeCollected >= settings.interval {
            counters.scrapeCollected = mono
            snapshot.collectAll(now: .now())
        }
        var bytes: [UInt8] = []
        metricsRenderer.render(snapshot.report(now: .now()), into: &bytes)
        var out = String(decoding: bytes, as: UTF8.self)
        out += PrometheusText.alerts(alertStatus().instances.map {
            (rule: $0.rule, labels: $0.labels, state: $0.state.rawValue, severity: $0.severity == .crit ? "critical" : "warning")
        })
        out += PrometheusText.sample("shd_rules", "Rules in force", Double(configuration.rules.count))
        out += PrometheusText.sample("shd_config_invalid", "1 while the files on disk do not check (the last good rules are in force)",
                                     configInvalid == nil ? 0 : 1)
        out += PrometheusText.sample("shd_evaluations_total", "Rule evaluations since start", counter: true, Double(ticks))
        out += PrometheusText.sample("shd_missed_ticks_total", "Collection ticks missed because the loop was busy", counter: true, Double(missedTicks))
        out += PrometheusText.sample("shd_notifications_pending", "Notifications spooled and not yet delivered", Double(dispatcher.pendingCount))
        out += "# HELP shd_notification_attempts_total Delivery attempts by channel and outcome\n# TYPE shd_notification_attempts_total counter\n"
        for channel in counters.deliveries.keys.sorted() {
            for (outcome, n) in counters.deliveries[channel]!.sorted(by: { $0.key < $1.key }) {
                out += "shd_notification_attempts_total{channel=\"\(PrometheusText.escape(channel))\",outcome=\"\(outcome)\"} \(n)\n"
            }
        }
        out += "# HELP shd_notifications_delivered_total Notifications (alert transitions) delivered by channel; one attempt may carry several\n"
            + "# TYPE shd_notifications_delivered_total counter\n"
        for channel in counters.delivered.keys.sorted() {
            out += "shd_notifications_delivered_total{channel=\"\(PrometheusText.escape(channel))\"} \(counters.delivered[channel]!)\n"
        }
        out += PrometheusText.sample("shd_http_requests_total", "Requests the HTTP endpoint answered", counter: true, Double(http?.requests ?? 0))
        return out
    }

    func noteOutcome(_ o: DeliveryOutcome) {
        let outcome: String
        switch o.status {
        case .delivered: outcome = "delivered"
        case .retrying: outcome = "retrying"
        case .failed: outcome = "failed"
        case .expired: outcome = "expired"
        }
        counters.deliveries[o.channel, default: [:]][outcome, default: 0] += 1
        if o.status == .delivered { counters.delivered[o.channel, default: 0] += UInt64(o.ids.count) }
    }
}
