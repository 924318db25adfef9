// The status page's HTML, rendered from a model: order of the alerts, escaping of every string that comes from rules,
// labels, summaries and errors, the sparklines' paths, the page's own script and style under its CSP hashes.
import Alerting
import Reports
import Testing
@testable import Daemon
@testable import Rules

@Suite struct StatusPageTests {
    static let now = Timestamp(rfc3339: "2026-11-25T08:00:00Z")!
    static let evil = "<script>alert(1)</script>\"' onmouseover=\"x\" &amp;"

    static func alert(_ rule: String, _ state: AlertState, _ severity: Severity, sinceMinutes: Double, summary: String = "s",
                      labels: [String: String] = [:], notes: [String] = []) -> StatusPageModel.Alert {
        StatusPageModel.Alert(rule: rule, labels: labels, state: state, severity: severity,
                              since: now.adding(seconds: -sinceMinutes * 60), summary: summary, values: ["v": 1.5], notes: notes)
    }

    static func model(alerts: [StatusPageModel.Alert] = [], charts: [RuleChart] = [], rules: [RuleStatus] = [],
                      text: String = "x") -> StatusPageModel {
        StatusPageModel(
            host: "web1", now: now, alerts: alerts, configInvalid: false, rules: rules, charts: charts,
            workers: [StatusPageModel.Worker(name: "disk", interval: 10, lastCollection: now.adding(seconds: -3),
                                             errors: [(function: "filesystems", error: text)])],
            channels: [StatusPageModel.Channel(name: "hook", kind: "webhook", queued: 2, failures: 3, lastDelivery: nil,
                                               lastError: text)],
            sources: [(source: "file /var/log/\(text)  (rule app)", reading: "", problem: text),
                      (source: "journal", reading: "12 entries read", problem: nil)],
            spooled: 2,
            silences: [Silence(id: "s1", matchers: [LabelMatcher(name: "mount", value: text)], startsAt: now.adding(seconds: -60),
                               endsAt: now.adding(seconds: 3600), createdBy: Actor(uid: 0, user: text), createdAt: now,
                               comment: text)],
            lastReload: (now, false, text), refreshSeconds: 10)
    }

    static func page(_ m: StatusPageModel) -> String { String(decoding: StatusPage.render(m), as: UTF8.self) }

    /// The text between the first `open` after `from` and the next `close`.
    static func between(_ s: String, _ open: String, _ close: String) -> String? {
        guard let a = s.ranges(of: open).first, let b = s[a.upperBound...].ranges(of: close).first else { return nil }
        return String(s[a.upperBound..<b.lowerBound])
    }

    @Test func firingAlertsComeFirstCriticalFirstNewestFirst() {
        let page = Self.page(Self.model(alerts: [
            Self.alert("pending_crit", .pending, .crit, sinceMinutes: 1),
            Self.alert("old_warn", .firing, .warn, sinceMinutes: 90),
            Self.alert("new_warn", .firing, .warn, sinceMinutes: 2),
            Self.alert("crit_one", .firing, .crit, sinceMinutes: 30, labels: ["mount": "/srv"],
                       notes: ["silenced (maint)", "acked by alice 5m ago: on it"]),
        ]))
        let order = ["crit_one", "new_warn", "old_warn", "pending_crit"].map { page.ranges(of: "data-rule=\"\($0)\"").first!.lowerBound }
        #expect(order == order.sorted())
        #expect(page.contains("<tr class=\"alert firing crit\" data-rule=\"crit_one\">"))
        #expect(page.contains("<tr class=\"alert pending crit\" data-rule=\"pending_crit\">"))
        #expect(page.contains("<span class=\"labels\">mount=/srv</span>"))
        #expect(page.contains("<time datetime=\"2026-11-25T07:30:00.000000+00:00\" title=\"2026-11-25 07:30:00 +00:00\">30m ago</time>"))
        #expect(page.contains("<span class=\"note\">silenced (maint)</span><span class=\"note\">acked by alice 5m ago: on it</span>"))
        #expect(page.contains("<span class=\"values\">v=1.5</span>"))
        #expect(page.contains("<span class=\"count firing\">3 firing</span> <span class=\"count pending\">1 pending</span>"))
        #expect(page.contains("<title>3 firing · shd · web1</title>"))
    }

