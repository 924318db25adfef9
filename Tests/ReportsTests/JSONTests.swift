// JSON encoding, parsing and the report shapes.
import Testing
@testable import Reports

@Suite struct JSONTests {
    @Test(arguments: [
        ("{\"a\":1,\"b\":[true,false,null],\"c\":\"x\\ny\"}", "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\\ny\"}"),
        ("[1.5, -2, 1e3]", "[1.5,-2,1000.0]"),
        ("\"\\u00e9\\ud83d\\ude00\"", "\"é😀\""),
        ("{\"z\":1,\"a\":2}", "{\"z\":1,\"a\":2}"),
    ])
    func roundTrip(input: String, expected: String) throws {
        let v = try JSONValue.parse(input)
        #expect(v.encoded() == expected)
        #expect(try JSONValue.parse(v.encoded()) == v)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "01x", "{\"a\":1}}", "\"\u{01}\""])
    func rejectsGarbage(input: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(input) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    }

    @Test func nonFiniteDoublesEncodeAsNull() {
        #expect(JSONValue.double(.infinity).encoded() == "null")
        #expect(JSONValue.double(.nan).encoded() == "null")
        #expect(JSONValue.double(41.2).encoded() == "41.2")
    }

    /// The string-building encoder the byte encoder replaced: the oracle for its output.
    static func reference(_ v: JSONValue, pretty: Bool, indent: Int = 0) -> String {
        func nl(_ i: Int) -> String { pretty ? "\n" + String(repeating: "  ", count: i) : "" }
        func str(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 {
                        let hex = String(u.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(u)
                    }
                }
            }
            return out + "\""
        }
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            guard d.isFinite else { return "null" }
            if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) + ".0" }
            return d.description
        case .string(let s): return str(s)
        case .array(let a):
            if a.isEmpty { return "[]" }
            return "[" + a.map { nl(indent + 1) + reference($0, pretty: pretty, indent: indent + 1) }.joined(separator: ",") + nl(indent) + "]"
        case .object(let o):
            if o.isEmpty { return "{}" }
            return "{" + o.map { nl(indent + 1) + str($0.key) + (pretty ? ": " : ":") + reference($0.value, pretty: pretty, indent: indent + 1) }
                .joined(separator: ",") + nl(indent) + "}"
        }
    }

    static let awkward: [JSONValue] = [
        .int(0), .int(7), .int(-7), .int(10), .int(1_234_567_890_123), .int(Int64.max), .int(Int64.min),
        .double(0), .double(-0.0), .double(-3), .double(41.2), .double(1e15), .double(-1e15), .double(999_999_999_999_999),
        .double(1e-7), .double(123.456e200), .double(.nan), .double(-.infinity), .double(0.1 + 0.2),
        .string(""), .string("plain"), .string("quote \" and \\ backslash"), .string("\n\r\t\u{0}\u{1}\u{1f}\u{7f}"),
        .string("é😀 ünïcode \u{2028}"), .string("\u{1b}[31mred\u{1b}[0m"), .bool(true), .bool(false), .null,
    ]

    @Test func theByteEncoderWritesWhatTheStringEncoderDid() {
        var values = Self.awkward
        values.append(.array(Self.awkward))
        values.append(.object(JSONObject(Self.awkward.enumerated().map { ("k\($0.offset) \"\u{1}", $0.element) })))
        values.append(.array([.object(["a": .array([]), "b": .object([:]), "c": .array([.array([.int(1)]), .object(["d": .null])])])]))
        for v in values {
            for pretty in [false, true] {
                #expect(v.encoded(pretty: pretty) == Self.reference(v, pretty: pretty), "\(v)")
                #expect(v.encodedBytes(pretty: pretty) == Array(Self.reference(v, pretty: pretty).utf8))
            }
        }
    }

    @Test func aStreamWritesTheBytesOfTheSameTree() {
        let tree: JSONValue = .object([
            "a": .array(Self.awkward), "b": .object(["x": .int(1), "y": .array([])]), "c": .object([:]),
            "labels": .object(["device": "sda", "mount": "/"]), "values": .object(["used": 1.5]), "t": .string("2026-11-25T08:00:01.123456+00:00"),
        ])
        var j = JSONStream()
        j.beginObject()
        j.key("a")
        j.beginArray()
        for v in Self.awkward {
            switch v {
            case .int(let i): j.int(i)
            case .double(let d): j.double(d)
            case .string(let s): j.string(s)
            case .bool(let b): j.bool(b)
            default: j.null()
            }
        }
        j.endArray()
        j.key("b"); j.beginObject(); j.key("x"); j.value(.int(1)); j.key("y"); j.beginArray(); j.endArray(); j.endObject()
        j.key("c"); j.beginObject(); j.endObject()
        j.key("labels"); j.sortedObject(["mount": "/", "device": "sda"])
        j.key("values"); j.sortedObject(["used": 1.5])
        j.key("t"); j.timestamp(Timestamp(microseconds: 1_795_593_601_123_456))
        j.endObject()
        #expect(String(decoding: j.take(), as: UTF8.self) == tree.encoded())
        #expect(j.take().isEmpty)
    }

    /// Strings are scanned eight bytes at a time: every byte value, at every place in and across those words, is
    /// escaped as a byte-by-byte reading of RFC 8259 escapes it (UTF-8 above 0x7F copied as it is).
    @Test func everyByteIsEscapedWhereverItStandsInAWord() {
        let hex = Array("0123456789abcdef".utf8)
        func reference(_ bytes: [UInt8]) -> [UInt8] {
            var out: [UInt8] = []
            for c in bytes {
                switch c {
                case 0x22: out += Array("\\\"".utf8)
                case 0x5C: out += Array("\\\\".utf8)
                case 0x0A: out += Array("\\n".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case 0x09: out += Array("\\t".utf8)
                case ..<0x20: out += Array("\\u00".utf8) + [hex[Int(c >> 4)], hex[Int(c & 0xF)]]
                default: out.append(c)
                }
            }
            return out
        }
        var failures: [String] = []
        for (bytes, label) in WordEdgeInputs.all() {
            var out: [UInt8] = []
            bytes.withUnsafeBufferPointer { JSONValue.writeEscaped($0, into: &out) }
            if out != reference(bytes) { failures.append(label) }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test(arguments: [3, 16, 17, 5000])
    func aRepeatedKeyKeepsItsPlaceAndTakesTheLastValue(keys: Int) throws {
        var text = "{"
        for i in 0..<keys { text += "\"k\(i)\":\(i)," }
        text += "\"k1\":\"again\",\"k0\":\"last\",\"end\":true}"
        let o = try #require(try JSONValue.parse(text).object)
        #expect(o.count == keys + 1)
        #expect(o.keys.prefix(2) == ["k0", "k1"] && o.keys.last == "end")
        #expect(o["k0"] == "last" && o["k1"] == "again" && o["k\(keys - 1)"] == .int(Int64(keys - 1)))
    }
}

@Suite struct TimestampTests {
    @Test func formatsWithMicrosecondsAndOffset() {
        let t = Timestamp(microseconds: 1_795_593_601_123_456, utcOffsetSeconds: 0)
        #expect(t.rfc3339 == "2026-11-25T08:00:01.123456+00:00")
        let local = Timestamp(microseconds: 1_795_593_601_000_001, utcOffsetSeconds: -(5 * 3600 + 30 * 60))
        #expect(local.rfc3339 == "2026-11-25T02:30:01.000001-05:30")
    }

    /// Out of the usual range, the text is what the string-padding formatter wrote (digits kept, zeros on the left).
    @Test func outOfTheUsualRangeKeepsItsDigits() {
        #expect(Timestamp(microseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999+00:00")
        #expect(Timestamp(microseconds: 253_402_300_800_000_000).rfc3339 == "10000-01-01T00:00:00.000000+00:00")
        #expect(Timestamp(microseconds: -62_198_755_200_000_000).rfc3339 == "00-1-01-01T00:00:00.000000+00:00")
        #expect(Timestamp(microseconds: 0, utcOffsetSeconds: 14 * 3600).rfc3339 == "1970-01-01T14:00:00.000000+14:00")
        #expect(Timestamp(microseconds: 0, utcOffsetSeconds: -(9 * 3600 + 30 * 60)).rfc3339 == "1969-12-31T14:30:00.000000-09:30")
    }

    @Test(arguments: ["2026-11-25T08:00:01.123456+00:00", "2026-11-25T08:00:01Z", "2000-02-29T23:59:59.5-05:30",
                      "1970-01-01T00:00:00+00:00"])
    func parsesWhatItPrints(text: String) throws {
        let t = try #require(Timestamp(rfc3339: text))
        #expect(Timestamp(rfc3339: t.rfc3339) == t)
    }

    @Test(arguments: ["", "2026-13-01T00:00:00Z", "2026-11-25 08:00", "2026-11-25T08:00:01+0000", "garbage"])
    func rejectsMalformed(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }
}

@Suite struct ReportShapeTests {
    @Test func daemonReportHasTheSeedShapeAndRoundTrips() throws {
        let t = Timestamp(microseconds: 1_795_593_601_000_000)
        let f = FunctionReport(name: "filesystems", datetime: t, data: [["mount": "/", "used_percent": 41.2]])
        let w = WorkerReport(name: "disk", datetime: t, functionReports: [f])
        let d = DaemonReport(datetime: t, workerReports: [w])
        let text = d.json.encoded()
        #expect(text.hasPrefix("{\"name\":\"Daemon report\",\"datetime\":\"2026-11-25T08:00:01.000000+00:00\",\"worker_reports\":[{\"name\":\"disk\""))
        #expect(text.contains("\"function_reports\":[{\"name\":\"filesystems\""))
        #expect(try DaemonReport(json: JSONValue.parse(text)) == d)
    }

    @Test func decodingNamesWhatIsMissing() {
        #expect(throws: ReportDecodingError("daemon report without 'worker_reports'")) {
            try DaemonReport(json: JSONValue.parse("{\"name\":\"Daemon report\",\"datetime\":\"2026-11-25T08:00:01Z\"}"))
        }
    }
}
