// Parsers of recorded and live event text: the journal export format (journalctl -o export) and /dev/kmsg records.
// Pure functions over bytes: the daemon's readers and `shd test-rules` share them; fuzz/ has a target for each.
import Alerting
import Reports

/// The journal export format: entries separated by an empty line, each field `NAME=value` on one line, or, for a
/// value with newlines or binary data, `NAME` alone on its line, a 64-bit little-endian length, the bytes and a newline.
public enum JournalExport {
    public struct Entry: Sendable, Equatable {
        public var fields: [(String, String)]
        public static func == (a: Entry, b: Entry) -> Bool { a.fields.map { $0.0 + "=" + $0.1 } == b.fields.map { $0.0 + "=" + $0.1 } }

        public func value(_ name: String) -> String? { fields.first { $0.0 == name }?.1 }
        /// `__REALTIME_TIMESTAMP` (microseconds since the epoch), if present and a number.
        public var realtime: Int64? { value("__REALTIME_TIMESTAMP").flatMap { Int64($0) } }
        public var cursor: String? { value("__CURSOR") }
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// 1-based line of the problem.
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Every entry of `bytes`. A field line without `=` must be followed by a length and that many bytes; anything
    /// else is an error naming its line (a recorded sample that does not parse must not pass a test vacuously).
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> [Entry] {
        var out: [Entry] = []
        var cur: [(String, String)] = []
        var i = 0
        var line = 1
        let n = bytes.count
        while i < n {
            var j = i
            while j < n && bytes[j] != 0x0A { j += 1 }
            if j == i {
                // An empty line ends the entry.
                if !cur.isEmpty { out.append(Entry(fields: cur)); cur = [] }
                i = j + 1
                line += 1
                continue
            }
            if let eq = bytes[i..<j].firstIndex(of: UInt8(ascii: "=")) {
                let name = String(decoding: bytes[i..<eq], as: UTF8.self)
                guard validName(bytes[i..<eq]) else { throw ParseError(line: line, message: "`\(name)` is not a journal field name") }
                cur.append((name, String(decoding: bytes[(eq + 1)..<j], as: UTF8.self)))
                i = j + 1
                line += 1
                continue
            }
            // Binary field: NAME\n, le64 length, data, \n.
            let name = String(decoding: bytes[i..<j], as: UTF8.self)
            guard validName(bytes[i..<j]) else { throw ParseError(line: line, message: "expected NAME=value or a binary field name, found `\(name.prefix(40))`") }
            var k = j + 1
            guard k + 8 <= n else { throw ParseError(line: line, message: "binary field `\(name)` ends before its 8-byte length") }
            var len: UInt64 = 0
            for b in 0..<8 { len |= UInt64(bytes[k + b]) << (8 * UInt64(b)) }
            k += 8
            guard len <= UInt64(n - k), k + Int(len) < n, bytes[k + Int(len)] == 0x0A else {
                throw ParseError(line: line, message: "binary field `\(name)` says \(len) bytes, more than the file holds (or no newline after them)")
            }
            let value = Array(bytes[k..<(k + Int(len))])
            for c in value where c == 0x0A { line += 1 }
            cur.append((name, String(decoding: value, as: UTF8.self)))
            i = k + Int(len) + 1
            line += 1
        }
        if !cur.isEmpty { out.append(Entry(fields: cur)) }
        return out
    }

    /// Journal field names: upper-case letters, digits and `_` (the export format's metadata starts with `__`).
    static func validName(_ b: ArraySlice<UInt8>) -> Bool {
        guard !b.isEmpty, b.count <= 64 else { return false }
        for c in b where !((c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F) { return false }
        return true
    }
}

/// One /dev/kmsg record: `PRI,SEQ,TS_USEC,FLAGS[,…];MESSAGE` then continuation lines ` KEY=VALUE`
/// (Documentation/ABI/testing/dev-kmsg). The message's non-printable bytes arrive escaped as `\xHH`.
public struct KmsgRecord: Sendable, Equatable {
    /// Syslog priority (0 emerg … 7 debug) and facility (0 kern; userspace writes to /dev/kmsg get 1 user).
    public var priority: Int
    public var facility: Int
    public var sequence: UInt64
    /// Microseconds since boot (the kernel's monotonic clock).
    public var timestampMicros: UInt64
    /// `c` (a continuation fragment), `-` otherwise.
    public var flags: String
    public var message: String
    /// `SUBSYSTEM=` and `DEVICE=` continuation lines, and any other `KEY=VALUE` ones, in order.
    public var properties: [(String, String)]

