// An Alertmanager channel with several peers (`urls`): every alert to every peer, each peer its own queue, spool
// entries, retries and re-sends, so a peer that is down holds up and loses nothing of the others.
import Alerting
@testable import Notify
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct AlertmanagerPeersTests {
    /// A port nothing listens on (a receiver that is down): bound once, then closed.
    static func downPort() throws -> UInt16 {
        let s = try LocalHTTPServer()
        let p = s.port
        s.stop()
        return p
    }

    static func peers(_ urls: [String], _ extra: [(String, ConfigValue)] = []) -> ChannelDeclaration {
        channel("am", "alertmanager", [("urls", .list(urls.map { .string($0) }))] + extra)
    }

    static func alertnames(_ r: LocalHTTPServer.Request) -> [String] {
        ((try? JSONValue.parse(bytes: r.body))?.array ?? []).compactMap { $0["labels"]?["alertname"]?.string }
    }

    static func resolvedFlags(_ server: LocalHTTPServer) -> [Bool] {
        server.requests.flatMap { r in ((try? JSONValue.parse(bytes: r.body))?.array ?? []).map { $0["endsAt"] != nil } }
    }

    @Test func aDeclarationExpandsIntoOneTargetPerPeerKeyedByHostAndPort() throws {
        let c = try ChannelConfig(Self.peers(["http://10.0.0.1:9093", "http://10.0.0.2:9093/", "http://10.0.0.2:9093/am2"]))
        #expect(c.targets.map(\.name) == ["am@10.0.0.1:9093", "am@10.0.0.2:9093", "am@10.0.0.2:9093-2"])
        #expect(c.targets.map(\.channel) == ["am", "am", "am"])
        #expect(c.targets.map { ($0.kind as! AlertmanagerChannel).alertsURL }
                == ["http://10.0.0.1:9093/api/v2/alerts", "http://10.0.0.2:9093/api/v2/alerts", "http://10.0.0.2:9093/am2/api/v2/alerts"])
        // One URL, as `url` or as a list of one, is the channel itself (its spool entries keep the channel's name).
        #expect(try ChannelConfig(Self.peers(["http://10.0.0.1:9093"])).targets.map(\.name) == ["am"])
        #expect(try ChannelConfig(channel("am", "alertmanager", [("url", .string("http://10.0.0.1:9093"))])).targets.map(\.name) == ["am"])
    }

    @Test(arguments: [
        ([("urls", ConfigValue.list([]))], "option `urls` must be a list of http(s) URLs"),
        ([("urls", .list([.string("ftp://x")]))], "option `urls` must be a list of http(s) URLs"),
        ([("urls", .list([.string("http://a:1"), .string("http://a:1")]))], "option `urls` must be a list of distinct URLs (a:1 is there twice)"),
        ([("urls", .list([.string("http://a:1")])), ("url", .string("http://b:1"))], "option `urls` must be given without `url` (write one of the two)"),
        ([], "missing option `url`"),
    ])
    func badPeerListsAreRefusedNamingTheOption(options: [(String, ConfigValue)], message: String) {
        #expect(throws: NotifyError.self) { try ChannelConfig(channel("am", "alertmanager", options)) }
        do { _ = try ChannelConfig(channel("am", "alertmanager", options)) } catch {
            #expect(error.description == "test.conf:1:1: channel am: \(message)")
        }
    }

    /// Peer b is down: a gets the firing and the resolve at once, b retries on its own and gets both, in order, once
    /// it is up; neither counts as undelivered for the other.
    @Test func aPeerThatIsDownHoldsUpNoOtherAndGetsEverythingOnceUp() throws {
        let a = try LocalHTTPServer()
        defer { a.stop() }
        let bPort = try Self.downPort()
        let h = try Harness([Self.peers([a.url, "http://127.0.0.1:\(bPort)"])])
        let bName = "am@127.0.0.1:\(bPort)"
        h.dispatcher.enqueue([sampleEvent(channels: ["am"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 && h.outcomes.contains { $0.channel == bName && $0.status != .delivered } })
        h.dispatcher.enqueue([sampleEvent(.resolved, channels: ["am"])], report: sampleReport())
        // a's answer counted, not only its request received.
        #expect(h.run { h.delivered == 2 })
        #expect(a.requests.count == 2)
        #expect(Self.resolvedFlags(a) == [false, true])
        let status = Dictionary(uniqueKeysWithValues: h.dispatcher.channelStatuses.map { ($0.name, $0) })
        #expect(status["am@\(a.url.dropFirst("http://".count))"]?.queued == 0)
        #expect(status["am@\(a.url.dropFirst("http://".count))"]?.consecutiveFailures == 0)
        #expect(status[bName]?.queued == 2, "b keeps both, firing first")
        #expect((status[bName]?.consecutiveFailures ?? 0) > 0)
        #expect(status[bName]?.channel == "am")
        #expect(h.spooled.count == 2, "only b's entries are left on disk")

        let b = try LocalHTTPServer(port: bPort)
        defer { b.stop() }
        #expect(h.run(timeout: 10) { h.dispatcher.pendingCount == 0 })
        #expect(Self.resolvedFlags(b) == [false, true], "b got the firing, then the resolve")
        #expect(a.requests.count == 2, "a got nothing twice")
        #expect(h.spooled.isEmpty)
    }

    @Test func reSendsWhileFiringGoToEveryPeer() throws {
        let a = try LocalHTTPServer()
        let b = try LocalHTTPServer()
        defer { a.stop(); b.stop() }
        let h = try Harness([Self.peers([a.url, b.url], [("resend_interval", .duration(0.2))])])
        let e = sampleEvent(channels: ["am"])
        h.dispatcher.enqueue([e], report: sampleReport())
        #expect(h.run { a.requests.count == 1 && b.requests.count == 1 })
        h.host.run(until: { false }, timeout: 0.25)
        h.dispatcher.refreshFiring([e], report: sampleReport())
        #expect(h.run { a.requests.count == 2 && b.requests.count == 2 })
        #expect(Self.alertnames(a.requests[1]) == ["disk_space"])
        #expect(Self.alertnames(b.requests[1]) == ["disk_space"])
        #expect(h.run { h.dispatcher.pendingCount == 0 })
    }

    /// A restart while peer b is down: b's entry is recovered from the spool for b alone.
    @Test func aPeersPendingAlertSurvivesARestart() throws {
        let a = try LocalHTTPServer()
        defer { a.stop() }
        let bPort = try Self.downPort()
        let h = try Harness([Self.peers([a.url, "http://127.0.0.1:\(bPort)"])])
        h.dispatcher.enqueue([sampleEvent(channels: ["am"])], report: sampleReport())
        #expect(h.run { h.delivered == 1 && h.outcomes.contains { $0.status != .delivered } })
        #expect(a.requests.count == 1)
        #expect(h.spooled.count == 1)
        h.dispatcher.shutdown(grace: 0.5) {}
        h.host.run(until: { false }, timeout: 0.1)

        try h.start()
        h.dispatcher.recoverSpool()
        #expect(h.logText.contains("1 spooled notification(s) for channel am@127.0.0.1:\(bPort) recovered"))
        let b = try LocalHTTPServer(port: bPort)
        defer { b.stop() }
        #expect(h.run(timeout: 10) { h.dispatcher.pendingCount == 0 })
        #expect(b.requests.count == 1)
        #expect(Self.alertnames(b.requests[0]) == ["disk_space"])
        #expect(a.requests.count == 1, "a is not sent it again")
        #expect(h.spooled.isEmpty)
    }

    /// What was queued for the one `url` when the channel became `urls [a, b]` goes to both peers, in order.
    @Test func notificationsQueuedForTheSingleURLGoToEveryPeerAfterAReload() throws {
        let a = try LocalHTTPServer()
        defer { a.stop() }
        let bPort = try Self.downPort()
        let bURL = "http://127.0.0.1:\(bPort)"
        let h = try Harness([channel("am", "alertmanager", [("url", .string(bURL))])])
        h.dispatcher.enqueue([sampleEvent(channels: ["am"])], report: sampleReport())
        #expect(h.run { h.outcomes.contains { $0.status != .delivered } })
        h.dispatcher.enqueue([sampleEvent(.resolved, channels: ["am"])], report: sampleReport())
        #expect(h.spooled.count == 2)

        try h.dispatcher.updateChannels([Self.peers([a.url, bURL])])
        #expect(h.logText.contains("2 notification(s) queued for am, which channel am no longer has, handed to am@"))
        #expect(h.run { a.requests.count == 2 })
        #expect(Self.resolvedFlags(a) == [false, true])
        let b = try LocalHTTPServer(port: bPort)
        defer { b.stop() }
        #expect(h.run(timeout: 10) { h.dispatcher.pendingCount == 0 })
        #expect(Self.resolvedFlags(b) == [false, true])
        #expect(h.spooled.isEmpty)
        #expect(!h.dispatcher.channelStatuses.contains { $0.name == "am" }, "nothing is left for the old target")
    }

    /// The same at a restart: spooled for `url` by the old configuration, recovered by one with `urls`.
    @Test func notificationsSpooledForTheSingleURLGoToEveryPeerAfterARestart() throws {
        let a = try LocalHTTPServer()
        defer { a.stop() }
        let bURL = "http://127.0.0.1:\(try Self.downPort())"
        let before = try Harness([channel("am", "alertmanager", [("url", .string(bURL))])])
        before.dispatcher.enqueue([sampleEvent(channels: ["am"])], report: sampleReport())
        #expect(before.run { before.outcomes.contains { $0.status != .delivered } })
        before.dispatcher.shutdown(grace: 0.5) {}
        #expect(before.spooled.count == 1)

        let after = try Harness([Self.peers([a.url, bURL])], stateDir: before.stateDir)
        after.dispatcher.recoverSpool()
        #expect(after.logText.contains("1 notification(s) queued for am, which channel am no longer has"), "\(after.logText)")
        #expect(after.run { after.delivered == 1 })
        #expect(Self.alertnames(a.requests[0]) == ["disk_space"])
        #expect(after.spooled.count == 1, "the copy for b, the original removed")
        #expect(after.dispatcher.channelStatuses.first { $0.name == "am@127.0.0.1:\(bURL.split(separator: ":").last!)" }?.queued == 1)
    }

    @Test func notifyTestTriesEveryPeerAndFailsWhenOneIsDown() throws {
        let a = try LocalHTTPServer()
        defer { a.stop() }
        let bPort = try Self.downPort()
        let dir = makeTempDir("amtest")
        defer { removeTree(dir) }
        var out = ""
        let rc = NotifyTestCommand.run(channel: "am", channels: [Self.peers([a.url, "http://127.0.0.1:\(bPort)"])],
                                       stateDir: dir, hostname: "web1") { out += $0 }
        #expect(rc == 1)
        #expect(out.contains("channel am@\(a.url.dropFirst("http://".count)): delivered"), "\(out)")
        #expect(out.contains("channel am@127.0.0.1:\(bPort): failed"), "\(out)")
        #expect(a.requests.count == 1)
    }
}
