// /proc/net/sockstat(6) and /proc/net/{tcp,tcp6,udp,udp6} parsing, with the kernel's hex addresses decoded.
#if canImport(Glibc)
import Glibc
#endif

/// `/proc/net/sockstat` and `sockstat6` (net/ipv4/proc.c `sockstat_seq_show`):
/// ```
/// sockets: used 290
/// TCP: inuse 27 orphan 1 tw 0 alloc 32 mem 3
/// UDP: inuse 9 mem 2
/// UDPLITE: inuse 0
/// RAW: inuse 0
/// FRAG: inuse 0 memory 0
/// ```
/// Each line is `PROTO:` then `key value` pairs; returns `[proto: [key: value]]` with the proto as
/// written (`TCP`, `TCP6`, `sockets`). Unknown protocols and keys are kept (callers pick theirs);
/// an odd pair count or a non-number is an error.
public func parseSockstat(_ bytes: [UInt8]) throws(CollectError) -> [String: [String: Int64]] {
    var out: [String: [String: Int64]] = [:]
    var failure: CollectError?
    forEachLine(bytes) { line in
        if failure != nil || trimmed(line).isEmpty { return }
        let f = fields(line)
        guard let head = f.first, head.last == UInt8(ascii: ":"), f.count >= 3, (f.count - 1) % 2 == 0 else {
            failure = CollectError("sockstat: malformed line '\(string(line))'")
            return
        }
        var kv: [String: Int64] = [:]
        var i = 1
        while i + 1 < f.count {
            guard let v = parseInt64(f[i + 1]) else {
                failure = CollectError("sockstat: malformed number in '\(string(line))'")
                return
            }
            kv[string(f[i])] = v
            i += 2
        }
        out[string(head.dropLast())] = kv
    }
    if let failure { throw failure }
    return out
}

/// TCP states as /proc/net/tcp prints them (include/net/tcp_states.h), in hex. (TCP_NEW_SYN_RECV
/// request sockets are printed as SYN_RECV, so that state never appears.)
public enum TCPState: UInt8, CaseIterable, Sendable {
    case established = 0x01, synSent, synRecv, finWait1, finWait2, timeWait, close, closeWait, lastAck, listen, closing

    /// The field-name form used in `network.sockets` (`tcp_close_wait`).
    public var fieldName: String {
        switch self {
        case .established: return "tcp_established"
        case .synSent: return "tcp_syn_sent"
        case .synRecv: return "tcp_syn_recv"
        case .finWait1: return "tcp_fin_wait1"
        case .finWait2: return "tcp_fin_wait2"
        case .timeWait: return "tcp_time_wait"
        case .close: return "tcp_close"
        case .closeWait: return "tcp_close_wait"
        case .lastAck: return "tcp_last_ack"
        case .listen: return "tcp_listen"
        case .closing: return "tcp_closing"
        }
    }
}

/// One line of /proc/net/{tcp,tcp6,udp,udp6}: the local end and the state.
public struct SocketEntry: Equatable, Sendable {
    /// 4 bytes (IPv4) or 16 (IPv6), in network order.
    public var localAddress: [UInt8]
    public var localPort: UInt16
    public var remoteAddress: [UInt8]
    public var remotePort: UInt16
    /// The `st` column: a TCP state, or for UDP 07 (unconnected) / 01 (connected).
    public var state: UInt8
}

/// `/proc/net/tcp` (net/ipv4/tcp_ipv4.c `get_tcp4_sock`), and tcp6, udp, udp6 alike:
/// ```
///   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
///    0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   118        0 17539 1 …
///    0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A …
/// ```
/// Addresses are the in-kernel 32-bit words printed with `%08X` in host byte order (so on a
/// little-endian machine `0100007F` is 127.0.0.1), ports are big-endian hex. Only the columns up
/// to `st` are read; the header is skipped; a short or non-hex line is an error. With `states`, only
/// lines in those states are decoded and returned (a listener scan of a table of 100k connections).
public func parseSocketTable(_ bytes: [UInt8], states: Set<UInt8>? = nil) throws(CollectError) -> [SocketEntry] {
    var out: [SocketEntry] = []
    var failure: CollectError?
    forEachLine(bytes) { line in
        if failure != nil { return }
        let f = fields(line)
        if f.isEmpty || equals(f[0], "sl") { return }
        if let states, f.count >= 4, f[3].count == 2, let st = parseHex(f[3]), !states.contains(UInt8(st)) { return }
        guard f.count >= 4, let local = parseHexEndpoint(f[1]), let remote = parseHexEndpoint(f[2]),
              f[3].count == 2, let st = parseHex(f[3])
        else {
            failure = CollectError("net socket table: malformed line '\(string(line))'")
            return
        }
        out.append(SocketEntry(localAddress: local.address, localPort: local.port, remoteAddress: remote.address,
                               remotePort: remote.port, state: UInt8(st)))
    }
    if let failure { throw failure }
    return out
}

