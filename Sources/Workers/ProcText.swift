// Allocation-free helpers for `key value` kernel text (meminfo, vmstat, status), used on every tick.

/// Splits `line` at its first run of spaces or tabs: the first token and the trimmed rest.
@inlinable
func splitFirstToken(_ line: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, ArraySlice<UInt8>) {
    let t = trimmed(line)
    var i = t.startIndex
    while i < t.endIndex, t[i] != 0x20, t[i] != 0x09 { i += 1 }
    return (t[t.startIndex..<i], trimmed(t[i...]))
}

/// A cheap pre-check before a key becomes a `String`: only names whose (first byte, length) matches
/// a wanted key pass, so files of 50–200 lines make a handful of Strings, not one per line.
struct ProcKeyFilter {
    private var table = [Bool](repeating: false, count: 256 * 64)
    let keys: Set<String>

    init(_ keys: Set<String>) {
        self.keys = keys
        for k in keys {
            let u = Array(k.utf8)
            if let f = u.first, u.count < 64 { table[Int(f) * 64 + u.count] = true }
        }
    }

    /// The key as a String when it is one of `keys`, else nil.
    func match(_ name: ArraySlice<UInt8>) -> String? {
        guard let f = name.first, name.count < 64, table[Int(f) * 64 + name.count] else { return nil }
        let s = string(name)
        return keys.contains(s) ? s : nil
    }
}
