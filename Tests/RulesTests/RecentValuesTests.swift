// The status page's sparkline data: what a rule charts, the per-instance ring of one value a minute, and the engine's
// view of it (ordering, pruning, reload).
import Alerting
import Reports
import Testing
@testable import Rules

@Suite struct RecentValuesTests {
    @Test func oneSampleASlotTheFirstWins() {
        var r = RecentValues()
        r.record(slot: 100, 1)
        r.record(slot: 100, 2)
        r.record(slot: 99, 3)  // older than the newest: ignored
        r.record(slot: 101, 4)
        #expect(r.points(now: 101 * 60 + 30) == [ChartPoint(time: 6000, value: 1), ChartPoint(time: 6060, value: 4)])
    }

    @Test func skippedMinutesHaveNoValueAndTheRingKeepsOneHour() {
        var r = RecentValues()
        for s in 0..<100 where s != 80 && s != 81 { r.record(slot: s, Double(s)) }
        let pts = r.points(now: 99 * 60)
        #expect(pts.count == 58, "slots 40…99 without 80 and 81")
        #expect(pts.first?.value == 40)
        #expect(pts.last?.value == 99)
        #expect(!pts.contains { $0.value == 80 || $0.value == 81 })
        // A gap longer than the ring clears all of it; the hour before `now` is all that is shown.
        r.record(slot: 500, 5)
        #expect(r.points(now: 500 * 60) == [ChartPoint(time: 30000, value: 5)])
        #expect(r.points(now: 561 * 60).isEmpty, "an hour and a minute later nothing is recent")
    }

    static let chartCases: [(String, String?, Double?, Double?)] = [
        ("warn used_percent > 80\n crit used_percent > 90", "used_percent", 80, 90),
        ("warn 80 < used_percent", "used_percent", 80, nil),
        ("crit used_percent >= 95 for 5m\n warn used_percent > 85 clear < 80", "used_percent", 85, 95),
        ("warn not read_only and used_percent > 70", "used_percent", 70, nil),
        ("warn avg(used_percent, 5m) > 70\n crit used_percent > 99", "avg(used_percent, 5m)", 70, nil),
        ("warn fstype == \"xfs\"", nil, nil, nil),
        ("warn read_only", nil, nil, nil),
        ("warn used_percent > inodes_used_percent", "used_percent", nil, nil),
    ]

    @Test(arguments: chartCases)
    func whatARuleCharts(_ conditions: String, _ text: String?, _ warn: Double?, _ crit: Double?) throws {
        let engine = Engine(configuration: try TestCatalog.config("rule r on disk.filesystems {\n \(conditions)\n}"), recentValues: true)
        let chart = engine.compiled[0].chart
        #expect(chart?.text == text)
        #expect(chart?.warn == warn)
        #expect(chart?.crit == crit)
    }

    static let diskRule = """
        rule disk on disk.filesystems {
          warn used_percent > 80
          crit used_percent > 90
        }
        """

    @Test func anHourOfEvaluationsGivesSixtyPointsPerInstanceWorstFirst() throws {
        let d = try Driver(Self.diskRule, recentValues: true)
        // Every 20 s for 70 minutes: three evaluations a minute, one sample.
        for i in 0..<(70 * 3) {
            let m = Double(i) / 3
            _ = d.tick(m, [TestCatalog.disk("/", used: 10 + m), TestCatalog.disk("/srv", used: 50), TestCatalog.disk("/boot", used: 60)])
        }
        let now = TestCatalog.t0.adding(seconds: 69 * 60 + 40)  // the last evaluation
        let charts = d.engine.recentValues(now: now, perRule: 2)
        #expect(charts.count == 1)
        let c = try #require(charts.first)
        #expect(c.expression == "used_percent" && c.warn == 80 && c.crit == 90)
        // "/" is at 79.67 %: the highest value first (a `>` rule), then /boot at 60; /srv left out.
        #expect(c.instances.map { $0.labels["mount"] } == ["/", "/boot"])
        #expect(c.omitted == 1)
        let pts = c.instances[0].points
        #expect(pts.count == 60)
        #expect(pts.first?.value == 20, "minute 10, the first of the last hour")
        #expect(pts.last?.value == 79)
        #expect(zip(pts, pts.dropFirst()).allSatisfy { $1.time - $0.time == 60 })
        // Firing instances come before higher values.
        _ = d.tick(70.5, [TestCatalog.disk("/", used: 10), TestCatalog.disk("/srv", used: 95), TestCatalog.disk("/boot", used: 60)])
        let after = d.engine.recentValues(now: TestCatalog.t0.adding(seconds: 70.5 * 60), perRule: 3)
        #expect(after.first?.instances.map { $0.labels["mount"] } == ["/srv", "/boot", "/"])
        #expect(after.first?.instances.first?.state == .firing)
    }

