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
