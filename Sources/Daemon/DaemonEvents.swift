// Event sources on the daemon's loop: entries in, the engine's event rules, transitions committed like a tick's.
#if canImport(Glibc)
import Glibc
#endif
import Kit
import Reports
import Rules

/// A source's rate limit, and the dropped entries already logged and when (the warning comes at most once a minute).
struct EventAdmission {
    var limit: EventRateLimit
    var logged = (count: 0, at: -1e9)
}

enum DaemonEvents {
    /// Entries per second one source may hand the engine; more are dropped and counted (a log storm stays one
    /// alert with a growing count, and must not take a core). `SHD_TEST_EVENT_RATE=N` in the environment sets
    /// another limit, `0` none: scripts/bench-journal measures what matching costs per entry without it.
    static let entriesPerSecond: Double = {
        guard let v = getenv("SHD_TEST_EVENT_RATE").flatMap({ Double(String(cString: $0)) }), v >= 0 else { return 20_000 }
        return v == 0 ? .infinity : v
    }()

    /// How long a backlog's transitions wait for their commit at most (`Daemon.deliverEntries`): an alert in a
    /// backlog reaches its channels this much later at most (scripts/bench-journal's 350,000 entries: 18 commits
    /// instead of 85, 14 % less CPU).
    static let backlogCommitDelay = 0.1

    /// How long the journal's descriptor stays out of the loop after a read that found entries (`readJournal`): an
    /// entry reaches the rules at most this much later; a journal written at 10,000 entries a second wakes shd 100
    /// times a second instead of thousands.
    static let followPause = 0.01
}

extension Daemon {
    /// Opens the journal (or, without libsystemd or a journal, the kernel log) while some event rule reads the
    /// `journal` source; closes it when none does; reopens the journal when a reload changed the matches.
    /// `SHD_TEST_KMSG=PATH` reads kmsg records from a FIFO, `SHD_TEST_JOURNAL_FILE=PATH` one journal file or a
    /// directory of them (tests); `SHD_TEST_JOURNAL_HEAD=1` starts at its first entry when no cursor was saved
    /// (scripts/bench-journal reads a journal file written beforehand).
    func startEventSources() {
        guard engine.eventSources.contains("journal") else {
            stopEventSources()
            return
        }
        let matches = engine.journalMatches
        let key = matches.map { "\($0.map { $0.map { "\($0.field)=\($0.values)" } })" } ?? "*"
        if kmsg != nil || (journal != nil && key == journalMatchesKey) { return }
        stopEventSources()
        let testKmsg = getenv("SHD_TEST_KMSG").map { String(cString: $0) }
        if testKmsg == nil {
            let file = getenv("SHD_TEST_JOURNAL_FILE").map { String(cString: $0) }
            do {
                let head = file != nil && getenv("SHD_TEST_JOURNAL_HEAD").map { String(cString: $0) == "1" } == true
                let j = try JournalSource(file: file, matches: matches, cursor: journalCursor, fromHead: head) { [unowned self] in
                    self.log.notice("journal: " + $0)
                }
                journal = j
                journalMatchesKey = key
                watchJournal(j)
                log.notice("event rules read the journal" + (file.map { " file \($0)" } ?? "")
                    + (matches.map { " (\($0.count) library match group(s))" } ?? " (every entry)")
                    + (journalCursor != nil ? ", resuming after the saved cursor" : head ? ", from its first entry" : ", from its end"))
                // Entries written between the saved cursor and now are there already.
                loop.runSoon { [unowned self] in self.readJournal() }
                return
            } catch {
                log.warning("event rules cannot read the journal (\(error)); reading kernel messages from /dev/kmsg instead (service lines are not seen)")
            }
        }
        let path = testKmsg ?? "/dev/kmsg"
        do {
            let k = try KmsgSource(path: path)
            kmsg = k
            loop.watch(fd: k.fd, interest: .read) { [unowned self] _ in self.readKernelLog() }
            log.notice("event rules read kernel messages from \(path)")
        } catch {
            log.error("event rules on journal have no kernel messages: \(error) (shd needs read access to /dev/kmsg: CAP_SYSLOG or kernel.dmesg_restrict=0)")
        }
    }

    /// The event rules' sources as `shd status` shows them (`sources`, docs/control.md): the journal or the kernel log
    /// with the entries read, then each followed file path (``FileTails/statuses()``). A source some rule reads that
    /// could not be opened is listed with its problem.
    func eventSourceStatuses() -> JSONValue {
        var out: [JSONValue] = []
        if engine.eventSources.contains("journal") {
            var o = JSONObject()
            if let j = journal {
                o.append("source", "journal")
                o.append("entries", .int(Int64(j.entriesRead)))
                o.append("problem", .null)
            } else if let k = kmsg {
                o.append("source", "kmsg")
                o.append("path", .string(k.path))
                o.append("entries", .int(Int64(k.entriesRead)))
                o.append("lost", .int(Int64(k.lost)))
                o.append("problem", .null)
            } else {
                o.append("source", "journal")
                o.append("entries", 0)
                o.append("problem", "neither the journal nor the kernel log could be opened (the log says why); journal rules see nothing")
            }
            out.append(.object(o))
        }
        out += fileTails?.statuses() ?? []
        return .array(out)
    }

