// A transition already waiting in a channel's queue is not queued twice (restart after a kill).
import Testing
import Reports
import Rules
import TestSupport
@testable import Notify

@Suite struct QueueDedupTests {
    @Test func aRepeatedFiringOfAQueuedAlertIsNotQueuedTwiceButAResolveAndReFireAre() throws {
        let down = try LocalHTTPServer()
        let port = down.port
        down.stop()
        let h = try Harness([channel("hook", "webhook", [("url", .string("http://127.0.0.1:\(port)/hook"))])])
        // What a restarted engine without its state does: the same alert fires again, later.
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        var again = sampleEvent(channels: ["hook"])
        again.startsAt = again.startsAt.adding(seconds: 30)
        h.dispatcher.enqueue([again], report: sampleReport())
        #expect(h.spooled.count == 1, "queued twice: \(h.spooled)")
        #expect(h.logText.contains("not queued twice"))
        // A different severity, a resolve and a new firing are real transitions.
        h.dispatcher.enqueue([sampleEvent(.escalated, severity: .warn, channels: ["hook"])], report: sampleReport())
        h.dispatcher.enqueue([sampleEvent(.resolved, severity: .warn, channels: ["hook"])], report: sampleReport())
        h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(h.spooled.count == 4)
        // Another instance of the rule is another alert.
        h.dispatcher.enqueue([sampleEvent(mount: "/home", channels: ["hook"])], report: sampleReport())
        #expect(h.spooled.count == 5)
    }

    @Test func aTransitionRecoveredFromTheSpoolIsNotSentAgainEvenOnceDelivered() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let decl = [channel("hook", "webhook", [("url", .string(server.url + "/hook"))])]
        let stateDir = makeTempDir()
        defer { removeTree(stateDir) }
        // A spool left by a daemon killed before it saved its alert state.
        try FileIO.makeDirectories(stateDir + "/spool")
        do {
            let down = try LocalHTTPServer()
            let port = down.port
            down.stop()
            let h = try Harness([channel("hook", "webhook", [("url", .string("http://127.0.0.1:\(port)/hook"))])], stateDir: stateDir + "/a")
            h.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
            for f in h.spooled { try FileIO.writeAtomically(stateDir + "/spool/" + f, FileIO.read(h.spoolDir + "/" + f)) }
        }
        let h = try Harness(decl, stateDir: stateDir)
        h.dispatcher.recoverSpool()
        #expect(h.run { h.delivered == 1 })
        // The restarted engine, without the saved state, raises the same transition again.
        var again = sampleEvent(channels: ["hook"])
        again.startsAt = again.startsAt.adding(seconds: 5)
        h.dispatcher.enqueue([again], report: sampleReport())
        h.host.run(until: { false }, timeout: 0.3)
        #expect(server.requests.count == 1, "sent twice")
    }
}
