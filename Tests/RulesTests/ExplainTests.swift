// Engine.explain: the evaluation trace of a rule against a report, without changing the engine's state.
import Alerting
import Reports
import Testing
@testable import Rules

@Suite struct ExplainTests {
    static let source = """
        rule disk_space on disk.filesystems where fstype != "tmpfs" {
          let free_gb = avail_bytes / 1000000000
          warn used_percent > 85 for 5m clear used_percent < 80
          crit used_percent > 95 or free_gb < 1
        }
        """

    @Test func valuesConditionsAndTimersOfAPendingInstance() throws {
        let d = try Driver(Self.source)
        _ = d.tick(0, [TestCatalog.disk("/", used: 90, avail: 5e9), TestCatalog.disk("/tmp", used: 99, fstype: "tmpfs")])
        let before = d.engine.exportState()
        let report = TestCatalog.report("disk", "filesystems", at: 120, [TestCatalog.disk("/", used: 90, avail: 5e9)])
        let e = try #require(d.engine.explain(rule: "disk_space", labels: [:], report: report, now: TestCatalog.t0.adding(seconds: 120)))
        #expect(d.engine.exportState() == before, "explain changes nothing")
        #expect(e.functionState == "ok")
        #expect(e.filter == "fstype != \"tmpfs\"")
        let i = try #require(e.instances.first)
        #expect(e.instances.count == 1, "the tmpfs row fails `where`")
        #expect(i.state == .pending)
        #expect(i.rowPresent)
        #expect(i.fields.map(\.name) == ["fstype", "used_percent", "avail_bytes"])
        #expect(i.fields.map(\.value) == ["\"ext4\"", "90", "5000000000"])
        #expect(i.lets.map(\.value) == ["5"])
        let warn = i.conditions[0], crit = i.conditions[1]
        #expect(warn.trigger == "used_percent > 85")
        #expect(warn.triggerHolds == true)
        #expect(warn.clear == "used_percent < 80")
        #expect(warn.clearHolds == false)
        #expect(warn.since == TestCatalog.t0)
        #expect(warn.firesIn == 180, "5m for, held 2m")
        #expect(warn.steps == [
            TraceStep(text: "used_percent > 85", left: "90", right: "85", result: true),
            TraceStep(text: "used_percent < 80", left: "90", right: "80", result: false),
        ])
        #expect(crit.trigger == "used_percent > 95 or free_gb < 1")
        #expect(crit.triggerHolds == false)
        #expect(crit.steps.map(\.result) == [false, false])
        #expect(crit.firesIn == nil)
    }

    @Test func labelsNarrowAndMissingRowsAreShown() throws {
        let d = try Driver(Self.source)
        _ = d.tick(0, [TestCatalog.disk("/", used: 97), TestCatalog.disk("/var", used: 97)])
        let report = TestCatalog.report("disk", "filesystems", at: 60, [TestCatalog.disk("/", used: 97)])
        let now = TestCatalog.t0.adding(seconds: 60)
        let all = try #require(d.engine.explain(rule: "disk_space", labels: [:], report: report, now: now))
        #expect(all.instances.map { $0.labels["mount"] } == ["/", "/var"])
        #expect(all.instances.map(\.rowPresent) == [true, false])
        #expect(all.instances[1].state == .firing)
        #expect(all.instances[1].fields.allSatisfy { $0.value == nil }, "no row: no data")
        let one = try #require(d.engine.explain(rule: "disk_space", labels: ["mount": "/var"], report: report, now: now))
        #expect(one.instances.count == 1)
        #expect(one.instances[0].conditions[1].firesIn == 0, "firing at crit")
        #expect(d.engine.explain(rule: "nope", labels: [:], report: report, now: now) == nil)
        let none = try #require(d.engine.explain(rule: "disk_space", labels: [:], report: DaemonReport(datetime: now, workerReports: []), now: now))
        #expect(none.functionState == "no report")
    }

    /// Expressions are written back in the rule language, parenthesised only where precedence needs it.
    @Test(arguments: [
        ("warn (used_percent + 1) * 2 > 10 and not read_only", "(used_percent + 1) * 2 > 10 and not read_only"),
        ("warn used_percent > 1 and (avail_bytes < 5 or size_bytes > 1)", "used_percent > 1 and (avail_bytes < 5 or size_bytes > 1)"),
        ("warn mount ~ \"/srv/*\"", "mount ~ \"/srv/*\""),
        ("warn used_percent - -1 > 0", "used_percent - -1 > 0"),
    ])
    func expressionsAreWrittenBack(_ line: String, _ text: String) throws {
        let d = try Driver("rule r on disk.filesystems {\n  \(line)\n}\n")
        let report = TestCatalog.report("disk", "filesystems", at: 0, [TestCatalog.disk("/srv/a", used: 50)])
        let e = try #require(d.engine.explain(rule: "r", labels: [:], report: report, now: TestCatalog.t0))
        #expect(e.instances.first?.conditions.first?.trigger == text)
    }
}
