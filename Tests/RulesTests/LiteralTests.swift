// Durations and sizes outside a rules file (command-line values) read as the rule language reads them.
import Testing
import Rules

@Suite struct LiteralTests {
    @Test(arguments: [("10s", 10.0), ("1d", 86400), ("1h30m", 5400), ("250ms", 0.25), ("1.5m", 90), ("2w", 1_209_600),
                      ("10", 10), ("0", 0), ("1_000s", 1000),
                      // milliseconds read as the same number in seconds does (350 × 0.001 would be 0.35000000000000003)
                      ("350ms", 0.35), ("1ms", 0.001), ("1s350ms", 1.35), ("100ms", 0.1), ("2300ms", 2.3)])
    func durations(_ text: String, _ seconds: Double) throws {
        #expect(try Literal.duration(text) == seconds)
    }

    @Test(arguments: [("512MB", 512e6), ("1GiB", 1_073_741_824.0), ("1.5KiB", 1536), ("4096", 4096), ("1TB", 1e12)])
    func sizes(_ text: String, _ bytes: Double) throws {
        #expect(try Literal.size(text) == bytes)
    }

    @Test(arguments: [
        ("5mins", "unknown unit `mins`; did you mean `m`?"),
        ("1h30", "a compound duration needs a unit after every part (e.g. `1h30m`)"),
        ("1GB", "expected a duration such as 10s or 1h30m"),
        ("-5s", "expected a duration such as 10s or 1h30m"),
        ("", "expected a duration such as 10s or 1h30m"),
        (" 10s", "expected a duration such as 10s or 1h30m"),
        ("10s # x", "expected a duration such as 10s or 1h30m"),
        ("10s 5s", "expected a duration such as 10s or 1h30m"),
        ("soon", "expected a duration such as 10s or 1h30m"),
        ("50%", "expected a duration such as 10s or 1h30m"),
    ])
    func badDurations(_ text: String, _ message: String) {
        #expect(throws: LiteralError(description: message)) { try Literal.duration(text) }
    }

    @Test func badSizes() {
        #expect(throws: LiteralError(description: "expected a size such as 512MB or 1GiB")) { try Literal.size("10s") }
        #expect(throws: LiteralError(description: "unknown unit `gb`; did you mean `GB`?")) { try Literal.size("3gb") }
    }
}
