// /proc/net/dev parsing: per interface traffic counters.

/// The counters of one network interface.
public struct NetDevStat: Equatable, Sendable {
    public var name: String
    public var rxBytes, rxPackets, rxErrors, rxDrops: UInt64
    public var txBytes, txPackets, txErrors, txDrops: UInt64
}

/// `/proc/net/dev` (net/core/net-procfs.c `dev_seq_printf_stats`), two header lines then one
/// interface a line:
/// ```
/// Inter-|   Receive                                                |  Transmit
///  face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
///     lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
///   eth0:26501430     688    0    0    0     0          0         0    31899     410    0    0    0     0       0          0
/// ```
/// 8 receive then 8 transmit counters; a long byte count can touch the colon. Header lines (with
/// `|`) are skipped; an interface line with fewer than 16 numbers is an error.
public func parseNetDev(_ bytes: [UInt8]) throws(CollectError) -> [NetDevStat] {
    var out: [NetDevStat] = []
    var failure: CollectError?
    forEachLine(bytes) { line in
        if failure != nil || line.contains(UInt8(ascii: "|")) || trimmed(line).isEmpty { return }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            failure = CollectError("net/dev: malformed line '\(string(line))'")
            return
        }
        let name = trimmed(line[line.startIndex..<colon])
        let f = fields(line[(colon + 1)...])
        var v = [UInt64](repeating: 0, count: 16)
        guard !name.isEmpty, f.count >= 16 else {
            failure = CollectError("net/dev: expected 16 counters for '\(string(name))', found \(f.count)")
            return
        }
        for i in 0..<16 {
            guard let x = parseUInt64(f[i]) else {
                failure = CollectError("net/dev: malformed number in '\(string(line))'")
                return
            }
            v[i] = x
        }
        out.append(NetDevStat(name: string(name), rxBytes: v[0], rxPackets: v[1], rxErrors: v[2], rxDrops: v[3],
                              txBytes: v[8], txPackets: v[9], txErrors: v[10], txDrops: v[11]))
    }
    if let failure { throw failure }
    return out
}
