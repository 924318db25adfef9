// `for N of M`, flapping and `inhibited by`: engine tables, their state across state.json, and the checker's diagnostics.
import Testing
import Alerting
import Reports
@testable import Rules

@Suite struct FlapInhibitTests {
    /// `minute:kind:severity` (plus `:flapping` for the flapping notice) for one used_percent value per minute on "/".
    static func run(_ rule: String, _ values: [Double]) throws -> [String] {
        let d = try Driver(rule)
        var out: [String] = []
        for (i, v) in values.enumerated() {
            for e in d.tick(Double(i), [TestCatalog.disk("/", used: v)]) {
                out.append("\(i):\(e.kind.rawValue):\(e.severity.rawValue)" + (e.reason.map { ":" + $0 } ?? ""))
            }
        }
        return out
    }

    @Test(arguments: [
        ([95, 50, 95, 50, 95, 50, 50, 50], ["4:firing:crit", "5:resolved:crit"]),
        ([95, 95, 95, 50, 50, 50], ["2:firing:crit", "5:resolved:crit"]),  // ends when fewer than 3 of the last 5 hold
        ([95, 50, 50, 95, 50, 50, 95], []),
        ([95, 95, 50, 50, 50, 95, 95, 95], ["7:firing:crit"]),  // the hits at 0–1 fall out of the window
    ] as [([Double], [String])])
    func nOfMEvaluations(_ values: [Double], _ expected: [String]) throws {
        #expect(try Self.run("rule r on disk.filesystems { crit used_percent > 90 for 3 of 5 }", values) == expected)
    }

    @Test func nOfMIsPendingBelowN() throws {
        let d = try Driver("rule r on disk.filesystems { warn used_percent > 90 for 2 of 3 }")
        _ = d.tick(0, [TestCatalog.disk("/", used: 95)])
        #expect(d.engine.activeStates.map(\.state) == [.pending])
        // The same report again adds no evaluation.
        _ = d.tick(0, [TestCatalog.disk("/", used: 95)], now: 0.5)
        #expect(d.engine.activeStates.map(\.state) == [.pending])
        _ = d.tick(1, [TestCatalog.disk("/", used: 95)])
        #expect(d.engine.activeStates.map(\.state) == [.firing])
    }

    static let alternating: [Double] = (0...10).map { $0 % 2 == 0 ? 95 : 50 }

    @Test func flappingNotifiesOnceHoldsFiringAndResolvesWhenStable() throws {
        let rule = "rule r on disk.filesystems { crit used_percent > 90\n flapping 4 in 1h stable 10m }"
        let values = Self.alternating + Array(repeating: 50, count: 15)
        #expect(try Self.run(rule, values) == ["0:firing:crit", "1:resolved:crit", "2:firing:crit", "3:repeated:crit:flapping", "21:resolved:crit"])
    }

