// The status page (`GET /`): one server-rendered HTML document with inline CSS and SVG sparklines, no external
// assets; its one inline script only refreshes it. Every string from rules, labels, summaries and errors is escaped.
import Alerting
import Kit
import Notify
import Reports
import Rules

/// What the page shows, gathered on the loop (``Daemon/statusPageModel()``); ``StatusPage/render(_:)`` is a pure
/// function of it.
struct StatusPageModel {
    struct Alert {
        var rule: String
        /// The row's labels (not `worker` and `function`).
        var labels: [String: String]
        var state: AlertState
        var severity: Severity
        var since: Timestamp?
        var summary: String
        var values: [String: Double]
        /// Why channels hear nothing, or less: silences, acknowledgement, mute, flapping, inhibition.
        var notes: [String]
    }

    struct Worker {
        var name: String
        var interval: Double
        var lastCollection: Timestamp?
        var errors: [(function: String, error: String)]
    }

    struct Channel {
        var name: String
        var kind: String?
        var queued: Int
        var failures: Int
        var lastDelivery: Timestamp?
        var lastError: String?
    }

    var host: String
    var now: Timestamp
    var alerts: [Alert]
    var configInvalid: Bool
    var rules: [RuleStatus]
    var charts: [RuleChart]
    var workers: [Worker]
    var channels: [Channel]
    /// The event rules' sources (``ControlText/sourceLines(_:)``).
    var sources: [(source: String, reading: String, problem: String?)] = []
    /// Notifications spooled and not yet delivered (every channel).
    var spooled: Int
    var silences: [Silence]
    var lastReload: (at: Timestamp, applied: Bool, message: String)?
    /// Seconds between the script's refreshes.
    var refreshSeconds: Int
}

/// The page's HTML. A bounded document: at most ``maxAlertRows`` alert rows and ``maxChartRules`` chart cards (the
/// rest is counted, and `shd status` lists everything).
enum StatusPage {
    static let maxAlertRows = 2000
    static let maxChartRules = 200
    /// Sparkline size in CSS pixels (the SVG's viewBox).
    static let sparkWidth = 120.0
    static let sparkHeight = 28.0

