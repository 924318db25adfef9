// TextBuffer: what it holds is what an array of the same appends holds, through growth, for every kind of append.
import Testing
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

    @Test(arguments: [
        (85, "85"), (-0.0, "0"), (53.2, "53.2"), (53.256, "53.26"), (-1.5, "-1.5"), (1.001, "1.0"), (1e16, "1e+16"),
    ] as [(Double, String)])
    func numbersAreWholeOrTwoDecimals(value: Double, text: String) {
        var b = TextBuffer(capacity: 8)
        b.number(value)
        #expect(b.withBytes { String(decoding: $0, as: UTF8.self) } == text)
        #expect(ControlText.number(.double(value)) == text)
    }
}
