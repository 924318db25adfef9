// The shipped rules (rules.d) check clean against the real worker catalog, and their test-rules files pass.
import Kit
import Testing
import Reports
import TestSupport
import Workers
@testable import Rules

@Suite struct ShippedRulesTests {
    static let rulesDir = TestPaths.packageRoot + "/rules.d"
    static let testsDir = TestPaths.packageRoot + "/rules-tests"
    /// Every `*.test` file in rules-tests/, so a new one is run without being listed here.
    static let testFiles = listDirectory(testsDir).filter { $0.hasSuffix(".test") }.sorted()

    @Test func shippedRulesCheckCleanAgainstTheWorkerCatalog() throws {
        let r = RuleSetLoader.load(paths: [Self.rulesDir], catalog: WorkerRegistry.catalog)
        let text = DiagnosticPrinter.text(r.diagnostics, sources: r.sources, color: false)
        #expect(r.diagnostics.isEmpty, "\(text)")
        let c = try #require(r.configuration)
        #expect(c.rules.count >= 18)
        #expect(c.files.count == listDirectory(Self.rulesDir).filter { $0.hasSuffix(".rules") }.count)
    }

    @Test func rulesTestsFolderIsListed() {
        #expect(Self.testFiles.count >= 4, "\(Self.testsDir): \(Self.testFiles)")
    }

    @Test(arguments: testFiles)
    func shippedRuleTestsPass(_ file: String) throws {
        let (results, diags, sources) = RuleTestRunner.run(file: Self.testsDir + "/" + file, catalog: WorkerRegistry.catalog)
        #expect(diags.isEmpty, "\(DiagnosticPrinter.text(diags, sources: sources, color: false))")
        #expect(!results.isEmpty)
        for r in results {
            #expect(r.passed, "\(r.name):\n\(r.failures.joined(separator: "\n"))")
        }
    }

    /// Every shipped rule is exercised by some test file (firing or silent).
    @Test func everyShippedRuleHasATest() throws {
        let c = try #require(RuleSetLoader.load(paths: [Self.rulesDir], catalog: WorkerRegistry.catalog).configuration)
        var text = ""
        for f in Self.testFiles {
            text += RuleTestRunner.readFile(Self.testsDir + "/" + f).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        for rule in c.rules {
            #expect(text.contains("event firing \(rule.name)"), "no firing test for \(rule.name)")
        }
    }
}