    static let style = """
        :root{color-scheme:light dark;--bg:#fff;--fg:#1b1f23;--muted:#5f6b76;--line:#d8dee4;--card:#f6f8fa;\
        --crit:#c62828;--critbg:#fdecea;--warn:#b45f06;--warnbg:#fff4e0;--ok:#2e7d32;--spark:#0b62a4}
        @media (prefers-color-scheme:dark){:root{--bg:#0f1419;--fg:#e6e6e6;--muted:#9aa5b1;--line:#2d333b;--card:#161b22;\
        --crit:#ff6b6b;--critbg:#2d1416;--warn:#f0a640;--warnbg:#2b2111;--ok:#5fbf6a;--spark:#6cb6ff}}
        *{box-sizing:border-box}
        body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
        header,main,footer{max-width:1100px;margin:0 auto;padding:0 12px}
        header{padding-top:12px}
        footer{padding:16px 12px 24px;font-size:.85em}
        h1{font-size:1.3em;margin:0 0 4px;font-weight:600}
        h2{font-size:1.1em;margin:22px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
        h3{font-size:1em;margin:0;font-weight:600;overflow-wrap:anywhere}
        a{color:var(--spark)}
        .muted,small{color:var(--muted)}
        .count{font-weight:600;padding:1px 8px;border-radius:10px;background:var(--card);white-space:nowrap}
        .count.firing{background:var(--critbg);color:var(--crit)}
        .count.pending{background:var(--warnbg);color:var(--warn)}
        .banner{background:var(--critbg);border-left:4px solid var(--crit);padding:8px 12px;margin:10px 0}
        .quiet{padding:8px 12px;border-left:4px solid var(--ok);background:var(--card)}
        .wrap{overflow-x:auto}
        table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
        th{font-size:.85em;color:var(--muted);font-weight:600}
        td.num{font-variant-numeric:tabular-nums}
        tr.alert td:first-child{border-left:4px solid var(--line);white-space:nowrap}
        tr.alert.firing.warn td:first-child{border-left-color:var(--warn)}
        tr.alert.firing.crit td:first-child{border-left-color:var(--crit)}
        tr.alert.firing.crit{background:var(--critbg)}
        .sev{display:inline-block;min-width:3.4em;text-align:center;border-radius:3px;padding:0 4px;font-size:.78em;\
        font-weight:700;text-transform:uppercase;border:1px solid transparent}
        .firing .sev.crit{background:var(--crit);color:#fff}
        .firing .sev.warn{background:var(--warn);color:#fff}
        .pending .sev.crit{border-color:var(--crit);color:var(--crit)}
        .pending .sev.warn{border-color:var(--warn);color:var(--warn)}
        .labels{color:var(--muted);font-size:.88em;overflow-wrap:anywhere}
        .values{color:var(--muted);font-size:.82em;font-variant-numeric:tabular-nums}
        .note{display:inline-block;font-size:.82em;padding:0 6px;margin:1px 2px 1px 0;border-radius:3px;background:var(--card);\
        border:1px solid var(--line)}
        .err{color:var(--crit)}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:10px}
        .chart{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 10px;min-width:0}
        .chart.firing{border-color:var(--crit)}
        .chart .expr{font-size:.82em;margin:2px 0 0}
        .chart ul{list-style:none;margin:6px 0 0;padding:0}
        .chart li{display:flex;align-items:center;gap:8px;padding:2px 0}
        .chart li .lbl{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:.85em}
        .chart li .val{font-variant-numeric:tabular-nums;font-size:.85em;white-space:nowrap}
        .chart li.firing .val{color:var(--crit);font-weight:600}
        .chart li.pending .val{color:var(--warn);font-weight:600}
        svg.spark{flex:none;width:120px;height:28px;background:var(--bg);border-radius:2px}
        .spark .line{fill:none;stroke:var(--spark);stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round}
        .spark .dot{fill:var(--spark)}
        .spark .t-warn,.spark .t-crit{stroke-width:1;stroke-dasharray:3 2}
        .spark .t-warn{stroke:var(--warn)}
        .spark .t-crit{stroke:var(--crit)}
        #refresh label{font-size:.85em;color:var(--muted);margin-left:6px;white-space:nowrap}
        @media (max-width:640px){
        body{font-size:14px}
        table.stack thead{display:none}
        table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
        table.stack tr{border-bottom:1px solid var(--line);padding:4px 0}
        table.stack td{border:0;padding:2px 8px}
        table.stack td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:.85em}
        tr.alert td:first-child{border-left:0}
        table.stack td.head{display:inline-block;width:auto;padding-right:0}
        tr.alert{border-left:4px solid var(--line)}
        tr.alert.firing.warn{border-left-color:var(--warn)}
        tr.alert.firing.crit{border-left-color:var(--crit)}
        .charts{grid-template-columns:1fr}
        }
        """

    /// Auto-refresh: fetches the page again and swaps its summary and main parts in place (the scroll position
    /// stays), every `data-refresh` seconds while the tab is visible; a checkbox turns it off.
    static let script = """
        (function () {
          var secs = Number(document.body.getAttribute('data-refresh')) || 10;
          var slot = document.getElementById('refresh');
          if (!slot || !window.fetch || !window.DOMParser) return;
          var label = document.createElement('label');
          var box = document.createElement('input');
          box.type = 'checkbox'; box.checked = true; box.id = 'auto';
          label.appendChild(box);
          label.appendChild(document.createTextNode(' refresh every ' + secs + ' s'));
          slot.appendChild(label);
          function swap(html) {
            var doc = new DOMParser().parseFromString(html, 'text/html');
            ['summary', 'main'].forEach(function (id) {
              var fresh = doc.getElementById(id), old = document.getElementById(id);
              if (fresh && old) old.replaceWith(fresh);
            });
            document.title = doc.title;
            label.className = ''; label.title = '';
          }
          setInterval(function () {
            if (!box.checked || document.hidden) return;
            fetch(location.href, {cache: 'no-store', credentials: 'same-origin'})
              .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
              .then(swap, function (e) { label.className = 'err'; label.title = 'refresh failed: ' + e.message; });
          }, secs * 1000);
        })();
        """

