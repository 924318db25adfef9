// check-rules and test-rules as commands: exit statuses, summaries, formats, JUnit.
import Testing
import Reports
import TestSupport
import Workers
#if canImport(Glibc)
import Glibc
#endif
@testable import Rules

@Suite struct TestRulesCommandTests {
    @Test func shippedRuleTestsPassAsACommand() {
        var out = ""
        let status = TestRulesCommand.run(arguments: [TestPaths.packageRoot + "/rules-tests"], catalog: WorkerRegistry.catalog) { out += $0 }
        #expect(status == 0, "\(out)")
        #expect(out.contains(", 0 failed"))
    }
}
