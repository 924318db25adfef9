// The small files a process watch reads: pid files, cgroup.procs, /proc/PID/cmdline, limits and smaps_rollup.
// Pure parsers of bytes (no I/O), table-tested on real text and fuzzed (fuzz/watch.swift).

/// The largest pid Linux allocates (PID_MAX_LIMIT, 2^22 on 64-bit).
let pidMaxLimit: Int64 = 4_194_304

/// A pid file (`/run/nginx.pid`): the pid is the first word of the first line, written in decimal; some daemons add
/// a newline, spaces or a second line (`/run/sshd.pid` holds `812\n`). nil for an empty file, a word that is not a
/// pid in 1...PID_MAX_LIMIT, or anything but digits before the first space.
public func parsePidfile(_ bytes: ArraySlice<UInt8>) -> Int64? {
    var i = bytes.startIndex
    while i < bytes.endIndex, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
    var pid: Int64 = 0
    var digits = 0
    while i < bytes.endIndex, bytes[i] >= 0x30, bytes[i] <= 0x39 {
        pid = pid * 10 + Int64(bytes[i] - 0x30)
        digits += 1
        if digits > 7 { return nil }
        i += 1
    }
    guard digits > 0, pid >= 1, pid <= pidMaxLimit else { return nil }
    if i < bytes.endIndex, !isSpace(bytes[i]) { return nil }
    return pid
}

/// `cgroup.procs` (Documentation/admin-guide/cgroup-v2.rst): the pids of the processes in the cgroup, one per line,
/// in no particular order and possibly repeated (a pid that moved in during the read). Lines that are not a pid are
/// skipped; the result is sorted and unique.
public func parseCgroupProcs(_ bytes: [UInt8]) -> [Int64] {
    var out: [Int64] = []
    forEachLine(bytes) { line in
        if let p = parsePidfile(line) { out.append(p) }
    }
    out.sort()
    var unique: [Int64] = []
    unique.reserveCapacity(out.count)
    for p in out where unique.last != p { unique.append(p) }
    return unique
}

/// `/proc/PID/cmdline`: the arguments, each ended by a NUL. Joined with spaces as `ps -o args` and `pgrep -f` show
/// them (a process that rewrote its arguments into one string with spaces reads the same). Empty for kernel threads
/// and zombies. Invalid UTF-8 is replaced.
public func parseCmdline(_ bytes: ArraySlice<UInt8>) -> String {
    var b = Array(bytes)
    while b.last == 0 { b.removeLast() }
    for k in b.indices where b[k] == 0 { b[k] = 0x20 }
    return String(decoding: b, as: UTF8.self)
}

/// A limit of `/proc/PID/limits`; nil means `unlimited`.
public struct ResourceLimit: Equatable, Sendable {
    public var soft: UInt64?
    public var hard: UInt64?
}

/// `/proc/PID/limits` (fs/proc/base.c `proc_pid_limits`): a header, then one line per limit, the name padded to 26
/// columns, soft and hard limits padded to 21, then the unit:
/// ```
/// Limit                     Soft Limit           Hard Limit           Units
/// Max open files            1024                 524288               files
/// ```
/// The limit named `name` (`Max open files`), or nil when the file has no such line or its values are not numbers.
public func parseLimit(_ bytes: [UInt8], _ name: StaticString) -> ResourceLimit? {
    var found: ResourceLimit?
    forEachLine(bytes) { line in
        guard found == nil, hasPrefix(line, name) else { return }
        let rest = line[(line.startIndex + name.utf8CodeUnitCount)...]
        guard rest.first == 0x20 else { return }
        let f = fields(rest, limit: 3)
        guard f.count >= 2 else { return }
        func value(_ s: ArraySlice<UInt8>) -> UInt64?? {
            if equals(s, "unlimited") { return .some(nil) }
            return parseUInt64(s).map { .some($0) }
        }
        guard let soft = value(f[0]), let hard = value(f[1]) else { return }
        found = ResourceLimit(soft: soft, hard: hard)
    }
    return found
}

/// `/proc/PID/smaps_rollup` (Linux 4.14+): the process's mappings summed, `Key:   value kB` lines after one
/// header line. The proportional set size (`Pss:`) in bytes, or nil without one.
/// ```
/// 564e1d702000-7ffcbb2ec000 ---p 00000000 00:00 0                          [rollup]
/// Rss:                1624 kB
/// Pss:                 222 kB
/// ```
public func parseSmapsRollupPss(_ bytes: [UInt8]) -> UInt64? {
    var pss: UInt64?
    forEachLine(bytes) { line in
        guard pss == nil, hasPrefix(line, "Pss:") else { return }
        let (number, unit) = splitFirstToken(line[(line.startIndex + 4)...])
        guard let n = parseUInt64(number) else { return }
        pss = equals(unit, "kB") ? saturatingProduct(n, 1024) : n
    }
    return pss
}
