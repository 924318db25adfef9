// Event sources: what an event rule (`rule X on journal …`) reads — entries with named fields and a time — and the
// table of sources the checker knows. Any reader (the journal, /dev/kmsg, a tailed text file) feeds `EventEntry`s.
#if canImport(Glibc)
import Glibc
#endif
import Alerting
import Reports

/// One entry of an event source: when it happened and its fields (strings are labels, numbers values).
public struct EventEntry: Sendable, Equatable {
    /// The source's name as rules write it after `on` (`journal`).
    public var source: String
    /// The source's argument, for sources that take one (`on file "/var/log/app.log"`); nil otherwise.
    public var argument: String?
    public var time: Timestamp
    public var fields: Row

    public init(source: String, argument: String? = nil, time: Timestamp, fields: Row) {
        self.source = source
        self.argument = argument
        self.time = time
        self.fields = fields
    }

    /// The entry's message (`message` field), or "".
    public var message: String { fields["message"]?.string ?? "" }
}

/// An event source the rule language knows: its name after `on`, whether it takes an argument, and its fields.
public struct EventSourceSpec: Sendable {
    public var name: String
    public var help: String
    /// What the argument after the name is (`"a file path"`), or nil when the source takes none.
    public var argument: String?
    public var schema: FunctionSchema

    public init(name: String, help: String, argument: String? = nil, fields: [FieldSchema]) {
        self.name = name
        self.help = help
        self.argument = argument
        self.schema = FunctionSchema(name: name, help: help, fields: fields)
    }
}

/// The table of event sources (one line per source; the checker, docs and test-rules read it).
public enum EventSources {
    public static let all: [EventSourceSpec] = [journal, file]

    public static func named(_ name: String) -> EventSourceSpec? { all.first { $0.name == name } }

    /// The systemd journal; kernel messages are its `transport == "kernel"` entries (from /dev/kmsg where there is
    /// no journald).
    public static let journal = EventSourceSpec(
        name: "journal", help: "systemd journal entries (kernel messages have transport \"kernel\")",
        fields: journalFields.map { FieldSchema($0.name, $0.number ? .number : .label, help: $0.help) })

    /// Lines appended to text files (logs outside the journal): `on file "/var/log/app/*.log"`, wildcards in the file
    /// name only. Rotation by rename and by truncation is followed (Daemon/FileTails.swift).
    public static let file = EventSourceSpec(
        name: "file", help: "lines appended to a text file (a log that is not in the journal)",
        argument: "a file path in quotes (`on file \"/var/log/app/*.log\"`)",
        fields: [
            FieldSchema("message", .label, help: "the line, without its newline"),
            FieldSchema("path", .label, help: "the file the line was read from"),
        ])

    /// An entry of the file source: one line of the file at `path`.
    public static func fileEntry(line: String, path: String, time: Timestamp) -> EventEntry {
        EventEntry(source: "file", argument: path, time: time, fields: ["message": .string(line), "path": .string(path)])
    }

    /// A journal field as rules name it, and the journal's own field it comes from.
    public struct JournalField: Sendable {
        public var name: String
        public var journal: String
        public var number: Bool
        public var help: String
    }

    public static let journalFields: [JournalField] = [
        JournalField(name: "message", journal: "MESSAGE", number: false, help: "the message text"),
        JournalField(name: "priority", journal: "PRIORITY", number: true, help: "syslog priority: 0 emerg, 1 alert, 2 crit, 3 err, 4 warning, 5 notice, 6 info, 7 debug"),
        JournalField(name: "facility", journal: "SYSLOG_FACILITY", number: true, help: "syslog facility number (0 kern)"),
        JournalField(name: "identifier", journal: "SYSLOG_IDENTIFIER", number: false, help: "syslog identifier (`kernel` for kernel messages)"),
        JournalField(name: "unit", journal: "_SYSTEMD_UNIT", number: false, help: "the systemd unit that logged it"),
        JournalField(name: "user_unit", journal: "_SYSTEMD_USER_UNIT", number: false, help: "the user unit that logged it"),
        JournalField(name: "transport", journal: "_TRANSPORT", number: false, help: "kernel, syslog, journal, stdout, audit or driver"),
        JournalField(name: "device", journal: "_KERNEL_DEVICE", number: false, help: "the kernel device (`b8:0`, `n2`, `+pci:0000:00:1f.2`)"),
        JournalField(name: "subsystem", journal: "_KERNEL_SUBSYSTEM", number: false, help: "the kernel subsystem (block, net, pci …)"),
        JournalField(name: "comm", journal: "_COMM", number: false, help: "the process name"),
        JournalField(name: "pid", journal: "_PID", number: true, help: "the process id"),
        JournalField(name: "uid", journal: "_UID", number: true, help: "the user id"),
        JournalField(name: "hostname", journal: "_HOSTNAME", number: false, help: "the host name"),
    ]

