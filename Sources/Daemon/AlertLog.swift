// The alert log: STATE_DIR/history.jsonl, one JSON object a line (transitions, deliveries, silences, acks, reloads),
// buffered in memory and appended once per tick, rotated by size; and the query `shd history` answers with.
import Alerting
import Kit
import Reports
import Rules
#if canImport(Glibc)
import Glibc
#endif

/// The bounded local alert log. Records are buffered and written with one `write(2)` per ``flush()`` (the daemon
/// flushes after each evaluation and each control change), without fsync: a record lost in a crash is a log line,
/// not alert state (state.json and the journal are the state). When a write would take the file past `maxSize`,
/// `history.jsonl` is renamed to `history.jsonl.1` first (replacing the older one): at most two files, about
/// 2 × `history_max_size` on disk.
///
/// Every record has `time` (RFC 3339) and `type`:
/// - `transition`: `kind` (firing, escalated, deescalated, repeated, resolved), `rule`, `labels`, `severity`, `summary`,
///   and `reason` when given;
/// - `delivery`: `channel`, `status` (delivered, retrying, failed, expired), `rule` (when the message carried one rule's
///   alerts), `rules` (the rules of its alerts, each once), `ids` (spool ids), `detail`;
/// - `silence`: `action` (added, updated, expired, ended), `silence` (as `shd silence list --json` prints it), `by`;
/// - `ack`: `action` (added, ended), `rule`, `labels`, `by` and `comment` for an added one;
/// - `reload`: `reason`, `result` (ok, refused), `detail`;
/// - `flapping`, `flapping_ended`: `rule`, `labels` (an instance held firing as flapping, and its release).
public final class AlertLog {
    public let path: String
    public var maxSize: Int
    var buffer: [UInt8] = []
    /// The current file's size (stat at open, then counted).
    var size: Int
    /// The last write error, logged once per episode by the daemon.
    public private(set) var lastError: FileError?

    public static func path(stateDir: String) -> String { stateDir + "/history.jsonl" }

    public init(stateDir: String, maxSize: Int) {
        path = AlertLog.path(stateDir: stateDir)
        self.maxSize = maxSize
        var st = stat()
        size = stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Buffers one record (`time` and `type` first, then `fields` in their order).
    public func record(_ type: String, at time: Timestamp, _ fields: JSONObject = JSONObject()) {
        var o = JSONObject()
        o.append("time", .string(time.rfc3339))
        o.append("type", .string(type))
        for (k, v) in fields { o.append(k, v) }
        buffer += Array((JSONValue.object(o).encoded() + "\n").utf8)
    }

    /// Buffers one record per transition.
    public func record(_ events: [AlertEvent], at time: Timestamp) {
        for e in events {
            var o = JSONObject()
            o.append("kind", .string(e.kind.rawValue))
            o.append("rule", .string(e.rule))
            o.append("labels", AlertLog.labels(e.labels))
            o.append("severity", .string(e.severity.rawValue))
            o.append("summary", .string(e.summary))
            if let r = e.reason { o.append("reason", .string(r)) }
            record("transition", at: time, o)
        }
    }

    static func labels(_ labels: [String: String]) -> JSONValue {
        var l = JSONObject()
        for k in labels.keys.sorted() { l.append(k, .string(labels[k]!)) }
        return .object(l)
    }

    /// Appends what is buffered in one write, rotating first when the file would pass `maxSize`. On an error the
    /// records are dropped (the log is bounded, and the loop must not wait) and the error is kept in `lastError`.
    /// Returns whether it wrote (or there was nothing to write).
    @discardableResult
    public func flush() -> Bool {
        guard !buffer.isEmpty else { return true }
        defer { buffer.removeAll(keepingCapacity: buffer.count < 1 << 16) }
        if size > 0 && size + buffer.count > maxSize {
            if rename(path, path + ".1") != 0 && errno != ENOENT {
                lastError = FileError(operation: "rename", path: path, errno: errno)
                return false
            }
            size = 0
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            lastError = FileError(operation: "open", path: path, errno: errno)
            return false
        }
        defer { close(fd) }
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                lastError = FileError(operation: "write", path: path, errno: errno)
                size += off
                return false
            }
            off += n
        }
        size += off
        lastError = nil
        return true
    }

    /// The records of both files, oldest first, with `time` at or after `since` and, when `rule` is given, about that
    /// rule: its transitions, acks, the deliveries that carried its alerts, and silences with a `rule=` matcher that
    /// matches it. Reloads name no rule: they are left out when `rule` is given. A line that does not parse is skipped.
    public static func query(stateDir: String, since: Timestamp? = nil, rule: String? = nil) -> [JSONValue] {
        let base = path(stateDir: stateDir)
        var out: [JSONValue] = []
        for file in [base + ".1", base] {
            guard let bytes = try? readWholeFile(file, limit: 1 << 30) else { continue }
            var start = 0
            for i in bytes.indices where bytes[i] == 0x0A {
                defer { start = i + 1 }
                guard i > start, let v = try? JSONValue.parse(bytes: Array(bytes[start..<i])) else { continue }
                if let since {
                    guard let t = v["time"]?.string.flatMap(Timestamp.init(rfc3339:)), t >= since else { continue }
                }
                if let rule, !about(v, rule: rule) { continue }
                out.append(v)
            }
        }
        return out
    }

    static func about(_ record: JSONValue, rule: String) -> Bool {
        if let r = record["rule"]?.string { return r == rule }
        if let rules = record["rules"]?.array { return rules.contains(.string(rule)) }
        guard let matchers = record["silence"]?["matchers"]?.array else { return false }
        for m in matchers {
            guard let text = m.string, let parsed = try? LabelMatcher.parse(text), let matcher = parsed.first,
                  matcher.name == "rule" else { continue }
            return matcher.matches(rule)
        }
        return false
    }
}
