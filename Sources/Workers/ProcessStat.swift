// /proc/[pid]/stat, /proc/[pid]/status, /proc/sys/fs/file-nr and /etc/passwd parsing.

/// The fields of `/proc/[pid]/stat` that shd uses.
public struct ProcessStat: Equatable, Sendable {
    public var pid: Int64
    /// The command name as the kernel keeps it (at most 15 bytes, may contain spaces and parentheses).
    public var comm: String
    /// One letter: R S D Z T t X I P W K.
    public var state: UInt8
    public var ppid: Int64
    /// utime + stime, in clock ticks (`sysconf(_SC_CLK_TCK)`).
    public var cpuTicks: UInt64
    public var numThreads: Int64
    /// Start time after boot in clock ticks: with the pid, it tells a reused pid apart.
    public var startTime: UInt64
    /// Resident set size in pages.
    public var rssPages: Int64
}

/// `/proc/[pid]/stat` (fs/proc/array.c `do_task_stat`, proc(5)), one line:
/// ```
/// 1234 (tmux: server) S 1 1234 1234 0 -1 4194368 1021 0 0 0 30 12 0 0 20 0 1 0 4182 9732096 866 …
/// ```
/// pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
/// cutime cstime priority nice num_threads itrealvalue starttime vsize rss … (52 fields on 5.x).
/// comm may hold spaces and `)`, so the line is split at the *last* `)`. Fields after rss are ignored.
public func parseProcessStat(_ bytes: ArraySlice<UInt8>) throws(CollectError) -> ProcessStat {
    guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
          let close = bytes.lastIndex(of: UInt8(ascii: ")")), close > open,
          let pid = parseInt64(trimmed(bytes[bytes.startIndex..<open]))
    else { throw CollectError("pid stat: malformed '\(string(bytes.prefix(80)))'") }
    let rest = fields(bytes[(close + 1)...], limit: 22)
    // rest[0] is field 3 (state): field k is rest[k - 3].
    guard rest.count >= 22, rest[0].count == 1,
          let ppid = parseInt64(rest[1]), let utime = parseUInt64(rest[11]), let stime = parseUInt64(rest[12]),
          let threads = parseInt64(rest[17]), let start = parseUInt64(rest[19]), let rss = parseInt64(rest[21])
    else { throw CollectError("pid stat: malformed fields for pid \(pid)") }
    return ProcessStat(pid: pid, comm: string(bytes[(open + 1)..<close]), state: rest[0].first!, ppid: ppid,
                       cpuTicks: saturatingSum(utime, stime), numThreads: threads, startTime: start, rssPages: rss)
}

/// The fields of `/proc/[pid]/status` that shd uses (processes.* and system.self).
public struct ProcessStatus: Equatable, Sendable {
    public var name: String?
    /// Real user id (first of the four `Uid:` columns).
    public var uid: UInt32?
    public var vmRSSBytes: UInt64?
    /// Peak resident set (VmHWM).
    public var vmHWMBytes: UInt64?
    public var vmSizeBytes: UInt64?
    public var threads: UInt64?
}

/// `/proc/[pid]/status` (fs/proc/array.c), `Key:\tvalue[ kB]` lines:
/// ```
/// Name:	sshd
/// State:	S (sleeping)
/// Uid:	0	0	0	0
/// VmHWM:	    5640 kB
/// VmRSS:	    5640 kB
/// Threads:	1
/// ```
/// The one parser of this file. Unknown keys are skipped; kernel threads have no Vm* lines. Each reader says
/// which lines it cannot do without (`parseProcessStatus`, `parseSelfStatus`).
func scanProcessStatus(_ bytes: [UInt8]) -> ProcessStatus {
    var s = ProcessStatus()
    forEachLine(bytes) { line in
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let key = line[line.startIndex..<colon]
        let value = line[(colon + 1)...]
        if equals(key, "Name") {
            s.name = string(trimmed(value))
        } else if equals(key, "Uid") {
            if let first = fields(value).first, let u = parseUInt64(first), u <= UInt64(UInt32.max) { s.uid = UInt32(u) }
        } else if equals(key, "VmRSS") || equals(key, "VmHWM") || equals(key, "VmSize") || equals(key, "Threads") {
            // Only these of ~55 lines hold numbers shd reads: the key is compared before the value is touched.
            let (number, unit) = splitFirstToken(value)
            guard let n = parseUInt64(number) else { return }
            let v = equals(unit, "kB") ? saturatingProduct(n, 1024) : n
            if equals(key, "VmRSS") { s.vmRSSBytes = v }
            else if equals(key, "VmHWM") { s.vmHWMBytes = v }
            else if equals(key, "VmSize") { s.vmSizeBytes = v }
            else { s.threads = v }
        }
    }
    return s
}

/// `/proc/[pid]/status` for processes.*: a file with no `Name:` and no `Uid:` line is an error.
public func parseProcessStatus(_ bytes: [UInt8]) throws(CollectError) -> ProcessStatus {
    let s = scanProcessStatus(bytes)
    if s.name == nil && s.uid == nil { throw CollectError("pid status: no Name or Uid line") }
    return s
}

/// `/proc/sys/fs/file-nr` (Documentation/admin-guide/sysctl/fs.rst): allocated, free, max:
/// ```
/// 1824	0	9223372036854775807
/// ```
public func parseFileNr(_ bytes: [UInt8]) throws(CollectError) -> (allocated: UInt64, free: UInt64, max: UInt64) {
    let f = fields(bytes[...])
    guard f.count >= 3, let a = parseUInt64(f[0]), let fr = parseUInt64(f[1]), let m = parseUInt64(f[2]) else {
        throw CollectError("file-nr: expected 3 numbers, found '\(string(bytes.prefix(80)))'")
    }
    return (a, fr, m)
}

/// `/etc/passwd` (passwd(5)): `name:password:UID:GID:GECOS:home:shell`. Malformed lines are skipped;
/// the first name of a uid wins, as getpwuid does.
public func parsePasswd(_ bytes: [UInt8]) -> [UInt32: String] {
    var out: [UInt32: String] = [:]
    forEachLine(bytes) { line in
        if line.first == UInt8(ascii: "#") { return }
        let f = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard f.count >= 3, !f[0].isEmpty, let uid = parseUInt64(f[2]), uid <= UInt64(UInt32.max) else { return }
        if out[UInt32(uid)] == nil { out[UInt32(uid)] = string(f[0]) }
    }
    return out
}

/// The state letter's field name in `processes.summary`.
public func processStateName(_ state: UInt8) -> String {
    switch state {
    case UInt8(ascii: "R"): return "running"
    case UInt8(ascii: "S"): return "sleeping"
    case UInt8(ascii: "D"): return "disk_sleep"
    case UInt8(ascii: "Z"): return "zombie"
    case UInt8(ascii: "T"), UInt8(ascii: "t"): return "stopped"
    case UInt8(ascii: "I"): return "idle"
    default: return "other"
    }
}
