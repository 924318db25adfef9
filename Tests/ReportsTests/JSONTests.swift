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
}

@Suite struct TimestampTests {
    @Test func formatsWithMicrosecondsAndOffset() {
        let t = Timestamp(microseconds: 1_795_593_601_123_456, utcOffsetSeconds: 0)
        #expect(t.rfc3339 == "2026-11-25T08:00:01.123456+00:00")
        let local = Timestamp(microseconds: 1_795_593_601_000_001, utcOffsetSeconds: -(5 * 3600 + 30 * 60))
        #expect(local.rfc3339 == "2026-11-25T02:30:01.000001-05:30")
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
