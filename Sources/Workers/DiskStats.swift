// /proc/diskstats parsing: per block device I/O counters.

/// The counters of one block device.
public struct DiskStat: Equatable, Sendable {
    public var major: UInt64
    public var minor: UInt64
    public var device: String
    public var reads: UInt64
    public var readsMerged: UInt64
    public var sectorsRead: UInt64
    public var readMilliseconds: UInt64
    public var writes: UInt64
    public var writesMerged: UInt64
    public var sectorsWritten: UInt64
    public var writeMilliseconds: UInt64
    public var inFlight: UInt64
    public var ioMilliseconds: UInt64
    public var weightedIOMilliseconds: UInt64
    /// Kernel 4.18+ (18 fields); nil before.
    public var discards: UInt64?
    public var sectorsDiscarded: UInt64?
    public var discardMilliseconds: UInt64?
    /// Kernel 5.5+ (20 fields); nil before.
    public var flushes: UInt64?
    public var flushMilliseconds: UInt64?

    /// Every counter is zero: a device never used (unused loop, absent floppy).
    public var isIdle: Bool {
        reads == 0 && writes == 0 && inFlight == 0 && ioMilliseconds == 0 && (discards ?? 0) == 0 && (flushes ?? 0) == 0
    }
}

/// `/proc/diskstats` (Documentation/admin-guide/iostats.rst), one device a line:
/// ```
///    8       0 sda 446216 784926 9550688 4382310 424847 312726 5922052 19310380 0 3376340 23705160
///    8       0 sda 446216 784926 9550688 4382310 424847 312726 5922052 19310380 0 3376340 23705160 0 0 0 0
///    8       0 sda 446216 784926 9550688 4382310 424847 312726 5922052 19310380 0 3376340 23705160 0 0 0 0 0 0
/// ```
/// major minor name, then reads completed, merged, sectors read, ms reading, writes completed, merged,
/// sectors written, ms writing, I/Os in progress, ms doing I/O, weighted ms (14 fields); 4.18 adds
/// discards completed, merged, sectors, ms (18); 5.5 adds flushes completed, ms (20). Sectors are
/// always 512 bytes. Fields past the 20th (a future kernel) are ignored; fewer than 14 is an error.
public func parseDiskStats(_ bytes: [UInt8]) throws(CollectError) -> [DiskStat] {
    var out: [DiskStat] = []
    var failure: CollectError?
    forEachLine(bytes) { line in
        if failure != nil { return }
        let f = fields(line)
        if f.isEmpty { return }
        guard f.count >= 14, let major = parseUInt64(f[0]), let minor = parseUInt64(f[1]) else {
            failure = CollectError("diskstats: malformed line '\(string(line))'")
            return
        }
        var v = [UInt64](repeating: 0, count: 17)
        let n = min(f.count - 3, 17)
        for i in 0..<n {
            guard let x = parseUInt64(f[3 + i]) else {
                failure = CollectError("diskstats: malformed number in '\(string(line))'")
                return
            }
            v[i] = x
        }
        out.append(DiskStat(
            major: major, minor: minor, device: string(f[2]),
            reads: v[0], readsMerged: v[1], sectorsRead: v[2], readMilliseconds: v[3],
            writes: v[4], writesMerged: v[5], sectorsWritten: v[6], writeMilliseconds: v[7],
            inFlight: v[8], ioMilliseconds: v[9], weightedIOMilliseconds: v[10],
            discards: n >= 15 ? v[11] : nil, sectorsDiscarded: n >= 15 ? v[13] : nil,
            discardMilliseconds: n >= 15 ? v[14] : nil,
            flushes: n >= 17 ? v[15] : nil, flushMilliseconds: n >= 17 ? v[16] : nil))
    }
    if let failure { throw failure }
    return out
}

/// Devices `disk.io` leaves out: RAM disks and loop devices (their I/O is another device's).
public func isIgnoredBlockDevice(_ name: String) -> Bool {
    name.hasPrefix("ram") || name.hasPrefix("loop")
}
