// Byte-level helpers for parsing kernel text without building String lines.

/// Splits `bytes` into lines (without the newline). A trailing line without a newline is kept.
@inlinable
public func forEachLine(_ bytes: [UInt8], _ body: (ArraySlice<UInt8>) throws -> Void) rethrows {
    var start = 0
    let n = bytes.count
    var i = 0
    while i < n {
        if bytes[i] == 0x0A {
            try body(bytes[start..<i])
            start = i + 1
        }
        i += 1
    }
    if start < n { try body(bytes[start..<n]) }
}

@inlinable
func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

/// Splits on runs of spaces and tabs; with `limit`, only the first `limit` fields, the rest left unsplit
/// (a /proc/PID/stat line has 52 fields, shd reads 22).
@inlinable
public func fields(_ line: ArraySlice<UInt8>, limit: Int = .max) -> [ArraySlice<UInt8>] {
    var out: [ArraySlice<UInt8>] = []
    out.reserveCapacity(min(limit, 16))
    var i = line.startIndex
    let end = line.endIndex
    while i < end, out.count < limit {
        while i < end, isSpace(line[i]) { i += 1 }
        if i >= end { break }
        let s = i
        while i < end, !isSpace(line[i]) { i += 1 }
        out.append(line[s..<i])
    }
    return out
}

/// Trims spaces and tabs at both ends.
@inlinable
public func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var a = s.startIndex
    var b = s.endIndex
    while a < b, isSpace(s[a]) { a += 1 }
    while b > a, isSpace(s[b - 1]) { b -= 1 }
    return s[a..<b]
}

/// Decimal unsigned integer; nil on anything else (empty, sign, garbage, overflow).
@inlinable
public func parseUInt64(_ s: ArraySlice<UInt8>) -> UInt64? {
    if s.isEmpty { return nil }
    var v: UInt64 = 0
    for c in s {
        guard c >= 0x30 && c <= 0x39 else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(c - 0x30))
        if o1 || o2 { return nil }
        v = a
    }
    return v
}

/// Decimal signed integer.
@inlinable
public func parseInt64(_ s: ArraySlice<UInt8>) -> Int64? {
    guard let f = s.first else { return nil }
    if f == UInt8(ascii: "-") {
        guard let u = parseUInt64(s.dropFirst()), u <= UInt64(Int64.max) + 1 else { return nil }
        return u == UInt64(Int64.max) + 1 ? Int64.min : -Int64(u)
    }
    guard let u = parseUInt64(s), u <= UInt64(Int64.max) else { return nil }
    return Int64(u)
}

/// A decimal number such as `0.21` or `-3`; nil for anything that is not a finite number
/// (`inf`, `nan`, `1e999`), which no kernel file means and which no arithmetic after it should see.
@inlinable
public func parseDouble(_ s: ArraySlice<UInt8>) -> Double? {
    if s.isEmpty || s.count > 64 { return nil }
    guard let d = Double(String(decoding: s, as: UTF8.self)), d.isFinite else { return nil }
    return d
}

@inlinable
public func string(_ s: ArraySlice<UInt8>) -> String { String(decoding: s, as: UTF8.self) }

/// True when `s` begins with the ASCII `prefix`.
@inlinable
public func hasPrefix(_ s: ArraySlice<UInt8>, _ prefix: StaticString) -> Bool {
    let n = prefix.utf8CodeUnitCount
    guard s.count >= n else { return false }
    let p = prefix.utf8Start
    var i = s.startIndex
    for k in 0..<n {
        if s[i] != p[k] { return false }
        i += 1
    }
    return true
}

/// Equality of a byte slice with an ASCII literal.
@inlinable
public func equals(_ s: ArraySlice<UInt8>, _ lit: StaticString) -> Bool {
    s.count == lit.utf8CodeUnitCount && hasPrefix(s, lit)
}

/// Parses a kernel CPU list such as `0-3,8,10-11` (sysfs `online`) into its count of CPUs.
public func parseCPUListCount(_ text: ArraySlice<UInt8>) -> Int? {
    var count = 0
    let t = trimmed(text)
    if t.isEmpty { return nil }
    for part in t.split(separator: UInt8(ascii: ",")) {
        let bounds = part.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        if bounds.count == 1 {
            guard parseUInt64(bounds[0]) != nil else { return nil }
            count += 1
        } else if bounds.count == 2, let a = parseUInt64(bounds[0]), let b = parseUInt64(bounds[1]), b >= a,
                  b - a < UInt64(maxCPUListCount) {
            count += Int(b - a + 1)
        } else {
            return nil
        }
        // No kernel has more CPUs than this (NR_CPUS is at most 8192 today); more is a damaged file.
        if count > maxCPUListCount { return nil }
    }
    return count
}

/// The most CPUs a kernel CPU list may name before shd calls it damaged.
let maxCPUListCount = 1 << 20