    @Test func theRingsOfEndedInstancesAreDroppedAndAReloadKeepsTheRest() throws {
        let d = try Driver(Self.diskRule, recentValues: true)
        for m in 0..<5 { _ = d.tick(Double(m), [TestCatalog.disk("/", used: 50), TestCatalog.disk("/srv", used: 50)]) }
        #expect(d.engine.recent[0].instances.count == 2)
        // /srv is gone: after 3 evaluations without its row (on_missing's default) the instance ends, and its ring.
        for m in 5..<8 { _ = d.tick(Double(m), [TestCatalog.disk("/", used: 50)]) }
        #expect(d.engine.recent[0].instances.count == 1)

        // A reload whose rule charts the same value keeps the samples; one that charts another starts empty.
        let same = Engine(configuration: try TestCatalog.config("rule disk on disk.filesystems {\n  warn used_percent > 85\n}"), recentValues: true)
        let later = TestCatalog.t0.adding(seconds: 8 * 60)
        _ = same.adoptState(from: d.engine, now: later)
        #expect(same.recentValues(now: later).first?.instances.first?.points.count == 8)
        let other = Engine(configuration: try TestCatalog.config("rule disk on disk.filesystems {\n  warn avail_bytes < 100\n}"), recentValues: true)
        _ = other.adoptState(from: d.engine, now: later)
        #expect(other.recent[0].instances.isEmpty)
    }

    @Test func anEngineWithoutTheStatusPageKeepsNoSamples() throws {
        let d = try Driver(Self.diskRule)
        for m in 0..<5 { _ = d.tick(Double(m), [TestCatalog.disk("/", used: 50)]) }
        #expect(d.engine.recent[0].instances.isEmpty)
        #expect(d.engine.recentValues(now: TestCatalog.t0.adding(seconds: 300)).first?.instances.first?.points == [])
    }

    @Test func theSamplesAreNotAlertState() throws {
        let a = try Driver(Self.diskRule, recentValues: true)
        for m in 0..<5 { _ = a.tick(Double(m), [TestCatalog.disk("/", used: 85)]) }
        let b = try Driver(Self.diskRule, recentValues: true)
        #expect(try b.engine.importState(try JSONValue.parse(a.engine.exportState().encoded()), now: TestCatalog.t0).isEmpty)
        #expect(b.engine.runtimes == a.engine.runtimes)
        #expect(!a.engine.exportState().encoded().contains("recent"))
        #expect(b.engine.recent[0].instances.isEmpty, "state.json brings no samples")
    }

    /// charts.json: what a clean stop saves, the next start takes back (through JSON text, as on disk), for a rule of
    /// the same name that charts the same value; the restored engine keeps sampling into the same rings.
    @Test func theRingsSavedAtAStopComeBackAtTheNextStart() throws {
        let a = try Driver(Self.diskRule, recentValues: true)
        for m in 0..<10 where m != 4 { _ = a.tick(Double(m), [TestCatalog.disk("/", used: 50 + Double(m)), TestCatalog.disk("/srv", used: 20)]) }
        let stop = TestCatalog.t0.adding(seconds: 9 * 60)
        let saved = try JSONValue.parse(a.engine.recentValuesJSON(now: stop).encoded())

        let b = try Driver(Self.diskRule, recentValues: true)
        #expect(b.engine.restoreRecentValues(saved) == 2)
        #expect(Set(b.engine.recent[0].instances.keys) == Set(a.engine.recent[0].instances.keys))
        // The instances come back with the first evaluation (state.json keeps only those pending or firing); the
        // next minute's sample goes on the restored ring.
        _ = a.tick(10, [TestCatalog.disk("/", used: 70), TestCatalog.disk("/srv", used: 20)])
        _ = b.tick(10, [TestCatalog.disk("/", used: 70), TestCatalog.disk("/srv", used: 20)])
        let later = TestCatalog.t0.adding(seconds: 600)
        #expect(b.engine.recentValues(now: later) == a.engine.recentValues(now: later))
        let pts = b.engine.recentValues(now: later).first?.instances.first?.points ?? []
        #expect(pts.count == 10, "minutes 0…10 without 4")
        #expect(pts.map(\.value) == [50, 51, 52, 53, 55, 56, 57, 58, 59, 70])

        // Another charted value, another rule name or an engine without the page: nothing comes back.
        let other = try Driver("rule disk on disk.filesystems {\n  warn avail_bytes < 100\n}", recentValues: true)
        #expect(other.engine.restoreRecentValues(saved) == 0)
        let renamed = try Driver(Self.diskRule.replacingOccurrences("rule disk ", "rule disk2 "), recentValues: true)
        #expect(renamed.engine.restoreRecentValues(saved) == 0)
        let noPage = try Driver(Self.diskRule)
        #expect(noPage.engine.restoreRecentValues(saved) == 0)
        // Rings older than an hour are not saved; damaged entries are skipped.
        #expect(a.engine.recentValuesJSON(now: later.adding(seconds: 3600))["rules"]?.array?.isEmpty == true)
        #expect(b.engine.restoreRecentValues(try JSONValue.parse(#"{"version":1,"rules":[{"rule":"disk","chart":"used_percent","instances":[{"key":"x","newest":1,"values":[1,2]}]}]}"#)) == 0)
        #expect(b.engine.restoreRecentValues(try JSONValue.parse(#"{"version":2,"rules":[]}"#)) == 0)
    }
}

