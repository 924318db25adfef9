// TextBuffer: what it holds is what an array of the same appends holds, through growth, for every kind of append.
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Daemon

@Suite struct TextBufferTests {
    @Test(arguments: [1, 64, 100, 4096])
    func appendsHoldWhatAnArrayWouldThroughGrowth(capacity: Int) {
        var b = TextBuffer(capacity: capacity)
        var expected: [UInt8] = []
        let numbers: [Int64] = [0, 7, -7, 10, 99, 100, -100, 1_234_567_890, .max, .min, .min + 1]
        for round in 0..<50 {
            b.append(UInt8(ascii: "<")); expected.append(UInt8(ascii: "<"))
            b.append("static "); expected += Array("static ".utf8)
            let text = round % 3 == 0 ? "é and a string longer than fifteen bytes \(round)" : "small\(round)"
            b.append(text); expected += Array(text.utf8)
            b.append([1, 2, 3]); expected += [1, 2, 3]
            let slice = Array("0123456789".utf8)[2..<6]
            b.append(slice); expected += slice
            b.append([UInt8]()); b.append(""); b.append("" as StaticString)
            let n = numbers[round % numbers.count]
            b.int(n); expected += Array(String(n).utf8)
        }
        #expect(b.count == expected.count)
        #expect(b.array() == expected)
        #expect(b.withBytes { Array($0) } == expected)
    }

    /// The one spelling of durations and values for people (`shd status`, explain, the other answers).
    @Test(arguments: [
        (0.25, "250ms"), (0.9996, "1000ms"), (0, "0s"), (-5, "0s"), (59.6, "1m"), (90, "1m30s"), (3600, "1h"),
        (3 * 3600 + 61, "3h1m"), (200_000, "2d7h"), (86_400 * 3, "3d"), (.infinity, "never"), (.nan, "never"),
    ] as [(Double, String)])
    func durationsReadAsPeopleWriteThem(seconds: Double, text: String) {
        var b = TextBuffer(capacity: 8)
        b.duration(seconds)
        #expect(b.withBytes { String(decoding: $0, as: UTF8.self) } == text)
        #expect(ControlText.duration(seconds) == text)
    }

    /// The two decimals are written from the integer of hundredths: for a million values of every magnitude, the same
    /// text as the shortest decimal of the rounded value (`Double.description`), which it replaces.
    @Test func twoDecimalsAreWhatDoubleDescriptionSays() {
        var rng = SystemRandomNumberGenerator()
        for i in 0..<1_000_000 {
            let magnitude = Double.random(in: -4...15, using: &rng)
            var d = Double.random(in: 1...10, using: &rng) * pow(10, magnitude)
            if i % 2 == 1 { d = -d }
            if i % 7 == 0 { d = (d * 100).rounded() / 100 }  // exact hundredths, the common case
            let want = d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String((d * 100).rounded() / 100)
            var b = TextBuffer(capacity: 8)
            b.number(d)
            let got = b.withBytes { String(decoding: $0, as: UTF8.self) }
            if got != want { Issue.record("\(d): \(got), Double.description says \(want)"); return }
        }
    }

    @Test(arguments: [
        (85, "85"), (-0.0, "0"), (53.2, "53.2"), (53.256, "53.26"), (-1.5, "-1.5"), (1.001, "1.0"), (1e16, "1e+16"),
        (0.004, "0.0"), (-0.004, "-0.0"), (0.05, "0.05"), (-0.05, "-0.05"), (12.05, "12.05"), (99.995, "100.0"),
        (1e13 + 0.5, "10000000000000.5"), (123456789012.345, "123456789012.35"), (2.5e14 + 0.25, "250000000000000.25"),
    ] as [(Double, String)])
    func numbersAreWholeOrTwoDecimals(value: Double, text: String) {
        var b = TextBuffer(capacity: 8)
        b.number(value)
        #expect(b.withBytes { String(decoding: $0, as: UTF8.self) } == text)
        #expect(ControlText.number(.double(value)) == text)
    }
}