    @Test func flappingThatSettlesFiringKeepsFiringAndCanFlapAgainLater() throws {
        let rule = "rule r on disk.filesystems { crit used_percent > 90\n flapping 4 in 1h stable 10m }"
        let d = try Driver(rule)
        var out: [String] = []
        let values = Self.alternating + Array(repeating: 95, count: 12) + [50]
        for (i, v) in values.enumerated() {
            for e in d.tick(Double(i), [TestCatalog.disk("/", used: v)]) { out.append("\(i):\(e.kind.rawValue)") }
            if i == 5 { #expect(d.engine.status(now: TestCatalog.t0.adding(seconds: 300)).instances.map(\.flapping) == [true]) }
        }
        // Stable (firing) from 10 for 10 minutes: no longer flapping at 20, so the end at 23 resolves at once.
        #expect(out == ["0:firing", "1:resolved", "2:firing", "3:repeated", "23:resolved"])
        #expect(d.engine.takeNotes().map(\.kind) == [.flapping, .flappingEnded])
    }

    @Test func flappingOffAndTheQuietDefault() throws {
        let off = try Self.run("rule r on disk.filesystems { crit used_percent > 90\n flapping off }", Self.alternating)
        #expect(off.count == 11)
        // The default: 8 starts and ends in an hour.
        let byDefault = try Self.run("rule r on disk.filesystems { crit used_percent > 90 }", Self.alternating)
        #expect(byDefault.prefix(8) == ["0:firing:crit", "1:resolved:crit", "2:firing:crit", "3:resolved:crit", "4:firing:crit",
                                        "5:resolved:crit", "6:firing:crit", "7:repeated:crit:flapping"])
        #expect(byDefault.count == 8)
        let set = try Self.run("set flap_transitions 0\nrule r on disk.filesystems { crit used_percent > 90 }", Self.alternating)
        #expect(set.count == 11)
    }

    @Test func flappingStateSurvivesStateJSON() throws {
        let rule = "rule r on disk.filesystems { crit used_percent > 90 for 2 of 3\n flapping 2 in 1h stable 10m }"
        let a = try Driver(rule)
        for (i, v) in [95.0, 95, 50, 50, 95].enumerated() { _ = a.tick(Double(i), [TestCatalog.disk("/", used: v)]) }
        let b = try Driver(rule)
        _ = try b.engine.importState(try JSONValue.parse(a.engine.exportState().encoded()), now: TestCatalog.t0)
        #expect(b.engine.runtimes == a.engine.runtimes)
        #expect(a.engine.runtimes[0].instances.values.first?.flapping == true)
    }

    // MARK: inhibition

    static func row(_ mount: String, used: Double, ro: Bool) -> Row {
        ["mount": .string(mount), "fstype": "ext4", "device": "/dev/sda1", "used_percent": .double(used), "avail_bytes": 1e9,
         "size_bytes": 1e10, "read_only": .bool(ro)]
    }

    static let inhibitRules = """
    rule full on disk.filesystems {
      crit used_percent > 90
      inhibited by readonly on mount
    }
    rule readonly on disk.filesystems by mount {
      crit read_only == true
    }
    """

    @Test func inhibitedAlertsWaitForTheirInhibitorToEnd() throws {
        let d = try Driver(Self.inhibitRules)
        var out: [String] = []
        let steps: [[Row]] = [
            [Self.row("/", used: 95, ro: true), Self.row("/home", used: 95, ro: false)],
            [Self.row("/", used: 95, ro: true), Self.row("/home", used: 95, ro: false)],
            [Self.row("/", used: 95, ro: false), Self.row("/home", used: 95, ro: false)],
        ]
        for (i, rows) in steps.enumerated() {
            for e in d.tick(Double(i), rows) { out.append("\(i):\(e.rule):\(e.kind.rawValue):\(e.labels["mount"]!)") }
            if i == 1 {
                let st = d.engine.status(now: TestCatalog.t0.adding(seconds: 60))
                #expect(st.instances.filter { $0.rule == "full" }.map { "\($0.labels["mount"]!) \($0.inhibitedBy)" } == ["/ [\"readonly\"]", "/home []"])
            }
        }
        // The inhibitor is evaluated first although declared second: "/" of `full` never fired while read-only.
        #expect(out == ["0:readonly:firing:/", "0:full:firing:/home", "2:readonly:resolved:/", "2:full:firing:/"])
    }

    @Test func withoutOnEveryInstanceIsInhibited() throws {
        let d = try Driver("""
        rule full on disk.filesystems { crit used_percent > 90
          inhibited by readonly }
        rule readonly on disk.filesystems where read_only == true and mount == "/" { crit read_only == true }
        """)
        let events = d.tick(0, [Self.row("/", used: 50, ro: true), Self.row("/home", used: 95, ro: false)])
        #expect(events.map(\.rule) == ["readonly"])
    }

    // MARK: checker

    @Test(arguments: [
        ("rule a on disk.filesystems { crit used_percent > 90\n inhibited by nope on mount }", "unknown-inhibitor", Diagnostic.Severity.error, 2, 15),
        ("rule a on disk.filesystems { crit used_percent > 90\n inhibited by a on mount }", "self-inhibition", .error, 2, 15),
        ("rule a on disk.filesystems { crit used_percent > 90\n inhibited by m on mount }\nrule m on memory.usage { crit used_percent > 90 }",
         "inhibit-never-matches", .error, 2, 20),
        ("rule a on disk.filesystems by device { crit used_percent > 90\n inhibited by b on mount }\nrule b on disk.filesystems { crit used_percent > 95 }",
         "inhibit-never-matches", .error, 2, 20),
        ("rule a on disk.filesystems { crit used_percent > 90\n inhibited by b }\nrule b on disk.filesystems { crit used_percent > 95 }",
         "inhibit-matches-all", .warning, 2, 2),
        ("rule a on disk.filesystems { crit used_percent > 90 for 6 of 5 }", "bad-value", .error, 1, 57),
        ("rule a on disk.filesystems { crit used_percent > 90 for 0 of 5 }", "bad-value", .error, 1, 57),
        ("rule a on disk.filesystems { crit used_percent > 90 for 3 of 65 }", "bad-value", .error, 1, 57),
        ("rule a on disk.filesystems { crit used_percent > 90 for 3 of 5 for 1m }", "bad-value", .error, 1, 57),
        ("rule a on disk.filesystems { crit used_percent > 90 for 3 of 5m }", "expected-number", .error, 1, 62),
        ("rule a on disk.filesystems { crit used_percent > 90\n flapping 1 in 1h }", "bad-value", .error, 2, 11),
        ("rule a on disk.filesystems { crit used_percent > 90\n flapping 4 in 0s }", "bad-value", .error, 2, 16),
        ("rule a on disk.filesystems { crit used_percent > 90\n flapping sometimes }", "expected-token", .error, 2, 11),
        ("rule a on disk.filesystems { crit used_percent > 90\n inhibited b }", "expected-token", .error, 2, 12),
    ] as [(String, String, Diagnostic.Severity, Int, Int)])
    func diagnostics(_ source: String, _ id: String, _ severity: Diagnostic.Severity, _ line: Int, _ column: Int) throws {
        let r = RuleSetLoader.load(sources: [("t.rules", source)], catalog: TestCatalog.catalog)
        let d = try #require(r.diagnostics.first { $0.id == id }, "got \(r.diagnostics.map { "\($0.id) \($0.location) \($0.message)" })")
        #expect(d.severity == severity)
        #expect("\(d.location.line):\(d.location.column)" == "\(line):\(column)", "\(d.message)")
        #expect((r.configuration == nil) == r.diagnostics.contains { $0.severity == .error })
    }

    @Test func aValidInhibitionCompiles() throws {
        let c = try TestCatalog.config(Self.inhibitRules)
        #expect(c.rules[0].inhibitors == [Inhibition(rule: "readonly", labels: ["mount"])])
        #expect(c.rules[0].flap == FlapPolicy(transitions: 8, window: 3600, stable: 1800))
    }
}
