// Alert state across a reload and across a restart with changed rule files, seen by a real webhook and a real
// Alertmanager-API receiver: kept alerts never fire twice, alerts that no longer exist end with a reason.
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension DaemonHarness {
    /// Every alert object of every webhook message (one message can carry several alerts).
    var allAlerts: [JSONValue] {
        receiver.requests.compactMap { try? JSONValue.parse($0.bodyText) }.flatMap { $0["alerts"]?.array ?? [] }
    }

    func allAlerts(rule: String, state: String) -> [JSONValue] {
        allAlerts.filter { $0["rule"]?.string == rule && $0["state"]?.string == state }
    }
}

@Suite(.serialized) struct ReloadStateTests {
    /// Five rules that all fire at 8 % available, each facing one kind of edit.
    static func rules(hook: String, am: String, edited: Bool) -> String {
        func rule(_ name: String, _ body: String) -> String { "rule \(name) on memory.usage \(body)\n" }
        var text = """
            set default_channels ["hook", "am", "log"]
            channel hook webhook { url "\(hook)/hook" }
            channel am alertmanager { url "\(am)" }

            """
        text += rule("mem_summary", "{\n  warn available_percent < 50\n  summary \"\(edited ? "edited: " : "")low memory\"\n}")
        text += rule("mem_threshold", "{\n  warn available_percent < \(edited ? 5 : 50)\n}")
        if !edited { text += rule("mem_removed", "{\n  warn available_percent < 50\n}") }
        text += rule(edited ? "mem_renamed_now" : "mem_renamed", "{\n  warn available_percent < 50\n}")
        text += rule("mem_where", (edited ? "where total_bytes < 1 " : "") + "{\n  warn available_percent < 50\n}")
        return text
    }

