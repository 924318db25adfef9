// A failed unit's last journal lines, for its alert: read once, when systemd reports the failure (sd-journal,
// dlopened libsystemd; the unit's SupplementaryGroups=systemd-journal lets shd read the system journal).
import CSystemd
#if canImport(Glibc)
import Glibc
#endif

public enum UnitJournal {
    /// Lines kept per failed unit, and bytes per line (a service may log a whole stack trace on one line).
    public static let lineCount = 5
    public static let lineBytes = 300

    /// The last `count` messages the unit logged, or systemd logged about it (`_SYSTEMD_UNIT=` or `UNIT=`), oldest
    /// first, one per line; "" when the journal cannot be read. `file`: one journal file instead of the system's
    /// (tests; `SHD_TEST_JOURNAL_FILE`, as the journal event source reads).
    public static func lastLines(unit: String, count: Int = lineCount,
                                 file: String? = getenv("SHD_TEST_JOURNAL_FILE").map { String(cString: $0) }) -> String {
        var err = [CChar](repeating: 0, count: 256)
        guard shd_journal_load(&err, err.count) == 0 else { return "" }
        var j: OpaquePointer?
        let rc = file.map { f in f.withCString { shd_journal_open(&j, $0) } } ?? shd_journal_open(&j, nil)
        guard rc >= 0, let journal = j else { return "" }
        defer { shd_journal_close(journal) }
        for (k, field) in ["_SYSTEMD_UNIT", "UNIT"].enumerated() {
            if k > 0 { _ = shd_journal_add_disjunction(journal) }
            let match = field + "=" + unit
            _ = match.withCString { shd_journal_add_match(journal, $0, strlen($0)) }
        }
        _ = shd_journal_seek_tail(journal)
        var lines: [String] = []
        while lines.count < count, shd_journal_previous(journal) > 0 {
            if let m = message(journal) { lines.append(m) }
        }
        return lines.reversed().joined(separator: "\n")
    }

    /// The current entry's MESSAGE, cut to `lineBytes` on a character boundary.
    static func message(_ journal: OpaquePointer) -> String? {
        var data: UnsafeRawPointer?
        var len = 0
        shd_journal_restart_data(journal)
        while shd_journal_enumerate_data(journal, &data, &len) > 0, let d = data {
            let buf = UnsafeRawBufferPointer(start: d, count: len)
            guard buf.starts(with: "MESSAGE=".utf8) else { continue }
            return clipped(String(decoding: buf.dropFirst(8), as: UTF8.self))
        }
        return nil
    }

    /// `s` on one line (control characters as spaces), at most `lineBytes` UTF-8 bytes, with "…" when cut.
    public static func clipped(_ s: String) -> String {
        var out = ""
        var bytes = 0
        for ch in s {
            let c: Character = ch.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) ? ch : " "
            let n = c.utf8.count
            if bytes + n > lineBytes - 3 {
                out += "…"
                return out
            }
            out.append(c)
            bytes += n
        }
        return out
    }
}
