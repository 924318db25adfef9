// The alert state machine: transitions, for/clear/repeat, mute, missing data, series, state export/import, reload.
// Over 400 lines: one suite of the state machine's tables; each test is a table of transitions.
import Alerting
import Reports
import Testing
@testable import Rules

/// Drives an engine over one function with one row per tick (a minute apart unless told).
struct Driver {
    let engine: Engine
    var worker = "disk"
    var function = "filesystems"

    init(_ source: String, worker: String = "disk", function: String = "filesystems", recentValues: Bool = false) throws {
        engine = Engine(configuration: try TestCatalog.config(source), recentValues: recentValues)
        self.worker = worker
        self.function = function
    }

    func tick(_ minute: Double, _ rows: [Row], error: String? = nil, now: Double? = nil) -> [AlertEvent] {
        engine.evaluate(report: TestCatalog.report(worker, function, at: minute * 60, rows, error: error),
                        now: TestCatalog.t0.adding(seconds: (now ?? minute) * 60))
    }

    /// Runs one used_percent value per minute on mount "/" and returns `minute:kind:severity` for every event.
    func run(_ values: [Double]) -> [String] {
        var out: [String] = []
        for (i, v) in values.enumerated() {
            for e in tick(Double(i), [TestCatalog.disk("/", used: v)]) { out.append("\(i):\(e.kind.rawValue):\(e.severity.rawValue)") }
        }
        return out
    }
}

@Suite struct EngineTests {
    static let rule = """
    rule disk on disk.filesystems {
      warn used_percent > 80 for 2m clear < 70
      crit used_percent > 90
      summary "{mount} {used_percent}%"
    }
    """

    @Test(arguments: [
        ([50, 85, 85, 85, 50], ["3:firing:warn", "4:resolved:warn"]),
        ([50, 85, 50, 85, 85], []),                                   // `for` restarts when the trigger drops while pending
        ([85, 85, 85, 75, 75, 69], ["2:firing:warn", "5:resolved:warn"]),  // hysteresis: 75 keeps it firing
        ([95, 50], ["0:firing:crit", "1:resolved:crit"]),            // crit has no `for`
        ([85, 85, 85, 95, 85, 60], ["2:firing:warn", "3:escalated:crit", "4:deescalated:warn", "5:resolved:warn"]),
        ([95, 85], ["0:firing:crit", "1:deescalated:warn"]),          // an alert already firing waives warn's `for`
        ([50, 50, 50], []),
    ] as [([Double], [String])])
    func transitions(_ values: [Double], _ expected: [String]) throws {
        #expect(try Driver(Self.rule).run(values) == expected)
    }

    @Test func pendingThenFiringStates() throws {
        let d = try Driver(Self.rule)
        _ = d.tick(0, [TestCatalog.disk("/", used: 85)])
        #expect(d.engine.activeStates.map(\.state) == [.pending])
        #expect(d.engine.firingAlerts.isEmpty)
        _ = d.tick(2, [TestCatalog.disk("/", used: 85)])
        #expect(d.engine.activeStates.map(\.state) == [.firing])
        let f = try #require(d.engine.firingAlerts.first)
        #expect(f.summary == "/ 85%")
        #expect(f.labels["mount"] == "/" && f.labels["worker"] == "disk" && f.labels["function"] == "filesystems")
        #expect(f.values["used_percent"] == 85)
        #expect(f.channels == ["log"])
        #expect(f.startsAt == TestCatalog.t0.adding(seconds: 120))
    }

    @Test func oneInstancePerRowByLabels() throws {
        let d = try Driver(Self.rule)
        let ev = d.tick(0, [TestCatalog.disk("/", used: 95), TestCatalog.disk("/home", used: 50), TestCatalog.disk("/var", used: 99)])
        #expect(ev.map { $0.labels["mount"]! } == ["/", "/var"])
        #expect(d.engine.instanceCount == 3)
    }

