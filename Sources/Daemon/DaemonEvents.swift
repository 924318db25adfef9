// Event sources on the daemon's loop: entries in, the engine's event rules, transitions committed like a tick's.
#if canImport(Glibc)
import Glibc
#endif
import Kit
import Reports
import Rules

enum DaemonEvents {
    /// Entries per second one source may hand the engine; more are dropped and counted (a log storm stays one
    /// alert with a growing count, and must not take a core).
    static let entriesPerSecond = 20_000.0
}

extension Daemon {
    /// Opens the journal (or, without libsystemd or a journal, the kernel log) while some event rule reads the
    /// `journal` source; closes it when none does; reopens the journal when a reload changed the matches.
    /// `SHD_TEST_KMSG=PATH` reads kmsg records from a FIFO, `SHD_TEST_JOURNAL_FILE=PATH` one journal file (tests).
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
                let j = try JournalSource(file: file, matches: matches, cursor: journalCursor) { [unowned self] in self.log.notice("journal: " + $0) }
                journal = j
                journalMatchesKey = key
                loop.watch(fd: j.fd, interest: .read) { [unowned self] _ in self.readJournal() }
                log.notice("event rules read the journal" + (file.map { " file \($0)" } ?? "")
                    + (matches.map { " (\($0.count) library match group(s))" } ?? " (every entry)")
                    + (journalCursor != nil ? ", resuming after the saved cursor" : ", from its end"))
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
    }

    /// New journal entries, at most 2,000 per loop turn (the rest in the next turn: other sources are not starved).
    func readJournal() {
        guard let j = journal else { return }
        let (entries, more) = j.read(limit: 2000)
        deliverEntries(entries, source: "journal", lost: 0)
        if more { loop.runSoon { [unowned self] in self.readJournal() } }
    }

    /// Records available on the kernel log: through the rate limit into the engine; transitions are committed.
    func readKernelLog() {
        guard let k = kmsg else { return }
        deliverEntries(k.readAvailable(now: .now()), source: "kernel log", lost: k.lost)
    }

    /// Entries of a source through its rate limit into the engine; transitions are committed like a tick's.
    func deliverEntries(_ read: [EventEntry], source: String, lost: Int) {
        guard !read.isEmpty else { return }
        let mono = monotonicSeconds()
        var entries = read
        entries.removeAll { _ in !eventLimit.admit(now: mono) }
        if eventLimit.dropped > eventDropLog.count, mono - eventDropLog.at >= 60 {
            log.warning("\(source): dropped \(eventLimit.dropped - eventDropLog.count) entries over the rate limit of \(Int(DaemonEvents.entriesPerSecond))/s (\(eventLimit.dropped) since start" + (lost > 0 ? ", \(lost) overwritten before shd read them)" : ")"))
            eventDropLog = (eventLimit.dropped, mono)
        }
        guard !entries.isEmpty else { return }
        let events = engine.ingest(entries, now: .now())
        recordEngineNotes()
        if !events.isEmpty {
            announce(events, always: true)
            flushAlertLog()
        }
    }
}