    /// Only this page's own style and script apply, and nothing is loaded from anywhere: an injected tag that
    /// escaping missed still could not run.
    static let contentSecurityPolicy = "default-src 'none'; style-src \(hash(style)); script-src \(hash(script)); "
        + "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// A CSP source for an inline element's exact text.
    static func hash(_ text: String) -> String { "'sha256-" + Encoding.base64(SHA256.digest(Array(text.utf8))) + "'" }

    static func render(_ m: StatusPageModel) -> [UInt8] {
        var h = HTML(capacity: 32_768 + 700 * min(m.alerts.count, maxAlertRows) + 2_000 * min(m.charts.count, maxChartRules))
        let firing = m.alerts.reduce(0) { $0 + ($1.state == .firing ? 1 : 0) }
        let pending = m.alerts.count - firing
        h.raw("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        h.raw("<link rel=\"icon\" href=\"data:,\">\n<title>")
        h.text((firing > 0 ? "\(firing) firing · " : "") + "shd · " + m.host)
        h.raw("</title>\n<style>")
        h.raw(style)
        h.raw("</style>\n</head>\n<body data-refresh=\"\(m.refreshSeconds)\">\n<header>\n<h1>shd on ")
        h.text(m.host.isEmpty ? "this host" : m.host)
        h.raw("</h1>\n<p><span id=\"summary\">")
        h.raw("<span class=\"count\(firing > 0 ? " firing" : "")\">\(firing) firing</span> ")
        h.raw("<span class=\"count\(pending > 0 ? " pending" : "")\">\(pending) pending</span> ")
        h.raw("<small>as of ")
        time(&h, m.now, text: clock(m.now))
        h.raw("</small></span><span id=\"refresh\"></span></p>\n</header>\n<main id=\"main\">\n")
        if m.configInvalid {
            h.raw("<p class=\"banner\">The rule files on disk do not check: the last good rules are in force. ")
            h.raw("Run <code>shd check-rules</code>.</p>\n")
        }
        alerts(&h, m)
        charts(&h, m)
        workers(&h, m)
        channels(&h, m)
        sources(&h, m)
        silences(&h, m)
        if let r = m.lastReload {
            h.raw("<p class=\"muted\">Last reload ")
            time(&h, r.at, text: ago(r.at, m.now))
            h.raw(r.applied ? ": applied. " : ": <span class=\"err\">refused</span>. ")
            h.text(r.message)
            h.raw("</p>\n")
        }
        h.raw("</main>\n<footer class=\"muted\">The same as JSON: <a href=\"/api/v1/status\">/api/v1/status</a> · ")
        h.raw("<a href=\"/api/v1/alerts\">/api/v1/alerts</a> · <a href=\"/api/v1/history?since=24h\">/api/v1/history</a> · ")
        h.raw("<a href=\"/metrics\">/metrics</a>. On the host: <code>shd status</code>, <code>shd explain RULE</code>.</footer>\n")
        h.raw("<script>")
        h.raw(script)
        h.raw("</script>\n</body>\n</html>\n")
        return h.bytes
    }

    // MARK: sections

