// Probe declarations: the checker's diagnostics for each mistake, clean declarations of every kind, and the address
// and status tables the checker and the runner share.
import Testing
import Reports
import Workers
@testable import Rules

@Suite struct ProbeCheckTests {
    typealias Case = CheckerTests.Case

    static let cases: [Case] = [
        .init(source: "probe p htp { url \"http://a\" }", id: "unknown-probe-kind", severity: .error, line: 1, column: 9, fix: "http"),
        .init(source: "probe p http { url \"http://a\"\n  exect_status \"2xx\" }", id: "unknown-probe-option", severity: .error, line: 2, column: 3, fix: "expect_status"),
        .init(source: "probe p http { method \"GET\" }", id: "missing-probe-option", severity: .error, line: 1, column: 7),
        .init(source: "probe p tcp { address \"127.0.0.1:1\" }\nprobe p tcp { address \"127.0.0.1:2\" }", id: "duplicate-probe", severity: .error, line: 2, column: 7),
        .init(source: "probe p tcp { address \"127.0.0.1\" }", id: "bad-value", severity: .error, line: 1, column: 23),
        .init(source: "probe p tcp { address \"127.0.0.1:70000\" }", id: "bad-value", severity: .error, line: 1, column: 23),
        .init(source: "probe p tcp { address \"unix:run/x.sock\" }", id: "bad-value", severity: .error, line: 1, column: 23),
        .init(source: "probe p http { url \"ftp://a/\" }", id: "bad-value", severity: .error, line: 1, column: 20),
        .init(source: "probe p http { url \"https://\" }", id: "bad-value", severity: .error, line: 1, column: 20),
        .init(source: "probe p tls { url \"http://a:443\" }", id: "bad-value", severity: .error, line: 1, column: 19),
        .init(source: "probe p http { url \"https://a\" expect_status [\"200\", \"2x\"] }", id: "bad-value", severity: .error, line: 1, column: 54),
        .init(source: "probe p http { url \"https://a\" expect_status \"204-200\" }", id: "bad-value", severity: .error, line: 1, column: 46),
        .init(source: "probe p http { url \"https://a\" body_regex \"(ok\" }", id: "bad-regex", severity: .error, line: 1, column: 43),
        .init(source: "probe p http { url \"https://a\" interval 10 }", id: "expected-duration", severity: .error, line: 1, column: 41, fix: "10s"),
        .init(source: "probe p http { url \"https://a\" timeout 0s }", id: "bad-value", severity: .error, line: 1, column: 40),
        .init(source: "probe p http { url \"https://a\" method \"FETCH\" }", id: "bad-value", severity: .error, line: 1, column: 39),
        .init(source: "probe p http { url \"https://a\" max_body 1.5 }", id: "bad-value", severity: .error, line: 1, column: 41),
        .init(source: "probe p http { url \"https://a\" url \"https://b\" }", id: "duplicate-option", severity: .warning, line: 1, column: 32),
        .init(source: "probe p http { url \"http://a/\"\n  headers { \"Authorization\" \"Bearer x\" } }", id: "secret-plaintext", severity: .warning, line: 2, column: 13),
        .init(source: "probe p http { url \"http://a/\"\n  headers { \"X-Trace\" file \"/etc/shd/t\" } }", id: "secret-plaintext", severity: .warning, line: 2, column: 13),
        .init(source: "probe p http { url \"http://u:pw@a/\" }", id: "secret-plaintext", severity: .warning, line: 1, column: 20),
        .init(source: "probe p certificate { name \"a\" }", id: "missing-probe-option", severity: .error, line: 1, column: 7),
    ]

    /// The checker's own table test, on the probe cases.
    @Test(arguments: cases)
    func diagnostic(_ c: Case) throws { try CheckerTests().diagnosticPointsAtTheProblem(c) }

