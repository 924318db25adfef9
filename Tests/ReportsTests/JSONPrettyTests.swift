// Compact JSON re-indented from its bytes (`shd status --json`): the pretty encoder's bytes, without the tree.
import Testing
@testable import Reports

@Suite struct JSONPrettyTests {
    static let values: [JSONValue] = [
        .null, true, 0, -42, 1.5, 1e-7, 1e300, 12.0, "", "plain", "q\"uote\\ back\nline\t\u{01}\u{7F}é😀",
        [], [:], [[]], [[:]], [1, [2, [3, [:]]], [] as JSONValue],
        ["a": 1, "b": [true, false, .null], "c": "x:y,z{}[]", "": ["nested": [:], "list": [1.25, "2"]]],
        ["alerts": [["rule": "r1", "labels": ["mount": "/", "worker": "disk"], "values": [:], "silenced_by": [],
                     "ack": ["by": ["uid": 0, "user": "root"], "at": "2026-11-25T08:00:00.000000+00:00"]]],
         "firing": 3, "workers": [], "config_invalid": false],
    ]

    @Test(arguments: values)
    func prettyFromTheBytesIsThePrettyEncoderOfTheTree(_ v: JSONValue) throws {
        let compact = v.encodedBytes()
        let pretty = compact.withUnsafeBufferPointer { JSONValue.prettyBytes(compact: $0) }
        #expect(pretty == v.encodedBytes(pretty: true), "\(v.encoded())")
        // What `shd status --json` printed before: the parsed tree encoded again.
        #expect(pretty == (try JSONValue.parse(bytes: compact)).encodedBytes(pretty: true))
    }

    @Test func spacesBetweenTokensAreDropped() {
        let text = Array(" { \"a\" : [ 1 , 2 ] ,\n\"b\" : { } , \"c\":[ ] } ".utf8)
        let pretty = text.withUnsafeBufferPointer { JSONValue.prettyBytes(compact: $0) }
        #expect(pretty.map { String(decoding: $0, as: UTF8.self) } == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}")
    }

    @Test(arguments: ["{", "[1,2", "[1}", "{\"a\":1}}", "\"abc", "\"a\u{01}\"", "1,2", String(repeating: "[", count: 600)])
    func malformedTextIsNil(_ text: String) {
        let b = Array(text.utf8)
        #expect(b.withUnsafeBufferPointer { JSONValue.prettyBytes(compact: $0) } == nil)
    }

    @Test func aTopLevelMemberIsReadWithoutTheRest() {
        let v: JSONValue = ["host": "h\"firing\":", "nested": ["firing": 9, "list": [["firing": 8]]], "firing": 3, "pending": 1.5,
                            "after": ["x": [1, 2]]]
        let b = v.encodedBytes()
        b.withUnsafeBufferPointer { p in
            #expect(JSONValue.topLevelMember("firing", in: p) == 3)
            #expect(JSONValue.topLevelMember("pending", in: p) == 1.5)
            #expect(JSONValue.topLevelMember("after", in: p) == ["x": [1, 2]])
            #expect(JSONValue.topLevelMember("nested", in: p)?["firing"] == 9)
            #expect(JSONValue.topLevelMember("list", in: p) == nil, "only top-level members")
            #expect(JSONValue.topLevelMember("x", in: p) == nil)
        }
        let array = Array("[{\"firing\":1}]".utf8)
        #expect(array.withUnsafeBufferPointer { JSONValue.topLevelMember("firing", in: $0) } == nil)
    }

    /// The decoded bytes of the token at the start of `bytes` (then anything), and where the token ended.
    static func unescaped(_ bytes: [UInt8]) -> ([UInt8], Int)? {
        var b = bytes
        return b.withUnsafeMutableBufferPointer { p in
            JSONValue.unescapeStringInPlace(p, at: 0).map { (Array(p[0..<$0.length]), $0.end) }
        }
    }

    @Test(arguments: ["", "plain", "q\"uote\\ back/slash\nline\t\r\u{01}\u{1B}[31m\u{7F}é😀", String(repeating: "line\n", count: 1000)])
    func stringsDecodedInPlaceAreTheParsedString(_ text: String) throws {
        let token = JSONValue.string(text).encodedBytes()
        let got = try #require(Self.unescaped(token + Array("}".utf8)))
        #expect(got.0 == Array(text.utf8))
        #expect(got.1 == token.count, "the index after the closing quote")
        let escaped = Array(#""\u00e9\/\b\f\u001B\u20AC""#.utf8)
        #expect(Self.unescaped(escaped)?.0 == Array("é/\u{08}\u{0C}\u{1B}€".utf8))
    }

    /// Runs are scanned eight bytes at a time: every byte value, at every place in and across those words, comes back
    /// from its escaped token; a raw control character anywhere in a token is refused.
    @Test func everyByteComesBackWhereverItStandsInAWord() {
        var failures: [String] = []
        for (bytes, label) in WordEdgeInputs.all() {
            var token: [UInt8] = [UInt8(ascii: "\"")]
            bytes.withUnsafeBufferPointer { JSONValue.writeEscaped($0, into: &token) }
            token.append(UInt8(ascii: "\""))
            let got = Self.unescaped(token + Array(",\"next\"".utf8))
            if got?.0 != bytes || got?.1 != token.count { failures.append(label) }
            if bytes.contains(where: { $0 < 0x20 }) {
                let raw = [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]
                if Self.unescaped(raw) != nil { failures.append("raw control character accepted: " + label) }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test(arguments: [#""abc"#, #"abc""#, #""a\x""#, #""\ud83d\ude00""#, "1", #""\u12""#, #""a\"#, "\"a\u{01}\""])
    func malformedStringsAreNotDecoded(_ token: String) {
        #expect(Self.unescaped(Array(token.utf8)) == nil)
    }

    @Test func aMemberStartIsFoundWithoutReadingItsValue() {
        let b = Array(#"{"firing":2,"text":"x\"y","z":1}"#.utf8)
        b.withUnsafeBufferPointer { p in
            #expect(JSONValue.topLevelMemberStart("text", in: p) == 19)
            #expect(JSONValue.topLevelMemberRange("text", in: p) == 19..<25)
            #expect(JSONValue.topLevelMemberStart("nope", in: p) == nil)
        }
    }
}