    public static func == (a: KmsgRecord, b: KmsgRecord) -> Bool {
        a.priority == b.priority && a.facility == b.facility && a.sequence == b.sequence && a.timestampMicros == b.timestampMicros
            && a.flags == b.flags && a.message == b.message && a.properties.map { $0.0 + "=" + $0.1 } == b.properties.map { $0.0 + "=" + $0.1 }
    }

    public func property(_ key: String) -> String? { properties.first { $0.0 == key }?.1 }

    /// Parses one record's first line (without its newline); nil when it is not `PRI,SEQ,TS,FLAGS;MESSAGE`.
    public static func parse(_ line: ArraySlice<UInt8>) -> KmsgRecord? {
        guard let semi = line.firstIndex(of: UInt8(ascii: ";")) else { return nil }
        let prefix = line[line.startIndex..<semi].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard prefix.count >= 4, let pri = number(prefix[0]), let seq = number(prefix[1]), let ts = number(prefix[2]),
              pri <= 1 << 16 else { return nil }
        return KmsgRecord(priority: Int(pri & 7), facility: Int(pri >> 3), sequence: seq, timestampMicros: ts,
                          flags: String(decoding: prefix[3], as: UTF8.self), message: unescape(line[(semi + 1)...]), properties: [])
    }

    /// Every record of a text of records (a kmsg dump, or one read(2) of /dev/kmsg, which returns one record with
    /// its continuation lines). Lines that are not records and not continuations are returned as errors by line.
    public static func parseAll(_ bytes: [UInt8]) -> (records: [KmsgRecord], badLines: [Int]) {
        var out: [KmsgRecord] = []
        var bad: [Int] = []
        var line = 0
        for l in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            line += 1
            if l.isEmpty { continue }
            if l.first == 0x20 {
                // ` KEY=VALUE` belongs to the record above.
                guard !out.isEmpty else { bad.append(line); continue }
                let body = l.dropFirst()
                if let eq = body.firstIndex(of: UInt8(ascii: "=")) {
                    out[out.count - 1].properties.append((String(decoding: body[body.startIndex..<eq], as: UTF8.self), unescape(body[(eq + 1)...])))
                }
                continue
            }
            if let r = parse(l) { out.append(r) } else { bad.append(line) }
        }
        return (out, bad)
    }

    static func number(_ b: ArraySlice<UInt8>) -> UInt64? {
        guard !b.isEmpty, b.count <= 19 else { return nil }
        var v: UInt64 = 0
        for c in b {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            v = v * 10 + UInt64(c - 0x30)
        }
        return v
    }

    /// `\xHH` back to its byte (the kernel escapes control and non-ASCII bytes this way).
    static func unescape(_ b: ArraySlice<UInt8>) -> String {
        guard b.contains(UInt8(ascii: "\\")) else { return String(decoding: b, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = b.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while i < b.endIndex {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.endIndex, b[i + 1] == UInt8(ascii: "x"), let h = hex(b[i + 2]), let l = hex(b[i + 3]) {
                out.append(h << 4 | l)
                i += 4
                continue
            }
            out.append(b[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The journal-source entry this record becomes (what journald would store: `_TRANSPORT=kernel`, `SYSLOG_IDENTIFIER=kernel`
    /// for kernel facility messages, `_KERNEL_DEVICE` and `_KERNEL_SUBSYSTEM` from the continuation lines).
    public func entry(at time: Timestamp) -> EventEntry {
        var fields: [(String, String)] = [
            ("MESSAGE", message), ("PRIORITY", String(priority)), ("SYSLOG_FACILITY", String(facility)), ("_TRANSPORT", "kernel"),
        ]
        if facility == 0 { fields.append(("SYSLOG_IDENTIFIER", "kernel")) }
        if let d = property("DEVICE") { fields.append(("_KERNEL_DEVICE", d)) }
        if let s = property("SUBSYSTEM") { fields.append(("_KERNEL_SUBSYSTEM", s)) }
        return EventSources.journalEntry(fields, time: time)
    }
}
