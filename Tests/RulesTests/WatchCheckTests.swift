// Watch declarations: the checker's diagnostics for each mistake (at the problem's line and column), clean declarations
// of every kind, unit names, and the option table docs/rules.md shows.
import Testing
import Reports
import Workers
@testable import Rules

@Suite struct WatchCheckTests {
    typealias Case = CheckerTests.Case

    static let cases: [Case] = [
        .init(source: "watch w proces { name \"nginx\" }", id: "unknown-watch-kind", severity: .error, line: 1, column: 9, fix: "process"),
        .init(source: "watch w process {\n  pidfle \"/run/x.pid\" }", id: "unknown-watch-option", severity: .error, line: 2, column: 3, fix: "pidfile"),
        .init(source: "watch w file { path \"/etc/passwd\" match \"*\" }", id: "unknown-watch-option", severity: .error, line: 1, column: 35),
        .init(source: "watch w process { interval 1m }", id: "missing-watch-option", severity: .error, line: 1, column: 7),
        .init(source: "watch w file { checksum true }", id: "missing-watch-option", severity: .error, line: 1, column: 7),
        .init(source: "watch w process { name \"a\" }\nwatch w process { name \"b\" }", id: "duplicate-watch", severity: .error, line: 2, column: 7),
        .init(source: "watch w process { name \"nginx\" pidfile \"/run/nginx.pid\" }", id: "bad-value", severity: .error, line: 1, column: 32),
        .init(source: "watch w process { pidfile \"run/nginx.pid\" }", id: "bad-value", severity: .error, line: 1, column: 27),
        .init(source: "watch w file { path [\"/etc/passwd\", \"shadow\"] }", id: "bad-value", severity: .error, line: 1, column: 37),
        .init(source: "watch w directory { path [] }", id: "bad-value", severity: .error, line: 1, column: 26),
        .init(source: "watch w process { unit \"nginx.timer\" }", id: "bad-value", severity: .error, line: 1, column: 24),
        .init(source: "watch w process { unit \"ng inx\" }", id: "bad-value", severity: .error, line: 1, column: 24),
        .init(source: "watch w process { name \"systemd-journald\" }", id: "bad-value", severity: .error, line: 1, column: 24, fix: "\"systemd-journal\""),
        .init(source: "watch w process { name \"/usr/sbin/nginx\" }", id: "bad-value", severity: .error, line: 1, column: 24),
        .init(source: "watch w process { cmdline \"(nginx\" }", id: "bad-regex", severity: .error, line: 1, column: 27),
        .init(source: "watch w process { name \"nginx\" interval 10 }", id: "expected-duration", severity: .error, line: 1, column: 41, fix: "10s"),
        .init(source: "watch w process { name \"nginx\" interval 0s }", id: "bad-value", severity: .error, line: 1, column: 41),
        .init(source: "watch w file { path \"/etc/passwd\" checksum yes }", id: "bad-value", severity: .error, line: 1, column: 44),
        .init(source: "watch w file { path \"/etc/passwd\" max_checksum 1.5 }", id: "bad-value", severity: .error, line: 1, column: 48),
        .init(source: "watch w file { path \"/etc/passwd\" path \"/etc/group\" }", id: "duplicate-option", severity: .warning, line: 1, column: 35),
    ]

    /// The checker's own table test, on the watch cases.
    @Test(arguments: cases)
    func diagnostic(_ c: Case) throws { try CheckerTests().diagnosticPointsAtTheProblem(c) }

    @Test func aBadOptionIsPrintedWithFileLineAndColumn() {
        let source = "watch nginx process {\n  pidfle \"/run/nginx.pid\"\n}\n"
        let r = RuleSetLoader.load(sources: [("/etc/shd/rules.d/web.rules", source)], catalog: WorkerRegistry.catalog)
        let text = DiagnosticPrinter.text(r.diagnostics, sources: r.sources, color: false)
        #expect(text.contains("/etc/shd/rules.d/web.rules:2:3: error: watch kind `process` has no option `pidfle`; did you mean `pidfile`?"), "\(text)")
        #expect(r.configuration == nil)
    }