    @Test(arguments: [false, true])
    func editedRulesKeepTheirAlertsAndGoneOnesResolveWithAReason(_ restart: Bool) throws {
        let h = try DaemonHarness()
        let am = try LocalHTTPServer()
        defer { am.stop() }
        let all = ["mem_summary", "mem_threshold", "mem_removed", "mem_renamed", "mem_where"]
        writeText(h.rules + "/test.rules", Self.rules(hook: h.receiver.url, am: am.url, edited: false))
        h.setAvailable(kB: 2_000_000)  // 8 % available
        try h.start()
        #expect(h.waitFor(10) { all.allSatisfy { h.allAlerts(rule: $0, state: "firing").count == 1 } }, "log: \(h.log)")
        #expect(h.waitFor(5) { am.requests.count >= 1 })

        if restart {
            h.process!.signal(SIGTERM)
            #expect(h.process!.wait(timeout: 5) == 0)
            writeText(h.rules + "/test.rules", Self.rules(hook: h.receiver.url, am: am.url, edited: true))
            try h.start()
        } else {
            writeText(h.rules + "/test.rules", Self.rules(hook: h.receiver.url, am: am.url, edited: true))
        }
        let gone = ["mem_removed": "rule removed", "mem_renamed": "rule removed", "mem_where": "rule changed"]
        #expect(h.waitFor(10) { gone.keys.allSatisfy { h.allAlerts(rule: $0, state: "resolved").count == 1 } }, "log: \(h.log)")
        for (rule, reason) in gone {
            let r = try #require(h.allAlerts(rule: rule, state: "resolved").first)
            #expect(r["reason"]?.string == reason, "\(rule): \(r)")
            #expect(r["summary"]?.string?.hasSuffix("(resolved: \(reason))") == true, "\(rule): \(r)")
            #expect(r["ends_at"]?.string != nil)
        }
        // The raised threshold is evaluated on the next tick: an ordinary resolution, no reason.
        #expect(h.waitFor(5) { h.allAlerts(rule: "mem_threshold", state: "resolved").count == 1 }, "log: \(h.log)")
        #expect(h.allAlerts(rule: "mem_threshold", state: "resolved").first?["reason"] == nil)
        #expect(h.waitFor(5) { h.allAlerts(rule: "mem_renamed_now", state: "firing").count == 1 }, "log: \(h.log)")
        usleep(500_000)
        // Editing only a summary neither re-fires nor resolves; nothing fired twice.
        #expect(h.allAlerts(rule: "mem_summary", state: "resolved").isEmpty)
        for rule in all { #expect(h.allAlerts(rule: rule, state: "firing").count == 1, "\(rule) fired twice") }

        // Alertmanager hears each ended alert with endsAt and the reason.
        let posted = am.requests.compactMap { try? JSONValue.parse($0.bodyText) }.flatMap { $0.array ?? [] }
        for (rule, reason) in gone {
            let ended = posted.filter { $0["labels"]?["alertname"]?.string == rule && $0["endsAt"] != nil }
            #expect(ended.count == 1, "\(rule): \(posted)")
            #expect(ended.first?["annotations"]?["reason"]?.string == reason)
        }

        // And the kept alert still resolves when its condition clears.
        h.setAvailable(kB: 20_000_000)
        #expect(h.waitFor(5) { h.allAlerts(rule: "mem_summary", state: "resolved").count == 1 }, "log: \(h.log)")
        #expect(h.allAlerts(rule: "mem_summary", state: "resolved").first?["summary"]?.string == "edited: low memory")
    }

    /// A reload that removes a channel: the alerts it announced still end there, with its last configuration, even
    /// when its receiver fails at first; then the channel is forgotten and hears nothing new.
    @Test func aRemovedChannelStillHearsTheResolvedNoticesItIsOwed() throws {
        let h = try DaemonHarness()
        let am = try LocalHTTPServer()
        defer { am.stop() }
        func config(withAM: Bool) -> String {
            (withAM ? "set default_channels [\"hook\", \"am\"]\nchannel am alertmanager { url \"\(am.url)\" }\n"
                    : "set default_channels [\"hook\"]\n")
                + "channel hook webhook { url \"\(h.receiver.url)/hook\" }\n"
                + "rule mem_low on memory.usage {\n  warn available_percent < 50\n}\n"
        }
        writeText(h.rules + "/test.rules", config(withAM: true))
        h.setAvailable(kB: 2_000_000)  // 8 % available
        try h.start()
        let posted = { am.requests.compactMap { try? JSONValue.parse($0.bodyText) }.flatMap { $0.array ?? [] } }
        let ended = { posted().filter { $0["labels"]?["alertname"]?.string == "mem_low" && $0["endsAt"] != nil } }
        #expect(h.waitFor(10) { h.allAlerts(rule: "mem_low", state: "firing").count == 1 && !posted().isEmpty }, "log: \(h.log)")

        // The receiver refuses the first post after the reload: the removed channel retries it.
        am.enqueue([.status(503, body: "busy")])
        let before = am.requests.count
        writeText(h.rules + "/test.rules", config(withAM: false))
        #expect(h.waitFor(10) { h.log.contains("channel am (") && h.log.contains("was removed") }, "log: \(h.log)")
        // The refused post, then its retry: both carry the alert's end, with the reason.
        #expect(h.waitFor(15) { am.requests.count >= before + 2 }, "log: \(h.log)")
        #expect(ended().count == 2)
        #expect(ended().allSatisfy { $0["annotations"]?["reason"]?.string == "rule changed" })
        #expect(h.waitFor(5) { h.log.contains("notify: channel am (") && h.log.contains("delivered notification") }, "log: \(h.log)")
        #expect(h.waitFor(5) { h.log.contains("channel am (removed by a reload) owes nothing more; forgotten") }, "log: \(h.log)")
        // The alert goes on firing on the channel that stayed; the removed one hears nothing more.
        #expect(h.allAlerts(rule: "mem_low", state: "resolved").isEmpty)
        let settled = am.requests.count
        h.setAvailable(kB: 20_000_000)
        #expect(h.waitFor(5) { h.allAlerts(rule: "mem_low", state: "resolved").count == 1 }, "log: \(h.log)")
        usleep(300_000)
        #expect(am.requests.count == settled)
    }

    @Test func theConfigInvalidMetaAlertResolvesAfterARestart() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(h.waitReady(), "log: \(h.log)")
        writeText(h.rules + "/test.rules", readText(h.rules + "/test.rules").replacingFirst("available_percent <", "available_procent <"))
        #expect(h.waitFor(5) { h.allAlerts(rule: "shd_config_invalid", state: "firing").count == 1 }, "log: \(h.log)")
        h.process!.signal(SIGTERM)
        #expect(h.process!.wait(timeout: 5) == 0)
        // Fixed while shd was stopped: the restarted daemon closes the page it opened.
        h.writeRules(threshold: 50)
        try h.start()
        #expect(h.waitFor(10) { h.allAlerts(rule: "shd_config_invalid", state: "resolved").count == 1 }, "log: \(h.log)")
        let r = try #require(h.allAlerts(rule: "shd_config_invalid", state: "resolved").first)
        #expect(r["reason"]?.string == "configuration valid again")
        // Once: a second restart has nothing left to resolve.
        h.process!.signal(SIGTERM)
        #expect(h.process!.wait(timeout: 5) == 0)
        try h.start()
        #expect(h.waitFor(10) { h.log.contains("restored alert state") }, "log: \(h.log)")
        usleep(300_000)
        #expect(h.allAlerts(rule: "shd_config_invalid", state: "resolved").count == 1)
    }
}