    func stopEventSources() {
        if let k = kmsg {
            loop.unwatch(fd: k.fd)
            kmsg = nil
        }
        if let j = journal {
            journalCursor = j.cursor ?? journalCursor
            loop.unwatch(fd: j.fd)
            journal = nil
        }
        if let t = journalPause {
            loop.cancelTimer(t)
            journalPause = nil
        }
    }

    /// Follows the files the `file` rules name (FileTails.swift) while some rule does; the first time with the offsets
    /// saved with the alert state. Closes them when no rule reads a file any more.
    func startFileSources() {
        let paths = engine.filePatterns
        guard !paths.isEmpty else {
            if let t = fileTails {
                t.close()
                fileTails = nil
                log.notice("no rule reads a file any more: file tails closed")
            }
            fileTailState = nil
            return
        }
        if fileTails == nil {
            do {
                fileTails = try FileTails(loop: loop, log: log, saved: fileTailState) { [unowned self] in
                    self.deliverEntries($0, source: "file", lost: 0)
                }
            } catch {
                log.error("event rules on files read nothing: \(error)")
                return
            }
            log.notice("event rules read \(paths.count) file path(s): " + paths.map(\.path).joined(separator: ", "))
            // At start, in the loop's first turn (as the journal's first read): the state is restored, the dispatcher ready.
            loop.runSoon { [unowned self] in self.fileTails?.configure(self.engine.filePatterns) }
            return
        }
        fileTails?.configure(paths)
    }

    func watchJournal(_ j: JournalSource) {
        loop.watch(fd: j.fd, interest: .read) { [unowned self] _ in self.readJournal() }
    }

    /// New journal entries, at most 2,000 per loop turn (the rest in the next turn: other sources are not starved).
    /// After a read that found entries and no more, the journal's descriptor leaves the loop for
    /// `DaemonEvents.followPause`, then the entries written meanwhile are read at once: a writer appending entry by
    /// entry wakes shd at most every pause, not at every entry.
    func readJournal() {
        guard let j = journal, journalPause == nil else { return }
        let (entries, more) = j.read(limit: 2000)
        deliverEntries(entries, source: "journal", lost: 0, backlog: more)
        if more {
            loop.runSoon { [unowned self] in self.readJournal() }
        } else if !entries.isEmpty {
            loop.unwatch(fd: j.fd)
            journalPause = loop.addTimer(after: DaemonEvents.followPause) { [unowned self] in
                self.journalPause = nil
                guard let now = self.journal, now === j else { return }
                self.watchJournal(j)
                self.readJournal()
            }
        }
    }

    /// Records available on the kernel log: through the rate limit into the engine; transitions are committed.
    func readKernelLog() {
        guard let k = kmsg else { return }
        deliverEntries(k.readAvailable(now: .now()), source: "kernel log", lost: k.lost)
    }

    /// Entries of a source through its rate limit into the engine; transitions are committed like a tick's. The
    /// journal (or kernel log) and the files each have their own limit. In a `backlog` (more entries are waiting:
    /// after a restart, or reading a burst) the transitions are held and committed together after
    /// `backlogCommitDelay`, by the batch that ends the backlog, or by any other commit first: one fdatasync and one
    /// state for many batches of 2,000 instead of one each (the whole alert state is written at every commit).
    func deliverEntries(_ read: [EventEntry], source: String, lost: Int, backlog: Bool = false) {
        guard !read.isEmpty else { return }
        let mono = monotonicSeconds()
        let key = read[0].source
        var a = eventAdmission[key] ?? EventAdmission(limit: EventRateLimit(perSecond: DaemonEvents.entriesPerSecond, now: mono))
        var entries = read
        entries.removeAll { _ in !a.limit.admit(now: mono) }
        if a.limit.dropped > a.logged.count, mono - a.logged.at >= 60 {
            log.warning("\(source): dropped \(a.limit.dropped - a.logged.count) entries over the rate limit of \(Int(DaemonEvents.entriesPerSecond))/s (\(a.limit.dropped) since start" + (lost > 0 ? ", \(lost) overwritten before shd read them)" : ")"))
            a.logged = (a.limit.dropped, mono)
        }
        eventAdmission[key] = a
        guard !entries.isEmpty else { return }
        let events = engine.ingest(entries, now: .now())
        recordEngineNotes()
        if backlog && !events.isEmpty {
            heldEvents += events
            if heldCommit == nil {
                heldCommit = loop.addTimer(after: DaemonEvents.backlogCommitDelay) { [unowned self] in
                    self.heldCommit = nil
                    self.announce([])
                    self.flushAlertLog()
                }
            }
            return
        }
        if !events.isEmpty || !heldEvents.isEmpty {
            announce(events, always: true)
            flushAlertLog()
        }
    }
}