    static func alerts(_ h: inout HTML, _ m: StatusPageModel) {
        h.raw("<section id=\"alerts\">\n<h2>Alerts</h2>\n")
        guard !m.alerts.isEmpty else {
            h.raw("<p class=\"quiet\">Nothing is pending or firing.</p>\n</section>\n")
            return
        }
        // Firing before pending; critical first; the newest first. Indices are sorted, not the rows (moving a row
        // retains and releases each of its strings and dictionaries).
        let keys = m.alerts.map { (firing: $0.state == .firing, crit: $0.severity == .crit, since: $0.since?.microseconds ?? .min) }
        let order = m.alerts.indices.sorted { i, j in
            let a = keys[i], b = keys[j]
            if a.firing != b.firing { return a.firing }
            if a.crit != b.crit { return a.crit }
            if a.since != b.since { return a.since > b.since }
            return m.alerts[i].rule < m.alerts[j].rule
        }
        h.raw("<div class=\"wrap\"><table class=\"alerts stack\">\n<thead><tr><th>severity</th><th>alert</th><th>since</th>")
        h.raw("<th>summary</th><th>notifications</th></tr></thead>\n<tbody>\n")
        for i in order.prefix(maxAlertRows) {
            let a = m.alerts[i]
            let sev = a.severity == .crit ? "crit" : "warn"
            h.raw("<tr class=\"alert \(a.state.rawValue) \(sev)\" data-rule=\"")
            h.text(a.rule)
            h.raw("\"><td class=\"head\"><span class=\"sev \(sev)\">\(sev)</span> \(a.state.rawValue)</td>")
            h.raw("<td class=\"head\"><b class=\"rule\">")
            h.text(a.rule)
            h.raw("</b>")
            if !a.labels.isEmpty {
                h.raw(" <span class=\"labels\">")
                h.text(labelText(a.labels))
                h.raw("</span>")
            }
            h.raw("</td><td data-label=\"since\">")
            if let s = a.since { time(&h, s, text: ago(s, m.now)) } else { h.raw("—") }
            h.raw("</td><td><span class=\"summary\">")
            if a.summary.isEmpty { h.raw("<span class=\"muted\">—</span>") } else { h.text(a.summary) }
            h.raw("</span>")
            if !a.values.isEmpty {
                h.raw("<br><span class=\"values\">")
                h.text(a.values.keys.sorted().map { "\($0)=\(formatNumber(a.values[$0]!))" }.joined(separator: " "))
                h.raw("</span>")
            }
            h.raw("</td><td data-label=\"notifications\">")
            if a.notes.isEmpty { h.raw(a.state == .firing ? "<span class=\"muted\">sent</span>" : "<span class=\"muted\">none yet</span>") }
            for n in a.notes {
                h.raw("<span class=\"note\">")
                h.text(n)
                h.raw("</span>")
            }
            h.raw("</td></tr>\n")
        }
        h.raw("</tbody></table></div>\n")
        if order.count > maxAlertRows {
            h.raw("<p class=\"muted\">\(order.count - maxAlertRows) more not shown: <code>shd status --alerts</code> lists all.</p>\n")
        }
        h.raw("</section>\n")
    }

