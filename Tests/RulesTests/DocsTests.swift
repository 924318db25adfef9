// The examples in docs/rules.md check clean against the real catalog, so the documentation cannot rot.
import Testing
import TestSupport
import Workers
@testable import Rules

@Suite struct DocsTests {
    /// Fenced blocks without a language tag.
    static func blocks() -> [String] {
        guard let bytes = RuleTestRunner.readFile(TestPaths.packageRoot + "/docs/rules.md") else { return [] }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var out: [String] = []
        var current: [Substring]?
        var inTagged = false
        for l in lines {
            if inTagged {
                if l == "```" { inTagged = false }
            } else if l == "```" {
                if let c = current {
                    out.append(c.joined(separator: "\n"))
                    current = nil
                } else {
                    current = []
                }
            } else if l.hasPrefix("```") && current == nil {
                inTagged = true
            } else {
                current?.append(l)
            }
        }
        return out
    }

    /// Blocks that start with a statement and have no `...` placeholder.
    static func examples() -> [String] {
        blocks().filter { text in
            let first = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first ?? ""
            return ["rule", "channel", "set", "mute", "probe", "watch"].contains(String(first)) && !text.contains("...")
        }
    }

    /// Test-file examples (they name a rules file and hold a test).
    static func testExamples() -> [String] { blocks().filter { $0.contains("\nrules \"") && $0.contains("\ntest \"") } }

    @Test func testFileExamplesPass() throws {
        let examples = Self.testExamples()
        #expect(!examples.isEmpty)
        let dir = TempDir()
        for (i, ex) in examples.enumerated() {
            // Examples name rules relative to rules-tests/; point them at the repository's rules.d.
            let text = ex.replacingOccurrences("\"../rules.d/", "\"" + TestPaths.packageRoot + "/rules.d/")
            let file = dir.write("ex\(i).test", text)
            let (results, diags, sources) = RuleTestRunner.run(file: file, catalog: WorkerRegistry.catalog)
            #expect(diags.isEmpty, "\(DiagnosticPrinter.text(diags, sources: sources, color: false))")
            for r in results { #expect(r.passed, "\(r.failures)") }
        }
    }

    @Test func docsHaveExamples() { #expect(Self.examples().count >= 4) }

    @Test(arguments: examples())
    func exampleChecksClean(_ source: String) {
        let r = RuleSetLoader.load(sources: [("docs.rules", source)], catalog: WorkerRegistry.catalog)
        #expect(!r.hasErrors, "\(DiagnosticPrinter.text(r.diagnostics, sources: r.sources, color: false))")
    }
}

@Suite struct DiagnosticCatalogTests {
    static func trim(_ s: Substring) -> String {
        var t = s
        while t.first == " " { t = t.dropFirst() }
        while t.last == " " { t = t.dropLast() }
        return String(t)
    }

    /// docs/rules.md's "Diagnostic ids" table: id → the severity letter its row (or its own `(W)`/`(E)`) gives.
    static func documented() throws -> [String: String] {
        let docs = String(decoding: try #require(RuleTestRunner.readFile(TestPaths.packageRoot + "/docs/rules.md")), as: UTF8.self)
        let table = docs[try #require(docs.firstRange(of: "### Diagnostic ids")).lowerBound...]
        var out: [String: String] = [:]
        for line in table.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map(Self.trim)
            guard cells.count >= 4 else { continue }
            let rowSeverity = String(cells[2].prefix(1))
            for item in cells[1].split(separator: ",") {
                let t = Self.trim(item)
                guard t.hasPrefix("`"), let end = t.dropFirst().firstIndex(of: "`") else { continue }
                let id = String(t[t.index(after: t.startIndex)..<end])
                let own = t.contains("(W)") ? "W" : t.contains("(E)") ? "E" : rowSeverity
                out[id] = own
            }
        }
        return out
    }

    /// Every code of the catalog is in docs/rules.md with its severity, and the table lists no id the catalog lacks.
    @Test func docsTableIsTheCatalog() throws {
        let docs = try Self.documented()
        var ids: [String: String] = [:]
        for c in DiagnosticCode.allCases {
            let letter = c.severity == .error ? "E" : "W"
            if let other = ids[c.id] { #expect(other == letter, "\(c.id): its codes disagree on the severity") }
            ids[c.id] = letter
            #expect(docs[c.id] == letter, "\(c.id) (\(letter)) is not in docs/rules.md's table as \(letter): \(docs[c.id] ?? "missing")")
        }
        for id in docs.keys.sorted() { #expect(ids[id] != nil, "docs/rules.md lists `\(id)`, which no diagnostic code prints") }
        #expect(ids.count >= 50)
    }

    /// Every code is reported somewhere in Sources/ (a code nothing uses is a stale catalog entry).
    @Test func everyCodeIsUsed() throws {
        var text = ""
        for f in ["Lexer", "Parser", "Checker", "CheckSettings", "CompileRules", "CheckExpressions", "CheckLints", "CheckTemplates", "CheckProbes", "CheckWatches",
                  "Loader", "TestRules", "CompileEvents"] {
            text += String(decoding: try #require(RuleTestRunner.readFile(TestPaths.packageRoot + "/Sources/Rules/\(f).swift")), as: UTF8.self)
        }
        text += String(decoding: try #require(RuleTestRunner.readFile(TestPaths.packageRoot + "/Sources/CLI/CheckRulesCommand.swift")), as: UTF8.self)
        for c in DiagnosticCode.allCases {
            let name = String(describing: c)
            #expect(text.contains("(.\(name),") || text.contains("(.\(name))"), "DiagnosticCode.\(name) is never reported")
        }
    }
}