/// Counts the `st` column of a socket table without building entries or field arrays (busy servers
/// have 100k lines): the fourth whitespace-separated field of each line after the header.
public func countSocketStates(_ bytes: [UInt8], into counts: inout [UInt8: Int]) throws(CollectError) {
    var perState = [Int](repeating: 0, count: 256)
    var failure: CollectError?
    forEachLine(bytes) { line in
        if failure != nil { return }
        var i = line.startIndex
        let end = line.endIndex
        var field = 0
        var st: ArraySlice<UInt8> = []
        while i < end {
            while i < end, isSpace(line[i]) { i += 1 }
            if i >= end { break }
            let s = i
            while i < end, !isSpace(line[i]) { i += 1 }
            if field == 0 && equals(line[s..<i], "sl") { return }
            if field == 3 {
                st = line[s..<i]
                break
            }
            field += 1
        }
        if field == 0 && st.isEmpty { return }   // blank line
        guard st.count == 2, let v = parseHex(st) else {
            failure = CollectError("net socket table: malformed line '\(string(line))'")
            return
        }
        perState[Int(v)] += 1
    }
    if let failure { throw failure }
    for (state, n) in perState.enumerated() where n > 0 { counts[UInt8(state), default: 0] += n }
}

/// Hex digits to a number (at most 16 digits).
func parseHex(_ s: ArraySlice<UInt8>) -> UInt64? {
    if s.isEmpty || s.count > 16 { return nil }
    var v: UInt64 = 0
    for c in s {
        let d: UInt8
        switch c {
        case 0x30...0x39: d = c - 0x30
        case 0x41...0x46: d = c - 0x41 + 10
        case 0x61...0x66: d = c - 0x61 + 10
        default: return nil
        }
        v = v << 4 | UInt64(d)
    }
    return v
}

/// `0100007F:0CEA` → ([127,0,0,1], 3306). The address is 8 or 32 hex digits of host-order words.
public func parseHexEndpoint(_ s: ArraySlice<UInt8>) -> (address: [UInt8], port: UInt16)? {
    guard let colon = s.firstIndex(of: UInt8(ascii: ":")) else { return nil }
    let a = s[s.startIndex..<colon]
    let p = s[(colon + 1)...]
    guard a.count == 8 || a.count == 32, p.count == 4, let port = parseHex(p) else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(a.count / 2)
    var i = a.startIndex
    while i < a.endIndex {
        guard let word = parseHex(a[i..<(i + 8)]) else { return nil }
        // The word was printed as a host-order integer: little-endian hosts store its low byte first.
        let w = UInt32(word)
        let be = UInt32(littleEndian: w)
        bytes.append(UInt8(be & 0xFF))
        bytes.append(UInt8(be >> 8 & 0xFF))
        bytes.append(UInt8(be >> 16 & 0xFF))
        bytes.append(UInt8(be >> 24 & 0xFF))
        i += 8
    }
    return (bytes, UInt16(port))
}

/// Text form of a 4- or 16-byte address (RFC 5952 for IPv6, through inet_ntop).
public func formatAddress(_ bytes: [UInt8]) -> String {
    let family = bytes.count == 4 ? AF_INET : AF_INET6
    var buf = [CChar](repeating: 0, count: 64)
    let ok = bytes.withUnsafeBytes { src in
        buf.withUnsafeMutableBufferPointer { dst in inet_ntop(family, src.baseAddress, dst.baseAddress, 64) != nil }
    }
    guard ok else { return "?" }
    return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
