// libcurl is loaded on demand: what a channel does when it cannot be loaded, and that loading is idempotent.
import Alerting
@testable import Notify
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct CurlLoadingTests {
    static let missing = "libcurl.so.4: cannot open shared object file: No such file or directory \u{2014} install libcurl4"

    @Test func loadingTwiceSucceedsOnThisHost() {
        #expect(CurlLibrary.load() == nil)
        #expect(CurlLibrary.load() == nil)
        #expect(CurlLibrary.isLoaded)
    }

    @Test func aWebhookWithoutLibcurlKeepsItsNotificationSpooledAndSaysWhy() throws {
        let stateDir = makeTempDir("nocurl")
        defer { removeTree(stateDir) }
        let host = PollHost()
        let log = MemoryLog()
        var outcomes: [DeliveryOutcome] = []
        var loads = 0
        let d = try Dispatcher(channels: [channel("hook", "webhook", [("url", .string("http://127.0.0.1:9/hook"))])],
                               spoolDirectory: stateDir + "/spool", host: host, log: log, hostname: "web1",
                               options: DispatcherOptions(backoffBase: 0.05, backoffCap: 0.1, jitter: 0,
                                                          onOutcome: { outcomes.append($0) },
                                                          loadCurl: { loads += 1; return Self.missing }))
        let text = { log.lines.map(\.1).joined(separator: "\n") }
        #expect(loads == 1, "a webhook channel loads libcurl when the dispatcher is made")
        #expect(text().contains("channel hook cannot send: \(Self.missing)"), "log: \(text())")

        d.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(host.run(until: { outcomes.count >= 2 }, timeout: 5))
        for o in outcomes {
            #expect(o.status != .delivered && o.status != .failed && o.status != .expired, "\(o)")
            #expect(o.detail == Self.missing)
        }
        #expect(loads >= 3, "every attempt tries to load libcurl again")
        #expect(listDir(stateDir + "/spool").filter { $0.hasSuffix(".spool") }.count == 1, "the notification stays spooled")
        #expect(d.pendingCount == 1)
    }

    @Test func logAndExecChannelsNeverLoadLibcurl() throws {
        let stateDir = makeTempDir("nocurl")
        defer { removeTree(stateDir) }
        let host = PollHost()
        var outcomes: [DeliveryOutcome] = []
        var loads = 0
        let d = try Dispatcher(channels: [channel("ops", "log", []),
                                          channel("run", "exec", [("command", .list([.string("/bin/true")]))])],
                               spoolDirectory: stateDir + "/spool", host: host, log: MemoryLog(), hostname: "web1",
                               options: DispatcherOptions(onOutcome: { outcomes.append($0) },
                                                          loadCurl: { loads += 1; return Self.missing }))
        d.enqueue([sampleEvent(channels: ["ops", "run"])], report: sampleReport())
        #expect(host.run(until: { !outcomes.isEmpty }, timeout: 5))
        #expect(outcomes.first?.status == .delivered)
        try d.updateChannels([channel("ops", "log", [])])
        #expect(loads == 0)
    }
}
