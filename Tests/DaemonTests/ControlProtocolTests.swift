// The control socket's request parser (table of real request lines) and who may use the socket.
import Reports
import Testing
@testable import Daemon

@Suite struct ControlProtocolTests {
    @Test(arguments: [
        (#"{"command":"status"}"#, ControlRequest.status),
        (#"{"command":"status","format":"json"}"#, .status),
        (#"{"command":"status","format":"text","color":true}"#, .statusText(color: true, alertsOnly: false)),
        (#"{"command":"status","format":"text","alerts":true}"#, .statusText(color: false, alertsOnly: true)),
        (#"{"command":"status","format":"raw-text","color":true}"#, .statusText(color: true, alertsOnly: false, raw: true)),
        (#"{"command":"reload"}"#, .reload),
        (#"{"command":"explain","rule":"disk_space","labels":{"mount":"/"}}"#, .explain(rule: "disk_space", labels: ["mount": "/"])),
        (#"{"command":"explain","rule":"r","labels":null}"#, .explain(rule: "r", labels: [:])),
        (#"{"command":"silence_add","matchers":{"rule":"disk_space","mount":"/backup*"},"for":7200,"comment":"restore","id":"b-1"}"#,
         .silenceAdd(SilenceRequest(matchers: ["rule": "disk_space", "mount": "/backup*"], end: .after(seconds: 7200),
                                    comment: "restore", id: "b-1"))),
        (#"{"command":"silence_add","matchers":{"rule":"x"},"until":"2026-12-24T06:00:00+01:00"}"#,
         .silenceAdd(SilenceRequest(matchers: ["rule": "x"], end: .at(Timestamp(rfc3339: "2026-12-24T06:00:00+01:00")!), comment: nil, id: nil))),
        (#"{"command":"silence_list"}"#, .silenceList),
        (#"{"command":"silence_expire","id":"b-1"}"#, .silenceExpire(id: "b-1")),
        (#"{"command":"ack","rule":"r","labels":{"a":"b"},"comment":"on it"}"#, .ack(rule: "r", labels: ["a": "b"], comment: "on it")),
        (#"{"command":"history","since":86400,"rule":"r","limit":5}"#, .history(sinceSeconds: 86400, rule: "r", limit: 5)),
        (#"{"command":"history"}"#, .history(sinceSeconds: nil, rule: nil, limit: nil)),
    ])
    func requestsParseAndEncodeBack(_ line: String, _ want: ControlRequest) throws {
        let r = try ControlRequest.parse(Array(line.utf8))
        #expect(r == want)
        #expect(try ControlRequest.parse(Array(r.json.encoded().utf8)) == r, "the client's encoding parses back")
    }

    @Test(arguments: [
        ("", ControlProtocolError.Code.badRequest, "invalid JSON"),
        ("[1,2]", .badRequest, "expected a JSON object"),
        (#"{"cmd":"status"}"#, .badRequest, #"missing "command""#),
        (#"{"command":"status","x":1}"#, .badRequest, #"status: unknown key "x""#),
        (#"{"command":"status","format":"html"}"#, .badRequest, #"status: "format" is "json", "text" or "raw-text", not "html""#),
        (#"{"command":"status","format":"text","color":"yes"}"#, .badRequest, #"status: "color" must be true or false"#),
        (#"{"command":"status","color":true}"#, .badRequest, #"status: unknown key "color""#),
        (#"{"command":"rm -rf"}"#, .unknownCommand, #"unknown command "rm -rf""#),
        (#"{"command":"explain"}"#, .badRequest, #"explain: missing "rule""#),
        (#"{"command":"explain","rule":"r","labels":{"a":1}}"#, .badRequest, "must map names to strings"),
        (#"{"command":"silence_add","matchers":{},"for":10}"#, .badRequest, "at least one label"),
        (#"{"command":"silence_add","matchers":{"rule":"r"}}"#, .badRequest, #"give "for""#),
        (#"{"command":"silence_add","matchers":{"rule":"r"},"for":10,"until":"2026-01-01T00:00:00Z"}"#, .badRequest, "not both"),
        (#"{"command":"silence_add","matchers":{"rule":"r"},"for":-1}"#, .badRequest, "from 0 to 366 days"),
        (#"{"command":"silence_add","matchers":{"rule":"r"},"for":1e300}"#, .badRequest, "from 0 to 366 days"),
        (#"{"command":"silence_add","matchers":{"rule":"r"},"until":"tomorrow"}"#, .badRequest, "RFC 3339"),
        (#"{"command":"silence_expire","id":"../../etc"}"#, .badRequest, "a silence id is"),
        (#"{"command":"history","limit":0.5}"#, .badRequest, "whole number"),
        (#"{"command":"history","since":0}"#, .badRequest, "positive number"),
    ])
    func badRequestsSayWhat(_ line: String, _ code: ControlProtocolError.Code, _ message: String) {
        #expect(throws: ControlProtocolError.self) { try ControlRequest.parse(Array(line.utf8)) }
        do { _ = try ControlRequest.parse(Array(line.utf8)) } catch {
            #expect(error.code == code, "\(line)")
            #expect(error.message.contains(message), "\(line): \(error.message)")
        }
    }

    @Test func oversizedRequestsAreRefusedBeforeParsing() {
        let line = Array(("{\"command\":\"status\",\"pad\":\"" + String(repeating: "x", count: ControlRequest.maxBytes) + "\"}").utf8)
        do { _ = try ControlRequest.parse(line) } catch { #expect(error.code == .tooLarge) }
        let labels = (0...ControlRequest.maxLabels).map { "\"l\($0)\":\"v\"" }.joined(separator: ",")
        do { _ = try ControlRequest.parse(Array("{\"command\":\"explain\",\"rule\":\"r\",\"labels\":{\(labels)}}".utf8)) } catch {
            #expect(error.message.contains("more than 64 labels"))
        }
    }

    @Test func onlyRootTheDaemonsUserAndTheAdminGroup() {
        let a = ControlAccess(daemonUID: 107, adminGID: 990)
        #expect(a.allows(PeerCredentials(pid: 1, uid: 0, gid: 0, groups: [])))
        #expect(a.allows(PeerCredentials(pid: 1, uid: 107, gid: 107, groups: [])), "shd's own user (ExecReload runs as it)")
        #expect(a.allows(PeerCredentials(pid: 1, uid: 1000, gid: 990, groups: [])), "primary group")
        #expect(a.allows(PeerCredentials(pid: 1, uid: 1000, gid: 1000, groups: [27, 990])), "supplementary group")
        #expect(!a.allows(PeerCredentials(pid: 1, uid: 1000, gid: 1000, groups: [27, 100])))
        #expect(!a.allows(PeerCredentials(pid: 1, uid: 65534, gid: 65534, groups: [])))
        let noGroup = ControlAccess(daemonUID: 107, adminGID: nil)
        #expect(!noGroup.allows(PeerCredentials(pid: 1, uid: 1000, gid: 990, groups: [990])))
        #expect(noGroup.allows(PeerCredentials(pid: 1, uid: 0, gid: 0, groups: [])))
    }

    @Test func answersAreOneLine() {
        let line = ControlResponse.line(ControlResponse.failure(.init(.badRequest, "two\nlines")))
        #expect(line.last == 0x0A)
        #expect(!line.dropLast().contains(0x0A))
    }
}
