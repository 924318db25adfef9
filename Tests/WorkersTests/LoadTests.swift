// load.averages: the /proc/loadavg parser and the function on fixture text.
import Testing
@testable import Workers

@Suite struct LoadAvgParserTests {
    @Test(arguments: [
        ("0.21 0.37 0.39 1/719 19737\n", 0.21, 719 as Int64),
        ("12.50 8.01 4.00 17/1203 4194303\n", 12.5, 1203),
        ("0.00 0.00 0.00 1/79 2247 extra-field-from-a-future-kernel\n", 0.0, 79),
    ])
    func parsesRealLines(text: String, load1: Double, total: Int64) throws {
        let l = try parseLoadAvg(Array(text.utf8))
        #expect(l.load1 == load1)
        #expect(l.total == total)
    }

    @Test(arguments: ["", "0.21 0.37", "0.21 0.37 0.39 1-719 19737", "a b c d e", "\u{0}\u{1}\u{2}"])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseLoadAvg(Array(text.utf8)) }
    }

    @Test(arguments: [("0-3", 4), ("0", 1), ("0-1,4,6-7\n", 5)])
    func countsCPUList(text: String, count: Int) {
        #expect(parseCPUListCount(Array(text.utf8)[...]) == count)
    }
}