    /// Names an event rule's templates (and `count` in its values) may use beside the entry's fields.
    public static let statistics: [FieldSchema] = [
        FieldSchema("count", .number, help: "matching entries since this alert's episode began"),
        FieldSchema("first_message", .label, help: "the episode's first matching message"),
        FieldSchema("first_time", .label, help: "when it was logged (RFC 3339)"),
        FieldSchema("last_message", .label, help: "the latest matching message"),
        FieldSchema("last_time", .label, help: "when it was logged (RFC 3339)"),
    ]

    /// An entry of the journal source from journal fields (`MESSAGE`, `PRIORITY`, `_TRANSPORT` …, as the export
    /// format and sd_journal name them). Unknown fields are dropped; a number that does not parse is left out.
    public static func journalEntry(_ fields: [(String, String)], time: Timestamp) -> EventEntry {
        var values = [String?](repeating: nil, count: journalFields.count)
        for (k, v) in fields {
            if let i = journalFieldIndex[k] { values[i] = v }
        }
        return journalEntry(values: values, time: time)
    }

    /// An entry of the journal source from the values of ``journalFields`` by position (nil: not in the entry; a later
    /// value of a field repeated in the entry has replaced the earlier). The row lists its fields in the schema's
    /// order, where compiled filters look first.
    public static func journalEntry(values: [String?], time: Timestamp) -> EventEntry {
        var row = Row()
        row.reserveCapacity(values.count)
        for (i, v) in values.enumerated() {
            guard let v else { continue }
            let f = journalFields[i]
            if f.number {
                if let n = Int64(v) { row.append(f.name, .int(n)) }
            } else {
                row.append(f.name, .string(v))
            }
        }
        return EventEntry(source: "journal", time: time, fields: row)
    }

    /// Whether rules read the journal field `name` (`MESSAGE`, `_TRANSPORT` …): the reader keeps only those.
    public static func isJournalField(_ name: String) -> Bool { journalFieldIndex[name] != nil }

    /// The position in ``journalFields`` of the journal field named by `bytes` (`_TRANSPORT`), without making a
    /// String of it: the reader asks for every field of every entry.
    public static func journalFieldIndex(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count < journalNamesByLength.count, let base = bytes.baseAddress else { return nil }
        for i in journalNamesByLength[bytes.count] {
            if journalNameBytes[i].withUnsafeBytes({ memcmp($0.baseAddress!, base, bytes.count) }) == 0 { return i }
        }
        return nil
    }

    /// Positions in ``journalFields`` by the length of the journal name (most fields of an entry have a length no
    /// name has, and are skipped without a comparison).
    static let journalNamesByLength: [[Int]] = {
        var t = [[Int]](repeating: [], count: (journalFields.map(\.journal.utf8.count).max() ?? 0) + 1)
        for (i, f) in journalFields.enumerated() { t[f.journal.utf8.count].append(i) }
        return t
    }()

    static let journalFieldIndex: [String: Int] = {
        var m: [String: Int] = [:]
        for (i, f) in journalFields.enumerated() { m[f.journal] = i }
        return m
    }()

    static let journalNameBytes: [[UInt8]] = journalFields.map { Array($0.journal.utf8) }

    /// The journal field a rule field comes from (`transport` → `_TRANSPORT`), for sd_journal_add_match.
    public static func journalName(of field: String) -> String? { journalFields.first { $0.name == field }?.journal }
}