    static func charts(_ h: inout HTML, _ m: StatusPageModel) {
        h.raw("<section id=\"rules\">\n<h2>Rules <small>the last hour, one value a minute</small></h2>\n")
        var counts: [String: RuleStatus] = [:]
        for r in m.rules where counts[r.name] == nil { counts[r.name] = r }
        // Rules with firing or pending instances first, then in rule order.
        func rank(_ c: RuleChart) -> Int {
            let s = counts[c.rule]
            return (s?.firing ?? 0) > 0 ? 0 : (s?.pending ?? 0) > 0 ? 1 : 2
        }
        let ranks = m.charts.map(rank)
        let ordered = m.charts.indices.sorted { ranks[$0] != ranks[$1] ? ranks[$0] < ranks[$1] : $0 < $1 }
        if ordered.isEmpty {
            h.raw("<p class=\"muted\">No rule compares a number.</p>\n")
        } else {
            h.raw("<div class=\"charts\">\n")
            for i in ordered.prefix(maxChartRules) { chart(&h, m.charts[i], counts[m.charts[i].rule], now: m.now) }
            h.raw("</div>\n")
            if ordered.count > maxChartRules {
                h.raw("<p class=\"muted\">\(ordered.count - maxChartRules) more rules not charted here: <code>shd status</code> lists all.</p>\n")
            }
        }
        let charted = Set(m.charts.map(\.rule))
        let others = m.rules.filter { !charted.contains($0.name) }
        if !others.isEmpty {
            h.raw("<div class=\"wrap\"><table class=\"stack\">\n<thead><tr><th>rule without a chart</th><th>on</th>")
            h.raw("<th>instances</th><th>pending</th><th>firing</th></tr></thead>\n<tbody>\n")
            for r in others {
                h.raw("<tr><td data-label=\"rule\">")
                h.text(r.name)
                h.raw("</td><td data-label=\"on\">")
                h.text(r.worker + "." + r.function)
                h.raw("</td><td data-label=\"instances\" class=\"num\">\(r.instances)</td><td data-label=\"pending\" class=\"num\">")
                h.raw("\(r.pending)</td><td data-label=\"firing\" class=\"num\">\(r.firing)</td></tr>\n")
            }
            h.raw("</tbody></table></div>\n")
        }
        h.raw("</section>\n")
    }

    static func chart(_ h: inout HTML, _ c: RuleChart, _ counts: RuleStatus?, now: Timestamp) {
        let firing = counts?.firing ?? 0, pending = counts?.pending ?? 0
        h.raw("<article class=\"chart\(firing > 0 ? " firing" : "")\" data-rule=\"")
        h.text(c.rule)
        h.raw("\"><h3>")
        h.text(c.rule)
        h.raw(" <small>")
        h.text(c.worker + "." + c.function)
        h.raw(" · \(c.instances.count + c.omitted) instance\(c.instances.count + c.omitted == 1 ? "" : "s")")
        if firing > 0 { h.raw(" · <span class=\"err\">\(firing) firing</span>") }
        if pending > 0 { h.raw(" · \(pending) pending") }
        h.raw("</small></h3>\n<p class=\"expr muted\"><code>")
        h.text(c.expression)
        h.raw("</code>")
        if let w = c.warn { h.raw(" · warn "); h.text(formatNumber(w)) }
        if let k = c.crit { h.raw(" · crit "); h.text(formatNumber(k)) }
        h.raw("</p>\n")
        if c.instances.isEmpty {
            h.raw(c.counts ? "<p class=\"muted\">No matching entries in the last hour.</p>\n"
                  : "<p class=\"muted\">No instances: no row passes the rule's <code>where</code>, or no data yet.</p>\n")
        } else {
            h.raw("<ul>\n")
            for i in c.instances {
                h.raw("<li class=\"\(i.state.rawValue)\">")
                sparkline(&h, i.points, warn: c.warn, crit: c.crit, now: now.seconds, label: c.expression)
                h.raw("<span class=\"lbl\">")
                h.text(i.labels.isEmpty ? c.worker + "." + c.function : labelText(i.labels))
                h.raw("</span><span class=\"val\">")
                if c.counts {
                    h.text(formatNumber(i.points.reduce(0) { $0 + $1.value }) + " in the hour")
                } else if let v = i.points.last?.value { h.text(formatNumber(v)) } else { h.raw("no data") }
                h.raw("</span></li>\n")
            }
            h.raw("</ul>\n")
            if c.omitted > 0 { h.raw("<p class=\"muted\">and \(c.omitted) more</p>\n") }
        }
        h.raw("</article>\n")
    }

