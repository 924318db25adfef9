// Lexer and parser tables: units, statements, syntax errors with their locations, recovery, hostile input.
import Testing
import Reports
@testable import Rules

@Suite struct LexerTests {
    struct NumberCase: CustomTestStringConvertible, Sendable {
        var text: String
        var value: Double
        var unit: NumberUnit
        var testDescription: String { text }
    }

    static let numbers: [NumberCase] = [
        .init(text: "30s", value: 30, unit: .duration), .init(text: "5m", value: 300, unit: .duration),
        .init(text: "1h30m", value: 5400, unit: .duration), .init(text: "2d", value: 172_800, unit: .duration),
        .init(text: "1w", value: 604_800, unit: .duration), .init(text: "250ms", value: 0.25, unit: .duration),
        .init(text: "10GiB", value: 10 * 1_073_741_824, unit: .bytes), .init(text: "500MB", value: 5e8, unit: .bytes),
        .init(text: "1/s", value: 1, unit: .rate), .init(text: "6/h", value: 6.0 / 3600, unit: .rate),
        .init(text: "30/m", value: 0.5, unit: .rate), .init(text: "85%", value: 85, unit: .percent),
        .init(text: "1.5", value: 1.5, unit: .none), .init(text: "1_000_000", value: 1e6, unit: .none),
        .init(text: "2e3", value: 2000, unit: .none), .init(text: "0.5KiB", value: 512, unit: .bytes),
    ]

    @Test(arguments: numbers)
    func numberLiterals(_ c: NumberCase) throws {
        var lexer = Lexer(file: "t", bytes: Array(c.text.utf8))
        let toks = lexer.tokenize()
        #expect(lexer.diagnostics.isEmpty)
        #expect(toks.count == 2)
        #expect(toks[0].kind == .number)
        #expect(abs(toks[0].number - c.value) < 1e-9)
        #expect(toks[0].unit == c.unit)
    }

    @Test(arguments: [("5mins", "m"), ("3hours", "h"), ("10gb", "GB"), ("2GIB", "GiB"), ("7dy", "d")])
    func unknownUnitsSuggestTheRightOne(_ text: String, _ suggestion: String) throws {
        var lexer = Lexer(file: "t", bytes: Array(text.utf8))
        _ = lexer.tokenize()
        let d = try #require(lexer.diagnostics.first)
        #expect(d.id == "unknown-unit")
        #expect(d.fixIt?.replacement == suggestion)
    }

