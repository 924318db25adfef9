// The durable queue: one file per (event, channel), written before the first attempt, removed only on success.
import Alerting
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// What the dispatcher keeps in memory for a queued notification: its name and where it goes, not its payload
/// (the event and report are read from the file when it is sent, so a long queue costs little memory).
struct SpoolEntry {
    /// Unique across restarts: creation time in microseconds, a counter and random bits.
    var id: String
    var path: String
    var channel: String
    /// Entries of one `enqueue` call share a batch (a message may also carry entries of later batches).
    var batch: String
    var created: Timestamp
    /// The file text, kept only when it could not be written (disk full): delivery still tries once from memory.
    var unsaved: [UInt8]?
    /// The alert instance (`AlertEvent.fingerprint`) and what the entry tells about it (`firing:warn`, …).
    var fingerprint = ""
    var transition = ""
    /// The alert's rule (the delivery records of `shd history` name it).
    var rule = ""
    /// Where the entry's line is in the journal, while it is kept there (until the next compaction writes it as
    /// a spool file); nil for a spool file.
    var journal: (offset: Int, length: Int)?

    /// True creation order: the id's microseconds, then its counter, as numbers (as strings `…-10-…` sorts
    /// before `…-2-…`); an id of another shape sorts by its creation time.
    var order: (Int64, Int64, String) {
        let parts = id.split(separator: "-")
        if parts.count == 3, let micros = Int64(parts[0]), let n = Int64(parts[1]) { return (micros, n, String(parts[2])) }
        return (created.microseconds, 0, id)
    }

    static func inOrder(_ a: SpoolEntry, _ b: SpoolEntry) -> Bool { a.order < b.order }

    /// What an event tells a receiver about its alert: a repeat says nothing new.
    static func transition(of e: AlertEvent) -> String {
        (e.kind == .resolved ? "resolved" : "firing") + ":" + e.severity.rawValue
    }
}

/// The spool folder (STATE_DIR/spool, mode 0700). File format, one JSON object per file:
/// `{"version":1,"id":…,"channel":…,"batch":…,"created":RFC 3339,"event":{AlertEvent},"report":{Daemon report}|null}`.
/// With a journal (the daemon), new entries are lines of the journal until a compaction writes them as files.
final class Spool {
    let directory: String
    var journal: Journal?
    private var counter = 0
    private var random = SystemRandomNumberGenerator()

    init(directory: String) throws(NotifyError) {
        self.directory = directory
        do { try AtomicFile.makeDirectories(directory, mode: 0o700, parentMode: 0o755) } catch { throw NotifyError(.spool(error.description)) }
    }

    /// `wide`: 64 random bits instead of 16, for a copy that takes the time of its original (`copy(_:to:)`), so
    /// its id can equal no id `newID` ever made.
    func newID(now: Timestamp, wide: Bool = false) -> String {
        counter += 1
        let r = wide ? String(UInt64.random(in: 0...UInt64.max, using: &random), radix: 16)
            : String(UInt16.random(in: 0...UInt16.max, using: &random), radix: 16)
        let micros = String(now.microseconds)
        return String(repeating: "0", count: max(0, 17 - micros.count)) + micros + "-" + String(counter) + "-" + r
    }

    static func safeName(_ s: String) -> String {
        String(s.unicodeScalars.map { c -> Character in
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-"
            return ok ? Character(c) : "_"
        })
    }

    /// One entry's text (a single line: the encoder writes no newline) and its in-memory record.
    func encode(channel: String, batch: String, event: AlertEvent, reportText: String, now: Timestamp,
                id given: String? = nil) -> (SpoolEntry, [UInt8]) {
        let id = given ?? newID(now: now)
        var head = JSONObject()
        head.append("version", .int(1))
        head.append("id", .string(id))
        head.append("channel", .string(channel))
        head.append("batch", .string(batch))
        head.append("created", .string(now.rfc3339))
        head.append("event", event.json)
        // The report is encoded once per enqueue call and spliced in, not re-encoded per entry.
        var text = JSONValue.object(head).encoded()
        text.removeLast()
        text += ",\"report\":" + reportText + "}"
        var entry = SpoolEntry(id: id, path: filePath(id, channel), channel: channel, batch: batch, created: now)
        entry.fingerprint = event.fingerprint
        entry.transition = SpoolEntry.transition(of: event)
        entry.rule = event.rule
        return (entry, Array(text.utf8))
    }

    func filePath(_ id: String, _ channel: String) -> String { directory + "/" + id + "." + Spool.safeName(channel) + ".spool" }

    /// Writes one entry atomically (temp + fsync + rename). On failure the entry keeps its bytes in memory
    /// and the error is returned for logging: the notification is still attempted, it is just not durable.
    func write(channel: String, batch: String, event: AlertEvent, reportText: String, now: Timestamp) -> (SpoolEntry, FileError?) {
        var (entry, bytes) = encode(channel: channel, batch: batch, event: event, reportText: reportText, now: now)
        do {
            // The folder is synced once per enqueue call (`syncDirectory()`), not once per file.
            try AtomicFile.write(entry.path, bytes, mode: 0o600, syncDirectory: false)
            return (entry, nil)
        } catch {
            entry.unsaved = bytes
            return (entry, error)
        }
    }