    /// An inline SVG: the points of the hour before `now` as a line (broken where a minute has no sample), a dot on
    /// the newest, and dashed lines at the thresholds; the value axis spans the samples and the thresholds.
    static func sparkline(_ h: inout HTML, _ points: [ChartPoint], warn: Double?, crit: Double?, now: Double, label: String) {
        let w = sparkWidth, ht = sparkHeight, pad = 2.0
        h.raw("<svg class=\"spark\" viewBox=\"0 0 120 28\" width=\"120\" height=\"28\" role=\"img\" aria-label=\"")
        h.text(label + (points.isEmpty ? ": no data in the last hour" : ", the last hour"))
        h.raw("\">")
        var lo = Double.infinity, hi = -Double.infinity
        for p in points {
            lo = min(lo, p.value)
            hi = max(hi, p.value)
        }
        for t in [warn, crit].compactMap({ $0 }) where !points.isEmpty {
            lo = min(lo, t)
            hi = max(hi, t)
        }
        let start = now - 3600
        func x(_ t: Double) -> Double { max(0, min(w, (t - start) / 3600 * w)) }
        func y(_ v: Double) -> Double { hi > lo ? ht - pad - (v - lo) / (hi - lo) * (ht - 2 * pad) : ht / 2 }
        if !points.isEmpty {
            for (t, cls) in [(warn, "t-warn"), (crit, "t-crit")] {
                guard let t else { continue }
                h.raw("<path class=\"\(cls)\" d=\"M0 \(coord(y(t)))H120\"/>")
            }
            h.raw("<path class=\"line\" d=\"")
            var prev: Double?
            for p in points {
                // A gap of more than one slot (a minute without the row) breaks the line.
                let move = prev.map { p.time - $0 > 1.5 * 60 } ?? true
                h.raw(move ? "M" : "L")
                h.raw(coord(x(p.time)))
                h.raw(" ")
                h.raw(coord(y(p.value)))
                prev = p.time
            }
            // A lone sample is a short stroke, so the line is visible.
            if points.count == 1 { h.raw("h-3") }
            h.raw("\"/>")
            let last = points[points.count - 1]
            h.raw("<circle class=\"dot\" cx=\"\(coord(x(last.time)))\" cy=\"\(coord(y(last.value)))\" r=\"2\"/>")
        }
        h.raw("</svg>")
    }

    /// A section of one table: its heading (HTML, ours) and column names; the rows follow, then `closeTable`.
    static func openTable(_ h: inout HTML, id: StaticString, heading: String, columns: [StaticString]) {
        h.raw("<section id=\"\(id)\">\n<h2>\(heading)</h2>\n<div class=\"wrap\"><table class=\"stack\">\n<thead><tr>")
        for c in columns { h.raw("<th>\(c)</th>") }
        h.raw("</tr></thead>\n<tbody>\n")
    }

    static func closeTable(_ h: inout HTML) { h.raw("</tbody></table></div>\n</section>\n") }

    /// A text from outside marked as an error, or a muted "none".
    static func errorOrNone(_ h: inout HTML, _ text: String?) {
        if let text { h.raw("<span class=\"err\">"); h.text(text); h.raw("</span>") } else { h.raw("<span class=\"muted\">none</span>") }
    }

    static func workers(_ h: inout HTML, _ m: StatusPageModel) {
        openTable(&h, id: "workers", heading: "Workers", columns: ["worker", "interval", "last collection", "errors"])
        for w in m.workers {
            h.raw("<tr><td data-label=\"worker\">")
            h.text(w.name)
            h.raw("</td><td data-label=\"interval\">")
            h.text(formatDuration(w.interval))
            h.raw("</td><td data-label=\"last collection\">")
            if let t = w.lastCollection { time(&h, t, text: ago(t, m.now)) } else { h.raw("<span class=\"muted\">not yet</span>") }
            h.raw("</td><td data-label=\"errors\">")
            if w.errors.isEmpty { h.raw("<span class=\"muted\">none</span>") }
            for (i, e) in w.errors.enumerated() {
                if i > 0 { h.raw("<br>") }
                h.raw("<span class=\"err\">")
                h.text(e.function + ": " + e.error)
                h.raw("</span>")
            }
            h.raw("</td></tr>\n")
        }
        closeTable(&h)
    }