    @Test func rowLabelsNamedLikeTheBuiltInsAreKept() throws {
        let d = try Driver("rule r on disk.filesystems { crit used_percent > 90 }")
        let rows: [Row] = [["mount": "/", "function": "filesystems-a", "used_percent": 95], ["mount": "/", "function": "b", "used_percent": 95]]
        let ev = d.tick(0, rows)
        #expect(ev.count == 2)
        #expect(Set(ev.map(\.fingerprint)).count == 2)
        #expect(ev.map { $0.labels["function"]! } == ["filesystems-a", "b"])
        #expect(ev.allSatisfy { $0.labels["worker"] == "disk" })
    }

    @Test func byNarrowsTheIdentity() throws {
        let d = try Driver("rule r on disk.filesystems by mount { crit used_percent > 90 summary \"{mount} on {device}\" }")
        let first = d.tick(0, [["mount": "/", "device": "/dev/sda1", "used_percent": 95]])
        #expect(first.map(\.summary) == ["/ on /dev/sda1"])
        #expect(first.first?.labels == ["mount": "/", "worker": "disk", "function": "filesystems"])
        // The device name changes (a re-enumerated disk): still the same alert, no new event.
        #expect(d.tick(1, [["mount": "/", "device": "/dev/sdb1", "used_percent": 95]]).isEmpty)
        #expect(d.engine.firingAlerts.map(\.summary) == ["/ on /dev/sdb1"])
        #expect(d.engine.instanceCount == 1)
    }

    @Test func repeatResendsWhileFiring() throws {
        let d = try Driver("rule r on disk.filesystems { crit used_percent > 90 repeat 10m }")
        var kinds: [String] = []
        for m in 0...25 {
            for e in d.tick(Double(m), [TestCatalog.disk("/", used: 95)]) { kinds.append("\(m):\(e.kind.rawValue)") }
        }
        #expect(kinds == ["0:firing", "10:repeated", "20:repeated"])
    }

    @Test func resolvedEventCarriesStartAndEnd() throws {
        let d = try Driver(Self.rule)
        _ = d.tick(0, [TestCatalog.disk("/", used: 95)])
        let e = try #require(d.tick(3, [TestCatalog.disk("/", used: 10)]).first)
        #expect(e.kind == .resolved)
        #expect(e.startsAt == TestCatalog.t0)
        #expect(e.endsAt == TestCatalog.t0.adding(seconds: 180))
    }

    @Test func dailyMuteHoldsNotificationsAndAnnouncesAfterwards() throws {
        let d = try Driver("rule r on disk.filesystems { crit used_percent > 90\n mute \"00:10-00:20\" }")
        var out: [String] = []
        for m in stride(from: 0.0, through: 30, by: 5) {
            let v: Double = m >= 5 && m < 25 ? 95 : 50
            for e in d.tick(m, [TestCatalog.disk("/", used: v)]) { out.append("\(Int(m)):\(e.kind.rawValue)") }
        }
        // Fires at 5 (unmuted); 10–15 muted; resolves at 25 — sent because the start was.
        #expect(out == ["5:firing", "25:resolved"])

        let d2 = try Driver("rule r on disk.filesystems { crit used_percent > 90\n mute \"00:10-00:20\" }")
        var out2: [String] = []
        for m in stride(from: 0.0, through: 30, by: 5) {
            let v: Double = m >= 10 && m < 25 ? 95 : 50
            for e in d2.tick(m, [TestCatalog.disk("/", used: v)]) { out2.append("\(Int(m)):\(e.kind.rawValue)") }
        }
        // Starts inside the mute: announced when it ends (20), then resolved (25).
        #expect(out2 == ["20:firing", "25:resolved"])
        #expect(d2.engine.firingAlerts.isEmpty)
    }

    @Test func severityChangedDuringAMuteIsAnnouncedAfterIt() throws {
        let d = try Driver("rule r on disk.filesystems { warn used_percent > 80\n crit used_percent > 90\n mute \"00:10-00:20\" }")
        var out: [String] = []
        for (m, v) in [(0.0, 85.0), (10, 95), (15, 95), (20, 95), (25, 85)] {
            for e in d.tick(m, [TestCatalog.disk("/", used: v)]) { out.append("\(Int(m)):\(e.kind.rawValue):\(e.severity.rawValue)") }
        }
        #expect(out == ["0:firing:warn", "20:escalated:crit", "25:deescalated:warn"])
    }

