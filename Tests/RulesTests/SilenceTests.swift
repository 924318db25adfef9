// Runtime silences and acknowledgements in the engine: what is sent while they hold and when they end, the requests
// refused, the status snapshot, and their state across a restart (state.json) and a reload.
import Testing
import Reports
@testable import Rules

@Suite struct SilenceTests {
    static let admin = Actor(uid: 0, user: "root")

    static func at(_ minute: Double) -> Timestamp { TestCatalog.t0.adding(seconds: minute * 60) }

    static func silence(_ matchers: String, from: Double, until: Double, id: String = "s1", comment: String = "restore") throws -> Silence {
        Silence(id: id, matchers: try LabelMatcher.parse(matchers), startsAt: at(from), endsAt: at(until), createdBy: admin,
                createdAt: at(from), comment: comment)
    }

    /// Runs one used_percent value per minute on "/" (and 50 on "/home"), adding `silence` before `addAt`, and
    /// returns `minute:kind:severity:mount`.
    static func run(_ rule: String, _ values: [Double], silence: Silence? = nil, addAt: Int = 0,
                    actions: [Int: (Engine) throws -> Void] = [:]) throws -> [String] {
        let d = try Driver(rule)
        var out: [String] = []
        for (i, v) in values.enumerated() {
            if let silence, i == addAt { try d.engine.addSilence(silence, now: at(Double(i))) }
            try actions[i]?(d.engine)
            for e in d.tick(Double(i), [TestCatalog.disk("/", used: v), TestCatalog.disk("/home", used: 50)]) {
                out.append("\(i):\(e.kind.rawValue):\(e.severity.rawValue):\(e.labels["mount"]!)")
            }
        }
        return out
    }

