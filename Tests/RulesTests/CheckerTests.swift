// Checker tables (names, types, units, references, contradictions) and golden printed diagnostics.
import Testing
import Reports
@testable import Rules

@Suite struct CheckerTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var source: String
        var id: String
        var severity: Diagnostic.Severity
        var line: Int
        var column: Int
        var fix: String? = nil
        var testDescription: String { id + ": " + source.prefix(40) }
    }

    static let cases: [Case] = [
        .init(source: "rule r on disk.filesystems {\n  warn used_procent > 90\n}", id: "unknown-field", severity: .error, line: 2, column: 8, fix: "used_percent"),
        .init(source: "rule r on dsk.filesystems { warn x > 1 }", id: "unknown-worker", severity: .error, line: 1, column: 11, fix: "disk"),
        .init(source: "rule r on disk.filesystem { warn x > 1 }", id: "unknown-function", severity: .error, line: 1, column: 16, fix: "filesystems"),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n notify opps }\nchannel ops log", id: "unknown-channel", severity: .error, line: 2, column: 9, fix: "ops"),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1 }\nrule r on disk.filesystems { warn used_percent > 2 }", id: "duplicate-rule", severity: .error, line: 2, column: 6),
        .init(source: "channel a log\nchannel a log", id: "duplicate-channel", severity: .error, line: 2, column: 9),
        .init(source: "rule r on disk.filesystems { warn mount > 5 }", id: "type-mismatch", severity: .error, line: 1, column: 41),
        .init(source: "rule r on disk.filesystems { warn used_percent == \"x\" }", id: "type-mismatch", severity: .error, line: 1, column: 48),
        .init(source: "rule r on disk.filesystems { warn used_percent }", id: "expected-condition", severity: .error, line: 1, column: 35),
        .init(source: "rule r on disk.filesystems { warn rate(used_percent) > 1 }", id: "rate-of-gauge", severity: .warning, line: 1, column: 40),
        .init(source: "rule r on network.interfaces { warn rx_errors_total > 1 }", id: "raw-counter", severity: .warning, line: 1, column: 37, fix: "rate(rx_errors_total)"),
        .init(source: "rule r on disk.filesystems {\n  warn used_percent > 90\n  crit used_percent > 80\n}", id: "crit-below-warn", severity: .error, line: 3, column: 23),
        .init(source: "rule r on memory.usage {\n  warn used_percent < 10\n  crit used_percent < 20\n}", id: "crit-below-warn", severity: .error, line: 3, column: 23),
        .init(source: "rule r on disk.filesystems { warn used_percent > 85 clear > 90 }", id: "clear-never", severity: .error, line: 1, column: 61, fix: "< 85"),
        .init(source: "rule r on disk.filesystems { warn used_percent > 85 clear < 90 }", id: "clear-overlaps", severity: .warning, line: 1, column: 61),
        .init(source: "rule r on disk.filesystems { warn used_percent > 85 clear false }", id: "clear-never", severity: .error, line: 1, column: 59),
        .init(source: "rule r on disk.filesystems { warn used_percent > 85 or mount == \"/\" clear < 80 }", id: "clear-shorthand", severity: .error, line: 1, column: 75),
        .init(source: "rule r on disk.filesystems { summary \"x\" }", id: "no-condition", severity: .error, line: 1, column: 6),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n warn used_percent > 2 }", id: "duplicate-condition", severity: .error, line: 2, column: 2),
        .init(source: "rule r on disk.filesystems { warn a > 1\n let a = b + 1\n let b = a * 2 }", id: "let-cycle", severity: .error, line: 2, column: 6),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n let mount = 2 }", id: "let-shadows-field", severity: .error, line: 2, column: 6),
        .init(source: "rule r on disk.filesystems where mount =~ \"(\" { warn used_percent > 1 }", id: "bad-regex", severity: .error, line: 1, column: 45),
        .init(source: "rule r on disk.filesystems where used_percent ~ \"/*\" { warn used_percent > 1 }", id: "type-mismatch", severity: .error, line: 1, column: 34),
        .init(source: "rule r on disk.filesystems { warn avg(used_percent, 5) > 1 }", id: "expected-duration", severity: .error, line: 1, column: 53),
        .init(source: "rule r on disk.filesystems { warn mean(used_percent, 5m) > 1 }", id: "unknown-function-call", severity: .error, line: 1, column: 35),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n summary \"{mont} full\" }", id: "unknown-field", severity: .error, line: 2, column: 12),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n summary \"{used_percent|byte}\" }", id: "bad-template", severity: .error, line: 2, column: 25),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n summary \"{mount|}\" }", id: "bad-template", severity: .error, line: 2, column: 18),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n summary \"{|bytes}\" }", id: "unknown-field", severity: .error, line: 2, column: 12),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n on_missing forget }", id: "bad-value", severity: .error, line: 2, column: 13),
        .init(source: "rule r on disk.filesystems { warn used_percent > 1\n mute \"25:00-03:00\" }", id: "bad-mute", severity: .error, line: 2, column: 7),
        .init(source: "rule r on disk.filesystems { warn used_percent > 10GiB }", id: "unit-mismatch", severity: .warning, line: 1, column: 48),
        .init(source: "rule r on disk.filesystems { warn 5 > 3 }", id: "constant-condition", severity: .warning, line: 1, column: 37),
        .init(source: "rule r on network.interfaces where rate(rx_errors_total) > 1 { warn rx_bytes_per_second > 1 }", id: "history-in-where", severity: .error, line: 1, column: 36),
        .init(source: "rule r on network.interfaces where e > 1 { warn e > 2\n let e = rate(rx_errors_total) }", id: "history-in-where", severity: .error, line: 1, column: 36),
        // The caret of an unknown filter sits on the filter, spaces around `|` or not.
        .init(source: "rule r on memory.usage { warn available_percent < 10\n summary \"{available_bytes | bytse}\" }", id: "bad-template", severity: .error, line: 2, column: 30),
        // Through a let that refers to an already compiled let needing history.
        .init(source: "rule r on network.interfaces where c > 1 { let b = rate(rx_errors_total)\n let c = b + 1\n warn b > 2 }", id: "history-in-where", severity: .error, line: 1, column: 36),
        .init(source: "rule r on disk.filesystems by mont { warn used_percent > 1 }", id: "unknown-field", severity: .error, line: 1, column: 31, fix: "mount"),
        .init(source: "set intervall 10s", id: "unknown-setting", severity: .error, line: 1, column: 5, fix: "interval"),
        .init(source: "set interval 10", id: "expected-duration", severity: .error, line: 1, column: 14, fix: "10s"),
        .init(source: "set interval.dsk 10s", id: "unknown-worker", severity: .error, line: 1, column: 5),
        .init(source: "set log_level loud", id: "bad-value", severity: .error, line: 1, column: 15),
        .init(source: "set http_listen \"localhost:9465\"", id: "bad-value", severity: .error, line: 1, column: 17),
        .init(source: "set history_max_size 100", id: "bad-value", severity: .error, line: 1, column: 22),
        .init(source: "set history_max_size 2TiB", id: "bad-value", severity: .error, line: 1, column: 22),
        .init(source: "set flap_transitions 1", id: "bad-value", severity: .error, line: 1, column: 22),
        .init(source: "set flap_transitions 2.5", id: "bad-value", severity: .error, line: 1, column: 22),
        .init(source: "set top_processes 1e30", id: "bad-value", severity: .error, line: 1, column: 19),
        .init(source: "channel am alertmanager { url \"http://a:1\" resolve_peers true resolve_interval 500ms }", id: "bad-value", severity: .error, line: 1, column: 80),
        .init(source: "set default_channels [\"pager\"]", id: "unknown-channel", severity: .error, line: 1, column: 23),
        .init(source: "channel c slak { url \"https://x\" }", id: "unknown-channel-kind", severity: .error, line: 1, column: 11, fix: "slack"),
        .init(source: "channel c webhook { url \"https://x\" timout 5s }", id: "unknown-channel-option", severity: .error, line: 1, column: 37, fix: "timeout"),
        .init(source: "channel c smtp { server \"smtp://x:587\" from \"a@b\" }", id: "missing-channel-option", severity: .error, line: 1, column: 9),
        .init(source: "channel c webhook { url \"ftp://x\" }", id: "bad-value", severity: .error, line: 1, column: 25),
        .init(source: "channel c smtp { server \"smtp://x\" from \"a\" to \"b\" password \"hunter2\" }", id: "secret-inline", severity: .warning, line: 1, column: 61),
        .init(source: "channel c exec { command [] }", id: "bad-value", severity: .error, line: 1, column: 26),
        .init(source: "channel c webhook { url \"https://x\" send_resolved maybe }", id: "bad-value", severity: .error, line: 1, column: 51),
        .init(source: "channel am alertmanager { resend_interval 1m }", id: "missing-channel-option", severity: .error, line: 1, column: 9),
        .init(source: "channel am alertmanager { urls [] }", id: "bad-value", severity: .error, line: 1, column: 32),
        .init(source: "channel am alertmanager { urls [\"http://a\", \"http://a\"] }", id: "bad-value", severity: .error, line: 1, column: 45),
        .init(source: "channel am alertmanager { urls [\"http://a\", \"ftp://b\"] }", id: "bad-value", severity: .error, line: 1, column: 45),
        .init(source: "channel am alertmanager { url \"http://a\" urls [\"http://b\"] }", id: "bad-value", severity: .error, line: 1, column: 42),
    ]

    @Test func anAlertmanagerChannelTakesURLOrURLsAndSaysSo() throws {
        let missing = RuleSetLoader.load(sources: [("t.rules", "channel am alertmanager { }")], catalog: TestCatalog.catalog)
        #expect(missing.diagnostics.map(\.message) == ["channel `am` (alertmanager) needs option `url` or `urls`: "
            + "Alertmanager base URL; alerts are POSTed to URL/api/v2/alerts"])
        let both = RuleSetLoader.load(sources: [("t.rules", "channel am alertmanager { url \"http://a\" urls [\"http://b\"] }")],
                                      catalog: TestCatalog.catalog)
        #expect(both.diagnostics.map(\.message) == ["channel `am` gives both `url` and `urls`: write one (a list of one URL is fine)"])
        let c = try TestCatalog.config("channel am alertmanager { urls [\"http://127.0.0.1:9093\", \"http://127.0.0.1:9094\"] }")
        #expect(c.channels.first { $0.name == "am" }?["urls"] == .list([.string("http://127.0.0.1:9093"), .string("http://127.0.0.1:9094")]))
    }

    @Test(arguments: cases)
    func diagnosticPointsAtTheProblem(_ c: Case) throws {
        let r = RuleSetLoader.load(sources: [("t.rules", c.source)], catalog: TestCatalog.catalog)
        let d = try #require(r.diagnostics.first { $0.id == c.id }, "got \(r.diagnostics.map { "\($0.id) \($0.location)" })")
        #expect(d.severity == c.severity)
        #expect(d.location.line == c.line)
        #expect(d.location.column == c.column)
        if let fix = c.fix { #expect(d.fixIt?.replacement == fix) }
        // Errors withhold the configuration; warnings alone do not.
        #expect((r.configuration == nil) == r.diagnostics.contains { $0.severity == .error })
    }

    @Test func validConfigurationCompiles() throws {
        let c = try TestCatalog.config("""
        set interval 15s
        set default_channels ["ops", "log"]
        channel ops webhook { url "https://example.com/x" headers { "X-Team" "ops" } timeout 5s }
        rule disk on disk.filesystems where mount ~ "/*" and not (fstype =~ "tmpfs|devtmpfs") {
          warn used_percent > 85
        }
        rule nic on network.interfaces where name != "lo" {
          warn rate(rx_errors_total + tx_errors_total) > 1/s
          notify log
        }
        """)
        #expect(c.rules.map(\.name) == ["disk", "nic"])
        #expect(c.rules[0].channels == ["ops", "log"])
        #expect(c.rules[1].channels == ["log"])
        #expect(c.settings["interval"] == .duration(15))
        #expect(c.declaredChannels.map(\.name) == ["ops"])
        #expect(c.channels.map(\.name) == ["ops", "log"])
        #expect(c.declaredChannels[0]["headers"] == .block([("X-Team", .string("ops"))]))
        #expect(c.declaredChannels[0]["timeout"] == .duration(5))
    }

    /// The ends of each setting's range are accepted (the values just outside are in `cases`).
    @Test(arguments: ["set history_max_size 4KiB", "set history_max_size 1TiB", "set flap_transitions 0", "set flap_transitions 2",
                      "set flap_transitions 1000", "set top_processes 0", "set top_processes 10000"])
    func settingRangesIncludeTheirEnds(_ source: String) throws {
        let r = RuleSetLoader.load(sources: [("t.rules", source + "\nrule r on disk.filesystems { warn used_percent > 1 }")],
                                   catalog: TestCatalog.catalog)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map(\.message))")
        #expect(r.configuration != nil)
    }

    @Test func defaultChannelIsTheBuiltInLog() throws {
        let c = try TestCatalog.config("rule r on disk.filesystems { warn used_percent > 1 }")
        #expect(c.defaultChannels == ["log"])
        #expect(c.rules[0].channels == ["log"])
    }

    @Test func longLetChainsAreBounded() {
        var src = "rule r on disk.filesystems {\n warn l0 > 1\n"
        for i in 0..<5000 { src += " let l\(i) = l\(i + 1) + 1\n" }
        src += " let l5000 = used_percent\n}"
        let r = RuleSetLoader.load(sources: [("t.rules", src)], catalog: TestCatalog.catalog)
        #expect(r.diagnostics.contains { $0.id == "too-deep" })
    }

    @Test func extremeTemplateArgumentsDoNotTrap() throws {
        let d = try Driver("""
        rule r on disk.filesystems {
          let big = 1e300
          crit used_percent > 1
          summary "{used_percent|round:100000} {big|duration} {big|bytes} {big|round:-5}"
        }
        """)
        let e = try #require(d.tick(0, [TestCatalog.disk("/", used: 50.123456789)]).first)
        #expect(e.summary.hasPrefix("50.123456789 "))
    }

    @Test func everyErrorInOneRun() {
        let src = """
        rule a on disk.filesystems { warn used_procent > 1 }
        rule b on disk.filesystems { warn mount > 1 notify nobody }
        rule c on dsk.filesystems { warn x > 1 }
        """
        let r = RuleSetLoader.load(sources: [("t.rules", src)], catalog: TestCatalog.catalog)
        #expect(r.diagnostics.map(\.id) == ["unknown-field", "type-mismatch", "unknown-channel", "unknown-worker"])
    }

    @Test func channelsFromAnotherFileResolve() {
        let r = RuleSetLoader.load(sources: [("shd.conf", "channel ops log\nset default_channels \"ops\""),
                                             ("a.rules", "rule r on disk.filesystems { warn used_percent > 1 notify ops }")],
                                   catalog: TestCatalog.catalog)
        #expect(r.diagnostics.isEmpty)
        #expect(r.configuration?.defaultChannels == ["ops"])
        #expect(r.configuration?.files == ["shd.conf", "a.rules"])
    }

    // MARK: golden output

    static let goldenSource = """
    rule disk_space on disk.filesystems {
      warn used_procent > 85 for 5m clear < 80
      crit used_percent > 80
      notify ops, oncall
    }
    channel ops webhook { url "https://example.com" timout 5s }
    """

    @Test func goldenText() {
        let r = RuleSetLoader.load(sources: [("disk.rules", Self.goldenSource)], catalog: TestCatalog.catalog)
        let text = DiagnosticPrinter.text(r.diagnostics, sources: r.sources, color: false)
        let expected = """
        disk.rules:2:8: error: unknown field `used_procent` in filesystems; did you mean `used_percent`?
              warn used_procent > 85 for 5m clear < 80
                   ^~~~~~~~~~~~
            fix-it: replace with `used_percent`
        disk.rules:4:15: error: unknown channel `oncall`
              notify ops, oncall
                          ^~~~~~
            note: declare it with `channel oncall KIND { … }`; `log` is built in
        disk.rules:6:49: error: channel kind `webhook` has no option `timout`; did you mean `timeout`?
            channel ops webhook { url "https://example.com" timout 5s }
                                                            ^~~~~~
            note: options: url, headers, hmac_secret, ca_file, include_report, timeout, ttl, rate_limit, min_severity, send_resolved
            fix-it: replace with `timeout`

        """
        #expect(text == expected)
    }

    @Test func crlfFilesQuoteTheirLines() {
        let src = "# windows editor\r\nrule r on disk.filesystems {\r\n  warn used_procent > 1\r\n}\r\n"
        let r = RuleSetLoader.load(sources: [("w.rules", src)], catalog: TestCatalog.catalog)
        let text = DiagnosticPrinter.text(r.diagnostics, sources: r.sources, color: false)
        #expect(text.hasPrefix("w.rules:3:8: error: unknown field `used_procent`"))
        #expect(text.contains("\n      warn used_procent > 1\n           ^~~~~~~~~~~~\n"))
    }

    @Test func goldenJSON() throws {
        let r = RuleSetLoader.load(sources: [("disk.rules", "rule r on disk.filesystems { warn used_procent > 1 }")],
                                   catalog: TestCatalog.catalog)
        let json = DiagnosticPrinter.json(r.diagnostics)
        let expected = """
        [
          {
            "severity": "error",
            "id": "unknown-field",
            "message": "unknown field `used_procent` in filesystems; did you mean `used_percent`?",
            "file": "disk.rules",
            "line": 1,
            "column": 35,
            "length": 12,
            "notes": [],
            "fix_it": {
              "message": "replace with `used_percent`",
              "line": 1,
              "column": 35,
              "length": 12,
              "replacement": "used_percent"
            }
          }
        ]

        """
        #expect(json == expected)
        // And it parses back as JSON.
        #expect(try JSONValue.parse(json).array?.count == 1)
    }

    @Test func githubAnnotations() {
        let r = RuleSetLoader.load(sources: [("d.rules", "rule r on disk.filesystems { warn used_procent > 1 }")], catalog: TestCatalog.catalog)
        #expect(DiagnosticPrinter.github(r.diagnostics)
            == "::error file=d.rules,line=1,col=35,title=unknown-field::unknown field `used_procent` in filesystems; did you mean `used_percent`?%0Afix-it: replace with `used_percent`\n")
    }

    @Test func colourOnlyWhenAsked() {
        let r = RuleSetLoader.load(sources: [("d.rules", "rule r on disk.filesystems { warn used_procent > 1 }")], catalog: TestCatalog.catalog)
        #expect(!DiagnosticPrinter.text(r.diagnostics, sources: r.sources, color: false).contains("\u{1B}"))
        #expect(DiagnosticPrinter.text(r.diagnostics, sources: r.sources, color: true).contains("\u{1B}[1;31merror:"))
    }
}

