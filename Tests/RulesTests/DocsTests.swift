// The examples in docs/rules.md check clean against the real catalog, so the documentation cannot rot.
import Testing
import TestSupport
import Workers
@testable import Rules

@Suite struct DocsTests {
    /// Fenced blocks without a language tag that start with a statement and have no `...` placeholder.
    static func examples() -> [String] {
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
                    let text = c.joined(separator: "\n")
                    let first = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first ?? ""
                    if ["rule", "channel", "set", "mute"].contains(String(first)) && !text.contains("...") { out.append(text) }
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
        for f in ["Lexer", "Parser", "Checker", "Loader", "CheckRulesCommand", "TestRules"] {
            let src = String(decoding: try #require(RuleTestRunner.readFile(TestPaths.packageRoot + "/Sources/Rules/\(f).swift")), as: UTF8.self)
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
