// Listening TCP sockets through NETLINK_SOCK_DIAG, which walks only the kernel's listener hash.
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Why a sock_diag dump failed.
public struct SockDiagError: Error, Equatable, CustomStringConvertible {
    public var errno: Int32
    public var step: String
    public var description: String { "sock_diag \(step): \(String(cString: strerror(errno)))" }
}

/// Lists listening TCP sockets of one family (AF_INET or AF_INET6) with an inet_diag dump whose state
/// filter is LISTEN only.
///
/// Reading /proc/net/tcp (and tcp6) makes the kernel walk every bucket of the established-connection
/// hash table, whatever it holds: about 4 ms per file on a machine with 262144 buckets, even when
/// the file has one line. A LISTEN-only inet_diag request never touches that table
/// (net/ipv4/inet_diag.c `inet_diag_dump_icsk`), so `network.listening` stays cheap when the TCP
/// state counts of `network.sockets` are turned off (`WorkerOptions.tcpStateCounts`).
public func dumpListeningTCP(family: Int32) throws(SockDiagError) -> [SocketEntry] {
    let netlinkSockDiag: Int32 = 4
    let fd = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkSockDiag)
    if fd < 0 { throw SockDiagError(errno: shd_errno(), step: "socket") }
    defer { close(fd) }

    // struct nlmsghdr (16) + struct inet_diag_req_v2 (56), native byte order.
    var req = [UInt8](repeating: 0, count: 72)
    func put32(_ v: UInt32, _ at: Int) { withUnsafeBytes(of: v) { for i in 0..<4 { req[at + i] = $0[i] } } }
    func put16(_ v: UInt16, _ at: Int) { withUnsafeBytes(of: v) { for i in 0..<2 { req[at + i] = $0[i] } } }
    put32(72, 0)                        // nlmsg_len
    put16(20, 4)                        // SOCK_DIAG_BY_FAMILY
    put16(0x1 | 0x300, 6)               // NLM_F_REQUEST | NLM_F_DUMP
    put32(1, 8)                         // nlmsg_seq
    req[16] = UInt8(family)             // sdiag_family
    req[17] = UInt8(IPPROTO_TCP)        // sdiag_protocol
    put32(1 << UInt32(TCPState.listen.rawValue), 20)   // idiag_states
    // The netlink socket is unbound: the kernel (port 0) is the default destination.
    let sent = req.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    if sent != req.count { throw SockDiagError(errno: shd_errno(), step: "send") }

    var out: [SocketEntry] = []
    var buf = [UInt8](repeating: 0, count: 32768)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 {
            if shd_errno() == EINTR { continue }
            throw SockDiagError(errno: shd_errno(), step: "recv")
        }
        if n == 0 { return out }
        var off = 0
        while off + 16 <= n {
            let len = Int(load32(buf, off))
            let type = load16(buf, off + 4)
            guard len >= 16, off + len <= n else { throw SockDiagError(errno: EPROTO, step: "parse") }
            if type == 3 { return out }                                     // NLMSG_DONE
            if type == 2 {                                                  // NLMSG_ERROR
                let code = len >= 20 ? Int32(bitPattern: load32(buf, off + 16)) : -EPROTO
                if code == 0 { return out }
                throw SockDiagError(errno: 0 &- code, step: "dump")
            }
            // struct inet_diag_msg: family, state, timer, retrans, then inet_diag_sockid at +4:
            // sport(be16) dport(be16) src[16] dst[16] if cookie[2].
            let p = off + 16
            if type == 20, len >= 16 + 72 {
                let fam = Int32(buf[p])
                let addrLen = fam == AF_INET6 ? 16 : 4
                let sport = UInt16(buf[p + 4]) << 8 | UInt16(buf[p + 5])
                let dport = UInt16(buf[p + 6]) << 8 | UInt16(buf[p + 7])
                out.append(SocketEntry(localAddress: Array(buf[(p + 8)..<(p + 8 + addrLen)]), localPort: sport,
                                       remoteAddress: Array(buf[(p + 24)..<(p + 24 + addrLen)]), remotePort: dport,
                                       state: buf[p + 1]))
            }
            off += (len + 3) & ~3
        }
    }
}

@inline(__always)
private func load32(_ b: [UInt8], _ at: Int) -> UInt32 {
    var v: UInt32 = 0
    withUnsafeMutableBytes(of: &v) { for i in 0..<4 { $0[i] = b[at + i] } }
    return v
}

@inline(__always)
private func load16(_ b: [UInt8], _ at: Int) -> UInt16 {
    var v: UInt16 = 0
    withUnsafeMutableBytes(of: &v) { for i in 0..<2 { $0[i] = b[at + i] } }
    return v
}