    @Test func nothingFiringSaysSo() {
        let page = Self.page(Self.model())
        #expect(page.contains("<p class=\"quiet\">Nothing is pending or firing.</p>"))
        #expect(!page.contains("<table class=\"alerts"))
    }

    @Test func everyStringFromOutsideIsEscaped() {
        let e = Self.evil
        let chart = RuleChart(rule: e, worker: "disk", function: "filesystems", expression: e, warn: 80, crit: nil,
                              instances: [InstanceChart(labels: [e: e], state: .firing, severity: .warn,
                                                        points: [ChartPoint(time: Self.now.seconds - 60, value: 1)])],
                              omitted: 0)
        let page = Self.page(Self.model(
            alerts: [Self.alert(e, .firing, .crit, sinceMinutes: 1, summary: e, labels: [e: e], notes: [e])],
            charts: [chart],
            rules: [RuleStatus(name: e, worker: "disk", function: "filesystems", instances: 1, pending: 0, firing: 1),
                    RuleStatus(name: "plain\(e)", worker: "w", function: "f", instances: 0, pending: 0, firing: 0)],
            text: e))
        // The page's own script is the only script element; no attribute was opened by the data.
        #expect(page.ranges(of: "<script").count == 1)
        #expect(!page.contains("<script>alert"))
        #expect(!page.contains("onmouseover=\""))
        #expect(!page.contains("\"'"))
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39; onmouseover=&quot;x&quot; &amp;amp;"))
        // Every place a string lands: rule (attribute and text), labels, summary, notes, chart, rule table, worker
        // error, channel error, silence, reload message.
        let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
        #expect(page.ranges(of: escaped).count >= 18, "\(page.ranges(of: escaped).count)")
        // The event sources: one row each, the problem marked.
        let sources = Self.between(page, "<section id=\"sources\">", "</section>") ?? ""
        #expect(sources.contains("<td data-label=\"reading\"><span class=\"muted\">nothing yet</span></td><td data-label=\"problem\"><span class=\"err\">\(escaped)"), "\(sources)")
        #expect(sources.contains("<td data-label=\"source\">journal</td><td data-label=\"reading\">12 entries read</td>"))
    }

    @Test func controlCharactersAreReplaced() {
        var h = HTML(capacity: 16)
        h.text("a\u{1}b\tc\nd\u{7F}")
        #expect(String(decoding: h.bytes, as: UTF8.self) == "a\u{FFFD}b\tc\nd\u{FFFD}")
    }

    @Test func aSparklineDrawsTheHourWithGapsThresholdsAndTheNewestValue() {
        let t = Self.now.seconds
        // Minutes 60…31 before now, a gap of 2 minutes, then 28…1.
        var points: [ChartPoint] = []
        for m in stride(from: 60, through: 31, by: -1) { points.append(ChartPoint(time: t - Double(m) * 60, value: Double(m))) }
        for m in stride(from: 28, through: 1, by: -1) { points.append(ChartPoint(time: t - Double(m) * 60, value: 100)) }
        var h = HTML(capacity: 4096)
        StatusPage.sparkline(&h, points, warn: 80, crit: nil, now: t, label: "used_percent")
        let svg = String(decoding: h.bytes, as: UTF8.self)
        let line = Self.between(svg, "<path class=\"line\" d=\"", "\"")!
        #expect(line.hasPrefix("M0 "), "the oldest point is at the left edge")
        #expect(line.filter { $0 == "M" }.count == 2, "the gap breaks the line: \(line)")
        #expect(line.filter { $0 == "L" }.count == points.count - 2)
        // The axis spans 31…100: 100 is the top (y 2), 31 the bottom (y 26); the warn line at 80.
        #expect(line.hasSuffix("L118 2"))
        #expect(line.contains("L58 26M"))
        #expect(svg.contains("<path class=\"t-warn\" d=\"M0 9H120\"/>"))
        #expect(svg.contains("<circle class=\"dot\" cx=\"118\" cy=\"2\" r=\"2\"/>"))
        #expect(svg.contains("aria-label=\"used_percent, the last hour\""))
        // One sample still draws a stroke; none draws nothing.
        var one = HTML(capacity: 512)
        StatusPage.sparkline(&one, [ChartPoint(time: t, value: 5)], warn: nil, crit: nil, now: t, label: "x")
        #expect(String(decoding: one.bytes, as: UTF8.self).contains("<path class=\"line\" d=\"M120 14h-3\"/>"))
        var none = HTML(capacity: 512)
        StatusPage.sparkline(&none, [], warn: 80, crit: 90, now: t, label: "x")
        #expect(!String(decoding: none.bytes, as: UTF8.self).contains("<path"))
    }

