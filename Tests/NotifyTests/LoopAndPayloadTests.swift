// PollHost semantics, pure payload helpers (RFC 5322 dates, header encoding), restart and reload behaviour.
import Alerting
import Kit
@testable import Notify
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct PollHostTests {
    @Test func timersFireInDeadlineOrderAndCancelledOnesDoNot() {
        let host = PollHost()
        var fired: [Int] = []
        host.addTimer(after: 0.03) { fired.append(3) }
        host.addTimer(after: 0.01) { fired.append(1) }
        let cancelled = host.addTimer(after: 0.02) { fired.append(2) }
        host.addTimer(after: 0) { fired.append(0) }
        host.cancelTimer(cancelled)
        #expect(host.run(until: { fired.count == 3 }, timeout: 1))
        #expect(fired == [0, 1, 3])
        #expect(host.timerCount == 0)
    }

    @Test func watchReportsReadinessAndUnwatchStopsIt() {
        let host = PollHost()
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var reads = 0
        host.watch(fd: fds[0], interest: .read) { ready in
            #expect(ready.contains(.read))
            var b: UInt8 = 0
            _ = read(fds[0], &b, 1)
            reads += 1
        }
        var one: UInt8 = 1
        _ = write(fds[1], &one, 1)
        #expect(host.run(until: { reads == 1 }, timeout: 1))
        host.unwatch(fd: fds[0])
        _ = write(fds[1], &one, 1)
        host.run(until: { false }, timeout: 0.05)
        #expect(reads == 1)
        #expect(host.watchCount == 0)
    }

    @Test func runGivesUpAtItsTimeout() {
        let host = PollHost()
        let start = monotonicSeconds()
        #expect(!host.run(until: { false }, timeout: 0.1))
        let took = monotonicSeconds() - start
        #expect(took >= 0.09 && took < 1)
    }
}

@Suite struct PayloadTests {
    @Test(arguments: [
        ("2026-11-25T08:00:01.123456+00:00", "Wed, 25 Nov 2026 08:00:01 +0000"),
        ("2026-11-25T09:00:01+01:00", "Wed, 25 Nov 2026 09:00:01 +0100"),
        ("2024-02-29T23:59:59-05:30", "Thu, 29 Feb 2024 23:59:59 -0530"),
        ("1970-01-01T00:00:00Z", "Thu, 1 Jan 1970 00:00:00 +0000"),
    ])
    func rfc5322Date(rfc3339: String, expected: String) throws {
        #expect(Payloads.rfc5322Date(try #require(Timestamp(rfc3339: rfc3339))) == expected)
    }

    @Test(arguments: [("https://hooks.slack.com/services/T0/B0/XyZ", "hooks.slack.com"),
                      ("http://user:pw@127.0.0.1:8080/x?y", "127.0.0.1:8080"), ("smtps://mail.example.com:465", "mail.example.com:465")])
    func logsNameTheHostOnly(url: String, host: String) {
        #expect(ChannelConfig.hostOf(url) == host)
    }