/// How `checkTemplate` splits summaries and descriptions into text and `{name|filter:arg}` references.
@Suite struct TemplateSplitTests {
    static func parts(_ template: String) -> (parts: [String], ids: [String]) {
        var checker = Checker(catalog: TestCatalog.catalog)
        var scope = Checker.Scope()
        let t = checker.checkTemplate(template, Span(line: 1, column: 10, length: 1), &scope)
        let parts = t.parts.map { p -> String in
            switch p {
            case .text(let s): return "text(\(s))"
            case .ref(let name, let filter, let arg): return "ref(\(name)|\(filter ?? "-")|\(arg.map(String.init) ?? "-"))"
            }
        }
        return (parts, checker.diagnostics.map(\.id))
    }

    @Test(arguments: [
        ("{mount} is {used_percent|round:1}% full, {avail_bytes|bytes} left",
         ["ref(mount|-|-)", "text( is )", "ref(used_percent|round|1)", "text(% full, )", "ref(avail_bytes|bytes|-)", "text( left)"]),
        ("{{literal}} and a}b", ["text({literal} and a}b)"]),
        ("{ mount }/{ x | round }", ["ref(mount|-|-)", "text(/)", "ref(x|round|-)"]),
        ("{x|round:+3}{y|percent:}", ["ref(x|round|3)", "ref(y|percent|-)"]),
        ("{}", ["ref(|-|-)"]),
        ("é {é|round:2} ü", ["text(é )", "ref(é|round|2)", "text( ü)"]),
    ])
    func splits(_ template: String, _ expected: [String]) {
        let r = Self.parts(template)
        #expect(r.parts == expected)
        #expect(r.ids.isEmpty)
    }

    @Test func unknownFilterAndUnclosedBraceAreReported() {
        // The filter is what precedes the first `:`, spaces included: `round ` is not a filter.
        let r = Self.parts("{x | round : 2} tail {open")
        #expect(r.parts == ["ref(x|round |-)", "text( tail )"])
        #expect(r.ids == ["bad-template", "bad-template"])
    }
}
