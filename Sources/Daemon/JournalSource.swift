// The systemd journal as an event source: sd-journal (dlopened libsystemd) on the loop. Matches built from the rules
// let the library skip entries no rule can match; the cursor of the last entry read is saved with the alert state,
// so a restart resumes after it: nothing replayed, nothing missed that the journal still holds.
#if canImport(Glibc)
import Glibc
#endif
import CSystemd
import Reports
import Rules

final class JournalSource {
    let journal: OpaquePointer
    let fd: Int32
    /// The cursor of the last entry handed out (saved in state.json and every journal commit).
    private(set) var cursor: String?
    private(set) var entriesRead = 0
    /// The entry the library is positioned on was not read yet (a saved cursor the journal no longer holds).
    private var pendingCurrent = false
    /// The current entry's values of ``EventSources/journalFields`` by position (reused from entry to entry).
    private var values = [String?](repeating: nil, count: EventSources.journalFields.count)

    struct OpenError: Error, CustomStringConvertible {
        var description: String
    }

    /// Opens the local system journal (or one journal `file`, or a directory of them), adds `matches` (nil: every
    /// entry), and positions after `cursor`, or without one at the end (at the first entry when `fromHead`: tests and
    /// benchmarks that read a journal file written beforehand). `notice` receives the line about entries rotated away.
    init(file: String?, matches: [[(field: String, values: [String])]]?, cursor: String?, fromHead: Bool = false,
         notice: (String) -> Void) throws(OpenError)
    {
        var err = [CChar](repeating: 0, count: 512)
        guard shd_journal_load(&err, err.count) == 0 else { throw OpenError(description: String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        var j: OpaquePointer?
        let rc = file.map { f in f.withCString { shd_journal_open(&j, $0) } } ?? shd_journal_open(&j, nil)
        guard rc >= 0, let journal = j else { throw OpenError(description: "sd_journal_open: \(String(cString: strerror(-rc)))") }
        self.journal = journal
        for (k, conjunction) in (matches ?? []).enumerated() {
            if k > 0 { _ = shd_journal_add_disjunction(journal) }
            for m in conjunction {
                for v in m.values {
                    let text = m.field + "=" + v
                    _ = text.withCString { shd_journal_add_match(journal, $0, strlen($0)) }
                }
            }
        }
        if let c = cursor, c.withCString({ shd_journal_seek_cursor(journal, $0) }) >= 0, shd_journal_next(journal) > 0 {
            if c.withCString({ shd_journal_test_cursor(journal, $0) }) <= 0 {
                // The saved entry is gone (rotated, vacuumed): the library stands on the nearest one after it.
                notice("the journal no longer holds the entry shd read last (rotated away); reading on from the oldest entry after it")
                pendingCurrent = true
            }
            self.cursor = c
        } else if fromHead {
            // The next sd_journal_next() lands on the first entry.
            _ = shd_journal_seek_head(journal)
        } else {
            _ = shd_journal_seek_tail(journal)
            _ = shd_journal_previous(journal)
        }
        fd = shd_journal_get_fd(journal)
        guard fd >= 0 else {
            shd_journal_close(journal)
            throw OpenError(description: "sd_journal_get_fd: \(String(cString: strerror(-fd)))")
        }
    }

    deinit { shd_journal_close(journal) }

    /// After the fd was readable: sd_journal_process, then up to `limit` new entries. `more` says there are others.
    func read(limit: Int) -> (entries: [EventEntry], more: Bool) {
        _ = shd_journal_process(journal)
        var out: [EventEntry] = []
        while out.count < limit {
            if pendingCurrent {
                pendingCurrent = false
            } else if shd_journal_next(journal) <= 0 {
                break
            }
            out.append(current())
        }
        if !out.isEmpty {
            var c: UnsafeMutablePointer<CChar>?
            if shd_journal_get_cursor(journal, &c) >= 0, let c {
                cursor = String(cString: c)
                shd_journal_free(c)
            }
        }
        entriesRead += out.count
        return (out, out.count == limit)
    }

    /// The entry the library stands on: the fields rules know, and its realtime timestamp.
    /// Only the values of those fields become Strings; the others (about half of a service's entry) are skipped on
    /// their name's bytes.
    func current() -> EventEntry {
        for i in values.indices { values[i] = nil }
        var data: UnsafeRawPointer?
        var len = 0
        shd_journal_restart_data(journal)
        while shd_journal_enumerate_data(journal, &data, &len) > 0, let d = data {
            guard let eq = memchr(d, Int32(UInt8(ascii: "=")), len) else { continue }
            let nameLength = UnsafeRawPointer(eq) - d
            guard let i = EventSources.journalFieldIndex(UnsafeRawBufferPointer(start: d, count: nameLength)) else { continue }
            values[i] = String(decoding: UnsafeRawBufferPointer(start: d + nameLength + 1, count: len - nameLength - 1), as: UTF8.self)
        }
        var usec: UInt64 = 0
        let t = shd_journal_get_realtime_usec(journal, &usec) >= 0 ? Timestamp(microseconds: Int64(clamping: usec)) : Timestamp.now()
        return EventSources.journalEntry(values: values, time: t)
    }
}
