// `shd run` end to end with slow receivers, e-mail, and the outputs other tools read.
import Kit
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct DaemonDeliveryTests {
    /// The datetime of STATE_DIR/report.json, or nil.
    func reportTime(_ h: DaemonHarness) -> Timestamp? {
        guard let v = try? JSONValue.parse(readText(h.state + "/report.json")), let t = v["datetime"]?.string else { return nil }
        return Timestamp(rfc3339: t)
    }

    @Test func aHungReceiverNeverDelaysTicks() throws {
        let h = try DaemonHarness()
        h.receiver.defaultResponse = .hang
        h.setAvailable(kB: 2_000_000)  // fires at once; the webhook never answers
        // With a textfile every tick is a full collection and rewrites report.json: a clock to read.
        try h.start(extraArgs: ["--textfile", h.dir + "/textfile"])
        #expect(h.waitFor(10) { h.receiver.requests.count >= 1 }, "log: \(h.log)")
        // While the request hangs, reports keep coming every 100 ms tick.
        var times: [Timestamp] = []
        let end = monotonicSeconds() + 1.5
        while monotonicSeconds() < end {
            if let t = reportTime(h), times.last != t { times.append(t) }
            usleep(20_000)
        }
        #expect(times.count >= 8, "only \(times.count) reports in 1.5 s while a delivery hung")
        let gaps = zip(times.dropFirst(), times).map { $0.seconds - $1.seconds }
        #expect((gaps.max() ?? 9) < 0.5, "a tick gap of \(gaps.max() ?? 0) s")
    }

    @Test func textfileAndLatestReportForOtherTools() throws {
        let h = try DaemonHarness()
        let textfile = h.dir + "/textfile"
        try h.start(extraArgs: ["--textfile", textfile])
        #expect(h.waitFor(10) { access(textfile + "/shd.prom", F_OK) == 0 }, "log: \(h.log)")
        let prom = readText(textfile + "/shd.prom")
        #expect(prom.contains("# TYPE shd_memory_usage_available_bytes gauge"))
        #expect(prom.contains("shd_memory_usage_available_bytes 24796704768"), "MemAvailable 24215532 kB")
        #expect(prom.contains("# TYPE shd_cpu_times_user_seconds_total counter"))
        #expect(prom.contains("shd_cpu_times_user_seconds_total{cpu=\"total\"}"))
        #expect(prom.contains("shd_function_up{worker=\"memory\",function=\"usage\"} 1"))
        // Every sample line is `name{labels} value` with a number node_exporter can parse.
        for line in prom.split(separator: "\n") where !line.hasPrefix("#") {
            let value = line.split(separator: " ").last.map(String.init) ?? ""
            #expect(Double(value) != nil || ["NaN", "+Inf", "-Inf"].contains(value), "bad sample line: \(line)")
        }
        let latest = try ChildProcess([shdBinary, "report", "--latest", "--state-dir", h.state], outputDirectory: h.dir)
        #expect(latest.wait(timeout: 10) == 0)
        let r = try DaemonReport(json: JSONValue.parse(latest.stdout))
        #expect(r.worker("memory") != nil)
        let missing = try ChildProcess([shdBinary, "report", "--latest", "--state-dir", h.dir + "/nowhere"], outputDirectory: h.dir)
        #expect(missing.wait(timeout: 10) == 1)
        #expect(missing.stderr.contains("report.json"))
    }

    @Test(.enabled(if: SMTPReceiver.unavailableReason == nil, "needs python3-aiosmtpd (scripts/deps test installs it)"))
    func alertArrivesByMailWithTheReportAttached() throws {
        let h = try DaemonHarness()
        let mailDir = h.dir + "/mail"
        mkdir(mailDir, 0o755)
        let smtp = try #require(SMTPReceiver(folder: mailDir))
        defer { smtp.stop() }
        h.writeRules(threshold: 50, extra: """
            channel mail smtp { server "smtp://127.0.0.1:\(smtp.port)" tls "none" from "shd@test.example" to ["ops@test.example", "oncall@test.example"] }
            rule memory_mail on memory.usage {
              crit available_percent < 20
              notify mail
              summary "memory nearly gone: {available_bytes|bytes} left"
            }
            """)
        h.setAvailable(kB: 2_000_000)
        try h.start()
        #expect(h.waitFor(15) { !smtp.messages.isEmpty }, "no mail; log: \(h.log)")
        let m = try #require(smtp.messages.first)
        #expect(Set(m.recipients) == ["ops@test.example", "oncall@test.example"])
        #expect(m.raw.contains("memory_mail"))
        #expect(m.raw.contains("Message-ID:") || m.raw.contains("Message-Id:"))
        #expect(m.raw.contains("daemon-report.json"))
    }

    @Test func killedMidDeliveryDeliversTheSpooledAlertAfterRestartOnce() throws {
        let h = try DaemonHarness()
        h.receiver.defaultResponse = .hang
        h.setAvailable(kB: 2_000_000)
        try h.start()
        #expect(h.waitFor(10) { h.receiver.requests.count >= 1 }, "log: \(h.log)")
        let firstID = h.receiver.requests.first?.header("X-Shd-Notification-Id")
        #expect(firstID != nil)
        h.process!.signal(SIGKILL)
        h.process!.wait(timeout: 5)
        // Committed with the alert state in the journal (a compaction would have made it a spool file).
        #expect(runShell("test -s '\(h.state)/journal' || ls '\(h.state)/spool' | grep -q .") == 0, "nothing durable after the kill")

        h.receiver.defaultResponse = .status(200, body: "ok")
        try h.start()
        #expect(h.waitFor(10) { h.receiver.requests.count >= 2 }, "not re-delivered; log: \(h.log)")
        usleep(500_000)
        let ids = h.receiver.requests.map { $0.header("X-Shd-Notification-Id") }
        // The same notification again (receivers can drop repeats by id), and no second firing event.
        #expect(ids.allSatisfy { $0 == firstID }, "ids: \(ids)")
        #expect(h.receiver.requests.count == 2, "\(h.receiver.requests.count) requests")
        #expect(h.waitFor(5) { runShell("ls '\(h.state)/spool' | grep -q .") != 0 }, "spool not emptied")
    }
}