    static let crit = "rule r on disk.filesystems { crit used_percent > 90 }"
    static let twoLevels = "rule r on disk.filesystems { warn used_percent > 80\n crit used_percent > 90 }"

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var rule: String
        var values: [Double]
        var matchers: String
        var from: Double
        var until: Double
        var expected: [String]
        var testDescription: String { name }
    }

    @Test(arguments: [
        Case(name: "announced before: silent while silenced, said again when the silence ends", rule: crit,
             values: [95, 95, 95, 95, 95], matchers: "rule=r", from: 1, until: 3, expected: ["0:firing:crit:/", "3:repeated:crit:/"]),
        Case(name: "started inside the silence: announced when it ends", rule: crit,
             values: [50, 95, 95, 95, 95], matchers: "rule=r,mount=/", from: 0, until: 3, expected: ["3:firing:crit:/"]),
        Case(name: "started and resolved inside: nothing", rule: crit,
             values: [50, 95, 50, 50], matchers: "rule=r", from: 0, until: 3, expected: []),
        Case(name: "resolved while silenced: the resolved notice is sent", rule: crit,
             values: [95, 95, 50, 50], matchers: "rule=r", from: 1, until: 9, expected: ["0:firing:crit:/", "2:resolved:crit:/"]),
        Case(name: "a label that differs does not silence", rule: crit,
             values: [95, 95], matchers: "mount=/home", from: 0, until: 9, expected: ["0:firing:crit:/"]),
        Case(name: "a glob on the rule silences", rule: crit,
             values: [95, 95], matchers: "rule=*", from: 0, until: 9, expected: []),
        Case(name: "a glob on a label that does not match", rule: crit,
             values: [95, 95], matchers: "rule=r,mount=/h*", from: 0, until: 9, expected: ["0:firing:crit:/"]),
        Case(name: "worker and function are labels", rule: crit,
             values: [95, 95], matchers: "worker=disk,function=filesystems", from: 0, until: 9, expected: []),
        Case(name: "an absent label never matches, even a glob *", rule: crit,
             values: [95, 95], matchers: "unit=*", from: 0, until: 9, expected: ["0:firing:crit:/"]),
        Case(name: "a silence that starts later", rule: crit,
             values: [95, 95, 95, 95], matchers: "rule=r", from: 2, until: 3, expected: ["0:firing:crit:/", "3:repeated:crit:/"]),
        Case(name: "a severity change while silenced is what is said when it ends", rule: twoLevels,
             values: [85, 95, 95, 95], matchers: "rule=r", from: 1, until: 3, expected: ["0:firing:warn:/", "3:escalated:crit:/"]),
    ])
    func silenceTable(_ c: Case) throws {
        let s = try Self.silence(c.matchers, from: c.from, until: c.until)
        #expect(try Self.run(c.rule, c.values, silence: s) == c.expected)
    }

    @Test func resolvedWhileSilencedIsHeldWhenTheSettingSaysSo() throws {
        let rule = "set send_resolved_silenced false\n" + Self.crit
        let s = try Self.silence("rule=r", from: 1, until: 9)
        #expect(try Self.run(rule, [95, 95, 50, 50], silence: s) == ["0:firing:crit:/"])
    }

    @Test func aSilenceRepeatsNothingWhileItHolds() throws {
        let rule = "rule r on disk.filesystems { crit used_percent > 90 repeat 1m }"
        let s = try Self.silence("rule=r", from: 1, until: 4)
        #expect(try Self.run(rule, Array(repeating: 95, count: 6), silence: s) == ["0:firing:crit:/", "4:repeated:crit:/", "5:repeated:crit:/"])
    }

    @Test func expiringEndsItAtOnce() throws {
        let s = try Self.silence("rule=r", from: 0, until: 60)
        let out = try Self.run(Self.crit, [95, 95, 95, 95], silence: s, actions: [
            2: { e in
                let ended = try e.expireSilence(id: "s1", by: Actor(uid: 1000, user: "ops"), now: Self.at(2))
                #expect(ended.endsAt == Self.at(2) && ended.expiredBy?.user == "ops")
            },
        ])
        #expect(out == ["2:firing:crit:/"])
    }

    @Test func addIsIdempotentWithTheCallersID() throws {
        let d = try Driver(Self.crit)
        let s = try Self.silence("rule=r", from: 0, until: 60)
        #expect(try d.engine.addSilence(s, now: Self.at(0)) == .added)
        #expect(try d.engine.addSilence(s, now: Self.at(1)) == .unchanged)
        var longer = s
        longer.endsAt = Self.at(120)
        #expect(try d.engine.addSilence(longer, now: Self.at(1)) == .updated)
        #expect(d.engine.silences(now: Self.at(1)).map(\.endsAt) == [Self.at(120)])
        // Ended, then added again under the same id (tonight's backup): a new silence.
        #expect(try d.engine.addSilence(try Self.silence("rule=r", from: 200, until: 260), now: Self.at(200)) == .added)
        #expect(d.engine.silences(now: Self.at(200)).count == 1)
    }

    @Test(arguments: [
        ("bad id!", "rule=r", 0.0, 10.0, "silence id 'bad id!' must be"),
        ("s", "rule=nope", 0, 10, "no rule named 'nope'"),
        ("s", "rule=r", 5, 2, "ends before it starts"),
        ("s", "rule=r", -10, -5, "ends in the past"),
    ] as [(String, String, Double, Double, String)])
    func refusedSilences(_ id: String, _ matchers: String, _ from: Double, _ until: Double, _ message: String) throws {
        let d = try Driver(Self.crit)
        let s = try Self.silence(matchers, from: from, until: until, id: id)
        do {
            try d.engine.addSilence(s, now: Self.at(0))
            Issue.record("accepted")
        } catch { #expect(error.message.contains(message), "\(error.message)") }
        #expect(d.engine.silences.isEmpty)
    }

    @Test(arguments: ["mount", "=x", "a=1,a=2", "bad name=x"])
    func badMatchers(_ text: String) {
        #expect(throws: ControlError.self) { try LabelMatcher.parse(text) }
    }

    @Test func expireRefusesUnknownAndEnded() throws {
        let d = try Driver(Self.crit)
        #expect(throws: ControlError("no silence with id 'x'")) { try d.engine.expireSilence(id: "x", by: Self.admin, now: Self.at(0)) }
        try d.engine.addSilence(try Self.silence("rule=r", from: 0, until: 1), now: Self.at(0))
        #expect(throws: ControlError.self) { try d.engine.expireSilence(id: "s1", by: Self.admin, now: Self.at(2)) }
    }

    @Test func anEndedSilenceIsNotedOnceAndDroppedAfterADay() throws {
        let d = try Driver(Self.crit)
        try d.engine.addSilence(try Self.silence("rule=r", from: 0, until: 1), now: Self.at(0))
        _ = d.tick(0, [TestCatalog.disk("/", used: 50)])
        #expect(d.engine.takeNotes().isEmpty)
        _ = d.tick(2, [TestCatalog.disk("/", used: 50)])
        _ = d.tick(3, [TestCatalog.disk("/", used: 50)])
        #expect(d.engine.takeNotes().map(\.kind) == [.silenceEnded])
        #expect(d.engine.silences(now: Self.at(3)).isEmpty && d.engine.silences(now: Self.at(3), includeEnded: true).count == 1)
        _ = d.tick(1 + 24 * 60 + 1, [TestCatalog.disk("/", used: 50)])
        #expect(d.engine.silences.isEmpty)
    }

    // MARK: acknowledgements

    static let repeating = "rule r on disk.filesystems { warn used_percent > 80\n crit used_percent > 90\n repeat 1m }"

    @Test func ackStopsRepeatsKeepsEscalationAndResolvedAndEndsWithTheAlert() throws {
        var acked: [[String: String]] = []
        let out = try Self.run(Self.repeating, [85, 85, 85, 85, 95, 95, 50, 85, 85], actions: [
            2: { e in acked = try e.acknowledge(rule: "r", labels: ["mount": "/"], by: Self.admin, comment: "on it", now: Self.at(2)) },
        ])
        #expect(acked.map { $0["mount"] } == ["/"])
        #expect(out == ["0:firing:warn:/", "1:repeated:warn:/", "4:escalated:crit:/", "6:resolved:crit:/",
                        "7:firing:warn:/", "8:repeated:warn:/"])
    }

    @Test func ackIsInTheStatusAndEndsWithANote() throws {
        let d = try Driver(Self.repeating)
        _ = d.tick(0, [TestCatalog.disk("/", used: 95), TestCatalog.disk("/home", used: 85)])
        try d.engine.acknowledge(rule: "r", labels: [:], by: Self.admin, comment: "disk swap", now: Self.at(0.5))
        let st = d.engine.status(now: Self.at(0.5))
        #expect(st.instances.map { $0.ack?.comment } == ["disk swap", "disk swap"])
        #expect(st.instances.map { $0.ack?.by } == [Self.admin, Self.admin])
        _ = d.tick(1, [TestCatalog.disk("/", used: 50), TestCatalog.disk("/home", used: 85)])
        #expect(d.engine.takeNotes().map { "\($0.kind.rawValue) \($0.labels["mount"] ?? "")" } == ["ack_ended /"])
        #expect(d.engine.status(now: Self.at(1)).instances.map { $0.ack != nil } == [true])
    }

    @Test func ruleCountsTakenFromTheStatusAreTheEnginesOwn() throws {
        let d = try Driver("""
            rule a on disk.filesystems { warn used_percent > 80 }
            rule b on disk.filesystems { warn used_percent > 60 for 1h }
            rule c on disk.filesystems { warn used_percent > 99 }
            rule d on disk.filesystems { warn used_percent > 5 }
            """)
        _ = d.tick(0, [TestCatalog.disk("/", used: 95), TestCatalog.disk("/home", used: 70), TestCatalog.disk("/srv", used: 10)])
        let st = d.engine.status(now: Self.at(0.5))
        let counted = d.engine.ruleStatuses(counting: st)
        #expect(counted == d.engine.ruleStatuses())
        #expect(counted.map { "\($0.name) \($0.pending) \($0.firing)" } == ["a 0 1", "b 2 0", "c 0 0", "d 0 3"])
    }

    @Test(arguments: [
        ("nope", [:], "no rule named 'nope'"),
        ("r", ["mount": "/home"], "no firing alert of rule 'r' with mount=/home to acknowledge"),
    ] as [(String, [String: String], String)])
    func refusedAcks(_ rule: String, _ labels: [String: String], _ message: String) throws {
        let d = try Driver(Self.crit)
        _ = d.tick(0, [TestCatalog.disk("/", used: 95), TestCatalog.disk("/home", used: 50)])
        #expect(throws: ControlError(message)) { try d.engine.acknowledge(rule: rule, labels: labels, by: Self.admin, comment: "", now: Self.at(0)) }
    }

    // MARK: status

    @Test func statusListsPendingAndFiringWithSilencesAndMutes() throws {
        let d = try Driver("rule r on disk.filesystems { warn used_percent > 80 for 5m\n crit used_percent > 90 }")
        try d.engine.addSilence(try Self.silence("rule=r,mount=/", from: 0, until: 60), now: Self.at(0))
        try d.engine.addSilence(try Self.silence("rule=r", from: 30, until: 60, id: "later"), now: Self.at(0))
        _ = d.tick(0, [TestCatalog.disk("/", used: 95), TestCatalog.disk("/home", used: 85), TestCatalog.disk("/var", used: 10)])
        let st = d.engine.status(now: Self.at(1))
        #expect(st.instances.map { "\($0.labels["mount"]!) \($0.state.rawValue) \($0.severity.rawValue) \($0.silencedBy)" }
            == ["/ firing crit [\"s1\"]", "/home pending warn []"])
        #expect(st.instances.map(\.since) == [Self.at(0), Self.at(0)])
        #expect(st.instances[0].values["used_percent"] == 95)
        #expect(st.firingCount == 1)
        #expect(st.silences.map(\.id) == ["later", "s1"])
        let json = st.json.encoded()
        #expect(json.contains("\"silenced_by\":[\"s1\"]") && json.contains("\"state\":\"pending\"") && json.contains("\"ack\":null"))
    }

    // MARK: state

    @Test func silencesAndAcksSurviveStateJSONAndAReload() throws {
        let a = try Driver(Self.repeating)
        try a.engine.addSilence(try Self.silence("rule=r,mount=/home", from: 0, until: 60, comment: "backup \"nightly\""), now: Self.at(0))
        _ = a.tick(0, [TestCatalog.disk("/", used: 95), TestCatalog.disk("/home", used: 95)])
        try a.engine.acknowledge(rule: "r", labels: ["mount": "/"], by: Actor(uid: 1000, user: "ops"), comment: "swap", now: Self.at(0.5))
        let text = a.engine.exportState().encoded(pretty: true)
        let b = try Driver(Self.repeating)
        #expect(try b.engine.importState(try JSONValue.parse(text), now: Self.at(1)).isEmpty)
        #expect(b.engine.silences == a.engine.silences)
        #expect(b.engine.runtimes == a.engine.runtimes)
        // A reload keeps both.
        let c = try Driver(Self.repeating + "\nrule other on disk.filesystems { crit used_percent > 99 }")
        _ = c.engine.adoptState(from: b.engine, now: Self.at(1))
        for d in [a, c] {
            // Neither "/" (acked) nor "/home" (silenced) repeats.
            #expect(d.tick(1, [TestCatalog.disk("/", used: 95), TestCatalog.disk("/home", used: 95)]).isEmpty)
            #expect(d.engine.status(now: Self.at(1)).instances.filter { $0.rule == "r" }.map { "\($0.ack?.by.user ?? "-") \($0.silencedBy)" }
                == ["ops []", "- [\"s1\"]"])
        }
    }

    @Test(arguments: [
        "{\"version\": 1, \"rules\": [], \"silences\": {}}",
        "{\"version\": 1, \"rules\": [], \"silences\": [{\"id\": \"x\"}]}",
        "{\"version\": 1, \"rules\": [], \"silences\": [{\"id\": \"x\", \"matchers\": [\"nomatch\"], \"starts_at\": \"2026-01-05T00:00:00Z\", \"ends_at\": \"2026-01-05T01:00:00Z\", \"created_at\": \"2026-01-05T00:00:00Z\", \"created_by\": {\"uid\": 0, \"user\": \"root\"}}]}",
        "{\"version\": 1, \"rules\": [], \"silences\": [{\"id\": \"x\", \"matchers\": [\"rule=r\"], \"starts_at\": \"2026-01-05T00:00:00Z\", \"ends_at\": \"2026-01-05T01:00:00Z\", \"created_at\": \"2026-01-05T00:00:00Z\", \"created_by\": {\"uid\": -1, \"user\": \"root\"}}]}",
    ])
    func malformedSilencesThrow(_ json: String) throws {
        let d = try Driver(Self.crit)
        #expect(throws: Engine.StateError.self) { try d.engine.importState(try JSONValue.parse(json), now: TestCatalog.t0) }
        #expect(d.engine.silences.isEmpty)
    }

    @Test func announcedFiringLeavesSilencedAlertsOut() throws {
        let d = try Driver(Self.crit)
        try d.engine.addSilence(try Self.silence("mount=/home", from: 0, until: 60), now: Self.at(0))
        _ = d.tick(0, [TestCatalog.disk("/", used: 95), TestCatalog.disk("/home", used: 95)])
        #expect(d.engine.firingAlerts.count == 2)
        #expect(d.engine.announcedFiringAlerts.map { $0.labels["mount"] } == ["/"])
    }
}

