// JSON values with insertion-ordered objects, a deterministic encoder and a small parser.

/// A JSON value. Objects keep their keys in insertion order so encoding is deterministic.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The numeric value of an `int` or `double`, else nil.
    public var number: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }
    /// An `int`, or a `double` that is a whole number an Int64 holds; nil otherwise (never traps on 1e300 or NaN).
    public var int64: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let v): return Int64(exactly: v)
        default: return nil
        }
    }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public subscript(key: String) -> JSONValue? { object?[key] }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

/// A JSON object that keeps insertion order. Lookups are linear: rows have a handful of keys.
public struct JSONObject: Equatable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: JSONValue)]

    public init() { entries = [] }
    public init(_ pairs: [(String, JSONValue)]) {
        entries = []
        entries.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get {
            for e in entries where e.key == key { return e.value }
            return nil
        }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let v = newValue { entries[i].value = v } else { entries.remove(at: i) }
            } else if let v = newValue {
                entries.append((key, v))
            }
        }
    }

    mutating func replaceValue(at i: Int, _ v: JSONValue) { entries[i].value = v }

    /// Room for `n` keys without growing (a row whose size is known).
    public mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

    /// Appends without checking for an existing key (callers building rows know keys are unique).
    public mutating func append(_ key: String, _ value: JSONValue) { entries.append((key, value)) }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { entries.makeIterator() }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.entries.count == b.entries.count else { return false }
        for (x, y) in zip(a.entries, b.entries) where x.key != y.key || x.value != y.value { return false }
        return true
    }
}

// MARK: - Encoding

extension JSONValue {
    /// Encodes compactly (`pretty: false`) or with two-space indentation. Non-finite doubles become null.
    public func encoded(pretty: Bool = false) -> String {
        String(decoding: encodedBytes(pretty: pretty), as: UTF8.self)
    }

    /// The UTF-8 bytes of ``encoded(pretty:)``, written straight into one buffer (no intermediate strings: a
    /// 3 MB `shd status` answer is one pass).
    public func encodedBytes(pretty: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONValue.write(self, into: &out, pretty: pretty, indent: 0)
        return out
    }

