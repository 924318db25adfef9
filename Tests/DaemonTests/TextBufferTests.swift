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
}
