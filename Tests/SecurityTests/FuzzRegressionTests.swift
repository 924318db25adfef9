// Inputs the fuzzers (fuzz/*.swift, scripts/fuzz) found crashing, kept as tests so they stay fixed.
import Testing
import Reports

@Suite struct FuzzRegressionTests {
    /// fuzz/state found it (crash-81c57317…): a high surrogate followed by a `\u` escape that is not a low
    /// surrogate made `low &- 0xDC00` wrap and the sum overflow — a trap on any state, spool or report file.
    @Test(arguments: [
        #"[1,-2.5,"\u00e9\ud83d\u2e00",truud83d\u"#,
        #""\ud83d\u2e00""#,
        #""\udbff\u0041""#,
        #""\ud800\uffff""#,
    ])
    func highSurrogateBeforeANonLowSurrogateEscapeDoesNotTrap(_ text: String) {
        _ = try? JSONValue.parse(text)
    }

    @Test func loneHighSurrogateBecomesReplacementAndTheNextEscapeIsKept() throws {
        #expect(try JSONValue.parse(#""\ud83d\u2e00""#) == .string("\u{FFFD}\u{2E00}"))
        #expect(try JSONValue.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONValue.parse(#""\ud83dx""#) == .string("\u{FFFD}x"))
    }
}
