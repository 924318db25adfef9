// The commit journal: an evaluation's alert state and the notifications it implies, appended as one record, one fdatasync.
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// A test hook: with `SHD_TEST_CRASH_AT=point:n` in the environment the process kills itself with SIGKILL the n-th
/// time it reaches `point` (the process test of crash consistency walks every point). Unset, it costs one comparison.
/// The points, in the order one notification meets them: commit-write, commit-sync, commit-done (Journal.commit),
/// delivered (a 2xx, before removal), remove-step (between removals), compact-files, state-tmp, compact-state
/// (Journal.compact), report-tmp (report.json's temp file written, not renamed).
public enum CrashPoint {
    nonisolated(unsafe) static var armed: (name: String, count: Int)? = {
        guard let raw = getenv("SHD_TEST_CRASH_AT") else { return nil }
        let parts = String(cString: raw).split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]), n > 0 else { return nil }
        return (String(parts[0]), n)
    }()
    nonisolated(unsafe) static var hits = 0

    public static func reach(_ name: String) {
        guard let a = armed, a.name == name else { return }
        hits += 1
        if hits == a.count { kill(getpid(), SIGKILL) }
    }
}

/// `STATE_DIR/journal`: the durable record of every commit since `state.json` was last written.
///
/// Lines, appended only:
/// - one line per notification, the spool-file JSON (`Spool`), then
/// - `{"commit":N,"entries":K,"state":{…}}`: the commit itself, the state object `state.json` would hold.
///   One `write` of the notification lines and the commit line, then one `fdatasync`: the commit exists once its
///   commit line is complete. A tail that does not end in a complete commit line (killed mid-write) was never
///   committed and is cut off at the next start.
/// - `{"done":[ids]}`: notifications delivered (or given up on) since; written without an fsync (after a power
///   cut they are sent again: delivery is at least once).
///
/// Compaction (at start, at shutdown, and when the journal passes `compactBytes`) writes the pending notifications
/// as spool files, then `state.json` with `"commit": N`, then truncates the journal. A commit whose number is not
/// above `state.json`'s was already compacted and is skipped on recovery.
final class Journal {
    let path: String
    let statePath: String
    private var fd: Int32 = -1
    /// Bytes in the journal (the offset of the next record).
    private(set) var size = 0
    /// The number of the last commit (in the journal or in state.json).
    private(set) var seq: Int64 = 0
    /// The state object of the last commit, written to state.json at the next compaction.
    private(set) var lastState: JSONValue?
    static let compactBytes = 4 << 20

