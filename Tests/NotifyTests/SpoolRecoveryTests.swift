// Recovery after a kill: true creation order, a partly deleted batch, stable per-alert ids, and the commit journal.
import Alerting
import Kit
import Reports
import TestSupport
import Testing
@testable import Notify
#if canImport(Glibc)
import Glibc
#endif

/// The alerts of a webhook message: (per-alert id, kind, mount).
private func alerts(_ r: LocalHTTPServer.Request) -> [(id: String, kind: String, mount: String)] {
    ((try? JSONValue.parse(bytes: r.body))?["alerts"]?.array ?? []).map {
        ($0["id"]?.string ?? "", $0["kind"]?.string ?? "", $0["labels"]?["mount"]?.string ?? "")
    }
}

@Suite(.serialized) struct SpoolRecoveryTests {
    /// Ids made in one `enqueue` share their microseconds and differ by counter: `…-10-…` sorts before `…-2-…`
    /// as a string. Recovery must follow creation order, or a resolved goes out before its firing.
    @Test func recoveryFollowsCreationOrderNotTheStringOrderOfIds() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let dir = makeTempDir()
        try AtomicFile.makeDirectories(dir + "/spool", mode: 0o700, parentMode: 0o755)
        let spool = try Spool(directory: dir + "/spool")
        var made: [(SpoolEntry, [UInt8])] = []
        let now = Timestamp.now()  // within the channel's TTL
        for i in 1...10 {
            let kind: AlertEvent.Kind = i == 10 ? .resolved : .firing
            made.append(spool.encode(channel: "hook", batch: "b1", event: sampleEvent(kind, channels: ["hook"]),
                                     reportText: "null", now: now))
        }
        let (second, tenth) = (made[1], made[9])
        #expect(second.0.id.contains("-2-") && tenth.0.id.contains("-10-"))
        #expect(tenth.0.id < second.0.id, "the ids do not show the string-order trap")
        for (e, bytes) in [tenth, second] { try AtomicFile.write(e.path, bytes, mode: 0o600) }

        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url + "/hook"))])], stateDir: dir)
        h.dispatcher.recoverSpool()
        #expect(h.run { h.delivered == 2 })
        // Two transitions of one alert: two messages, the firing (-2-) first.
        let got = server.requests.flatMap(alerts)
        #expect(got.map(\.id) == [second.0.id, tenth.0.id], "\(got)")
        #expect(got.map(\.kind) == ["firing", "resolved"])
    }

    /// A kill in the middle of deleting a delivered batch leaves part of it: the restart sends exactly what is
    /// still spooled, with the alerts' original ids, under a message id derived from those ids.
    @Test func aPartlyDeletedBatchIsResentAsTheAlertsStillSpooledWithTheirIds() throws {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let dir = makeTempDir()
        try AtomicFile.makeDirectories(dir + "/spool", mode: 0o700, parentMode: 0o755)
        var ids: [String: String] = [:]  // mount → id
        do {
            let down = try LocalHTTPServer()
            let port = down.port
            down.stop()
            let h = try Harness([channel("hook", "webhook", [("url", .string("http://127.0.0.1:\(port)/hook"))])],
                                stateDir: dir + "/first")
            h.dispatcher.enqueue(["/a", "/b", "/c"].map { sampleEvent(mount: $0, channels: ["hook"]) }, report: sampleReport())
            #expect(h.spooled.count == 3)
            for f in h.spooled {
                let bytes = try readWholeFile(h.spoolDir + "/" + f)
                let (entry, event, _) = try Spool.parse(bytes)
                ids[event.labels["mount"]!] = entry.id
                // The kill came after /b's file was unlinked.
                if event.labels["mount"] != "/b" { try AtomicFile.write(dir + "/spool/" + f, bytes, mode: 0o600) }
            }
        }
        let h = try Harness([channel("hook", "webhook", [("url", .string(server.url + "/hook"))])], stateDir: dir)
        h.dispatcher.recoverSpool()
        #expect(h.run { h.delivered == 1 })
        try #require(server.requests.count == 1)
        let r = server.requests[0]
        let got = alerts(r)
        #expect(got.map(\.mount) == ["/a", "/c"])
        #expect(got.map(\.id) == [ids["/a"]!, ids["/c"]!], "new ids for old alerts: \(got) vs \(ids)")
        let body = try JSONValue.parse(bytes: r.body)
        let messageID = Payloads.messageID([ids["/a"]!, ids["/c"]!])
        #expect(body["id"]?.string == messageID && r.header("X-Shd-Notification-Id") == messageID)
        #expect(messageID.hasPrefix("m-") && messageID.count == 34)
        #expect(h.spooled.isEmpty)
    }

    @Test func aMessagesIdDependsOnlyOnItsAlertsIds() {
        #expect(Payloads.messageID(["x"]) == "x")
        #expect(Payloads.messageID(["x", "y"]) == Payloads.messageID(["x", "y"]))
        #expect(Payloads.messageID(["x", "y"]) != Payloads.messageID(["y", "x"]))
        #expect(Payloads.messageID(["x", "y"]) != Payloads.messageID(["x", "y", "z"]))
        let mail = String(decoding: smtpKind(try! ChannelConfig(channel("m", "smtp", [
                                                       ("server", .string("smtp://127.0.0.1:25")), ("from", .string("a@b")),
                                                       ("to", .string("c@d")), ("tls", .string("none"))]))).message([OutgoingAlert(id: "a1", event: sampleEvent(channels: [])),
                                                    OutgoingAlert(id: "a2", event: sampleEvent(mount: "/h", channels: []))], host: "web1", reportJSON: "{}", reportPath: "/r", date: t0), as: UTF8.self)
        #expect(mail.contains("Message-ID: <\(Payloads.messageID(["a1", "a2"]))@web1>"))
        #expect(mail.contains("X-Shd-Alert-Ids: a1, a2") && mail.contains("Notification-Id: a1") && mail.contains("Notification-Id: a2"))
    }
}

