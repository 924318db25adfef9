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
            return ["rule", "channel", "set", "mute"].contains(String(first)) && !text.contains("...")
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
    /// Every diagnostic id the sources can emit is listed in docs/rules.md, so the catalog stays complete.
    @Test func everyIdIsDocumented() throws {
        let docs = String(decoding: try #require(RuleTestRunner.readFile(TestPaths.packageRoot + "/docs/rules.md")), as: UTF8.self)
        var ids: Set<String> = []
        for f in ["Rules/Lexer", "Rules/Parser", "Rules/Checker", "Rules/CheckSettings", "Rules/CompileRules", "Rules/CheckExpressions",
                  "Rules/CheckLints", "Rules/CheckTemplates", "Rules/Loader", "Rules/TestRules", "CLI/CheckRulesCommand"] {
            let src = String(decoding: try #require(RuleTestRunner.readFile(TestPaths.packageRoot + "/Sources/\(f).swift")), as: UTF8.self)
            // Ids are the first string argument of error(…)/warning(…)/fail(…)/Diagnostic(.x, …).
            var rest = src[...]
            while let r = rest.range(of: "\"") {
                let after = rest[r.upperBound...]
                guard let end = after.range(of: "\"") else { break }
                let word = String(after[..<end.lowerBound])
                let before = rest[..<r.lowerBound].suffix(24)
                if word.count > 3, word.allSatisfy({ $0 == "-" || ($0 >= "a" && $0 <= "z") }), word.contains("-"),
                   before.hasSuffix("error(") || before.hasSuffix("warning(") || before.hasSuffix("fail(") || before.hasSuffix(".error, ")
                    || before.hasSuffix(".warning, ") || before.hasSuffix("? .error : .warning, ")
                {
                    ids.insert(word)
                }
                rest = after[end.upperBound...]
            }
        }
        #expect(ids.count >= 40, "\(ids.sorted())")
        for id in ids.sorted() { #expect(docs.contains("`\(id)`"), "\(id) is not in docs/rules.md") }
    }
}
