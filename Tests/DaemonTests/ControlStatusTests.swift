// `status` rendered by the daemon (ControlStatus.text) against the client's rendering of the JSON result
// (ControlText.status, what `shd status` printed before and still prints for a daemon that does not render): the same
// text, for alerts in every state, labels the rule hides or not, values, silences, acks, mutes, the meta alert.
import Alerting
import Reports
import Testing
import TestSupport
@testable import Daemon
@testable import Rules
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ControlStatusTests {
    static let now = Timestamp(rfc3339: "2026-11-25T08:00:00.250000+01:00")!

    static func instance(_ rule: String, _ state: AlertState, _ severity: Severity, since: Double?, row: [String: String] = [:],
                         worker: String = "disk", function: String = "filesystems", values: [String: Double] = [:],
                         summary: String = "", silencedBy: [String] = [], muted: Bool = false, ack: Acknowledgement? = nil)
        -> AlertStatus.Instance
    {
        AlertStatus.Instance(rule: rule, rowLabels: row, worker: worker, function: function, state: state, severity: severity,
                             since: since.map { now.adding(seconds: -$0) }, values: values, summary: summary, silencedBy: silencedBy,
                             muted: muted, ack: ack)
    }

    static func status(configInvalid: Bool = true, empty: Bool = false) -> ControlStatus {
        let root = Actor(uid: 0, user: "root")
        let instances: [AlertStatus.Instance] = empty ? [] : [
            instance("disk_full", .firing, .crit, since: 90, row: ["mount": "/", "device": "/dev/vda"],
                     values: ["used_percent": 97.123, "free_bytes": 1_000_000, "inf": .infinity, "nan": .nan, "big": 3e15],
                     summary: "/ is 97% full\nsecond line", silencedBy: ["s-1", "maint"], ack: Acknowledgement(by: root, at: now, comment: "on it")),
            instance("disk_full", .pending, .warn, since: 0.25, row: ["mount": "/srv", "worker": "other", "function": "filesystems"],
                     values: ["used_percent": 85], summary: "not shown while pending"),
            instance("disk_full", .firing, .warn, since: 200_000, row: ["z": "last", "a": "first", "m": "mid"], muted: true),
            instance("mem", .firing, .warn, since: 3 * 3600 + 61, worker: "memory", function: "usage", values: ["available_percent": -0.0]),
            instance("mem", .pending, .crit, since: nil, worker: "memory", function: "usage", summary: "s"),
            instance("odd", .firing, .crit, since: 59.6, row: ["label": "quote\" and \\ and é"], worker: "a", function: "b.c",
                     values: ["x": 1.005], summary: "crit summary"),
        ]
        let silence = Silence(id: "s-1", matchers: [LabelMatcher(name: "rule", value: "disk_full"), LabelMatcher(name: "mount", value: "/*")],
                              startsAt: now.adding(seconds: -60), endsAt: now.adding(seconds: 7200), createdBy: root, createdAt: now,
                              comment: "maintenance")
        let meta = AlertEvent(kind: .firing, rule: "shd_config_invalid", severity: .warn,
                              labels: ["worker": "shd", "function": "config", "file": "/etc/shd/rules.d/x.rules"],
                              values: ["errors": 2], summary: "2 errors", startsAt: now.adding(seconds: -30), channels: [])
        return ControlStatus(
            host: "web1", now: now, pid: 42, alerts: AlertStatus(instances: instances, silences: empty ? [] : [silence]),
            configInvalid: configInvalid ? meta : nil,
            rules: empty ? [] : [
                RuleStatus(name: "disk_full", worker: "disk", function: "filesystems", instances: 3, pending: 1, firing: 2),
                RuleStatus(name: "mem", worker: "memory", function: "usage", instances: 1, pending: 1, firing: 1),
                RuleStatus(name: "odd", worker: "a", function: "b.c", instances: 1, pending: 0, firing: 1),
                RuleStatus(name: "quiet", worker: "cpu", function: "load", instances: 0, pending: 0, firing: 0),
            ],
            workers: [["name": "disk", "interval": 10.0, "last_collection": .string(now.adding(seconds: -3).rfc3339),
                       "errors": ["filesystems": "EACCES"]],
                      ["name": "cpu", "interval": 1.0, "last_collection": .null, "errors": [:]]],
            channels: [["name": "hook", "channel": "hook", "kind": "webhook", "queued": 2, "failing": true, "failures": 3,
                        "last_delivery": .null, "last_error": "HTTP 500"]],
            sources: empty ? [] : [
                ["source": "kmsg", "path": "/dev/kmsg", "entries": 120, "lost": 3, "problem": .null],
                ["source": "file", "path": "/var/log/app/*.log", "rules": ["app_errors", "app_slow"],
                 "files": [["path": "/var/log/app/a.log", "offset": 1234, "draining": false],
                           ["path": "/var/log/app/a.log", "offset": 99, "draining": true]], "problem": .null],
                ["source": "file", "path": "/srv/late.log", "rules": ["late"], "files": [],
                 "problem": "rule late: no file matches /srv/late.log yet; it is read from its first line when it appears (its folder is watched)"],
            ],
            lastReload: empty ? .null : ["applied": false, "message": "refused: 2 error(s)", "reason": "shd reload by root",
                                          "at": .string(now.adding(seconds: -100).rfc3339)])
    }

    /// The JSON result as the client receives it.
    static func json(_ s: ControlStatus) throws -> JSONValue {
        var j = JSONStream()
        s.write(to: &j)
        return try JSONValue.parse(bytes: j.take())
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func theDaemonsTextIsTheClientsRenderingOfTheJSON(color: Bool, alertsOnly: Bool) throws {
        // Alerts whose rows have no labels, of a rule the rule list has not (its worker and function are shown) and of
        // a rule whose worker has a dot (split as the client splits `on`): the daemon's short cut for label-less rows.
        var unlisted = Self.status(configInvalid: false)
        unlisted.alerts.instances += [
            Self.instance("gone", .firing, .warn, since: 5, worker: "x", function: "y"),
            Self.instance("dotted", .pending, .crit, since: 7, worker: "a.b", function: "c"),
        ]
        unlisted.rules.append(RuleStatus(name: "dotted", worker: "a.b", function: "c", instances: 1, pending: 1, firing: 0))
        for s in [Self.status(), Self.status(configInvalid: false), Self.status(configInvalid: false, empty: true), unlisted] {
            let daemon = String(decoding: s.text(alertsOnly: alertsOnly, color: color), as: UTF8.self)
            let client = ControlText.status(try Self.json(s), alertsOnly: alertsOnly, color: color)
            #expect(daemon == client)
            if daemon != client {
                for (d, c) in zip(daemon.split(separator: "\n", omittingEmptySubsequences: false),
                                  client.split(separator: "\n", omittingEmptySubsequences: false)) where d != c {
                    Issue.record("daemon: \(d)\nclient: \(c)")
                }
            }
        }
    }

    @Test func theTextShowsWhatItShould() {
        let text = String(decoding: Self.status().text(alertsOnly: false, color: false), as: UTF8.self)
        #expect(text.hasPrefix("shd on web1: 5 firing, 2 pending — configuration invalid, the last good rules are in force\n"))
        #expect(text.contains("FIRING  crit  disk_full  device=/dev/vda,mount=/  since 07:58:30 (1m30s ago)"), "\(text)")
        #expect(text.contains("big=3000000000000000.0 free_bytes=1000000 inf=null nan=null used_percent=97.12  [silenced: s-1,maint]  [acked by root]  — / is 97% full"),
                "\(text)")
        #expect(text.contains("PENDING warn  disk_full  mount=/srv,worker=other  since 08:00:00 (250ms ago)  used_percent=85\n"), "\(text)")
        #expect(text.contains("disk_full  a=first,m=mid,z=last  since 2026-11-23 00:26:40 (2d7h ago)"), "a day-old alert shows its date: \(text)")
        #expect(text.contains("[muted]\n"))
        #expect(text.contains("FIRING  warn  shd_config_invalid  file=/etc/shd/rules.d/x.rules  since 07:59:30 (30s ago)  errors=2  — 2 errors"),
                "\(text)")
        #expect(text.contains("  odd  on a.b.c  1 instance, 1 firing\n"))
        #expect(text.contains("  s-1  rule=disk_full,mount=/*  until "), "\(text)")
        #expect(text.contains("\nEvent sources\n  kmsg /dev/kmsg  120 entries read, 3 lost (the kernel's buffer wrapped)\n"
            + "  file /var/log/app/*.log  (rules app_errors, app_slow)  /var/log/app/a.log at byte 1234, /var/log/app/a.log (rotated away) at byte 99\n"
            + "  file /srv/late.log  (rule late)  rule late: no file matches /srv/late.log yet;"), "\(text)")
        #expect(!String(decoding: Self.status(configInvalid: false, empty: true).text(alertsOnly: false, color: false), as: UTF8.self)
            .contains("Event sources"), "no event rule, no section")
        let colored = String(decoding: Self.status().text(alertsOnly: true, color: true), as: UTF8.self)
        #expect(colored.hasPrefix("\u{1B}[31mFIRING  crit\u{1B}[0m  disk_full"), "\(colored)")
        #expect(!colored.contains("Rules"))
    }

    @Test func theTextAnswerCarriesTheCountsForTheExitStatus() throws {
        var j = JSONStream()
        Self.status().writeText(to: &j, alertsOnly: false, color: true)
        let v = try JSONValue.parse(bytes: j.take())
        #expect(v["firing"] == 5)
        #expect(v["pending"] == 2)
        #expect(v["text"]?.string == String(decoding: Self.status().text(alertsOnly: false, color: true), as: UTF8.self))
    }

    @Test func theRawAnswerIsTheLineThenTheText() throws {
        let raw = Self.status().rawText(alertsOnly: false, color: true)
        let nl = try #require(raw.firstIndex(of: 0x0A))
        let v = try JSONValue.parse(bytes: Array(raw[..<nl]))
        let text = Self.status().text(alertsOnly: false, color: true)
        #expect(v["ok"] == true)
        #expect(v["result"]?["firing"] == 5)
        #expect(v["result"]?["pending"] == 2)
        #expect(v["result"]?["text_bytes"]?.number == Double(text.count))
        #expect(Array(raw[(nl + 1)...]) == text, "the text follows the line as it is, unescaped")
        #expect(text.contains(0x0A) && text.contains(0x1B), "newlines and colour codes that JSON would escape")
    }

    /// A fake daemon on a socket in a new folder: `shd status` is started against it, and each connection gets the
    /// next of `answers` (sent in pieces of `piece` bytes, then closed); the requests it sent, its exit status and output.
    static func fakeDaemon(_ answers: [[UInt8]], piece: Int = 1 << 20, arguments: [String] = [])
        throws -> (requests: [String], status: Int32?, stdout: String, stderr: String)
    {
        let dir = makeTempDirectory("shd-control-fake")
        defer { _ = runShell("rm -rf '\(dir)'") }
        let path = dir + "/control"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        #expect(withSocketAddress(path, { bind(listener, $0, $1) }) == 0)
        #expect(listen(listener, 4) == 0)
        // The client connects before the answer is accepted here (the backlog holds it): no thread needed.
        let p = try ChildProcess([shdBinary, "status", "--socket", path] + arguments, outputDirectory: dir)
        var requests: [String] = []
        for answer in answers {
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 15_000) == 1 else { break }
            let c = accept(listener, nil, nil)
            #expect(c >= 0)
            var tv = timeval(tv_sec: 15, tv_usec: 0)
            _ = setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var line: [UInt8] = []
            var byte: UInt8 = 0
            while recv(c, &byte, 1, 0) == 1, byte != 0x0A { line.append(byte) }
            requests.append(String(decoding: line, as: UTF8.self))
            var off = 0
            while off < answer.count {
                let n = min(piece, answer.count - off)
                let sent = answer[off..<(off + n)].withUnsafeBytes { send(c, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
                if sent <= 0 { break }
                off += sent
                if piece < answer.count { usleep(2000) }
            }
            close(c)
        }
        let status = p.wait(timeout: 30)
        return (requests, status, p.stdout, p.stderr)
    }

    static let rawRequest = #"{"command":"status","format":"raw-text","color":false}"#
    static let textRequest = #"{"command":"status","format":"text","color":false}"#

    /// What `shd status` asks first: the text after the answer line, written out as it arrives (here in pieces of
    /// 1,000 bytes, the first with the line).
    @Test func theClientWritesTheTextThatFollowsTheLine() throws {
        let text = Self.status().text(alertsOnly: false, color: false)
        let r = try Self.fakeDaemon([Self.status().rawText(alertsOnly: false, color: false)], piece: 1000)
        #expect(r.requests == [Self.rawRequest])
        #expect(r.status == 1, "5 firing: \(r.stderr)")
        #expect(r.stdout == String(decoding: text, as: UTF8.self))
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }

    /// A daemon that closes before the text it announced is all sent: an error naming what was missing (exit 3), not
    /// a status cut short without a word.
    @Test func aTextCutShortIsAnError() throws {
        let raw = Self.status().rawText(alertsOnly: false, color: false)
        let r = try Self.fakeDaemon([Array(raw.dropLast(10))])
        let total = raw.count - (raw.firstIndex(of: 0x0A)! + 1)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("closed the connection after \(total - 10) of \(total) bytes"), "\(r.stderr)")
    }

    /// A daemon from before "raw-text" refuses that format; `shd status` then asks for the escaped text.
    @Test func aDaemonWithoutRawTextGetsTheTextRequest() throws {
        var j = JSONStream()
        j.beginObject(); j.key("ok"); j.bool(true); j.key("result")
        Self.status().writeText(to: &j, alertsOnly: false, color: false)
        j.endObject()
        let refusal = #"{"ok":false,"code":"bad-request","error":"status: \"format\" is \"json\" or \"text\", not \"raw-text\""}"#
        let r = try Self.fakeDaemon([Array((refusal + "\n").utf8), j.take() + [0x0A]])
        #expect(r.requests == [Self.rawRequest, Self.textRequest])
        #expect(r.status == 1, "5 firing: \(r.stderr)")
        #expect(r.stdout == String(decoding: Self.status().text(alertsOnly: false, color: false), as: UTF8.self))
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }

    /// A daemon from before the text answer refuses `format`; `shd status` then asks for the JSON and renders it.
    @Test func anOlderDaemonGetsTheJSONRequestAndTheClientRenders() throws {
        let result = try Self.json(Self.status())
        let refusal = Array((#"{"ok":false,"code":"bad-request","error":"status: unknown key \"format\""}"# + "\n").utf8)
        let r = try Self.fakeDaemon([refusal, refusal, Array((ControlResponse.success(result).encoded() + "\n").utf8)])
        #expect(r.requests == [Self.rawRequest, Self.textRequest, #"{"command":"status"}"#])
        #expect(r.status == 1, "5 firing: \(r.stderr)")
        #expect(r.stdout == ControlText.status(result, alertsOnly: false, color: false))
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }
}