    @Test func stringsEscapesAndErrors() {
        var lexer = Lexer(file: "t", bytes: Array(#""a\"b\\c\n" "open"#.utf8) + [0x0A] + Array(#""x\q""#.utf8))
        let toks = lexer.tokenize()
        #expect(toks[0].text == "a\"b\\c\n")
        #expect(lexer.diagnostics.map(\.id) == ["unterminated-string", "bad-escape"])
        #expect(lexer.diagnostics[0].location.line == 1 && lexer.diagnostics[0].location.column == 13)
    }

    @Test(arguments: ["\n", "\r\n"])
    func aBackslashAtTheEndOfALineDoesNotSwallowTheNewline(_ newline: String) {
        // `summary "abc\` then a newline: the string is unterminated, and what follows is still on
        // the lines it is on (the newline once went into the string and every later line was off by one).
        var lexer = Lexer(file: "t", bytes: Array("summary \"abc\\\(newline)warn x".utf8))
        let toks = lexer.tokenize()
        #expect(lexer.diagnostics.map(\.id) == ["unterminated-string"])
        let warn = toks.first { $0.text == "warn" }
        #expect(warn?.location.line == 2 && warn?.location.column == 1)
    }

    @Test func byteOrderMarkIsSkipped() {
        var lexer = Lexer(file: "t", bytes: [0xEF, 0xBB, 0xBF] + Array("set x".utf8))
        let toks = lexer.tokenize()
        #expect(lexer.diagnostics.isEmpty)
        #expect(toks.first?.text == "set" && toks.first?.location.column == 1)
    }

    @Test func columnsCountCharactersNotBytes() {
        var lexer = Lexer(file: "t", bytes: Array("summary \"é€\" §".utf8))
        _ = lexer.tokenize()
        #expect(lexer.diagnostics.first?.location.column == 14)
    }
}

@Suite struct ParserTests {
    @Test func fullExampleParsesClean() {
        let src = """
        set interval 10s
        set interval.processes 30s
        set default_channels ["ops"]
        channel ops slack { url file "/etc/shd/secrets/slack-ops" }
        channel oncall smtp {
          server "smtp://mail.example.com:587"
          from "shd@example.com"  to "oncall@example.com"  user "shd"  password file "/etc/shd/secrets/smtp"
        }
        channel hook webhook { url "https://example.com/hook" headers { "X-Team" "ops" } send_resolved false }
        mute from "2026-12-24T18:00:00+01:00" until "2026-12-27T08:00:00+01:00"
        rule disk_space on disk.filesystems where fstype != "tmpfs" and mount ~ "/*" {
          warn used_percent > 85 for 5m clear < 80      # hysteresis
          crit used_percent > 95 or hours_to_full < 2
          let  hours_to_full = predict_zero(avail_bytes, window 1h) / 1h
          repeat 4h
          notify ops, oncall
          summary "{mount} is {used_percent}% full, {avail_bytes|bytes} left"
          on_missing resolve after 2
          mute "02:00-04:00"
        }
        """
        let (ast, diags) = RuleParser.parse(source: src, file: "a.conf")
        #expect(diags.isEmpty, "\(diags)")
        #expect(ast.statements.count == 8)
        guard case .rule(let r)? = ast.statements.last else { Issue.record("last statement is not a rule"); return }
        #expect(r.name == "disk_space" && r.worker == "disk" && r.function == "filesystems")
        #expect(r.items.count == 8)
        #expect(r.filter != nil)
    }

    @Test(arguments: [
        ("a + b * c", "(a + (b * c))"),
        ("(a + b) * c", "((a + b) * c)"),
        ("a - b - c", "((a - b) - c)"),
        ("x > 1 and y < 2 or z == 3", "(((x > 1) and (y < 2)) or (z == 3))"),
        ("not a > 1 and b", "(not (a > 1) and b)"),
        ("-a * 2", "(-a * 2)"),
        ("rate(a + b) > 1/s", "(rate((a + b)) > 1/s)"),
        ("time_to(x, 100, window 1h) < 2h", "(time_to(x, 100, 1h) < 2h)"),
        ("name =~ \"eth[0-9]+\"", "(name =~ \"eth[0-9]+\")"),
    ])
    func precedence(_ source: String, _ expected: String) throws {
        let (ast, diags) = RuleParser.parse(source: "rule r on a.b { warn \(source) }", file: "t")
        #expect(diags.isEmpty, "\(diags)")
        guard case .rule(let r)? = ast.statements.first, case .condition(let c)? = r.items.first else {
            Issue.record("no condition parsed"); return
        }
        #expect(c.expr.text == expected)
    }

    struct ErrorCase: CustomTestStringConvertible, Sendable {
        var source: String
        var id: String
        var line: Int
        var column: Int
        var testDescription: String { id + " @ " + source.prefix(30) }
    }

    static let errors: [ErrorCase] = [
        .init(source: "rulez x on a.b { warn x > 1 }", id: "expected-statement", line: 1, column: 1),
        .init(source: "rule x a.b { warn x > 1 }", id: "expected-token", line: 1, column: 8),
        // `on a` without a dot is an event rule (the checker names the unknown source); a missing `{` is the parser's.
        .init(source: "rule x on a.b warn x > 1 }", id: "expected-token", line: 1, column: 15),
        .init(source: "rule x on a.b {\n  warn x > \n}", id: "expected-expression", line: 3, column: 1),
        .init(source: "rule x on a.b {\n  warn x = 1\n}", id: "expected-token", line: 2, column: 10),
        .init(source: "rule x on a.b {\n  warn x > 1 for 5\n}", id: "expected-duration", line: 2, column: 18),
        .init(source: "rule x on a.b {\n  wran x > 1\n}", id: "expected-statement", line: 2, column: 3),
        .init(source: "rule x on a.b {\n  warn 1 < x < 3\n}", id: "chained-comparison", line: 2, column: 14),
        .init(source: "rule x on a.b {\n  warn x > 1\n", id: "expected-token", line: 3, column: 1),
        .init(source: "set", id: "expected-name", line: 1, column: 1),
        .init(source: "channel c webhook { url }", id: "expected-value", line: 1, column: 25),
        .init(source: "rule x on a.b { repeat often }", id: "expected-duration", line: 1, column: 24),
        .init(source: "mute 5", id: "expected-string", line: 1, column: 6),
    ]

    @Test(arguments: errors)
    func syntaxErrorsPointAtTheProblem(_ c: ErrorCase) throws {
        let (_, diags) = RuleParser.parse(source: c.source, file: "t.rules")
        let d = try #require(diags.first, "no diagnostic for \(c.source)")
        #expect(d.id == c.id)
        #expect(d.severity == .error)
        #expect(d.location.line == c.line)
        #expect(d.location.column == c.column)
    }

    @Test func recoversAtTheNextStatementAndReportsEveryError() {
        let src = """
        rule a on x.y {
          warn > 1
          crit z > 2
          wran q
        }
        set
        rule b on x.y { warn q > 1 }
        rule c x.y { }
        channel k webhook { url "https://x" }
        """
        let (ast, diags) = RuleParser.parse(source: src, file: "t")
        #expect(diags.map(\.location.line) == [2, 4, 6, 8])
        let names = ast.statements.compactMap { s -> String? in
            switch s {
            case .rule(let r): return r.name
            case .channel(let c): return c.name
            default: return nil
            }
        }
        #expect(names == ["a", "b", "k"])
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let src = "rule r on a.b { warn " + String(repeating: "(", count: 5000) + "x" + String(repeating: ")", count: 5000) + " > 1 }"
        let (_, diags) = RuleParser.parse(source: src, file: "t")
        #expect(diags.contains { $0.id == "too-deep" })
        let nots = "rule r on a.b { warn " + String(repeating: "not ", count: 5000) + "x }"
        #expect(RuleParser.parse(source: nots, file: "t").1.contains { $0.id == "too-deep" })
        // Long flat chains make deep trees too: bounded the same way.
        for op in [" + ", " * ", " and ", " or "] {
            let chain = "rule r on a.b { warn " + Array(repeating: "x", count: 100_000).joined(separator: op) + " }"
            #expect(RuleParser.parse(source: chain, file: "t").1.contains { $0.id == "too-deep" }, "\(op)")
        }
        let lists = "set workers " + String(repeating: "[", count: 100_000)
        #expect(RuleParser.parse(source: lists, file: "t").1.contains { $0.id == "too-deep" })
        let blocks = "channel c webhook { headers " + String(repeating: "{ a ", count: 100_000)
        #expect(RuleParser.parse(source: blocks, file: "t").1.contains { $0.id == "too-deep" })
    }

    /// Deterministic garbage: random bytes, random tokens and truncations of a real file never trap or hang.
    @Test func garbageNeverCrashes() {
        var rng = SplitMix(seed: 42)
        let words = ["rule", "on", "where", "{", "}", "warn", "crit", "for", "clear", "(", ")", "x", "5m", "\"s\"", ">", "and",
                     "let", "=", "notify", ",", "channel", "set", "[", "]", "file", "mute", "-", "rate", ".", "~", "=~", "\n"]
        let real = Array("""
            rule disk_space on disk.filesystems where fstype != "tmpfs" {
              warn used_percent > 85 for 5m clear < 80
              summary "{mount} {used_percent|bytes}"
            }
            """.utf8)
        for i in 0..<3000 {
            var bytes: [UInt8]
            switch i % 3 {
            case 0: bytes = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1: bytes = Array((0..<Int(rng.next() % 60)).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ").utf8)
            default: bytes = Array(real[0..<Int(rng.next() % UInt64(real.count))])
            }
            let (_, diags) = RuleParser.parse(bytes: bytes, file: "g")
            for d in diags { #expect(d.location.line >= 1 && d.location.column >= 1) }
        }
    }
}

/// A small deterministic PRNG so garbage tests are reproducible.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct PatternTests {
    @Test(arguments: [
        ("/*", "/", true), ("/*", "/var/lib", true), ("/*", "var", false), ("/var/*", "/var", false),
        ("eth?", "eth0", true), ("eth?", "eth10", false), ("[!l]*", "lo", false), ("[!l]*", "eth0", true),
        ("sd[a-c]", "sdb", true), ("sd[a-c]", "sdd", false), ("*.log", "a.log", true), ("", "", true),
        ("*ru*", "/run", true), ("*ro*", "/run/user", false), ("*", "", true), ("**", "x", true), ("eth0", "eth0", true),
        ("eth0", "eth01", false), ("*.log", "log", false), ("/srv/*", "/srv/", true), ("*é*", "café", true),
    ])
    func globs(_ pattern: String, _ text: String, _ expected: Bool) {
        #expect(Pattern.glob(pattern).matches(text) == expected)
    }

    /// Globs whose only wildcard is `*` match on bytes (``Pattern/Fast/segments``, `.contains`): the same answers as
    /// the backtracking matcher on scalars, which the glob gets when its fast form is taken away.
    @Test(arguments: [
        ("svc-*.service", ["svc-a.service", "svc-.service", "svc.service", "svc-a.servicex", "xsvc-a.service", "svc-a.service.service"]),
        ("a*b*c", ["abc", "aXbYc", "acb", "ab", "abcabc", "a", "aaabbbccc", "cba"]),
        ("*a*b*", ["ab", "ba", "xaxbx", "b", "", "aab"]),
        ("ab*ba", ["aba", "abba", "ab-ba", "abab"]),
        ("*ru*", ["/run", "ru", "r", "rru"]),
        ("é*ü", ["éü", "é-ü", "éu", "eü", "é\u{301}ü"]),
        ("**x**", ["x", "", "axb"]),
        ("a***b", ["ab", "a-b", "ba"]),
    ])
    func starGlobsMatchAsTheMatcherDoes(_ pattern: String, _ texts: [String]) {
        let fast = Pattern.glob(pattern)
        var slow = fast
        slow.fast = .none
        for t in texts { #expect(fast.matches(t) == slow.matches(t), "\(pattern) ~ \(t)") }
    }

    @Test(arguments: [
        ("eth[0-9]+", "eth0", true), ("eth[0-9]+", "eth", false), ("eth[0-9]+", "xeth0", false),
        ("en(p|s)\\d+s\\d+", "enp3s0", true), ("(lo|docker.*)", "docker0", true), ("(lo|docker.*)", "eth0", false),
        ("a{2,3}", "aaa", true), ("a{2,3}", "aaaa", false), ("\\w+\\.\\w+", "a.b", true), ("x?y*z", "z", true),
        ("[^/]+", "a/b", false), ("^/$", "/", true), (".*", "anything", true), ("(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaac", false),
    ])
    func regexes(_ pattern: String, _ text: String, _ expected: Bool) throws {
        #expect(try Pattern.regex(pattern).matches(text) == expected)
    }

    @Test(arguments: ["(", "a)", "[a-", "*a", "a{", "\\"])
    func badRegexesThrow(_ pattern: String) {
        if pattern == "a{" {
            // `{` not followed by a count is a literal brace, as in most engines.
            #expect((try? Pattern.regex(pattern))?.matches("a{") == true)
            return
        }
        #expect(throws: Pattern.SyntaxError.self) { try Pattern.regex(pattern) }
    }
}