    @Test func chartCardsPutFiringRulesFirstAndCountWhatTheyLeaveOut() {
        func chart(_ name: String, omitted: Int = 0) -> RuleChart {
            RuleChart(rule: name, worker: "disk", function: "filesystems", expression: "used_percent", warn: 85, crit: 95,
                      instances: [InstanceChart(labels: ["mount": "/"], state: .inactive, severity: .warn, points: [])], omitted: omitted)
        }
        let page = Self.page(Self.model(
            charts: [chart("quiet"), chart("burning", omitted: 4)],
            rules: [RuleStatus(name: "quiet", worker: "disk", function: "filesystems", instances: 1, pending: 0, firing: 0),
                    RuleStatus(name: "burning", worker: "disk", function: "filesystems", instances: 5, pending: 0, firing: 2),
                    RuleStatus(name: "boolean", worker: "system", function: "time", instances: 1, pending: 0, firing: 0)]))
        let burning = page.ranges(of: "<article class=\"chart firing\" data-rule=\"burning\">").first
        let quiet = page.ranges(of: "<article class=\"chart\" data-rule=\"quiet\">").first
        #expect(burning != nil && quiet != nil && burning!.lowerBound < quiet!.lowerBound)
        #expect(page.contains("<p class=\"muted\">and 4 more</p>"))
        #expect(page.contains("<code>used_percent</code> · warn 85 · crit 95"))
        #expect(page.contains("<span class=\"val\">no data</span>"))
        // A rule without a chart is listed in the table below.
        #expect(page.contains("<tr><td data-label=\"rule\">boolean</td><td data-label=\"on\">system.time</td>"))
    }

    @Test func thePageIsOneDocumentForAPhoneWithItsOwnStyleAndScriptHashedInTheCSP() {
        let page = Self.page(Self.model())
        #expect(page.hasPrefix("<!doctype html>\n<html lang=\"en\">"))
        #expect(page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        #expect(page.contains("@media (max-width:640px)"))
        #expect(page.contains("<body data-refresh=\"10\">"))
        // Nothing is loaded from elsewhere: no src= and no stylesheet links; the only href are the page's own paths.
        #expect(!page.contains(" src="))
        let hrefs = page.ranges(of: "href=\"").map { page[$0.upperBound...].prefix { $0 != "\"" } }
        #expect(hrefs.allSatisfy { $0 == "data:," || $0.hasPrefix("/") }, "\(hrefs)")
        // The browser runs the script and applies the style only if their hashes are the CSP's.
        let script = Self.between(page, "<script>", "</script>")!
        let style = Self.between(page, "<style>", "</style>")!
        #expect(StatusPage.contentSecurityPolicy.contains("script-src \(StatusPage.hash(script));"))
        #expect(StatusPage.contentSecurityPolicy.contains("style-src \(StatusPage.hash(style));"))
        #expect(StatusPage.contentSecurityPolicy.hasPrefix("default-src 'none';"))
        // The hash itself is SHA-256 in base64: "abc" is RFC 6234's test vector.
        #expect(StatusPage.hash("abc") == "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='")
    }

    @Test func theAlertTableIsCapped() {
        let many = (0..<(StatusPage.maxAlertRows + 5)).map { Self.alert("r\($0)", .firing, .warn, sinceMinutes: Double($0)) }
        let page = Self.page(Self.model(alerts: many))
        #expect(page.ranges(of: "<tr class=\"alert ").count == StatusPage.maxAlertRows)
        #expect(page.contains("5 more not shown: <code>shd status --alerts</code> lists all."))
    }

    @Test(arguments: [(0.0, "0"), (12.34, "12.3"), (12.36, "12.4"), (-0.5, "-0.5"), (118.6, "118.6"), (26, "26")])
    func coordinates(_ v: Double, _ text: String) {
        #expect(StatusPage.coord(v) == text)
    }
}