    static func channels(_ h: inout HTML, _ m: StatusPageModel) {
        openTable(&h, id: "channels", heading: "Channels <small>\(m.spooled) notification\(m.spooled == 1 ? "" : "s") spooled</small>",
                  columns: ["channel", "kind", "queued", "state", "last delivery", "last error"])
        for c in m.channels {
            h.raw("<tr><td data-label=\"channel\">")
            h.text(c.name)
            h.raw("</td><td data-label=\"kind\">")
            if let k = c.kind { h.text(k) } else { h.raw("<span class=\"muted\">removed</span>") }
            h.raw("</td><td data-label=\"queued\" class=\"num\">\(c.queued)</td><td data-label=\"state\">")
            h.raw(c.failures > 0 ? "<span class=\"err\">failing (\(c.failures) attempt\(c.failures == 1 ? "" : "s"))</span>" : "ok")
            h.raw("</td><td data-label=\"last delivery\">")
            if let t = c.lastDelivery { time(&h, t, text: ago(t, m.now)) } else { h.raw("<span class=\"muted\">none</span>") }
            h.raw("</td><td data-label=\"last error\">")
            errorOrNone(&h, c.lastError)
            h.raw("</td></tr>\n")
        }
        closeTable(&h)
    }

    static func sources(_ h: inout HTML, _ m: StatusPageModel) {
        guard !m.sources.isEmpty else { return }
        openTable(&h, id: "sources", heading: "Event sources", columns: ["source", "reading", "problem"])
        for s in m.sources {
            h.raw("<tr><td data-label=\"source\">")
            h.text(s.source)
            h.raw("</td><td data-label=\"reading\">")
            if s.reading.isEmpty { h.raw("<span class=\"muted\">nothing yet</span>") } else { h.text(s.reading) }
            h.raw("</td><td data-label=\"problem\">")
            errorOrNone(&h, s.problem)
            h.raw("</td></tr>\n")
        }
        closeTable(&h)
    }

    static func silences(_ h: inout HTML, _ m: StatusPageModel) {
        guard !m.silences.isEmpty else { return }
        openTable(&h, id: "silences", heading: "Silences", columns: ["id", "matches", "until", "by", "comment"])
        for s in m.silences {
            h.raw("<tr><td data-label=\"id\">")
            h.text(s.id)
            h.raw("</td><td data-label=\"matches\">")
            h.text(s.matchers.map(\.description).joined(separator: ","))
            h.raw("</td><td data-label=\"until\">")
            time(&h, s.endsAt, text: (s.startsAt > m.now ? "from " + ahead(s.startsAt, m.now) + ", " : "") + ahead(s.endsAt, m.now))
            h.raw("</td><td data-label=\"by\">")
            h.text(s.createdBy.user)
            h.raw("</td><td data-label=\"comment\">")
            h.text(s.comment)
            h.raw("</td></tr>\n")
        }
        closeTable(&h)
    }

    // MARK: text

    /// `mount=/srv, fstype=ext4`, keys in order.
    static func labelText(_ labels: [String: String]) -> String {
        labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ", ")
    }

    static func time(_ h: inout HTML, _ t: Timestamp, text: String) {
        let r = t.rfc3339
        h.raw("<time datetime=\"")
        h.raw(r)
        h.raw("\" title=\"")
        h.raw(clock(rfc3339: r))
        h.raw("\">")
        h.text(text)
        h.raw("</time>")
    }

    /// `2026-11-25 08:32:07 +01:00`: the daemon's local time, to the second.
    static func clock(_ t: Timestamp) -> String { clock(rfc3339: t.rfc3339) }

    static func clock(rfc3339 r: String) -> String {
        guard r.utf8.count >= 19 else { return r }
        let date = String(r.prefix(10)), time = String(r.dropFirst(11).prefix(8))
        let offset = r.utf8.count >= 26 ? " " + String(r.suffix(6)) : ""
        return date + " " + time + offset
    }

    static func ago(_ t: Timestamp, _ now: Timestamp) -> String {
        let d = now.seconds - t.seconds
        return d < 1 ? "just now" : formatDuration(d) + " ago"
    }

    static func ahead(_ t: Timestamp, _ now: Timestamp) -> String {
        let d = t.seconds - now.seconds
        return d < 1 ? "now" : "in " + formatDuration(d)
    }

    /// An SVG coordinate with one decimal (`12.3`, `0`).
    static func coord(_ v: Double) -> String {
        if v < 0 { return "-" + coord(-v) }
        let tenths = Int((v * 10).rounded())
        let whole = tenths / 10, frac = tenths % 10
        return frac == 0 ? String(whole) : String(whole) + "." + String(frac)
    }
}