/// The status snapshot's wire form: written straight into bytes, it is the object a tree of its fields encodes to.
@Suite struct AlertStatusJSONTests {
    /// The instance as a tree, keys in the documented order (docs/control.md, `status`).
    static func tree(_ i: AlertStatus.Instance) -> JSONValue {
        let labels = i.labels
        var o = JSONObject()
        o.append("rule", .string(i.rule))
        o.append("labels", .object(JSONObject(labels.keys.sorted().map { ($0, .string(labels[$0]!)) })))
        o.append("state", .string(i.state.rawValue))
        o.append("severity", .string(i.severity.rawValue))
        o.append("since", i.since.map { .string($0.rfc3339) } ?? .null)
        o.append("values", .object(JSONObject(i.values.keys.sorted().map { ($0, .double(i.values[$0]!)) })))
        o.append("summary", .string(i.summary))
        o.append("silenced_by", .array(i.silencedBy.map { .string($0) }))
        o.append("muted", .bool(i.muted))
        o.append("ack", i.ack?.json ?? .null)
        o.append("flapping", .bool(i.flapping))
        o.append("inhibited_by", .array(i.inhibitedBy.map { .string($0) }))
        return .object(o)
    }

    static let rows: [[String: String]] = [
        [:], ["mount": "/"], ["a": "1"], ["zz": "1"], ["function": "own"], ["worker": "own", "mount": "/"], ["g": "1", "h": "2", "x": "3"],
        ["fun": "1", "functions": "2", "work": "3", "workers": "4"], ["quote\"d": "back\\slash\n"],
    ]

    @Test(arguments: rows)
    func anInstanceWritesWhatItsTreeEncodesTo(row: [String: String]) {
        var i = AlertStatus.Instance(rule: "disk_space", rowLabels: row, worker: "disk", function: "filesystems", state: .firing,
                                     severity: .crit, since: TestCatalog.t0, values: ["used_percent": 96.5, "avail_bytes": 4e9, "x": 1],
                                     summary: "/ is \"full\"", silencedBy: ["s1", "s2"], muted: true,
                                     ack: Acknowledgement(by: SilenceTests.admin, at: TestCatalog.t0, comment: "mine"))
        i.flapping = true
        i.inhibitedBy = ["readonly"]
        var j = JSONStream()
        i.write(to: &j)
        #expect(String(decoding: j.take(), as: UTF8.self) == Self.tree(i).encoded())
        #expect(i.labels["worker"] == (row["worker"] ?? "disk") && i.labels["function"] == (row["function"] ?? "filesystems"))
        let pending = AlertStatus.Instance(rule: "r", rowLabels: row, worker: "w", function: "f", state: .pending, severity: .warn, since: nil,
                                           values: [:], summary: "", silencedBy: [], muted: false, ack: nil)
        #expect(pending.json == Self.tree(pending))
    }
}