    /// A spool file for `channel` holding what `entry` holds, created at the same time (so it sorts where the
    /// original does) under an id of its own; the folder is synced by the caller.
    func copy(_ entry: SpoolEntry, to channel: String) throws(SpoolCorruption) -> SpoolEntry {
        let (event, report) = try load(entry)
        let (copy, bytes) = encode(channel: channel, batch: entry.batch, event: event, reportText: report?.encoded() ?? "null",
                                   now: entry.created, id: newID(now: entry.created, wide: true))
        do { try AtomicFile.write(copy.path, bytes, mode: 0o600, syncDirectory: false) } catch {
            throw SpoolCorruption(reason: error.description)
        }
        return copy
    }

    /// A journal entry as a spool file (compaction); the folder is synced by the caller.
    func writeFile(_ entry: inout SpoolEntry) throws(FileError) {
        guard let r = entry.journal, let journal else { return }
        try AtomicFile.write(entry.path, try journal.read(r), mode: 0o600, syncDirectory: false)
        entry.journal = nil
    }

    /// Makes the renames of the files written so far durable.
    func syncDirectory() { AtomicFile.syncDirectory(of: directory + "/x") }

    /// Reads an entry's event and report back.
    func load(_ entry: SpoolEntry) throws(SpoolCorruption) -> (AlertEvent, JSONValue?) {
        let bytes: [UInt8]
        if let u = entry.unsaved { bytes = u } else if let r = entry.journal, let journal {
            do { bytes = try journal.read(r) } catch { throw SpoolCorruption(reason: error.description) }
        } else {
            do { bytes = try readWholeFile(entry.path) } catch { throw SpoolCorruption(reason: error.description) }
        }
        let (_, event, report) = try Spool.parse(bytes)
        return (event, report)
    }

    static func parse(_ bytes: [UInt8]) throws(SpoolCorruption) -> (SpoolEntry, AlertEvent, JSONValue?) {
        let v: JSONValue
        do { v = try JSONValue.parse(bytes: bytes) } catch { throw SpoolCorruption(reason: error.description) }
        guard v["version"]?.number == 1, let id = v["id"]?.string, let channel = v["channel"]?.string,
              let batch = v["batch"]?.string, let created = v["created"]?.string.flatMap(Timestamp.init(rfc3339:)),
              let ev = v["event"]
        else { throw SpoolCorruption(reason: "missing version, id, channel, batch, created or event") }
        let event: AlertEvent
        do { event = try AlertEvent(json: ev) } catch { throw SpoolCorruption(reason: error.description) }
        let report = v["report"].flatMap { $0 == .null ? nil : $0 }
        var entry = SpoolEntry(id: id, path: "", channel: channel, batch: batch, created: created)
        entry.fingerprint = event.fingerprint
        entry.transition = SpoolEntry.transition(of: event)
        entry.rule = event.rule
        return (entry, event, report)
    }

    /// Deletes delivered (or abandoned) entries: spool files are unlinked, journal lines get one `done` record.
    func remove(_ entries: [SpoolEntry]) {
        var done: [String] = []
        for e in entries where e.unsaved == nil {
            if e.journal != nil {
                done.append(e.id)
            } else {
                CrashPoint.reach("remove-step")
                unlink(e.path)
            }
        }
        if !done.isEmpty {
            CrashPoint.reach("remove-step")
            journal?.markDone(done)
        }
    }

    /// Moves a corrupt entry aside (a journal line is marked done: the journal itself stays whole).
    func moveAside(_ entry: SpoolEntry) -> String {
        if entry.journal != nil {
            journal?.markDone([entry.id])
            return "(dropped from the journal)"
        }
        rename(entry.path, entry.path + ".corrupt")
        return entry.path + ".corrupt"
    }

    /// Every entry on disk, oldest first (creation order, `SpoolEntry.order`). A file that does not parse is renamed `….corrupt` and reported
    /// through `corrupt` (never a crash loop); stale temp files from a crash mid-write are deleted.
    func scan(corrupt: (String, String) -> Void) -> [SpoolEntry] {
        let names: [String]
        do { names = try readDirectory(directory).sorted() } catch {
            corrupt(directory, error.description)
            return []
        }
        var out: [SpoolEntry] = []
        for name in names {
            let path = directory + "/" + name
            if name.hasSuffix(".tmp") || name.contains(".tmp.") { unlink(path); continue }
            guard name.hasSuffix(".spool") else { continue }
            do throws(SpoolCorruption) {
                let bytes: [UInt8]
                do { bytes = try readWholeFile(path) } catch { throw SpoolCorruption(reason: error.description) }
                var (entry, _, _) = try Spool.parse(bytes)
                entry.path = path
                out.append(entry)
            } catch {
                rename(path, path + ".corrupt")
                corrupt(path, error.reason)
            }
        }
        return out.sorted(by: SpoolEntry.inOrder)
    }
}

/// A spool file that could not be read or parsed.
struct SpoolCorruption: Error {
    var reason: String
}