    /// Appends the encoding of `v` to `out` (the bytes ``encodedBytes(pretty:)`` returns).
    public static func write(_ v: JSONValue, into out: inout [UInt8], pretty: Bool = false, indent: Int = 0) {
        switch v {
        case .null: append("null", &out)
        case .bool(let b): append(b ? "true" : "false", &out)
        case .int(let i): writeInt(i, into: &out)
        case .double(let d): writeDouble(d, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            if a.isEmpty { append("[]", &out); return }
            out.append(UInt8(ascii: "["))
            for (i, e) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(&out, indent + 1) }
                write(e, into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty { append("{}", &out); return }
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, e) in o {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                if pretty { newline(&out, indent + 1) }
                writeString(k, into: &out)
                if pretty { append(": ", &out) } else { out.append(UInt8(ascii: ":")) }
                write(e, into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    @inlinable @inline(__always)
    static func append(_ s: StaticString, _ out: inout [UInt8]) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    private static func newline(_ out: inout [UInt8], _ indent: Int) {
        out.append(0x0A)
        for _ in 0..<indent { append("  ", &out) }
    }

    /// Shortest round-trip representation; integral values keep a ".0" only when needed for clarity.
    public static func formatDouble(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) + ".0" }
        return d.description
    }

    /// Appends ``formatDouble(_:)``'s text.
    @inlinable
    public static func writeDouble(_ d: Double, into out: inout [UInt8]) {
        guard d.isFinite else { append("null", &out); return }
        if d == d.rounded(), abs(d) < 1e15 {
            writeInt(Int64(d), into: &out)
            append(".0", &out)
            return
        }
        out.append(contentsOf: d.description.utf8)
    }

    /// Appends the decimal digits of `i` (what `String(i)` says).
    @inlinable
    public static func writeInt(_ i: Int64, into out: inout [UInt8]) {
        var n = i.magnitude
        if i < 0 { out.append(UInt8(ascii: "-")) }
        if n < 10 { out.append(UInt8(ascii: "0") + UInt8(n)); return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { d in
            var at = 20
            while n > 0 {
                at -= 1
                d[at] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: d[at...]))
        }
    }

    /// Appends `s` as a JSON string: quotes, and escapes for `"`, `\\` and control characters.
    @inlinable
    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if s.utf8.withContiguousStorageIfAvailable({ writeEscaped($0, into: &out) }) == nil {
            Array(s.utf8).withUnsafeBufferPointer { writeEscaped($0, into: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The bytes of a string between its quotes: runs without `"`, `\\` or control characters copied as they are.
    @usableFromInline
    static func writeEscaped(_ b: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var clean = 0
        var i = 0
        while i < b.count {
            // Eight bytes at a time while none needs an escape (most text: a newline every line or so); in a word
            // with one, straight to the first.
            if i &+ 8 <= b.count {
                let hits = escapeHits(at: b.baseAddress! + i)
                if hits == 0 {
                    i &+= 8
                    continue
                }
                i &+= hits.trailingZeroBitCount >> 3
            }
            let c = b[i]
            if c >= 0x20 && c != 0x22 && c != 0x5C {
                i += 1
                continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[clean..<i]))
            i += 1
            clean = i
            switch c {
            case 0x22: append("\\\"", &out)
            case 0x5C: append("\\\\", &out)
            case 0x0A: append("\\n", &out)
            case 0x0D: append("\\r", &out)
            case 0x09: append("\\t", &out)
            default:
                // `\u00XX`, lowercase hex (c < 0x20).
                append("\\u00", &out)
                out.append(UInt8(ascii: "0") + c >> 4)
                let low = c & 0xF
                out.append(low < 10 ? UInt8(ascii: "0") + low : UInt8(ascii: "a") + low - 10)
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: b[clean...]))
    }

    /// The high bit of each of the eight bytes at `p` (the first byte in the lowest) that may be a control
    /// character, `"` or `\\`. The lowest bit set is always one that is; bytes above it may be set without being one
    /// (a borrow), which the byte loop then reads as they are. Zero: no byte needs an escape.
    @inline(__always)
    static func escapeHits(at p: UnsafeRawPointer) -> UInt64 {
        escapeHits(UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)))
    }

    /// ``escapeHits(at:)`` of the eight bytes in `v`, the first in the lowest byte.
    @inline(__always)
    static func escapeHits(_ v: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let quote = v ^ (ones &* 0x22)
        let backslash = v ^ (ones &* 0x5C)
        // A byte below 0x20 (bytes of 0x80 and above have their high bit, so ~v clears them), or one that is zero
        // after the XOR with the quote or the backslash.
        let below = (v &- ones &* 0x20) & ~v
        let zero = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
        return (below | zero) & high
    }
}

// MARK: - Parsing

/// A JSON syntax error with the byte offset where it was found.
public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

extension JSONValue {
    /// Parses a complete JSON text. Nesting is limited to 512 levels so hostile input cannot overflow the stack.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(bytes: Array(text.utf8))
    }

    public static func parse(bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.pos != bytes.count { throw p.error("trailing characters after the value") }
        return v
    }

    public static func parse(bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var result: Result<JSONValue, JSONParseError> = .failure(JSONParseError(offset: 0, message: "empty"))
        bytes.withUnsafeBufferPointer { buf in
            do throws(JSONParseError) { result = .success(try parse(bytes: buf)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}

struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func error(_ m: String) -> JSONParseError { JSONParseError(offset: pos, message: m) }

    mutating func skipSpace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 {
            pos += 1
        }
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < 512 else { throw error("nesting deeper than 512 levels") }
        guard pos < bytes.count else { throw error("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var obj = JSONObject()
            // A repeated key replaces the first one's value (in its place). Small objects find it by a linear
            // search; past 16 keys an index does, so a 64 KiB object of 9,000 keys is not 40 million comparisons.
            var index: [String: Int]?
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(obj) }
            while true {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let k = try string()
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
                pos += 1
                skipSpace()
                let v = try value(depth: depth + 1)
                if index == nil && obj.count < 16 {
                    obj[k] = v
                } else {
                    if index == nil {
                        var map: [String: Int] = [:]
                        for (i, e) in obj.entries.enumerated() { map[e.key] = i }
                        index = map
                    }
                    if let i = index![k] {
                        obj.replaceValue(at: i, v)
                    } else {
                        index![k] = obj.count
                        obj.append(k, v)
                    }
                }
                skipSpace()
                guard pos < bytes.count else { throw error("unexpected end of input in object") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(obj) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            pos += 1
            var arr: [JSONValue] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(arr) }
            while true {
                skipSpace()
                arr.append(try value(depth: depth + 1))
                skipSpace()
                guard pos < bytes.count else { throw error("unexpected end of input in array") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(arr) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            return try number()
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw error("unexpected end of input") }
        let w = word.utf8Start
        for i in 0..<n where bytes[pos + i] != w[i] { throw error("invalid literal") }
        pos += n
    }

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = pos
        var isInt = true
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let digitsStart = pos
        while pos < bytes.count {
            let c = bytes[pos]
            if c >= 0x30 && c <= 0x39 { pos += 1; continue }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+")
                || c == UInt8(ascii: "-")
            {
                isInt = false; pos += 1; continue
            }
            break
        }
        guard pos > digitsStart else { throw error("unexpected character") }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if isInt, let i = Int64(text) { return .int(i) }
        guard let d = Double(text) else { pos = start; throw error("invalid number '\(text)'") }
        return .double(d)
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v * 16 + d
            pos += 1
        }
        return v
    }

    mutating func string() throws(JSONParseError) -> String {
        pos += 1  // opening quote
        let start = pos
        // Fast path: no escapes.
        while pos < bytes.count, bytes[pos] != UInt8(ascii: "\""), bytes[pos] != UInt8(ascii: "\\") {
            if bytes[pos] < 0x20 { throw error("control character in string") }
            pos += 1
        }
        guard pos < bytes.count else { throw error("unterminated string") }
        if bytes[pos] == UInt8(ascii: "\"") {
            let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
            pos += 1
            return s
        }
        var out = Array(bytes[start..<pos])
        while pos < bytes.count {
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") { pos += 1; return String(decoding: out, as: UTF8.self) }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") {
                // A run up to the next quote, escape or control character, copied at once (a rendered text of 2 MB
                // has an escaped newline every line).
                let run = pos
                pos += 1
                while pos < bytes.count, bytes[pos] >= 0x20, bytes[pos] != UInt8(ascii: "\""), bytes[pos] != UInt8(ascii: "\\") { pos += 1 }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<pos]))
                continue
            }
            pos += 1
            guard pos < bytes.count else { break }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // Surrogate pair.
                    if pos + 6 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        pos += 2
                        let low = try hex4()
                        if low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            // A lone high surrogate (U+FFFD); the escape after it is read on its own.
                            pos -= 6
                        }
                    }
                }
                let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                UTF8.encode(u) { out.append($0) }
            default: throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }
}
