// Event rules: regex search and named captures, the kmsg and journal export parsers (table tests from real text),
// the checker's diagnostics for event rules, and the engine (one alert per capture, storms, quiet, state.json).
import Alerting
import Reports
@testable import Rules
import Testing

@Suite struct EventPatternTests {
    struct Case: Sendable, CustomStringConvertible {
        var pattern: String
        var text: String
        var captures: [String]?
        var description: String { pattern + " ~ " + text }
    }

    static let cases: [Case] = [
        .init(pattern: #"I/O error, dev (?<device>\w+)"#, text: "blk_update_request: I/O error, dev sdb, sector 2048", captures: ["device=sdb"]),
        .init(pattern: #"I/O error(?:,| on) dev (?<device>[A-Za-z0-9_.-]+)"#, text: "Buffer I/O error on dev sdb1, logical block 0", captures: ["device=sdb1"]),
        .init(pattern: #"task (?<task>\S+):\d+ blocked for more than \d+ seconds"#,
              text: "INFO: task jbd2/sda1-8:245 blocked for more than 120 seconds.", captures: ["task=jbd2/sda1-8"]),
        .init(pattern: #"^kernel"#, text: "not kernel", captures: nil),
        .init(pattern: #"(?<a>x)|(?<b>y)"#, text: "--y--", captures: ["b=y"]),
        .init(pattern: #"Link is Down"#, text: "eth0: NIC Link is Up", captures: nil),
    ]

    @Test(arguments: cases)
    func searchFindsTheGroups(_ c: Case) throws {
        let p = try Pattern.regexSearch(c.pattern)
        let got = p.captures(c.text).map { $0.map { "\($0.0)=\($0.1)" } }
        #expect(got == c.captures)
        #expect(p.matches(c.text) == (c.captures != nil))
    }

    @Test func aQuotedRegexStillMatchesTheWholeString() throws {
        let whole = try Pattern.regex("eth[0-9]+")
        #expect(whole.matches("eth0"))
        #expect(!whole.matches("veth0"))
        #expect(try Pattern.regexSearch("eth[0-9]+").matches("veth0"))
    }

    @Test func theRequiredLiteralIsTheLongestRun() throws {
        #expect(String(decoding: try Pattern.regexSearch(#"I/O error, dev (?<d>\w+)"#).required, as: UTF8.self) == "I/O error, dev ")
        #expect(try Pattern.regexSearch("a|b").required.isEmpty)
    }

    /// An alternation has no run of its own; each alternative's run is tested instead (the shipped hardware_errors).
    @Test func anAlternationRequiresOneOfItsAlternativesRuns() throws {
        let p = try Pattern.regexSearch(#"\[Hardware Error\]|Machine check events logged|EDAC MC\d+: \d+ CE "#)
        #expect(p.pieces == [.anyOf(["[Hardware Error]", "Machine check events logged", "EDAC MC"].map { Array($0.utf8) })])
        #expect(p.matches("mce: [Hardware Error]: CPU 0: Machine Check: 0 Bank 5"))
        #expect(p.matches("EDAC MC0: 1 CE memory read error on CPU_SrcID#0"))
        #expect(p.matches("Machine check events logged"))
        #expect(!p.matches("EDAC MC0: 1 UE memory read error"))
        #expect(!p.matches("[UFW BLOCK] IN=eno1 OUT= SRC=203.0.113.9"))
        // One alternative without a run: no prefilter, the matcher decides.
        let q = try Pattern.regexSearch(#"x\d|\d+"#)
        #expect(q.pieces.isEmpty)
        #expect(q.matches("42"))
    }

    /// Every literal run of the sequence, in order, and a choice's runs (bench-journal's busiest patterns: most lines
    /// that have one run lack the other).
    static let pieceCases: [(String, [Pattern.Piece])] = [
        (#"\[UFW BLOCK\].* DPT=23 "#, [.run(Array("[UFW BLOCK]".utf8)), .run(Array(" DPT=23 ".utf8))]),
        (#"backup.*(?:failed|error)"#, [.run(Array("backup".utf8)), .anyOf([Array("failed".utf8), Array("error".utf8)])]),
        (#"\((?:device )?(?<device>[^)]+)\): (?:Remounting filesystem read-only|forced readonly)"#,
         [.run(Array("(".utf8)), .run(Array("): ".utf8)), .anyOf([Array("Remounting filesystem read-only".utf8), Array("forced readonly".utf8)])]),
        (#"I/O error, dev (?<d>\w+)"#, []),  // one run, the longest: `required` tests it
        (#"x(?:y|z)?w"#, [.run(Array("x".utf8)), .run(Array("w".utf8))]),
    ]

    /// `find` (memchr on the needle's rarest byte, then memcmp) agrees with a naive search: needles and texts from
    /// a small alphabet so that near misses, overlaps, and hits at either end and at `from` are common.
    @Test func findAgreesWithANaiveSearch() {
        let alphabet = Array("ab [=E".utf8)
        var seed: UInt64 = 42
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        for _ in 0..<20_000 {
            let needle = (0..<(1 + next(4))).map { _ in alphabet[next(alphabet.count)] }
            let hay = (0..<next(14)).map { _ in alphabet[next(alphabet.count)] }
            let from = hay.isEmpty ? 0 : next(hay.count + 1)
            var want: Int?
            if needle.count <= hay.count - from {
                for i in from...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { want = i; break }
            }
            let got = needle.withUnsafeBytes { n in hay.withUnsafeBytes { Pattern.find(n, in: $0, from: from) } }
            #expect(got == want, "\(needle) in \(hay) from \(from)")
        }
    }

    /// Characters only: the bytes decide, the matcher never runs (`^`: the start of the bytes, not of graphemes).
    @Test func aLiteralSearchIsDecidedOnBytes() throws {
        guard case .contains(let b) = try Pattern.regexSearch("invalid user").fast else { Issue.record("no byte test"); return }
        #expect(b == Array("invalid user".utf8))
        let anchored = try Pattern.regexSearch(#"^Stopping nginx\.service"#)
        guard case .startsWith(let p) = anchored.fast else { Issue.record("no prefix test"); return }
        #expect(p == Array("Stopping nginx.service".utf8))
        #expect(anchored.matches("Stopping nginx.service - A high performance web server..."))
        #expect(!anchored.matches("  Stopping nginx.service"))
        guard case .none = try Pattern.regexSearch(#"invalid user (?<u>\S+)"#).fast else { Issue.record("a group needs the matcher"); return }
    }

    @Test(arguments: pieceCases)
    func theLiteralPiecesInOrder(_ c: (String, [Pattern.Piece])) throws {
        #expect(try Pattern.regexSearch(c.0).pieces == c.1)
    }

    /// The prefilter (and a literal's byte test) never refuses a line the matcher would match, nor passes one it
    /// would refuse: the same patterns with and without them agree on
    /// 3,000 lines each made of their pieces (a seeded generator, so a failure repeats).
    @Test func thePrefilterAgreesWithTheMatcher() throws {
        let patterns = [#"\[UFW BLOCK\].* DPT=23 "#, #"backup.*(?:failed|error)"#, #"COMMAND=.*(?:passwd|shadow|visudo)"#,
                        #"\((?:device )?(?<device>[^)]+)\): (?:Remounting filesystem read-only|forced readonly)"#,
                        #"a(?:bc)+d"#, #"(?:ab|cd)+e"#, #"x(?:y|z)?w"#, #"^foo"#, #"^(?:a|b)c"#, #"(a|b)(c|d)"#, #"ab|cd"#,
                        #"a.*b.*c"#, #"^Stopping nginx\.service"#, #"invalid user"#, #"^x"#, #"Failed password for (?:invalid user )?(?<user>\S+) from"#]
        let fragments = ["[UFW BLOCK]", " DPT=23 ", " DPT=22 ", "backup", "failed", "error", "(", ")", "): ", "device ", "sda",
                         "Remounting filesystem read-only", "forced readonly", "(sda1): ", "(device md0): ", "COMMAND=", "passwd", "a", "b", "c", "d", "e",
                         "x", "y", "z", "w", "foo", "bc", "ab", "cd", "Stopping nginx.service", "Failed password for ", "invalid user ",
                         "root", " from ", " ", "é", "invalid user", "\u{301}"]
        var seed: UInt64 = 0x5EED
        func next(_ n: Int) -> Int {
            seed &+= 0x9E3779B97F4A7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return Int((z ^ (z >> 31)) % UInt64(n))
        }
        for source in patterns {
            let filtered = try Pattern.regexSearch(source)
            var plain = filtered
            plain.pieces = []
            plain.anchored = false
            plain.fast = .none
            var agreed = 0, matched = 0
            for _ in 0..<3_000 {
                let line = (0..<next(9)).map { _ in fragments[next(fragments.count)] }.joined()
                let want = plain.matches(line)
                #expect(filtered.matches(line) == want, "\(source) on \(line)")
                #expect(filtered.captures(line).map { $0.map { "\($0.0)=\($0.1)" } } == plain.captures(line).map { $0.map { "\($0.0)=\($0.1)" } })
                agreed += 1
                if want { matched += 1 }
            }
            #expect(matched > 0 && matched < agreed, "\(source) matched \(matched) of \(agreed) lines: the lines test nothing")
        }
    }

    @Test(arguments: ["(?=x)", "(?<1a>x)", "(?<a>x)(?<a>y)", "(?<!x)"])
    func unsupportedGroupsAreSyntaxErrors(_ p: String) {
        #expect(throws: Pattern.SyntaxError.self) { try Pattern.regexSearch(p) }
    }
}

@Suite struct EventParserTests {
    @Test func kmsgRecordsWithContinuationLines() {
        let text = """
        3,20311,901234567,-;EXT4-fs error (device sda3): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0
         SUBSYSTEM=block
         DEVICE=b8:3
        14,2211,903000000,-;shd-test: hello\\x0aworld
        6,2212,903000001,c;usb 1-1: new high-speed USB device number 2 using xhci_hcd
        not a record
        """
        let (records, bad) = KmsgRecord.parseAll(Array(text.utf8))
        #expect(bad == [6])
        #expect(records.count == 3)
        #expect(records[0].priority == 3 && records[0].facility == 0 && records[0].sequence == 20311)
        #expect(records[0].timestampMicros == 901_234_567)
        #expect(records[0].property("DEVICE") == "b8:3" && records[0].property("SUBSYSTEM") == "block")
        #expect(records[1].priority == 6 && records[1].facility == 1)
        #expect(records[1].message == "shd-test: hello\nworld")
        #expect(records[2].flags == "c")
        let e = records[0].entry(at: Timestamp(microseconds: 0))
        #expect(e.fields["transport"] == .string("kernel"))
        #expect(e.fields["identifier"] == .string("kernel"))
        #expect(e.fields["device"] == .string("b8:3"))
        #expect(e.fields["priority"] == .int(3))
        // A userspace write (facility 1) has no kernel identifier.
        #expect(records[1].entry(at: Timestamp(microseconds: 0)).fields["identifier"] == nil)
    }

    @Test(arguments: ["", ";x", "a,b,c,d;x", "3,1,2;x", "3,1,99999999999999999999,-;x"])
    func notKmsgRecords(_ line: String) {
        #expect(KmsgRecord.parse(Array(line.utf8)[...]) == nil)
    }

    @Test func journalExportTextAndBinaryFields() throws {
        var bytes = Array("__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1764633600000000\nPRIORITY=3\n_TRANSPORT=stdout\n_SYSTEMD_UNIT=backup.service\nMESSAGE\n".utf8)
        let message = Array("line one\nline two".utf8)
        var len = UInt64(message.count)
        for _ in 0..<8 { bytes.append(UInt8(len & 0xFF)); len >>= 8 }
        bytes += message + [0x0A, 0x0A] + Array("MESSAGE=second\n__REALTIME_TIMESTAMP=1764633601000000\n".utf8)
        let entries = try JournalExport.parse(bytes)
        #expect(entries.count == 2)
        #expect(entries[0].value("MESSAGE") == "line one\nline two")
        #expect(entries[0].realtime == 1_764_633_600_000_000)
        #expect(entries[0].cursor == "s=1;i=2")
        #expect(entries[1].value("MESSAGE") == "second")
        let e = EventSources.journalEntry(entries[0].fields, time: Timestamp(microseconds: 0))
        #expect(e.fields["unit"] == .string("backup.service"))
        #expect(e.fields["priority"] == .int(3))
        #expect(e.fields["message"] == .string("line one\nline two"))
    }

    /// The reader looks journal names up on their bytes: each of the table's names, and nothing else.
    @Test func journalFieldsAreFoundByTheirNameBytes() {
        for (i, f) in EventSources.journalFields.enumerated() {
            #expect(Array(f.journal.utf8).withUnsafeBytes { EventSources.journalFieldIndex($0) } == i)
        }
        for other in ["_GID", "_EXE", "MESSAGE_ID", "_PIDX", "MESSAG", "", "_SYSTEMD_UNIT_", "_SYSTEMD_SLICE", "SYSLOG_PID"] {
            #expect(Array(other.utf8).withUnsafeBytes { EventSources.journalFieldIndex($0) } == nil, "\(other)")
        }
        // Rows list the fields in the table's order, whatever the entry's order; a repeated field keeps its last value.
        let e = EventSources.journalEntry([("_TRANSPORT", "kernel"), ("MESSAGE", "a"), ("PRIORITY", "x"), ("MESSAGE", "b")], time: Timestamp(seconds: 0))
        #expect(e.fields.keys == ["message", "transport"])
        #expect(e.fields["message"] == .string("b"))
    }

    @Test(arguments: [("lower=x\n", 1), ("MESSAGE=a\n\nBAD\n\u{1}\u{0}", 3), ("MESSAGE\n\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{7f}x\n", 1)])
    func badExportNamesTheLine(_ text: String, _ line: Int) {
        #expect(throws: JournalExport.ParseError.self) { try JournalExport.parse(Array(text.utf8)) }
        do { _ = try JournalExport.parse(Array(text.utf8)) } catch { #expect(error.line == line) }
    }
}

@Suite struct EventCheckerTests {
    struct Case: Sendable, CustomStringConvertible {
        var source: String
        var id: String
        var line = 1
        var column: Int
        var fix: String?
        var description: String { source }
    }

    static let cases: [Case] = [
        .init(source: "rule r on jornal { warn count(5m) > 0 }", id: "unknown-event-source", column: 11, fix: "journal"),
        .init(source: "rule r on journal where mesage ~ \"*x*\" { warn count(5m) > 0 }", id: "unknown-field", column: 25, fix: "message"),
        .init(source: "rule r on journal where message =~ /(?<d>x/ { warn count(5m) > 0 }", id: "bad-regex", column: 43),
        .init(source: "rule r on journal { warn count(0s) > 0 }", id: "bad-window", column: 32),
        .init(source: "rule r on journal { warn count(2d) > 0 }", id: "bad-window", column: 32),
        .init(source: "rule r on journal { warn count(5m) > 0 for 5m }", id: "event-rule", column: 44),
        .init(source: "rule r on journal { warn count(5m) > 0\n on_missing keep }", id: "event-rule", line: 2, column: 13),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n quiet 5m }", id: "event-rule", line: 2, column: 8),
        .init(source: "rule r on journal where not (message =~ /dev (?<d>\\w+)/) { warn count(5m) > 0 }", id: "bad-capture", column: 25),
        .init(source: "rule r on journal where count > 1 { warn count(5m) > 0 }", id: "event-rule", column: 25),
        .init(source: "rule r on journal { warn avg(priority, 5m) > 0 }", id: "unknown-function-call", column: 26),
        .init(source: "rule r on journal { warn count(5m) > 0\n summary \"{devce}\" }", id: "unknown-field", line: 2, column: 12),
    ]

    @Test(arguments: cases)
    func diagnosticPointsAtTheProblem(_ c: Case) throws {
        let r = RuleSetLoader.load(sources: [("t.rules", c.source)], catalog: TestCatalog.catalog)
        let d = try #require(r.diagnostics.first { $0.id == c.id }, "got \(r.diagnostics.map { "\($0.id) \($0.location) \($0.message)" })")
        #expect(d.location.line == c.line)
        #expect(d.location.column == c.column)
        if let fix = c.fix { #expect(d.fixIt?.replacement == fix) }
        #expect(r.configuration == nil)
    }

    @Test func journalMatchesComeFromTheFilter() throws {
        let src = """
        rule a on journal where transport == "kernel" and message =~ /I\\/O error/ { warn count(5m) > 0 }
        rule b on journal where priority <= 3 and unit ~ "*.service" { warn count(5m) > 0 }
        """
        let r = RuleSetLoader.load(sources: [("t.rules", src)], catalog: TestCatalog.catalog)
        let config = try #require(r.configuration, "\(r.diagnostics.map(\.message))")
        let m = try #require(Engine(configuration: config).journalMatches)
        #expect(m.map { $0.map { "\($0.field)=\($0.values.joined(separator: "|"))" } } == [["_TRANSPORT=kernel"], ["PRIORITY=0|1|2|3"]])
        let open = RuleSetLoader.load(sources: [("t.rules", src + "\nrule c on journal where message ~ \"*x*\" { warn count(5m) > 0 }")],
                                      catalog: TestCatalog.catalog)
        #expect(Engine(configuration: try #require(open.configuration)).journalMatches == nil)
    }
}

@Suite struct EventEngineTests {
    static let source = """
    rule disk_io_errors on journal where transport == "kernel" and message =~ /I\\/O error, dev (?<device>\\w+)/ {
      warn count(10m) >= 1
      crit count(10m) >= 10
      quiet 30m
      summary "{count} I/O errors on {device}, first {first_message}, last at {last_time}"
    }
    """

    func engine() throws -> Engine {
        let r = RuleSetLoader.load(sources: [("t.rules", Self.source)], catalog: TestCatalog.catalog)
        return Engine(configuration: try #require(r.configuration, "\(r.diagnostics.map(\.message))"))
    }

    func entry(_ message: String, at t: Double, transport: String = "kernel") -> EventEntry {
        EventEntry(source: "journal", time: Timestamp(seconds: 1_800_000_000 + t), fields: ["message": .string(message), "transport": .string(transport)])
    }

    @Test func aStormIsOneAlertWithAGrowingCount() throws {
        let e = try engine()
        var events: [AlertEvent] = []
        for k in 0..<5000 {
            let t = Double(k) * 0.1
            events += e.ingest([entry("blk_update_request: I/O error, dev sdb, sector \(k)", at: t)], now: Timestamp(seconds: 1_800_000_000 + t))
        }
        // One firing, one escalation: never a notification per line.
        #expect(events.map(\.kind) == [.firing, .escalated])
        #expect(events[0].labels["device"] == "sdb")
        #expect(e.firingAlerts.count == 1)
        #expect(e.firingAlerts[0].summary.hasPrefix("5000 I/O errors on sdb, first blk_update_request: I/O error, dev sdb, sector 0"))
        #expect(e.firingAlerts[0].values["count"] == 5000)
        // The track is bounded by the window, not by the storm.
        let inst = e.runtimes[0].instances.values.first!
        #expect(inst.track!.starts.count <= 130)
    }

    /// Rules requiring a label value are tried only on entries with it (EventPlan); the transitions are those of
    /// trying every rule, in rule order, and a field the entry lacks is "no data" in the filter as before.
    @Test func indexedRulesSeeOnlyTheirEntriesInRuleOrder() throws {
        let src = """
        rule a_any on journal where message =~ /boom/ { warn count(1h) >= 1 }
        rule b_unit on journal where unit == "x.service" and message =~ /boom/ { warn count(1h) >= 1 }
        rule c_kernel on journal where transport == "kernel" and unit == "x.service" { warn count(1h) >= 1 }
        rule d_units on journal by unit where (unit == "x.service" or unit == "y.service") and message =~ /boom/ { warn count(1h) >= 1 }
        rule e_none on journal where unit == "x.service" and unit == "y.service" { warn count(1h) >= 1 }
        rule f_nodevice on journal where device != "sda" and message =~ /boom/ { warn count(1h) >= 1 }
        rule g_nodata on journal where device == "sda" or message =~ /never/ { warn count(1h) >= 1 }
        """
        let r = RuleSetLoader.load(sources: [("t.rules", src)], catalog: TestCatalog.catalog)
        let e = Engine(configuration: try #require(r.configuration, "\(r.diagnostics.map(\.message))"))
        let t = Timestamp(seconds: 1_800_000_000)
        func entry(_ fields: Row) -> EventEntry { EventEntry(source: "journal", time: t, fields: fields) }
        var events = e.ingest([entry(["message": .string("boom"), "unit": .string("y.service")])], now: t)
        #expect(events.map(\.rule) == ["a_any", "d_units"])
        events = e.ingest([entry(["message": .string("boom"), "unit": .string("x.service"), "transport": .string("kernel")])], now: t)
        #expect(events.map(\.rule) == ["b_unit", "c_kernel", "d_units"])
        // A missing device is no data: `device != "sda"` is not true, so f_nodevice has not fired yet.
        events = e.ingest([entry(["message": .string("boom"), "device": .string("sdb")])], now: t)
        #expect(events.map(\.rule) == ["f_nodevice"])
        #expect(e.firingAlerts.map(\.rule).sorted() == ["a_any", "b_unit", "c_kernel", "d_units", "d_units", "f_nodevice"])
    }

    /// A rule tried on every entry whose filter needs bytes in a field (a conjunct `message =~ /…/` with a literal
    /// run) is not tried on an entry without them; negated, `or`-ed and missing-field cases keep the full filter.
    @Test func aRuleIsNotTriedOnAnEntryWithoutTheBytesItsFilterNeeds() throws {
        let src = """
        rule a on journal where priority <= 3 and message =~ /disk (?<d>\\w+) failed/ { warn count(1h) >= 1 }
        rule b on journal where message !~ /ok/ { warn count(1h) >= 1 }
        rule c on journal where message =~ /boom/ or identifier == "x" { warn count(1h) >= 1 }
        rule d on journal where comm =~ /cron/ and message =~ /disk/ { warn count(1h) >= 1 }
        """
        let r = RuleSetLoader.load(sources: [("t.rules", src)], catalog: TestCatalog.catalog)
        let e = Engine(configuration: try #require(r.configuration, "\(r.diagnostics.map(\.message))"))
        let plan = try #require(e.eventPlans["journal"])
        #expect(plan.alwaysNeeds.map { $0.map { "\($0.field):\(String(decoding: $0.bytes, as: UTF8.self))" } }
                == ["message: failed", nil, nil, "comm:cron"])
        let t = Timestamp(seconds: 1_800_000_000)
        func names(_ fields: Row) -> [String] {
            var out: [Int] = []
            plan.candidates(EventEntry(source: "journal", time: t, fields: fields), into: &out)
            return out.map { e.compiled[$0].name }
        }
        #expect(names(["message": .string("disk sda is fine")]) == ["b", "c"])
        #expect(names(["message": .string("disk sda failed")]) == ["a", "b", "c"])
        #expect(names(["priority": .int(3)]) == ["b", "c"], "no message: a's conjunct is no data")
        #expect(names(["message": .string("disk"), "comm": .string("crond")]) == ["b", "c", "d"])
        let events = e.ingest([EventEntry(source: "journal", time: t, fields: ["message": .string("disk sda failed"), "priority": .int(3)])], now: t)
        #expect(events.map(\.rule) == ["a", "b"])
        #expect(events.first?.labels["d"] == "sda")
    }

    @Test func oneAlertPerCapturedDeviceAndOtherTransportsAreIgnored() throws {
        let e = try engine()
        var events = e.ingest([entry("I/O error, dev sda, sector 1", at: 0), entry("I/O error, dev sdb, sector 1", at: 1),
                               entry("I/O error, dev sdc, sector 1", at: 2, transport: "syslog")], now: Timestamp(seconds: 1_800_000_002))
        #expect(Set(events.map { $0.labels["device"]! }) == ["sda", "sdb"])
        // Quiet for 30 minutes after the last entry: resolved, and forgotten.
        events = e.advanceEvents(now: Timestamp(seconds: 1_800_000_000 + 29 * 60))
        #expect(events.isEmpty)
        events = e.advanceEvents(now: Timestamp(seconds: 1_800_000_001 + 30 * 60))
        #expect(events.map(\.kind) == [.resolved, .resolved])
        #expect(e.instanceCount == 0)
    }

    @Test func stateSurvivesARestartWithoutADuplicate() throws {
        let e = try engine()
        _ = e.ingest([entry("I/O error, dev sda, sector 1", at: 0)], now: Timestamp(seconds: 1_800_000_000))
        let saved = e.exportState()
        let again = try engine()
        let restored = try again.importState(try JSONValue.parse(bytes: Array(saved.encoded().utf8)), now: Timestamp(seconds: 1_800_000_060))
        #expect(restored.isEmpty)
        // The next entry counts on: no second `firing`.
        let more = again.ingest([entry("I/O error, dev sda, sector 2", at: 120)], now: Timestamp(seconds: 1_800_000_120))
        #expect(more.isEmpty)
        #expect(again.firingAlerts.first?.values["count"] == 2)
        #expect(again.advanceEvents(now: Timestamp(seconds: 1_800_000_120 + 1800)).map(\.kind) == [.resolved])
    }
}

@Suite struct FileSourceTests {
    static let source = """
    rule app_errors on file "/var/log/app/*.log" where message =~ /ERROR (?<code>\\w+)/ {
      warn count(5m) >= 3
      quiet 15m
      summary "{count} errors {code} in {path}"
    }
    """

    func engine(_ text: String = source) throws -> Engine {
        let r = RuleSetLoader.load(sources: [("t.rules", text)], catalog: TestCatalog.catalog)
        return Engine(configuration: try #require(r.configuration, "\(r.diagnostics.map(\.message))"))
    }

    func line(_ text: String, _ path: String = "/var/log/app/web.log", at t: Double) -> EventEntry {
        EventSources.fileEntry(line: text, path: path, time: Timestamp(seconds: 1_800_000_000 + t))
    }

    @Test(arguments: [
        ("rule r on file { warn count(5m) > 0 }", "event-rule", 11),
        ("rule r on file \"var/log/x.log\" { warn count(5m) > 0 }", "event-rule", 16),
        ("rule r on file \"/var/*/x.log\" { warn count(5m) > 0 }", "event-rule", 16),
        ("rule r on journal \"/var/log/x\" { warn count(5m) > 0 }", "event-rule", 19),
        ("rule r on file \"/var/log/x.log\" where priority < 3 { warn count(5m) > 0 }", "unknown-field", 39),
        ("rule r on file \"/var/log/x.log\" { warn count(5m) > 0 for 1m }", "event-rule", 58),
    ])
    func checkerNamesTheProblem(_ text: String, _ id: String, _ column: Int) throws {
        let r = RuleSetLoader.load(sources: [("t.rules", text)], catalog: TestCatalog.catalog)
        let d = try #require(r.diagnostics.first { $0.id == id }, "got \(r.diagnostics.map { "\($0.id) \($0.location) \($0.message)" })")
        #expect(d.location.column == column)
        #expect(r.configuration == nil)
    }

    @Test func theFileRulesPathsAndTheirRules() throws {
        let e = try engine(Self.source + "\nrule b on file \"/var/log/app/*.log\" { warn count(1m) > 100 }\nrule c on file \"/srv/x.log\" by path { warn count(1m) > 0 }")
        #expect(e.filePatterns.map { "\($0.path) \($0.rules)" } == [#"/var/log/app/*.log ["app_errors", "b"]"#, #"/srv/x.log ["c"]"#])
        #expect(e.eventSources == ["file"])
    }

    @Test func countsPerCaptureOnlyTheFilesItsPathNames() throws {
        let e = try engine()
        var events = e.ingest([line("ERROR E42 disk full", at: 0), line("ERROR E42 disk full", at: 1),
                               line("ERROR E42 disk full", "/var/log/other/web.log", at: 1), line("ERROR E42 disk full", "/var/log/app/web.log.1", at: 1),
                               line("INFO fine", at: 2), line("ERROR E7 x", "/var/log/app/api.log", at: 2)], now: Timestamp(seconds: 1_800_000_002))
        #expect(events.isEmpty)
        events = e.ingest([line("ERROR E42 again", "/var/log/app/api.log", at: 3)], now: Timestamp(seconds: 1_800_000_003))
        #expect(events.map(\.kind) == [.firing])
        #expect(events.first?.labels["code"] == "E42")
        #expect(events.first?.summary == "3 errors E42 in /var/log/app/api.log")
        // Quiet for 15 minutes: resolved.
        #expect(e.advanceEvents(now: Timestamp(seconds: 1_800_000_003 + 899)).isEmpty)
        #expect(e.advanceEvents(now: Timestamp(seconds: 1_800_000_003 + 900)).map(\.kind) == [.resolved])
    }

    @Test func aPathWithoutWildcardsNamesOneFile() throws {
        let e = try engine("rule r on file \"/var/log/app.log\" { warn count(1m) >= 1 }")
        #expect(e.ingest([line("x", "/var/log/app.log.1", at: 0)], now: Timestamp(seconds: 1_800_000_000)).isEmpty)
        #expect(e.ingest([line("x", "/var/log/app.log", at: 0)], now: Timestamp(seconds: 1_800_000_000)).map(\.kind) == [.firing])
    }
}