    @Test func everyKindChecksCleanWithItsOptions() throws {
        let source = """
            watch nginx process { pidfile "/run/nginx.pid" interval 30s }
            watch postgres process { unit "postgresql@15-main" }
            watch sshd process { name "sshd" }
            watch worker process { cmdline "python3 .*worker\\\\.py" }
            watch passwd file { path ["/etc/passwd", "/etc/shadow"] checksum true max_checksum 1MiB }
            watch fifo file { path "/run/app/control.fifo" }
            watch backups directory { path "/var/backups/db" match "*.dump" }
            watch certs directory { path "/etc/letsencrypt/live/*" }
            rule process_down on processes.watched by watch { crit running < 1 }
            """
        let r = RuleSetLoader.load(sources: [("w.rules", source)], catalog: WorkerRegistry.catalog)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map { "\($0.location) \($0.id) \($0.message)" })")
        let watches = try #require(r.configuration?.watches)
        #expect(watches.map(\.name) == ["nginx", "postgres", "sshd", "worker", "passwd", "fifo", "backups", "certs"])
        #expect(watches.map(\.kind) == ["process", "process", "process", "process", "file", "file", "directory", "directory"])
        #expect(watches[0]["interval"] == .duration(30))
        #expect(watches[1].value(WatchKinds.processInterval) == .duration(10))
        #expect(watches[4].paths == ["/etc/passwd", "/etc/shadow"])
        #expect(watches[4]["max_checksum"] == .number(1_048_576))
        #expect(watches[5].value(WatchKinds.checksum) == .bool(false))
    }

    @Test func aWatchDoesNotSwallowTheNextStatement() {
        let r = RuleSetLoader.load(sources: [("t.rules", "watch w process { name \"a\"\nrule r on disk.filesystems { warn used_percent > 1 }")],
                                   catalog: TestCatalog.catalog)
        #expect(r.diagnostics.contains { $0.id == "expected-token" && $0.location.line == 2 })
    }

    @Test func watchIsStillAFieldAndLabelName() {
        // The new statement word does not take `watch` away from rules: it is the watch's label in the rows.
        let r = RuleSetLoader.load(sources: [("t.rules", """
            rule down on processes.watched by watch where watch == "nginx" {
              crit running < 1
              summary "{watch} is down"
            }
            """)], catalog: WorkerRegistry.catalog)
        #expect(!r.hasErrors, "\(r.diagnostics.map { "\($0.location) \($0.id) \($0.message)" })")
    }

    static let units: [(String, String?)] = [
        ("nginx", "nginx.service"), ("nginx.service", "nginx.service"), ("postgresql@15-main", "postgresql@15-main.service"),
        ("session-2.scope", "session-2.scope"), ("dbus-:1.2-org.x", "dbus-:1.2-org.x.service"),
        ("nginx.timer", nil), ("sshd.socket", nil), ("system.slice", nil), ("", nil), (".service", nil), ("a b", nil),
        ("a/b", nil), ("nginx.", nil), (String(repeating: "x", count: 256), nil),
    ]

    @Test(arguments: units)
    func unitNames(_ text: String, _ want: String?) { #expect(normalizedUnitName(text) == want) }
}

extension SettingsTableTests {
    static func watchOptionsMarkdown() -> String {
        var rows = ["| watch kind | option | value | default | meaning |", "|---|---|---|---|---|"]
        for kind in WatchKinds.kinds.keys.sorted() {
            for k in WatchKinds.kinds[kind]! {
                rows.append("| `\(kind)` | `\(k.name)`\(k.required ? " (required)" : "") | \(typeWord(k.type)) | \(markdownDefault(k)) | \(k.help) |")
            }
        }
        for k in WatchKinds.common { rows.append("| every kind | `\(k.name)` | \(typeWord(k.type)) | \(markdownDefault(k)) | \(k.help) |") }
        return rows.joined(separator: "\n")
    }

    /// The fields docs/rules.md lists for a watch function are its schema's, in order.
    @Test(arguments: [("processes", "watched"), ("files", "watched")])
    func rulesMdListsTheWatchFunctionsFields(_ worker: String, _ function: String) throws {
        let schema = try #require(WorkerRegistry.catalog.function(worker: worker, function: function))
        let line = try #require(Self.doc("docs/rules.md").split(separator: "\n").first { $0.hasPrefix("| `\(worker).\(function)` |") })
        let cells = line.split(separator: "|")
        let shown = cells.last.map { $0.split(separator: ",").map { $0.filter { $0 != "`" && $0 != " " } } } ?? []
        #expect(shown == schema.fields.map(\.name))
    }

    @Test func rulesMdWatchTableIsTheTable() {
        let shown = Self.block(Self.doc("docs/rules.md"), from: "| watch kind |")
        #expect(shown == Self.watchOptionsMarkdown(), "docs/rules.md watch table should read:\n\(Self.watchOptionsMarkdown())")
    }
}
