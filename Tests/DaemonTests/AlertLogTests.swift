// The alert log's file: records appended per flush, rotation by size to history.jsonl.1, and the query by time and rule.
import Alerting
import Reports
import Rules
import TestSupport
import Testing
@testable import Daemon
#if canImport(Glibc)
import Glibc
#endif

@Suite struct AlertLogTests {
    static let t0 = Timestamp(rfc3339: "2026-01-05T00:00:00Z")!

    static func event(_ rule: String, _ kind: AlertEvent.Kind) -> AlertEvent {
        AlertEvent(kind: kind, rule: rule, severity: .crit, labels: ["mount": "/"], values: [:], summary: "\(rule) \(kind)",
                   startsAt: t0, channels: ["log"])
    }

    func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : -1
    }

    @Test func recordsAreWrittenOnlyAtFlushAndQueriedByTimeAndRule() throws {
        let dir = makeTempDirectory()
        defer { _ = runShell("rm -rf '\(dir)'") }
        let log = AlertLog(stateDir: dir, maxSize: 1 << 20)
        log.record([Self.event("disk", .firing)], at: Self.t0)
        log.record("reload", at: Self.t0.adding(seconds: 60), ["reason": "SIGHUP", "result": "ok"])
        log.record([Self.event("load", .firing), Self.event("disk", .resolved)], at: Self.t0.adding(seconds: 120))
        let silence = Silence(id: "s", matchers: try LabelMatcher.parse("rule=d*"), startsAt: Self.t0, endsAt: Self.t0.adding(seconds: 60),
                              createdBy: Actor(uid: 0, user: "root"), createdAt: Self.t0, comment: "")
        log.record("silence", at: Self.t0.adding(seconds: 180), ["action": "added", "silence": silence.json])
        #expect(fileSize(log.path) == -1)
        #expect(log.flush())
        let all = AlertLog.query(stateDir: dir)
        #expect(all.map { $0["type"]!.string! } == ["transition", "reload", "transition", "transition", "silence"])
        #expect(all[0].encoded() == #"{"time":"2026-01-05T00:00:00.000000+00:00","type":"transition","kind":"firing","rule":"disk","labels":{"mount":"/"},"severity":"crit","summary":"disk firing"}"#)
        #expect(AlertLog.query(stateDir: dir, rule: "disk").map { $0["kind"]?.string ?? $0["type"]!.string! } == ["firing", "resolved", "silence"])
        #expect(AlertLog.query(stateDir: dir, since: Self.t0.adding(seconds: 120)).count == 3)
        #expect(AlertLog.query(stateDir: dir, since: Self.t0.adding(seconds: 120), rule: "load").count == 1)
    }

    @Test func aDeliveryIsAboutEachRuleItCarried() throws {
        let dir = makeTempDirectory()
        defer { _ = runShell("rm -rf '\(dir)'") }
        let log = AlertLog(stateDir: dir, maxSize: 1 << 20)
        log.record("delivery", at: Self.t0, ["channel": "hook", "status": "delivered", "rule": "disk", "rules": .array(["disk"])])
        log.record("delivery", at: Self.t0, ["channel": "hook", "status": "delivered", "rules": .array(["load", "disk"])])
        log.record("delivery", at: Self.t0, ["channel": "hook", "status": "failed", "rule": "load", "rules": .array(["load"])])
        #expect(log.flush())
        #expect(AlertLog.query(stateDir: dir, rule: "disk").count == 2)
        #expect(AlertLog.query(stateDir: dir, rule: "load").map { $0["status"]!.string! } == ["delivered", "failed"])
        #expect(AlertLog.query(stateDir: dir, rule: "cpu").isEmpty)
    }

    @Test func rotatesBySizeKeepingTwoFiles() throws {
        let dir = makeTempDirectory()
        defer { _ = runShell("rm -rf '\(dir)'") }
        let log = AlertLog(stateDir: dir, maxSize: 4096)
        for i in 0..<200 {
            log.record([Self.event("r\(i)", .firing)], at: Self.t0.adding(seconds: Double(i)))
            #expect(log.flush())
            #expect(fileSize(log.path) <= 4096)
        }
        #expect(fileSize(log.path + ".1") > 3000 && fileSize(log.path + ".1") <= 4096)
        let kept = AlertLog.query(stateDir: dir)
        // The newest records, in order, and nothing older than what the two files hold.
        #expect(kept.last?["rule"]?.string == "r199")
        #expect(kept.count > 30 && kept.count < 80)
        let rules = kept.compactMap { $0["rule"]?.string }.map { Int($0.dropFirst())! }
        #expect(rules == Array(rules.first!...199))
        // A new log object on the same files counts the size already there.
        let again = AlertLog(stateDir: dir, maxSize: 4096)
        #expect(again.size == fileSize(log.path))
    }
}
