// Compact JSON text re-indented, and one top-level member read, without building a tree (`shd status --json` of 10,000
// alerts is 3.6 MB: parsing it into a `JSONValue` tree and encoding that again cost 10 times the daemon's answer).

extension JSONValue {
    /// The bytes `encodedBytes(pretty: true)` gives for the value `compact` parses to, when `compact` was written by
    /// this module's encoders (`encodedBytes()`, ``JSONStream``): one pass that copies strings and scalars as they are
    /// and puts the newlines, indentation and `": "` where the pretty encoder does. Whitespace between tokens is
    /// dropped. nil when the text is not well formed as far as the pass sees (an unterminated string, a control
    /// character in one, brackets that do not match, nesting deeper than 512 levels): a caller parses it then, for
    /// the error. Scalars are not re-encoded, so text from another encoder (`1e5`, `"\/"`) keeps its spelling.
    public static func prettyBytes(compact b: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(b.count + b.count / 2 + 16)
        var closers: [UInt8] = []
        let spaces = [UInt8](repeating: 0x20, count: 2 * 513)
        let n = b.count
        var i = 0
        while i < n {
            let c = b[i]
            switch c {
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while true {
                    guard i < n else { return nil }
                    let d = b[i]
                    if d == UInt8(ascii: "\"") { break }
                    if d < 0x20 { return nil }
                    i += d == UInt8(ascii: "\\") ? 2 : 1
                }
                i += 1
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<i]))
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                var j = i + 1
                while j < n, isSpace(b[j]) { j += 1 }
                if j < n, b[j] == close {
                    out.append(c)
                    out.append(close)
                    i = j + 1
                    continue
                }
                guard closers.count < 512 else { return nil }
                closers.append(close)
                out.append(c)
                newline(&out, closers.count, spaces)
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard closers.last == c else { return nil }
                closers.removeLast()
                newline(&out, closers.count, spaces)
                out.append(c)
                i += 1
            case UInt8(ascii: ","):
                guard !closers.isEmpty else { return nil }
                out.append(c)
                newline(&out, closers.count, spaces)
                i += 1
            case UInt8(ascii: ":"):
                out.append(c)
                out.append(0x20)
                i += 1
            case 0x20, 0x0A, 0x0D, 0x09:
                i += 1
            default:
                out.append(c)
                i += 1
            }
        }
        guard closers.isEmpty else { return nil }
        return out
    }

    /// A newline and `depth` levels of two spaces (a function of its own: a nested one capturing `out` had every
    /// append checked for exclusive access at run time).
    static func newline(_ out: inout [UInt8], _ depth: Int, _ spaces: [UInt8]) {
        out.append(0x0A)
        spaces.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<(2 * depth)])) }
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    /// The value of member `key` of the object `b` is, parsed, read without parsing the rest: the scan stops at the
    /// member (the `firing` count near the start of a 3.6 MB status). nil when `b` is not an object or has no such
    /// member at its top level.
    public static func topLevelMember(_ key: String, in b: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        guard let r = topLevelMemberRange(key, in: b) else { return nil }
        return try? parse(bytes: UnsafeBufferPointer(rebasing: b[r]))
    }

    /// Where the value of member `key` of the object `b` is (``topLevelMember(_:in:)`` without parsing it).
    public static func topLevelMemberRange(_ key: String, in b: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        memberScan(key, in: b, stopAtValue: false)
    }

    /// Where the value of member `key` of the object `b` begins (the scan stops there: a string value of 1.4 MB
    /// is then read once, by ``unescapeStringInPlace(_:at:)``).
    public static func topLevelMemberStart(_ key: String, in b: UnsafeBufferPointer<UInt8>) -> Int? {
        memberScan(key, in: b, stopAtValue: true)?.lowerBound
    }

    static func memberScan(_ key: String, in b: UnsafeBufferPointer<UInt8>, stopAtValue: Bool) -> Range<Int>? {
        let want = Array(key.utf8)
        let n = b.count
        var i = 0
        while i < n, isSpace(b[i]) { i += 1 }
        guard i < n, b[i] == UInt8(ascii: "{") else { return nil }
        var depth = 0
        var valueStart: Int?
        while i < n {
            let c = b[i]
            switch c {
            case UInt8(ascii: "\""):
                let start = i + 1
                i += 1
                while i < n, b[i] != UInt8(ascii: "\"") { i += b[i] == UInt8(ascii: "\\") ? 2 : 1 }
                guard i < n else { return nil }
                let end = i
                i += 1
                guard depth == 1, valueStart == nil else { continue }
                var j = i
                while j < n, isSpace(b[j]) { j += 1 }
                if j < n, b[j] == UInt8(ascii: ":"), end - start == want.count,
                   want.withUnsafeBufferPointer({ w in (0..<w.count).allSatisfy { b[start + $0] == w[$0] } })
                {
                    var v = j + 1
                    while v < n, isSpace(b[v]) { v += 1 }
                    if stopAtValue { return v..<v }
                    valueStart = v
                    i = v
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ","):
                if depth == 1, let s = valueStart { return s..<i }
                if c != UInt8(ascii: ",") { depth -= 1 }
                if depth == 0 { return nil }
                i += 1
            default:
                i += 1
            }
        }
        return nil
    }

    /// Decodes the JSON string token that starts at `start` (its opening quote) into the same buffer, from `start` on
    /// (a decoded string is never longer than its token): its length and the index after the closing quote. nil for
    /// a malformed token and for a `\u` escape of a surrogate, leaving the buffer changed (the caller parses a copy
    /// then, or gives up).
    public static func unescapeStringInPlace(_ b: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> (length: Int, end: Int)? {
        let n = b.count
        guard start < n, b[start] == UInt8(ascii: "\"") else { return nil }
        var i = start + 1
        var w = start
        while true {
            let run = i
            // To the next `\\`, `"` or control character, eight bytes at a time where none is (JSON.swift's escapeHits).
            while i < n {
                if i &+ 8 <= n {
                    let hits = escapeHits(at: b.baseAddress! + i)
                    if hits == 0 {
                        i &+= 8
                        continue
                    }
                    i &+= hits.trailingZeroBitCount >> 3
                    break
                }
                if b[i] == UInt8(ascii: "\\") || b[i] == UInt8(ascii: "\"") || b[i] < 0x20 { break }
                i += 1
            }
            if i > run {
                if w != run { UnsafeMutableRawPointer(b.baseAddress! + w).copyMemory(from: b.baseAddress! + run, byteCount: i - run) }
                w += i - run
            }
            guard i < n else { return nil }
            if b[i] == UInt8(ascii: "\"") { return (w - start, i + 1) }
            guard b[i] == UInt8(ascii: "\\"), i + 1 < n else { return nil }
            let e = b[i + 1]
            i += 2
            var one: UInt8?
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): one = e
            case UInt8(ascii: "b"): one = 0x08
            case UInt8(ascii: "f"): one = 0x0C
            case UInt8(ascii: "n"): one = 0x0A
            case UInt8(ascii: "r"): one = 0x0D
            case UInt8(ascii: "t"): one = 0x09
            case UInt8(ascii: "u"):
                guard i + 4 <= n, let a = hexDigit(b[i]), let c = hexDigit(b[i + 1]), let d = hexDigit(b[i + 2]),
                      let f = hexDigit(b[i + 3]), let u = Unicode.Scalar(a << 12 | c << 8 | d << 4 | f) else { return nil }
                i += 4
                // At most 3 bytes for the 6 of the escape: the write stays behind the read.
                UTF8.encode(u) { byte in b[w] = byte; w += 1 }
            default: return nil
            }
            if let one { b[w] = one; w += 1 }
        }
    }

    static func hexDigit(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
