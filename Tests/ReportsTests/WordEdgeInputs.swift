// Inputs for code that reads eight bytes at a time (JSON escaping and unescaping): every byte value at every
// place in and across two words.

enum WordEdgeInputs {
    /// Runs of "a" of 1 to 26 bytes with one byte of every value at offsets 0 to 18, and the byte right after it
    /// special too (a quote for even values, DEL for odd), so a second hit in the same word is exercised. Each input
    /// with a label naming it.
    static func all() -> [(bytes: [UInt8], label: String)] {
        var out: [(bytes: [UInt8], label: String)] = []
        for value in 0...255 {
            for at in 0..<19 {
                for length in [at + 1, 19, 26] where length > at {
                    var bytes = Array(repeating: UInt8(ascii: "a"), count: length)
                    bytes[at] = UInt8(value)
                    if at + 1 < length { bytes[at + 1] = value % 2 == 0 ? 0x22 : 0x7F }
                    out.append((bytes, "byte \(value) at \(at) of \(length)"))
                }
            }
        }
        return out
    }
}