/// An event rule's chart: its matching entries a minute, per captured instance, kept for the hour whether the
/// instance is still there or over, saved and restored with its labels.
@Suite struct EventChartTests {
    static let source = """
    rule disk_io_errors on journal where transport == "kernel" and message =~ /I\\/O error, dev (?<device>\\w+)/ {
      warn count(10m) >= 1
      quiet 2m
    }
    """
    static let t0 = 1_800_000_000.0  // a minute's start

    func engine() throws -> Engine {
        let r = RuleSetLoader.load(sources: [("t.rules", Self.source)], catalog: TestCatalog.catalog)
        return Engine(configuration: try #require(r.configuration, "\(r.diagnostics.map(\.message))"), recentValues: true)
    }

    func ioError(_ device: String, at t: Double) -> EventEntry {
        EventEntry(source: "journal", time: Timestamp(seconds: Self.t0 + t),
                   fields: ["message": .string("I/O error, dev \(device), sector 1"), "transport": .string("kernel")])
    }

    @Test func countsAMinuteForEachDeviceForTheHour() throws {
        let e = try engine()
        // sda: 3 in minute 0, 1 in minute 2 (and one late entry for minute 0, read after it); sdb: 1 in minute 1.
        for t in [1.0, 5, 59] { _ = e.ingest([ioError("sda", at: t)], now: Timestamp(seconds: Self.t0 + t)) }
        _ = e.ingest([ioError("sdb", at: 70)], now: Timestamp(seconds: Self.t0 + 70))
        _ = e.ingest([ioError("sda", at: 130)], now: Timestamp(seconds: Self.t0 + 130))
        _ = e.ingest([ioError("sda", at: 30)], now: Timestamp(seconds: Self.t0 + 131))
        let now = Timestamp(seconds: Self.t0 + 150)
        let chart = try #require(e.recentValues(now: now).first)
        #expect(chart.counts && chart.expression == "matching entries a minute" && chart.warn == nil)
        #expect(chart.instances.map { $0.labels["device"] } == ["sda", "sdb"], "the most entries first")
        let sda = chart.instances[0].points
        #expect(sda.count == 60, "every minute of the hour, up to now's")
        #expect(sda.suffix(3).map(\.value) == [4, 0, 1])
        #expect(sda.last?.time == Self.t0 + 120)
        #expect(chart.instances[1].points.suffix(3).map(\.value) == [0, 1, 0])

        // sdb's alert resolves after its quiet 2m and the instance goes; its chart stays for the hour.
        _ = e.advanceEvents(now: Timestamp(seconds: Self.t0 + 70 + 11 * 60))
        #expect(e.runtimes[0].instances.count <= 1)
        let later = try #require(e.recentValues(now: Timestamp(seconds: Self.t0 + 12 * 60)).first)
        #expect(later.instances.map { $0.labels["device"] } == ["sda", "sdb"])
        #expect(later.instances[1].state == .inactive)

        // Saved and taken back with the labels (the instances are gone after a restart).
        let saved = try JSONValue.parse(e.recentValuesJSON(now: Timestamp(seconds: Self.t0 + 12 * 60)).encoded())
        let restarted = try engine()
        #expect(restarted.restoreRecentValues(saved) == 2)
        #expect(restarted.recentValues(now: Timestamp(seconds: Self.t0 + 12 * 60)) == e.recentValues(now: Timestamp(seconds: Self.t0 + 12 * 60)))

        // An hour after the last entry the rings are gone.
        _ = e.advanceEvents(now: Timestamp(seconds: Self.t0 + 130 + 3600))
        #expect(e.recent[0].instances.isEmpty)
        #expect(e.recentValues(now: Timestamp(seconds: Self.t0 + 130 + 3600)).first?.instances.isEmpty == true)
    }

    @Test func withoutThePageNothingIsCounted() throws {
        let r = RuleSetLoader.load(sources: [("t.rules", Self.source)], catalog: TestCatalog.catalog)
        let e = Engine(configuration: try #require(r.configuration))
        _ = e.ingest([ioError("sda", at: 1)], now: Timestamp(seconds: Self.t0 + 1))
        #expect(e.recent[0].instances.isEmpty)
    }

    @Test func aCountRingAddsLateEntriesAndZeroesSkippedMinutes() {
        var r = RecentValues()
        r.add(slot: 10, 1)
        r.add(slot: 10, 1)
        r.add(slot: 13, 5)
        r.add(slot: 11, 2)   // late, still in the ring
        r.add(slot: -100, 9) // older than the ring: ignored
        #expect(r.countPoints(now: 14 * 60).suffix(5).map(\.value) == [2, 2, 0, 5, 0])
        r.add(slot: 200, 1)  // more than an hour later: the old minutes are gone
        #expect(r.countPoints(now: 200 * 60).map(\.value).reduce(0, +) == 1)
    }
}