    @Test func emailBodyUsesCRLFOnly() {
        var e = sampleEvent(channels: ["m"])
        e.summary = "line one\nline two"
        let decl = channel("m", "smtp", [("server", .string("smtp://x")), ("from", .string("a@b")), ("to", .string("c@d"))])
        let config = try! ChannelConfig(decl)
        let msg = smtpKind(config).message([OutgoingAlert(id: "1-1-a", event: e)], host: "web1", reportJSON: "{}",
                                 reportPath: "/var/lib/shd/report.json", date: t0)
        for (i, b) in msg.enumerated() where b == 10 { #expect(i > 0 && msg[i - 1] == 13) }
    }
}

@Suite(.serialized) struct RestartAndReloadTests {
    /// The dispatcher disappears mid-transfer (as with SIGKILL: no shutdown, no cleanup); a new one on the
    /// same spool delivers the notification, once.
    @Test func killedMidDeliveryIsDeliveredAfterRestart() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.hang])
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { server.requests.count == 1 })
        #expect(h.spooled.count == 1)
        try h.start()  // the old Dispatcher is dropped with its transfer in flight
        #expect(h.host.watchCount == 0, "the dead dispatcher's socket left the loop")
        h.dispatcher.recoverSpool()
        #expect(h.run { h.delivered == 1 })
        h.host.run(until: { false }, timeout: 0.3)
        #expect(server.requests.count == 2, "one hung attempt, one delivery")
        #expect(server.requests[0].body == server.requests[1].body)
        #expect(h.spooled.isEmpty)
    }

    /// A channel a reload removes delivers what it owes with its last configuration (retries included), takes
    /// resolved notices but nothing new, and is forgotten once it owes nothing.
    @Test func aRemovedChannelDeliversWhatItOwesThenIsForgotten() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(503)])
        let hook = channel("hook", "webhook", [("url", .string(server.url))])
        let h = try Harness([hook], backoff: 0.5)
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { !h.outcomes.isEmpty })
        try h.dispatcher.updateChannels([channel("log", "log", [])])
        // In the reload's turn (where the daemon enqueues what the reload ended): a resolved notice goes to the
        // removed channel, a new firing does not.
        let ended = sampleEvent(.resolved, channels: ["hook"])
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"]), ended], report: sampleReport())
        #expect(h.logText.contains("routed to channel hook, which is not configured"))
        #expect(h.dispatcher.pendingCount == 2 && h.spooled.count == 2)
        #expect(h.dispatcher.channelStatuses.first { $0.name == "hook" }?.kind == nil, "listed as no longer configured")
        #expect(h.run { h.delivered == 2 })
        #expect(server.requests.count == 3, "the refused attempt, then the firing and its resolved")
        #expect(server.requests.last?.bodyText.contains("\"resolved\"") == true)
        #expect(h.dispatcher.pendingCount == 0 && h.spooled.isEmpty)
        h.host.run(until: { false }, timeout: 0.1)
        #expect(!h.dispatcher.channelStatuses.contains { $0.name == "hook" }, "forgotten")
        #expect(h.logText.contains("channel hook (removed by a reload) owes nothing more; forgotten"))
        h.dispatcher.enqueue([ended], report: sampleReport())
        #expect(h.dispatcher.pendingCount == 0, "a forgotten channel takes nothing")
        // A bad reload changes nothing.
        #expect(throws: NotifyError.self) { try h.dispatcher.updateChannels([channel("x", "pager", [])]) }
    }

    /// Notifications spooled for a channel that is not configured when the dispatcher starts stay until it is.
    @Test func spooledWorkOfAnUnconfiguredChannelWaitsForIt() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let hook = channel("hook", "webhook", [("url", .string(server.url))])
        server.defaultResponse = .status(503)
        let h = try Harness([hook], backoff: 30)
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.run { !h.outcomes.isEmpty })
        server.defaultResponse = .status(200, body: "ok")
        try h.start(channels: [channel("log", "log", [])])
        h.dispatcher.recoverSpool()
        h.host.run(until: { false }, timeout: 0.3)
        #expect(server.requests.count == 1, "not configured: nothing sent")
        #expect(h.dispatcher.pendingCount == 1 && h.spooled.count == 1, "but nothing lost")
        try h.dispatcher.updateChannels([hook])
        #expect(h.run { h.delivered == 1 })
        #expect(server.requests.count == 2)
    }
}

@Suite(.serialized) struct VolumeTests {
    /// 1,000 notifications queued while the receiver is down drain in order once it is up, each exactly once,
    /// in messages of up to 100 alerts, and the dispatcher holds only their names in memory (the payloads stay on disk until sent).
    @Test func aThousandQueuedNotificationsDrainExactlyOnce() throws {
        let probe = try LocalHTTPServer()
        let port = probe.port
        probe.stop()
        let h = try Harness([channel("hook", "webhook", [("url", .string("http://127.0.0.1:\(port)/")),
                                                         ("rate_limit", .number(100_000)), ("include_report", .bool(false))])],
                            backoff: 0.05)
        let report = sampleReport()
        let start = monotonicSeconds()
        for i in 0..<1000 { h.dispatcher.enqueue([sampleEvent(mount: "/m\(i)", channels: ["hook"])], report: report) }
        let enqueueSeconds = monotonicSeconds() - start
        #expect(h.spooled.count == 1000)
        // A sanity bound only: each entry costs an fsync, whose price depends on the disk and its load.
        #expect(enqueueSeconds < 60, "1,000 spool writes took \(enqueueSeconds) s")
        let server = try LocalHTTPServer(port: port)
        defer { server.stop() }
        #expect(h.run(timeout: 60) { h.dispatcher.pendingCount == 0 })
        let reqs = server.requests
        // The backlog travels 100 alerts a message (the webhook's batch size): the attempt in flight when the
        // receiver came up holds /m0 alone, then ten messages carry the rest.
        let perMessage = reqs.map { (try? JSONValue.parse(bytes: $0.body))?["alerts"]?.array ?? [] }
        #expect(reqs.count <= 11 && perMessage.allSatisfy { $0.count <= 100 }, "\(perMessage.map(\.count))")
        let mounts = perMessage.flatMap { $0.compactMap { $0["labels"]?["mount"]?.string } }
        #expect(mounts == (0..<1000).map { "/m\($0)" }, "in order, once each")
        #expect(h.spooled.isEmpty)
    }

    /// Enqueue → request at the receiver, on an idle loop (the budget is one tick + 20 ms).
    @Test func enqueueToReceiverLatency() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url))])])
        var worst = 0.0
        for i in 0..<5 {
            let start = monotonicSeconds()
            h.dispatcher.enqueue([sampleEvent(mount: "/l\(i)", channels: ["hook"])], report: sampleReport())
            #expect(h.run { server.requests.count == i + 1 })
            worst = max(worst, server.requests[i].receivedAt - start)
            #expect(h.run { h.dispatcher.pendingCount == 0 })
        }
        // ≈ 1 ms on an idle machine; the bound leaves room for other builds sharing two cores.
        #expect(worst < 0.2, "worst enqueue → receiver latency \(worst) s")
    }
}
