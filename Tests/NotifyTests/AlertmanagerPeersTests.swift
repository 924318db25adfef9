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
        #expect(c.targets().map(\.name) == ["am@10.0.0.1:9093", "am@10.0.0.2:9093", "am@10.0.0.2:9093-2"])
        #expect(c.targets().map(\.channel) == ["am", "am", "am"])
        #expect(c.targets().map { ($0.kind as! AlertmanagerChannel).alertsURL }
                == ["http://10.0.0.1:9093/api/v2/alerts", "http://10.0.0.2:9093/api/v2/alerts", "http://10.0.0.2:9093/am2/api/v2/alerts"])
        // One URL, as `url` or as a list of one, is the channel itself (its spool entries keep the channel's name).
        #expect(try ChannelConfig(Self.peers(["http://10.0.0.1:9093"])).targets().map(\.name) == ["am"])
        #expect(try ChannelConfig(channel("am", "alertmanager", [("url", .string("http://10.0.0.1:9093"))])).targets().map(\.name) == ["am"])
    }

    static func resolving(_ url: String, _ extra: [(String, ConfigValue)] = []) -> ChannelDeclaration {
        channel("am", "alertmanager", [("url", .string(url)), ("resolve_peers", .bool(true))] + extra)
    }

    /// `resolve_peers`: one peer per address of the name, keyed by address and port, each connecting to its address
    /// while the URL (Host header, TLS name) keeps the name; until the name is resolved, one peer by the name.
    @Test func aResolvedNameIsOnePeerPerAddressThatKeepsTheName() throws {
        let c = try ChannelConfig(Self.resolving("https://am.example:9093/"))
        #expect(c.targets().map(\.name) == ["am"], "not resolved yet: the channel itself, by name")
        #expect(c.kind.lookups.map(\.host) == ["am.example"])
        #expect(c.kind.lookups.map(\.every) == [30])
        let t = c.targets(resolved: ["am.example": ["10.0.0.2", "2001:db8::1"]])
        #expect(t.map(\.name) == ["am@10.0.0.2:9093", "am@[2001:db8::1]:9093"])
        let peers = t.map { $0.kind as! AlertmanagerChannel }
        #expect(peers.map(\.alertsURL) == ["https://am.example:9093/api/v2/alerts", "https://am.example:9093/api/v2/alerts"])
        #expect(peers.map(\.target) == ["am.example:9093 at 10.0.0.2:9093", "am.example:9093 at [2001:db8::1]:9093"])
        #expect(peers[0].resend([sampleEvent(channels: ["am"])], host: "h", t[0])?.connectTo == "::10.0.0.2:9093")
        #expect(peers[1].resend([sampleEvent(channels: ["am"])], host: "h", t[1])?.connectTo == "::[2001:db8::1]:9093")
        // One address is still a peer of its own (it is keyed by its address, as it will be when a second appears).
        #expect(c.targets(resolved: ["am.example": ["10.0.0.2"]]).map(\.name) == ["am@10.0.0.2:9093"])
        // The scheme's port when the URL has none; every URL of a list is resolved.
        #expect(try ChannelConfig(Self.resolving("https://am.example")).targets(resolved: ["am.example": ["10.0.0.1"]]).map(\.name)
                == ["am@10.0.0.1:443"])
        let list = try ChannelConfig(Self.peers(["http://a.example:9093", "http://10.0.0.9:9093"], [("resolve_peers", .bool(true))]))
        #expect(list.kind.lookups.map(\.host) == ["a.example", "10.0.0.9"])
        #expect(list.targets(resolved: ["a.example": ["10.0.0.1", "10.0.0.2"]]).map(\.name)
                == ["am@10.0.0.1:9093", "am@10.0.0.2:9093", "am@10.0.0.9:9093"])
        // Without resolve_peers nothing is looked up and addresses change nothing.
        let plain = try ChannelConfig(channel("am", "alertmanager", [("url", .string("http://am.example:9093"))]))
        #expect(plain.kind.lookups.isEmpty)
        #expect(plain.targets(resolved: ["am.example": ["10.0.0.1", "10.0.0.2"]]).map(\.name) == ["am"])
        #expect(plain.targets().first.map { ($0.kind as! AlertmanagerChannel).resend([sampleEvent(channels: ["am"])], host: "h", $0)?.connectTo } == .some(nil))
    }

    /// The lookup runs off the loop (getaddrinfo: /etc/hosts here) and the channel's targets follow its answer; the
    /// request goes to the address with the name in its Host header.
    @Test func aNameIsLookedUpOffTheLoopAndItsPeersGetTheAlert() throws {
        let a = try LocalHTTPServer()
        defer { a.stop() }
        let h = try Harness([Self.resolving("http://localhost:\(a.port)")])
        let peer = "am@127.0.0.1:\(a.port)"
        #expect(h.run(timeout: 30) { h.dispatcher.targets(of: "am").contains(peer) }, "\(h.logText)")
        #expect(h.logText.contains("resolve_peers: localhost is "))
        h.dispatcher.enqueue([sampleEvent(channels: ["am"])], report: sampleReport())
        #expect(h.run { a.requests.count == 1 })
        #expect(a.requests.first?.header("Host") == "localhost:\(a.port)")
        #expect(a.requests.first?.path == "/api/v2/alerts")
    }

    /// A name that does not resolve: one warning, and the channel stays one peer by its name (libcurl tries the
    /// name again at each attempt); nothing is dropped.
    @Test func aNameThatDoesNotResolveStaysOnePeerByName() throws {
        let h = try Harness([Self.resolving("http://no-such-host.invalid:9093", [("resolve_interval", .duration(1))])])
        #expect(h.run(timeout: 30) { h.logText.contains("resolve_peers: cannot look up no-such-host.invalid (") }, "\(h.logText)")
        #expect(h.logText.contains("sending to no-such-host.invalid as one peer"))
        h.host.run(until: { false }, timeout: 1.5)
        #expect(h.logText.ranges(of: "cannot look up").count == 1, "the same failure is logged once")
        #expect(h.dispatcher.targets(of: "am") == ["am"])
    }

    /// The spool of a restart holds a notification for a peer the name resolved to last time (`am@ADDR:PORT`); this
    /// time the name does not resolve: the notification goes to the one peer by name at recovery, it does not wait for
    /// the name to resolve again.
    @Test func peersOfTheLastRunAreHandedToTheNameWhenTheNameNoLongerResolves() throws {
        let ports = [try Self.downPort(), try Self.downPort()]
        let peers = ports.map { "am@127.0.0.1:\($0)" }
        let before = try Harness([Self.peers(ports.map { "http://127.0.0.1:\($0)" })])
        before.dispatcher.enqueue([sampleEvent(channels: ["am"])], report: sampleReport())
        #expect(before.run { Set(before.outcomes.filter { $0.status != .delivered }.map(\.channel)) == Set(peers) })
        before.dispatcher.shutdown(grace: 0.5) {}
        #expect(before.spooled.count == 2)

        let after = try Harness([Self.resolving("http://no-such-host.invalid:\(ports[0])", [("resolve_interval", .duration(1))])],
                                stateDir: before.stateDir)
        after.dispatcher.recoverSpool()
        #expect(after.run(timeout: 30) { after.logText.contains("resolve_peers: cannot look up no-such-host.invalid (") })
        for p in peers {
            #expect(after.logText.contains("1 notification(s) queued for \(p), which channel am no longer has, handed to am"),
                    "\(after.logText)")
        }
        #expect(!after.dispatcher.channelStatuses.contains { $0.name.hasPrefix("am@") }, "the old peers owe nothing now")
        #expect(after.dispatcher.channelStatuses.first { $0.name == "am" }?.queued == 2)
        #expect(after.spooled.count == 2, "the copies for the name, the originals removed")
    }

    @Test(arguments: [
        ([("urls", ConfigValue.list([]))], "option `urls` must be a list of http(s) URLs"),
        ([("urls", .list([.string("ftp://x")]))], "option `urls` must be a list of http(s) URLs"),
        ([("urls", .list([.string("http://a:1"), .string("http://a:1")]))], "option `urls` must be a list of distinct URLs (a:1 is there twice)"),
        ([("urls", .list([.string("http://a:1")])), ("url", .string("http://b:1"))], "option `urls` must be given without `url` (write one of the two)"),
        ([], "missing option `url`"),
        ([("url", .string("http://a:1")), ("resolve_interval", .duration(0.5))], "option `resolve_interval` must be a duration of 1s to 1d"),
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

    /// `shd notify test` of a `resolve_peers` channel waits for the lookup and tries each address, not the name.
    @Test func notifyTestTriesEveryAddressOfAResolvedName() throws {
        let a = try LocalHTTPServer()
        defer { a.stop() }
        let dir = makeTempDir("amtest")
        defer { removeTree(dir) }
        var out = ""
        _ = NotifyTestCommand.run(channel: "am", channels: [Self.resolving("http://localhost:\(a.port)")],
                                  stateDir: dir, hostname: "web1") { out += $0 }
        #expect(out.contains("channel am@127.0.0.1:\(a.port): delivered"), "\(out)")
        #expect(!out.contains("channel am: "), "\(out)")
        #expect(a.requests.first?.header("Host") == "localhost:\(a.port)")
    }
}