    @Test(arguments: [
        (MuteWindow.daily(startMinute: 0, endMinute: 1440), [0, 600, 1439], [1440 + 1440 * 60]),
        (.daily(startMinute: 1320, endMinute: 360), [1320, 1439, 0, 359], [360, 1319, 720]),
        (.daily(startMinute: 120, endMinute: 240), [120, 239], [119, 240, 0]),
    ] as [(MuteWindow, [Int], [Int])])
    func dailyMuteWindows(_ w: MuteWindow, _ inside: [Int], _ outside: [Int]) {
        for m in inside { #expect(w.isActive(at: TestCatalog.t0.adding(seconds: Double(m) * 60)), "\(m)") }
        for m in outside where m < 1440 { #expect(!w.isActive(at: TestCatalog.t0.adding(seconds: Double(m) * 60)), "\(m)") }
        // Local time: the same instant seen from UTC+2 is two hours later on the clock.
        let utc = Timestamp(microseconds: TestCatalog.t0.microseconds + 60 * 60_000_000, utcOffsetSeconds: 7200)
        #expect(MuteWindow.daily(startMinute: 180, endMinute: 181).isActive(at: utc))
    }

    @Test func absoluteMuteAndFileLevelMute() throws {
        let src = """
        mute from "2026-01-05T00:00:00Z" until "2026-01-05T01:00:00Z"
        rule r on disk.filesystems { crit used_percent > 90 }
        """
        let d = try Driver(src)
        #expect(d.tick(0, [TestCatalog.disk("/", used: 95)]).isEmpty)
        #expect(d.engine.activeStates.map(\.state) == [.firing])
        #expect(d.tick(60, [TestCatalog.disk("/", used: 95)]).map(\.kind) == [.firing])
    }

    @Test(arguments: [
        ("on_missing resolve after 2", ["2:resolved"], 0),
        ("on_missing keep", [], 1),
        ("on_missing alert after 1", ["1:firing", "5:resolved"], 0),
    ] as [(String, [String], Int)])
    func missingRows(_ policy: String, _ expected: [String], _ remaining: Int) throws {
        let d = try Driver("rule r on disk.filesystems { crit used_percent > 90\n \(policy) }")
        var out: [String] = []
        let alert = policy.contains("alert")
        for m in 0...4 {
            // With `alert`, the row is healthy and then vanishes; otherwise it fires and then vanishes.
            let rows = m == 0 ? [TestCatalog.disk("/", used: alert ? 50 : 95)] : []
            for e in d.tick(Double(m), rows) { out.append("\(m):\(e.kind.rawValue)") }
        }
        if alert {
            for e in d.tick(5, [TestCatalog.disk("/", used: 50)]) { out.append("5:\(e.kind.rawValue)") }
        }
        if alert { #expect(out == expected) } else { #expect(Array(out.dropFirst()) == expected) }
        if !alert { #expect(d.engine.instanceCount == remaining) }
    }

    @Test func failedFunctionKeepsStateAndTimers() throws {
        let d = try Driver(Self.rule)
        _ = d.tick(0, [TestCatalog.disk("/", used: 95)])
        for m in 1...10 { #expect(d.tick(Double(m), [], error: "statfs timed out").isEmpty) }
        #expect(d.engine.activeStates.map(\.state) == [.firing])
    }

    @Test func sameReportTwiceAddsNoSample() throws {
        let d = try Driver("rule r on network.interfaces { warn rate(rx_errors_total) > 1/s }", worker: "network", function: "interfaces")
        func row(_ n: Int64) -> Row { ["name": "eth0", "rx_errors_total": .int(n)] }
        #expect(d.tick(0, [row(0)]).isEmpty)
        // Same report datetime evaluated again at a later `now`: still one sample, no rate.
        #expect(d.tick(0, [row(0)], now: 0.5).isEmpty)
        #expect(d.tick(1, [row(600)]).map(\.kind) == [.firing])
    }

    @Test(arguments: [
        ([0, 60, 120], [false, true, true]),        // 1/s from the second sample
        ([0, 30, 60], [false, false, false]),       // 0.5/s
        ([0, 600, 10], [false, true, false]),       // a counter reset is no data: resolves
    ] as [([Int64], [Bool])])
    func rateOfACounter(_ counts: [Int64], _ firing: [Bool]) throws {
        let d = try Driver("rule r on network.interfaces { warn rate(rx_errors_total) >= 1/s }", worker: "network", function: "interfaces")
        for (i, c) in counts.enumerated() {
            _ = d.tick(Double(i), [["name": "eth0", "rx_errors_total": .int(c)]])
            #expect(!d.engine.firingAlerts.isEmpty == firing[i], "at \(i)")
        }
    }

    @Test(arguments: [
        ("avg(used_percent, 3m) > 60", [50, 70, 90, 50, 50, 50], [false, false, true, true, true, false]),
        ("max(used_percent, 2m) >= 90", [90, 10, 10, 10], [true, true, true, false]),
        ("min(used_percent, 2m) > 80", [90, 85, 70, 95, 95, 95], [true, true, false, false, false, true]),
        ("sum(used_percent, 1m) > 100", [60, 60, 60], [false, true, true]),
        ("count(used_percent, 10m) >= 3", [1, 1, 1, 1], [false, false, true, true]),
        ("delta(used_percent) > 5", [10, 20, 22], [false, true, false]),
    ] as [(String, [Double], [Bool])])
    func windows(_ cond: String, _ values: [Double], _ firing: [Bool]) throws {
        let d = try Driver("rule r on disk.filesystems { warn \(cond) }")
        for (i, v) in values.enumerated() {
            _ = d.tick(Double(i), [TestCatalog.disk("/", used: v)])
            #expect(!d.engine.firingAlerts.isEmpty == firing[i], "\(cond) at \(i)")
        }
    }

    @Test func predictionGivesSecondsToTheLimit() throws {
        let src = """
        rule r on disk.filesystems {
          let eta = predict_zero(avail_bytes, window 10m)
          let to_full = time_to(used_percent, 100, 10m)
          warn eta < 1h
          summary "{eta|duration} {to_full|duration}"
        }
        """
        let d = try Driver(src)
        // avail falls 1 GiB a minute from 40 GiB; used rises 1% a minute from 50%.
        var summary = ""
        for m in 0...5 {
            _ = d.tick(Double(m), [TestCatalog.disk("/", used: 50 + Double(m), avail: (40 - Double(m)) * 1_073_741_824)])
            summary = d.engine.firingAlerts.first?.summary ?? ""
        }
        // At 5 min: 35 GiB left → 35 min; 55% used → 45 min to 100%.
        #expect(summary == "35m 45m")
        let v = try #require(d.engine.firingAlerts.first?.values["eta"])
        #expect(abs(v - 2100) < 1e-6)
    }

    @Test func predictionOfASteadyValueIsNever() throws {
        let d = try Driver("rule r on disk.filesystems { warn predict_zero(avail_bytes, window 4m) < 1d }")
        for m in 0...10 { _ = d.tick(Double(m), [TestCatalog.disk("/", used: 50, avail: 1e9)]) }
        #expect(d.engine.activeStates.isEmpty)
    }

    @Test func whereFiltersSelectRows() throws {
        let d = try Driver("""
        rule r on disk.filesystems where mount ~ "/srv/*" and not (fstype =~ "tmpfs|nfs[0-9]?") { crit used_percent > 90 }
        """)
        let ev = d.tick(0, [TestCatalog.disk("/srv/a", used: 95), TestCatalog.disk("/srv/b", used: 95, fstype: "nfs4"),
                            TestCatalog.disk("/", used: 95), TestCatalog.disk("/srv/c", used: 95, fstype: "tmpfs")])
        #expect(ev.map { $0.labels["mount"]! } == ["/srv/a"])
    }

    @Test func templatesAndFilters() throws {
        let d = try Driver("""
        rule r on disk.filesystems {
          let hours = 90m / 1h
          crit used_percent > 90
          summary "{rule} {severity} {mount} {used_percent|percent} {avail_bytes|bytes} {hours|round:1} {size_bytes|round} {{x}} {worker}.{function}"
          description "{read_only}"
        }
        """)
        let e = try #require(d.tick(0, [TestCatalog.disk("/", used: 93.456, avail: 1_610_612_736)]).first)
        #expect(e.summary == "r crit / 93.5% 1.5 GiB 1.5 10000000000 {x} disk.filesystems")
        #expect(e.description == "false")
    }

    // MARK: state

    static let stateRule = """
    rule disk on disk.filesystems {
      warn used_percent > 80 for 3m clear < 70
      crit rate(used_bytes) > 1000 or avg(used_percent, 10m) > 95
      repeat 5m
    }
    """

    static func row(_ m: Int) -> Row {
        ["mount": "/", "used_percent": .double(Double(60 + (m * 7) % 40)), "used_bytes": .int(Int64(m * m * 1000))]
    }

    @Test func exportImportRoundTripContinuesIdentically() throws {
        let a = try Driver(Self.stateRule)
        for m in 0..<8 { _ = a.tick(Double(m), [Self.row(m)]) }
        let saved = a.engine.exportState()
        // Through text, as the daemon writes it.
        let text = saved.encoded(pretty: true)
        let b = try Driver(Self.stateRule)
        #expect(try b.engine.importState(try JSONValue.parse(text), now: TestCatalog.t0).isEmpty)
        #expect(b.engine.exportState() == saved)
        #expect(b.engine.runtimes == a.engine.runtimes)
        for m in 8..<30 {
            let ea = a.tick(Double(m), [Self.row(m)]), eb = b.tick(Double(m), [Self.row(m)])
            #expect(ea == eb, "diverged at \(m)")
        }
    }

    @Test(arguments: [
        "[]", "{}", "{\"version\": 2, \"rules\": []}", "{\"version\": 1}",
        "{\"version\": 1, \"rules\": [{\"rule\": \"disk\"}]}",
        "{\"version\": 1, \"rules\": [{\"rule\": \"disk\", \"identity\": \"IDENT\", \"instances\": [{\"labels\": {}}]}]}",
        "{\"version\": 1, \"rules\": [{\"rule\": \"disk\", \"identity\": \"IDENT\", \"instances\": [{\"labels\": {\"a\": 1}, \"state\": \"firing\", \"severity\": \"warn\", \"since\": [null, null]}]}]}",
        "{\"version\": 1, \"rules\": [{\"rule\": \"disk\", \"identity\": \"IDENT\", \"instances\": [{\"labels\": {}, \"state\": \"firing\", \"severity\": \"warn\", \"since\": [\"x\", null]}]}]}",
        "{\"version\": 1, \"rules\": [{\"rule\": \"disk\", \"identity\": \"IDENT\", \"instances\": [{\"labels\": {}, \"state\": \"firing\", \"severity\": \"warn\", \"since\": [null, null], \"starts_at\": 9223372036854775807}]}]}",
        "{\"version\": 1, \"rules\": [{\"rule\": \"disk\", \"identity\": \"IDENT\", \"instances\": [{\"labels\": {}, \"state\": \"firing\", \"severity\": \"warn\", \"since\": [null, null], \"series\": [[[1]], []]}]}]}",
    ])
    func malformedStateThrowsAndChangesNothing(_ json: String) throws {
        let d = try Driver(Self.stateRule)
        _ = d.tick(0, [TestCatalog.disk("/", used: 99)])
        let before = d.engine.runtimes
        let identity = d.engine.configuration.rules[0].identity
        let text = json.replacingIdentity(identity)
        #expect(throws: Engine.StateError.self) { try d.engine.importState(try JSONValue.parse(text), now: TestCatalog.t0) }
        #expect(d.engine.runtimes == before)
    }

    @Test func adoptStateKeepsUnchangedRulesAcrossAReload() throws {
        let two = Self.rule + "\nrule other on disk.filesystems { crit used_percent > 50 }"
        let old = try Driver(two)
        #expect(old.tick(0, [TestCatalog.disk("/", used: 95)]).count == 2)
        // Reload: `disk` unchanged (comments and layout don't count), `other` changed: neither fires again.
        let edited = "# edited\n" + Self.rule.replacingOccurrences("  crit", "    crit") + "\nrule other on disk.filesystems { crit used_percent > 60 }"
        let new = try Driver(edited)
        #expect(new.engine.adoptState(from: old.engine, now: TestCatalog.t0).isEmpty)
        #expect(new.tick(1, [TestCatalog.disk("/", used: 95)]).isEmpty)
        #expect(new.engine.firingAlerts.map(\.rule) == ["disk", "other"])
    }

    /// One reload transition: the old rules run `before` (one used_percent per minute on "/"), the new rules take
    /// over, and run `after`. `expected` lists `minute:kind:rule:severity[:reason]`, minute -1 for the events of the
    /// reload itself. Each case runs twice: as a reload (adoptState) and as a restart (state.json through text).
    struct ReloadCase: Sendable, CustomStringConvertible {
        var name: String
        var old: String
        var new: String
        var before: [Double]
        var after: [Double]
        var expected: [String]
        var description: String { name }
    }

    static let reloadCases: [ReloadCase] = [
        ReloadCase(name: "summary edited: no second firing", old: Self.rule,
                   new: Self.rule.replacingOccurrences("\"{mount} {used_percent}%\"", "\"disk {mount} at {used_percent}%\""),
                   before: [95], after: [95, 95, 50], expected: ["0:firing:disk:crit", "3:resolved:disk:crit"]),
        ReloadCase(name: "crit threshold raised: evaluated next tick, de-escalates", old: Self.rule,
                   new: Self.rule.replacingOccurrences("> 90", "> 97"),
                   before: [95], after: [95], expected: ["0:firing:disk:crit", "1:deescalated:disk:warn"]),
        ReloadCase(name: "threshold raised past the value: resolved next tick",
                   old: "rule r on disk.filesystems { crit used_percent > 90 }", new: "rule r on disk.filesystems { crit used_percent > 99 }",
                   before: [95], after: [95], expected: ["0:firing:r:crit", "1:resolved:r:crit"]),
        ReloadCase(name: "warn threshold raised under hysteresis: the new trigger decides next tick", old: Self.rule,
                   new: Self.rule.replacingOccurrences("> 80", "> 88"),
                   before: [85, 85, 85], after: [85], expected: ["2:firing:disk:warn", "3:resolved:disk:warn"]),
        ReloadCase(name: "summary edited under hysteresis: clear still governs", old: Self.rule,
                   new: Self.rule.replacingOccurrences("\"{mount} {used_percent}%\"", "\"disk {mount} at {used_percent}%\""),
                   before: [85, 85, 85, 75], after: [75, 69], expected: ["2:firing:disk:warn", "5:resolved:disk:warn"]),
        ReloadCase(name: "clear raised: the new clear ends it", old: Self.rule,
                   new: Self.rule.replacingOccurrences("clear < 70", "clear < 76"),
                   before: [85, 85, 85, 75], after: [75], expected: ["2:firing:disk:warn", "4:resolved:disk:warn"]),
        ReloadCase(name: "threshold lowered: a pending timer goes on", old: Self.rule,
                   new: Self.rule.replacingOccurrences("> 80", "> 75"),
                   before: [85, 85], after: [85], expected: ["2:firing:disk:warn"]),
        ReloadCase(name: "history kept when the window changes",
                   old: "rule r on disk.filesystems { warn avg(used_percent, 5m) > 80 }",
                   new: "rule r on disk.filesystems { warn avg(used_percent, 10m) > 75 }",
                   // avg over minutes 0...3 = (70+70+70+90)/4 = 75, not > 75; 90 again at 4 lifts it above.
                   before: [70, 70, 70], after: [90, 90], expected: ["4:firing:r:warn"]),
        ReloadCase(name: "rule removed", old: Self.rule + "\nrule keep on disk.filesystems { crit used_percent > 99 }",
                   new: "rule keep on disk.filesystems { crit used_percent > 99 }",
                   before: [95], after: [95], expected: ["0:firing:disk:crit", "-1:resolved:disk:crit:rule removed"]),
        ReloadCase(name: "rule renamed", old: Self.rule, new: Self.rule.replacingOccurrences("rule disk", "rule disk_space"),
                   before: [95], after: [95],
                   expected: ["0:firing:disk:crit", "-1:resolved:disk:crit:rule removed", "1:firing:disk_space:crit"]),
        ReloadCase(name: "where now excludes the row", old: Self.rule,
                   new: Self.rule.replacingOccurrences("on disk.filesystems", "on disk.filesystems where mount != \"/\""),
                   before: [95], after: [95, 95], expected: ["0:firing:disk:crit", "1:resolved:disk:crit:rule changed"]),
        ReloadCase(name: "where still includes the row", old: Self.rule,
                   new: Self.rule.replacingOccurrences("on disk.filesystems", "on disk.filesystems where mount == \"/\""),
                   before: [95], after: [95, 50], expected: ["0:firing:disk:crit", "2:resolved:disk:crit"]),
        ReloadCase(name: "instances named otherwise (by): resolved, then new ones", old: Self.rule,
                   new: Self.rule.replacingOccurrences("on disk.filesystems", "on disk.filesystems by mount"),
                   before: [95], after: [95],
                   expected: ["0:firing:disk:crit", "-1:resolved:disk:crit:rule changed", "1:firing:disk:crit"]),
        ReloadCase(name: "a quiet rule removed says nothing", old: Self.rule + "\nrule gone on disk.filesystems { crit used_percent > 99 }",
                   new: Self.rule, before: [95], after: [95], expected: ["0:firing:disk:crit"]),
    ]

    @Test(arguments: reloadCases, [false, true])
    func alertStateAcrossAReload(_ c: ReloadCase, _ viaStateFile: Bool) throws {
        let old = try Driver(c.old)
        var out: [String] = []
        func record(_ minute: Int, _ events: [AlertEvent]) {
            for e in events { out.append("\(minute):\(e.kind.rawValue):\(e.rule):\(e.severity.rawValue)" + (e.reason.map { ":" + $0 } ?? "")) }
        }
        for (i, v) in c.before.enumerated() { record(i, old.tick(Double(i), [TestCatalog.disk("/", used: v)])) }
        let new = try Driver(c.new)
        let at = TestCatalog.t0.adding(seconds: Double(c.before.count) * 60 - 30)
        if viaStateFile {
            record(-1, try new.engine.importState(try JSONValue.parse(old.engine.exportState().encoded()), now: at))
        } else {
            record(-1, new.engine.adoptState(from: old.engine, now: at))
        }
        for (i, v) in c.after.enumerated() {
            let m = c.before.count + i
            record(m, new.tick(Double(m), [TestCatalog.disk("/", used: v)]))
        }
        #expect(out == c.expected)
    }

    @Test func aResolutionAfterAReloadSaysWhyAndGoesWhereTheFiringWent() throws {
        let channels = "channel a log\nchannel b log\n"
        let old = try Driver(channels + "rule r on disk.filesystems {\n crit used_percent > 90\n notify a\n summary \"full\"\n}")
        #expect(old.tick(0, [TestCatalog.disk("/", used: 95)]).map(\.channels) == [["a"]])
        // Rerouted: a hears it ended, b hears it fire; nothing else changes.
        let moved = try Driver(channels + "rule r on disk.filesystems {\n crit used_percent > 90\n notify b\n summary \"full\"\n}")
        let ev = moved.engine.adoptState(from: old.engine, now: TestCatalog.t0.adding(seconds: 30))
        #expect(ev.map { "\($0.kind.rawValue) \($0.channels) \($0.reason ?? "-")" } == ["resolved [\"a\"] rule changed", "firing [\"b\"] -"])
        let first = try #require(ev.first)
        #expect(first.summary == "full (resolved: rule changed)" && first.endsAt == TestCatalog.t0.adding(seconds: 30))
        #expect(first.labels == ["mount": "/", "fstype": "ext4", "device": "/dev/sda1", "worker": "disk", "function": "filesystems"])
        #expect(first.startsAt == TestCatalog.t0)
        #expect(moved.tick(1, [TestCatalog.disk("/", used: 95)]).isEmpty)
        // Removed after that: the resolution goes to b, the channel that now knows it.
        let none = try Driver(channels + "rule other on disk.filesystems { crit used_percent > 99 }")
        let gone = none.engine.adoptState(from: moved.engine, now: TestCatalog.t0.adding(seconds: 90))
        #expect(gone.map { "\($0.kind.rawValue) \($0.channels) \($0.reason ?? "-")" } == ["resolved [\"b\"] rule removed"])
    }

    @Test func keysIgnoreWhereTheSchemaListsAField() {
        // A worker that gains a field moves the others' schema positions: nothing a rule computes changed.
        let a = CExpr.compare(.gt, .field("used_percent", hint: 6), .constant(.number(80)))
        let b = CExpr.compare(.gt, .field("used_percent", hint: 7), .constant(.number(80)))
        let c = CExpr.compare(.gt, .field("used_percent", hint: -1), .constant(.number(81)))
        #expect(stableText(a) == stableText(b))
        #expect(stableText(a) != stableText(c))
        #expect(!stableText(a).contains("hint"))
    }

    @Test func aStateFileFromBeforeRuleShapesWereSavedStillRestores() throws {
        let a = try Driver(Self.rule)
        _ = a.tick(0, [TestCatalog.disk("/", used: 95)])
        // Without the keys an older shd did not write.
        guard case .object(var o) = a.engine.exportState(), case .array(var rules)? = o["rules"], case .object(var r) = rules[0] else {
            Issue.record("unexpected export shape")
            return
        }
        for k in ["worker", "function", "by", "series_keys", "trigger_keys", "channels"] { r[k] = nil }
        rules[0] = .object(r)
        o["rules"] = .array(rules)
        let b = try Driver(Self.rule.replacingOccurrences("summary \"", "summary \"edited "))
        #expect(try b.engine.importState(.object(o), now: TestCatalog.t0).isEmpty)
        #expect(b.tick(1, [TestCatalog.disk("/", used: 95)]).isEmpty, "fired again")
        #expect(b.tick(2, [TestCatalog.disk("/", used: 50)]).map(\.kind) == [.resolved])
    }

    @Test func configInvalidMetaAlert() {
        let t = TestCatalog.t0
        let f = Engine.configInvalidEvent(kind: .firing, summary: "shd.conf:3:5: unknown field", channels: ["ops"], startsAt: t)
        #expect(f.rule == "shd_config_invalid" && f.kind == .firing && f.endsAt == nil && f.channels == ["ops"])
        let r = Engine.configInvalidEvent(kind: .resolved, summary: "fixed", channels: ["ops"], startsAt: t, endsAt: t.adding(seconds: 5))
        #expect(r.status == "resolved" && r.endsAt == t.adding(seconds: 5) && r.fingerprint == f.fingerprint)
    }

    @Test func historyIsBoundedByTheWindow() throws {
        let d = try Driver("rule r on disk.filesystems { warn avg(used_percent, 10m) > 99 }")
        for m in 0..<500 { _ = d.tick(Double(m), [TestCatalog.disk("/", used: 50)]) }
        let inst = try #require(d.engine.runtimes[0].instances.values.first)
        #expect(inst.series[0].times.count == 11)
    }

    @Test func vanishedRowsAreDropped() throws {
        let d = try Driver(Self.rule)
        for m in 0..<10 { _ = d.tick(Double(m), [TestCatalog.disk("/m\(m)", used: 10)]) }
        #expect(d.engine.instanceCount <= 3)
    }
}

extension String {
    func replacingIdentity(_ id: String) -> String { replacingOccurrences("IDENT", id) }

    func replacingOccurrences(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = self[...]
        while let r = rest.range(of: a) {
            out += rest[..<r.lowerBound]
            out += b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of s: String) -> Range<Substring.Index>? {
        guard !s.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(s) { return i..<index(i, offsetBy: s.count) }
            i = index(after: i)
        }
        return nil
    }
}