    @Test func everyKindChecksCleanWithItsOptions() throws {
        let source = """
            probe web http {
              url "https://www.example.com/health"
              method "POST"
              headers { "Authorization" file "/etc/shd/secrets/token"  "X-Probe" "shd" }
              body "{}"
              expect_status ["200", "3xx", "401-403"]
              body_regex "\\"status\\": *\\"ok\\""
              max_body 16KiB
              follow_redirects true
              max_redirects 3
              verify_tls true
              ca_file "/etc/ssl/internal-ca.pem"
              client_cert "/etc/shd/client.pem"
              client_key "/etc/shd/client.key"
              interval 1m
              timeout 3s
            }
            probe db tcp { address "[::1]:5432" interval 10s }
            probe sock tcp { address "unix:/run/app.sock" }
            probe mail tls { url "smtp://mail.example.com:587" name "mail.example.com" }
            probe certs certificate { path ["/etc/ssl/certs/site.pem", "/etc/letsencrypt/live/*/fullchain.pem"] name "example.com" }
            rule web_down on probes.http by probe { crit not up for 1m }
            """
        let r = RuleSetLoader.load(sources: [("p.rules", source)], catalog: WorkerRegistry.catalog)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics.map { "\($0.location) \($0.id) \($0.message)" })")
        let probes = try #require(r.configuration?.probes)
        #expect(probes.map(\.name) == ["web", "db", "sock", "mail", "certs"])
        #expect(probes.map(\.kind) == ["http", "tcp", "tcp", "tls", "certificate"])
        #expect(probes[0]["max_body"] == .number(16384))
        #expect(probes[1]["interval"] == .duration(10))
    }

    @Test func aProbeDoesNotSwallowTheNextStatement() {
        let r = RuleSetLoader.load(sources: [("t.rules", "probe p tcp { address \"127.0.0.1:1\"\nrule r on disk.filesystems { warn used_percent > 1 }")],
                                   catalog: TestCatalog.catalog)
        #expect(r.diagnostics.contains { $0.id == "expected-token" && $0.location.line == 2 })
    }

    static let statuses: [(String, ClosedRange<Int>?)] = [
        ("200", 200...200), ("2xx", 200...299), ("5XX", 500...599), ("200-204", 200...204), (" 301 ", 301...301),
        ("0", nil), ("99", nil), ("600", nil), ("6xx", nil), ("2x", nil), ("204-200", nil), ("20a", nil), ("", nil), ("200-", nil),
    ]

    @Test(arguments: statuses)
    func statusRanges(_ text: String, _ want: ClosedRange<Int>?) { #expect(parseStatusRange(text) == want) }

    static let addresses: [(String, ProbeAddress?)] = [
        ("127.0.0.1:5432", .inet(host: "127.0.0.1", port: 5432)),
        ("db.internal:5432", .inet(host: "db.internal", port: 5432)),
        ("[::1]:443", .inet(host: "::1", port: 443)),
        ("[2001:db8::1]:65535", .inet(host: "2001:db8::1", port: 65535)),
        ("unix:/run/app.sock", .unix(path: "/run/app.sock")),
        ("/run/app.sock", .unix(path: "/run/app.sock")),
        ("::1:443", nil), ("[::1]443", nil), ("host:0", nil), ("host:65536", nil), ("host:", nil), (":80", nil),
        ("host:8o", nil), ("unix:relative", nil), ("a b:1", nil), ("[zz]:1", nil),
        ("unix:/" + String(repeating: "x", count: 120), nil),
    ]

    @Test(arguments: addresses)
    func addressTable(_ text: String, _ want: ProbeAddress?) { #expect(ProbeAddress.parse(text) == want) }
}

extension SettingsTableTests {
    static func probeOptionsMarkdown() -> String {
        var rows = ["| probe kind | option | value | default | meaning |", "|---|---|---|---|---|"]
        for kind in ProbeKinds.kinds.keys.sorted() {
            for k in ProbeKinds.kinds[kind]! {
                rows.append("| `\(kind)` | `\(k.name)`\(k.required ? " (required)" : "") | \(typeWord(k.type)) | \(markdownDefault(k)) | \(k.help) |")
            }
        }
        for k in ProbeKinds.common { rows.append("| every kind | `\(k.name)` | \(typeWord(k.type)) | \(markdownDefault(k)) | \(k.help) |") }
        return rows.joined(separator: "\n")
    }

    @Test func rulesMdProbeTableIsTheTable() {
        let shown = Self.block(Self.doc("docs/rules.md"), from: "| probe kind |")
        #expect(shown == Self.probeOptionsMarkdown(), "docs/rules.md probe table should read:\n\(Self.probeOptionsMarkdown())")
    }
}