@Suite(.serialized) struct JournalTests {
    func lines(_ spool: Spool, _ mounts: [String]) -> [(SpoolEntry, [UInt8])] {
        mounts.map { spool.encode(channel: "hook", batch: "b", event: sampleEvent(mount: $0, channels: ["hook"]), reportText: "null", now: t0) }
    }

    /// Commits, a done record, then a commit torn by a kill mid-write: recovery keeps the complete commits,
    /// drops the delivered entry, cuts the torn tail off, and reports the newest committed state.
    @Test func recoveryKeepsCompleteCommitsAndCutsATornTail() throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let spool = try Spool(directory: dir + "/spool")
        let j = try Journal(directory: dir)
        let first = lines(spool, ["/a", "/b"])
        guard case .success = j.commit(lines: first.map(\.1), state: ["n": 1]) else { Issue.record("commit 1"); return }
        let second = lines(spool, ["/c"])
        guard case .success(let ranges) = j.commit(lines: second.map(\.1), state: ["n": 2]) else { Issue.record("commit 2"); return }
        j.markDone([first[0].0.id])
        let good = j.size
        let back = try j.read(ranges[0])
        #expect(back == second[0].1)
        // A third commit whose write stopped half-way: its entry line is there, its commit line is not whole.
        let fd = open(dir + "/journal", O_WRONLY | O_APPEND)
        let torn = Array(lines(spool, ["/d"])[0].1) + Array("\n{\"commit\":3,\"entries\":1,\"sta".utf8)
        _ = torn.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)

        let again = try Journal(directory: dir)
        let r = again.recover(committedThrough: 0)
        #expect(r.state == ["n": 2])
        #expect(r.entries.map(\.id) == [first[1].0.id, second[0].0.id])
        #expect(r.done == [first[0].0.id])
        #expect(r.discardedBytes == torn.count)
        let onDisk = try readWholeFile(dir + "/journal")
        #expect(again.size == good && onDisk.count == good)
        #expect(again.seq == 2)
        // Commits already in state.json (a compaction whose truncation was lost) are skipped.
        let compacted = try Journal(directory: dir).recover(committedThrough: 2)
        #expect(compacted.state == nil && compacted.entries.isEmpty)
    }

    /// A commit line whose number or entry count is not a whole Int64 (a damaged disk, a hand edit) ends the good part
    /// as a torn one does: recovery keeps the commit before it and never traps (`Int64(1e300)` did, at every start).
    @Test(arguments: ["1e300", "-1e300", "1.5", "\"x\"", "null"])
    func aCommitNumberThatIsNotAWholeNumberEndsTheGoodPart(_ number: String) throws {
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let spool = try Spool(directory: dir + "/spool")
        let j = try Journal(directory: dir)
        let first = lines(spool, ["/a"])
        guard case .success = j.commit(lines: first.map(\.1), state: ["n": 1]) else { Issue.record("commit 1"); return }
        let good = j.size
        let fd = open(dir + "/journal", O_WRONLY | O_APPEND)
        let bad = Array(lines(spool, ["/b"])[0].1) + Array("\n{\"commit\":\(number),\"entries\":1,\"state\":{\"n\":2}}\n".utf8)
        _ = bad.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let r = try Journal(directory: dir).recover(committedThrough: 0)
        #expect(r.state == ["n": 1])
        #expect(r.entries.map(\.id) == [first[0].0.id])
        #expect(r.discardedBytes == bad.count)
        #expect(try readWholeFile(dir + "/journal").count == good)
    }

    /// The daemon's path: enqueue with a state is one commit; compaction turns the pending entries into spool
    /// files and state.json (with the commit number) and empties the journal; a restart finds them there.
    @Test func aCommitThenACompactionThenARestartLoseNothing() throws {
        let down = try LocalHTTPServer()
        let port = down.port
        down.stop()
        let dir = makeTempDir()
        defer { removeTree(dir) }
        let log = MemoryLog()
        let host = PollHost()
        let decl = [channel("hook", "webhook", [("url", .string("http://127.0.0.1:\(port)/hook"))])]
        let options = DispatcherOptions(backoffBase: 10, journalDirectory: dir)
        var d: Dispatcher? = try Dispatcher(channels: decl, spoolDirectory: dir + "/spool", host: host, log: log,
                                            hostname: "web1", options: options)
        #expect(d!.recoverSpool() == nil)
        #expect(d!.enqueue([sampleEvent(channels: ["hook"]), sampleEvent(mount: "/home", channels: ["hook"])],
                           report: sampleReport(), state: ["engine": ["n": 1]]) == nil)
        #expect(listDir(dir + "/spool").isEmpty, "the entries live in the journal until a compaction")
        #expect(!d!.journalIsEmpty)
        // A restart without a compaction (a kill) gets the committed state back.
        d = try Dispatcher(channels: decl, spoolDirectory: dir + "/spool", host: host, log: log, hostname: "web1", options: options)
        #expect(d!.recoverSpool() == ["engine": ["n": 1]])
        #expect(d!.pendingCount == 2)
        #expect(d!.compact(state: ["engine": ["n": 2]]) == nil)
        #expect(d!.journalIsEmpty)
        #expect(listDir(dir + "/spool").filter { $0.hasSuffix(".spool") }.count == 2)
        let state = try JSONValue.parse(bytes: readWholeFile(dir + "/state.json"))
        #expect(state["commit"]?.number == 1 && state["engine"]?["n"]?.number == 2)
        d = try Dispatcher(channels: decl, spoolDirectory: dir + "/spool", host: host, log: log, hostname: "web1", options: options)
        #expect(d!.recoverSpool(committedThrough: 1) == nil)
        #expect(d!.pendingCount == 2)
    }
}