    init(directory: String) throws(FileError) {
        path = directory + "/journal"
        statePath = directory + "/state.json"
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd < 0 { throw FileError(operation: "open", path: path, errno: errno) }
        var st = stat()
        fstat(fd, &st)
        size = Int(st.st_size)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// What recovery found: the newest committed state (when newer than state.json's), the committed notifications
    /// still pending (journal offsets set), ids delivered since, and how many bytes of a torn tail were cut off.
    struct Recovered {
        var state: JSONValue?
        var entries: [SpoolEntry] = []
        var done: Set<String> = []
        var discardedBytes = 0
        var corrupt: [String] = []
    }

    /// Reads the journal; `committedThrough` is the commit number state.json holds (0 without one).
    func recover(committedThrough base: Int64) -> Recovered {
        var out = Recovered()
        seq = base
        let bytes: [UInt8]
        do { bytes = try readWholeFile(path, limit: Int.max) } catch {
            out.corrupt.append(error.description)
            return out
        }
        var block: [(offset: Int, length: Int)] = []
        var good = 0
        var start = 0
        var live: [String: Int] = [:]  // id → index in out.entries
        scan: while start < bytes.count {
            guard let nl = bytes[start...].firstIndex(of: 10) else { break }
            let line = Array(bytes[start..<nl])
            defer { start = nl + 1 }
            guard let v = try? JSONValue.parse(bytes: line) else { break scan }
            if let n = v["commit"] {
                // A commit line whose number or count is not a whole number ends the good part, as a torn one does.
                guard let commit = n.int64, v["entries"]?.int64 == Int64(block.count), let state = v["state"] else {
                    break scan
                }
                if commit > seq {
                    seq = commit
                    out.state = state
                    lastState = state
                    for b in block {
                        do throws(SpoolCorruption) {
                            var (entry, _, _) = try Spool.parse(Array(bytes[b.offset..<(b.offset + b.length)]))
                            entry.journal = b
                            live[entry.id] = out.entries.count
                            out.entries.append(entry)
                        } catch {
                            out.corrupt.append("\(path) at byte \(b.offset): \(error.reason)")
                        }
                    }
                }
                block = []
                good = nl + 1
            } else if let ids = v["done"]?.array {
                guard block.isEmpty else { break scan }
                for id in ids.compactMap(\.string) {
                    out.done.insert(id)
                    if let i = live.removeValue(forKey: id) { out.entries[i].id = "" }
                }
                good = nl + 1
            } else {
                block.append((start, nl - start))
            }
        }
        out.entries.removeAll { $0.id.isEmpty }
        if good < bytes.count {
            out.discardedBytes = bytes.count - good
            _ = ftruncate(fd, off_t(good))
            fdatasync(fd)
        }
        size = good
        return out
    }

    /// Appends the notification lines and the commit line, then one fdatasync. Returns the offset and length of each
    /// line, or the error (the journal is cut back to where it was: nothing of it was committed). The lines go out in
    /// writes of about a megabyte, so a tick with a thousand transitions (each line carries the whole report) does not
    /// hold a second copy of all of them in memory.
    func commit(lines: [[UInt8]], state: JSONValue) -> Result<[(offset: Int, length: Int)], FileError> {
        let next = seq + 1
        let before = size
        var record: [UInt8] = []
        record.reserveCapacity(Self.writeChunk)
        var ranges: [(offset: Int, length: Int)] = []
        ranges.reserveCapacity(lines.count)
        var written = 0
        for l in lines {
            ranges.append((before + written + record.count, l.count))
            record += l
            record.append(10)
            if record.count >= Self.writeChunk {
                CrashPoint.reach("commit-write")
                if let e = append(record) { cut(to: before); return .failure(e) }
                written += record.count
                record.removeAll(keepingCapacity: true)
            }
        }
        var head = JSONObject()
        head.append("commit", .int(next))
        head.append("entries", .int(Int64(lines.count)))
        head.append("state", state)
        record += Array(JSONValue.object(head).encoded().utf8)
        record.append(10)
        CrashPoint.reach("commit-write")
        if let e = append(record) { cut(to: before); return .failure(e) }
        CrashPoint.reach("commit-sync")
        if fdatasync(fd) != 0 {
            let e = FileError(operation: "fdatasync", path: path, errno: errno)
            cut(to: before)
            return .failure(e)
        }
        seq = next
        lastState = state
        CrashPoint.reach("commit-done")
        return .success(ranges)
    }

    /// Notes delivered ids; no fsync (a power cut re-sends them, under the same ids).
    func markDone(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        let line = JSONValue.object(["done": .array(ids.map(JSONValue.string))]).encoded() + "\n"
        _ = append(Array(line.utf8))
    }

    /// Reads back one notification line.
    func read(_ r: (offset: Int, length: Int)) throws(FileError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: r.length)
        var got = 0
        while got < r.length {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, r.length - got, off_t(r.offset + got)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw FileError(operation: "read", path: path, errno: n == 0 ? EIO : errno) }
            got += n
        }
        return buf
    }

    /// Writes state.json (`state` with `"commit": seq`) durably, then empties the journal. The caller has written
    /// the pending notifications as spool files first. On failure the journal is kept (it still holds everything).
    func compact(state: JSONValue) -> FileError? {
        var o: JSONObject = state.object ?? JSONObject()
        o["commit"] = .int(seq)
        CrashPoint.reach("compact-files")
        do { try AtomicFile.write(statePath, Array((JSONValue.object(o).encoded() + "\n").utf8), mode: 0o640,
                                  beforeRename: { CrashPoint.reach("state-tmp") }) } catch {
            return error
        }
        CrashPoint.reach("compact-state")
        if ftruncate(fd, 0) != 0 { return FileError(operation: "truncate", path: path, errno: errno) }
        fsync(fd)
        size = 0
        lastState = .object(o)
        return nil
    }

    /// How much of a commit record is gathered before it is written.
    static let writeChunk = 1 << 20

    private func append(_ bytes: [UInt8]) -> FileError? {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = FileError(operation: "write", path: path, errno: errno)
                cut(to: size)
                return e
            }
            off += n
        }
        size += bytes.count
        return nil
    }

    private func cut(to offset: Int) {
        _ = ftruncate(fd, off_t(offset))
        size = offset
    }
}
