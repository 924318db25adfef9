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
            let body = metricsBytes()
            if let accept = r.header("Accept"), accept.contains("application/openmetrics-text") {
                return HTTPResponse(contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                    body: PrometheusText.openMetrics(body))
            }
            return HTTPResponse(contentType: "text/plain; version=0.0.4; charset=utf-8", body: body)
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

    /// Every function as the schedule last collected it (a scrape collects nothing: the functions a rule reads are at
    /// most one worker interval old, the others one report_interval; `shd_function_collected_timestamp_seconds`
    /// says when), the alert instances and shd's own health, written as bytes.
    func metricsBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(metricsSize + 4096)
        let report = snapshot.report(now: .now())
        metricsRenderer.render(report, into: &out)
        metricsRenderer.renderCollected(report, into: &out)
        out.append(contentsOf: PrometheusText.alertHeader)
        for a in alertStatus().instances {
            PrometheusText.writeAlert(rule: a.rule, labels: a.labels, state: a.state.rawValue, severity: a.severity == .crit ? "critical" : "warning", into: &out)
        }
        PrometheusText.writeSample("shd_rules", "Rules in force", Double(configuration.rules.count), into: &out)
        PrometheusText.writeSample("shd_config_invalid", "1 while the files on disk do not check (the last good rules are in force)",
                                   configInvalid == nil ? 0 : 1, into: &out)
        PrometheusText.writeSample("shd_evaluations_total", "Rule evaluations since start", counter: true, Double(ticks), into: &out)
        PrometheusText.writeSample("shd_missed_ticks_total", "Collection ticks missed because the loop was busy", counter: true, Double(missedTicks), into: &out)
        PrometheusText.writeSample("shd_notifications_pending", "Notifications spooled and not yet delivered", Double(dispatcher.pendingCount), into: &out)
        PrometheusText.writeHeader("shd_notification_attempts_total", "Delivery attempts by channel and outcome", counter: true, into: &out)
        for channel in counters.deliveries.keys.sorted() {
            for (outcome, n) in counters.deliveries[channel]!.sorted(by: { $0.key < $1.key }) {
                out.append(contentsOf: "shd_notification_attempts_total{channel=\"".utf8)
                MetricsRenderer.writeEscaped(channel, into: &out)
                out.append(contentsOf: "\",outcome=\"".utf8)
                out.append(contentsOf: outcome.utf8)
                out.append(contentsOf: "\"} ".utf8)
                JSONValue.writeInt(Int64(n), into: &out)
                out.append(0x0A)
            }
        }
        PrometheusText.writeHeader("shd_notifications_delivered_total",
                                   "Notifications (alert transitions) delivered by channel; one attempt may carry several", counter: true, into: &out)
        for channel in counters.delivered.keys.sorted() {
            out.append(contentsOf: "shd_notifications_delivered_total{channel=\"".utf8)
            MetricsRenderer.writeEscaped(channel, into: &out)
            out.append(contentsOf: "\"} ".utf8)
            JSONValue.writeInt(Int64(counters.delivered[channel]!), into: &out)
            out.append(0x0A)
        }
        PrometheusText.writeSample("shd_http_requests_total", "Requests the HTTP endpoint answered", counter: true, Double(http?.requests ?? 0), into: &out)
        metricsSize = out.count
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