/// An HTML document being written: `raw` for the page's own markup, `text` for everything else (escaped for both
/// element content and quoted attribute values).
struct HTML {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func text(_ s: String) {
        // Most strings need nothing escaped: one scan, then one copy.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) {
            bytes.append(contentsOf: s.utf8)
            return
        }
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): bytes.append(contentsOf: "&#39;".utf8)
            // Control characters other than tab and newline are not allowed in HTML text.
            case 0..<0x09, 0x0B, 0x0C, 0x0E..<0x20, 0x7F: bytes.append(contentsOf: "\u{FFFD}".utf8)
            default: bytes.append(c)
            }
        }
    }
}

extension Daemon {
    /// The page's data, from the same parts `shd status` reads.
    func statusPageModel() -> StatusPageModel {
        let now = Timestamp.now()
        let status = alertStatus()
        var alerts = status.instances.map { i in
            var notes: [String] = []
            if !i.silencedBy.isEmpty { notes.append("silenced (" + i.silencedBy.joined(separator: ", ") + ")") }
            if let a = i.ack { notes.append("acked by " + a.by.user + " " + StatusPage.ago(a.at, now) + (a.comment.isEmpty ? "" : ": " + a.comment)) }
            if i.muted { notes.append("muted") }
            if i.flapping { notes.append("flapping") }
            if !i.inhibitedBy.isEmpty { notes.append("inhibited by " + i.inhibitedBy.joined(separator: ", ")) }
            var labels = i.labels
            labels["worker"] = nil
            labels["function"] = nil
            return StatusPageModel.Alert(rule: i.rule, labels: labels, state: i.state, severity: i.severity, since: i.since,
                                         summary: i.summary, values: i.values, notes: notes)
        }
        if let meta = configInvalid {
            alerts.append(StatusPageModel.Alert(rule: meta.rule, labels: meta.labels, state: .firing, severity: meta.severity,
                                                since: meta.startsAt, summary: meta.summary, values: meta.values, notes: []))
        }
        let report = snapshot.report(now: now)
        let workers = snapshot.workers.map { w in
            let wr = report.workerReports.first { $0.name == w.name }
            return StatusPageModel.Worker(name: w.name, interval: settings.interval(of: w.name), lastCollection: wr?.datetime,
                                          errors: (wr?.functionReports ?? []).compactMap { f in f.error.map { (f.name, $0) } })
        }
        let channels = dispatcher.channelStatuses.map {
            StatusPageModel.Channel(name: $0.name, kind: $0.kind, queued: $0.queued, failures: $0.consecutiveFailures,
                                    lastDelivery: $0.lastDelivery, lastError: $0.lastError)
        }
        return StatusPageModel(host: snapshot.hostname ?? "", now: now, alerts: alerts, configInvalid: configInvalid != nil,
                               rules: engine.ruleStatuses(), charts: engine.recentValues(now: now), workers: workers,
                               channels: channels, sources: ControlText.sourceLines(eventSourceStatuses().array ?? []),
                               spooled: dispatcher.pendingCount, silences: status.silences,
                               lastReload: lastReload.map { ($0.at, $0.applied, $0.message) },
                               refreshSeconds: Int(min(60, max(2, settings.interval.rounded()))))
    }
}
