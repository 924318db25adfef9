// Pure parsers of what the kernel pushes on netlink: rtnetlink link messages and kobject uevents.

/// One interface as an rtnetlink `RTM_NEWLINK` or `RTM_DELLINK` message describes it.
public struct LinkMessage: Equatable, Sendable {
    /// `RTM_NEWLINK` (a link appeared or changed, or a dump's record) or `RTM_DELLINK` (gone).
    public var deleted: Bool
    public var index: Int32
    /// `ifi_flags` (IFF_UP = 0x1: administratively up; sysfs answers `carrier` only then).
    public var flags: UInt32
    public var name: String?
    public var mtu: Int64?
    /// IFLA_OPERSTATE as sysfs spells it (`up`, `down`, `lowerlayerdown`, …; RFC 2863).
    public var operstate: String?
    public var carrier: Bool?

    public init(deleted: Bool, index: Int32, flags: UInt32, name: String? = nil, mtu: Int64? = nil,
                operstate: String? = nil, carrier: Bool? = nil) {
        self.deleted = deleted
        self.index = index
        self.flags = flags
        self.name = name
        self.mtu = mtu
        self.operstate = operstate
        self.carrier = carrier
    }

    /// Administratively up (IFF_UP).
    public var up: Bool { flags & 1 != 0 }
}

/// What one read from a NETLINK_ROUTE socket held.
public struct NetlinkBatch: Equatable, Sendable {
    public var links: [LinkMessage] = []
    /// An `NLMSG_DONE` ended a dump.
    public var dumpDone = false
    /// An `NLMSG_ERROR` with a non-zero code (negative errno).
    public var error: Int32?
    public init() {}
}

/// A malformed netlink message: a length that does not fit, a truncated header.
public struct NetlinkError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { "netlink: \(message)" }
}

private func loadU16(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt16 {
    UInt16(b[at]) | UInt16(b[at + 1]) << 8
}

private func loadU32(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
    UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}

/// `include/uapi/linux/if.h` IF_OPER_*, spelt as `/sys/class/net/*/operstate` prints them.
let operstateNames = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"]

/// Messages read from a NETLINK_ROUTE socket (host byte order; shd runs on little-endian Linux):
/// ```
/// struct nlmsghdr  { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }   16 bytes, then the payload
/// struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; }   16 bytes
/// struct rtattr    { u16 len; u16 type; }   then the value; each attribute padded to 4 bytes
/// ```
/// Types: NLMSG_ERROR 2, NLMSG_DONE 3, RTM_NEWLINK 16, RTM_DELLINK 17. Attributes read: IFLA_IFNAME 3
/// (NUL-terminated), IFLA_MTU 4 (u32), IFLA_OPERSTATE 16 (u8), IFLA_CARRIER 33 (u8). Other messages
/// and attributes are skipped; a length that runs past the buffer, or under its header, is an error.
public func parseNetlinkRoute(_ bytes: ArraySlice<UInt8>) throws(NetlinkError) -> NetlinkBatch {
    var out = NetlinkBatch()
    var at = bytes.startIndex
    while bytes.endIndex - at >= 16 {
        let len = Int(loadU32(bytes, at))
        let type = loadU16(bytes, at + 4)
        guard len >= 16, len <= bytes.endIndex - at else { throw NetlinkError(message: "message length \(len) at offset \(at - bytes.startIndex) does not fit the \(bytes.count) bytes read") }
        let body = bytes[(at + 16)..<(at + len)]
        switch type {
        case 2:
            if body.count >= 4 {
                let code = Int32(bitPattern: loadU32(body, body.startIndex))
                if code != 0 { out.error = code }
            }
        case 3: out.dumpDone = true
        case 16, 17:
            guard body.count >= 16 else { throw NetlinkError(message: "link message of \(body.count) bytes, under its 16-byte ifinfomsg") }
            var m = LinkMessage(deleted: type == 17, index: Int32(bitPattern: loadU32(body, body.startIndex + 4)),
                                flags: loadU32(body, body.startIndex + 8))
            var a = body.startIndex + 16
            while body.endIndex - a >= 4 {
                let alen = Int(loadU16(body, a))
                let atype = loadU16(body, a + 2) & 0x3fff
                guard alen >= 4, alen <= body.endIndex - a else { throw NetlinkError(message: "attribute length \(alen) runs past its message") }
                let v = body[(a + 4)..<(a + alen)]
                switch atype {
                case 3: m.name = String(decoding: v.prefix { $0 != 0 }, as: UTF8.self)
                case 4 where v.count >= 4: m.mtu = Int64(loadU32(v, v.startIndex))
                case 16 where v.count >= 1: m.operstate = Int(v.first!) < operstateNames.count ? operstateNames[Int(v.first!)] : "unknown"
                case 33 where v.count >= 1: m.carrier = v.first! != 0
                default: break
                }
                a += (alen + 3) & ~3
            }
            out.links.append(m)
        default: break
        }
        at += (len + 3) & ~3
    }
    return out
}

/// One kernel uevent (lib/kobject_uevent.c), as broadcast on NETLINK_KOBJECT_UEVENT group 1:
/// ```
/// add@/devices/virtual/net/veth0\0ACTION=add\0DEVPATH=/devices/virtual/net/veth0\0SUBSYSTEM=net\0INTERFACE=veth0\0SEQNUM=4711\0
/// ```
/// udev's re-broadcasts (group 2) start with `libudev\0` and a binary header: not the kernel's,
/// they are refused (nil), as is anything without `ACTION@DEVPATH` and a SUBSYSTEM.
public struct Uevent: Equatable, Sendable {
    public var action: String
    public var devpath: String
    public var subsystem: String
    /// DEVNAME (block devices), INTERFACE (net), DEVTYPE and the rest, as given.
    public var properties: [String: String]

    public init(action: String, devpath: String, subsystem: String, properties: [String: String] = [:]) {
        self.action = action
        self.devpath = devpath
        self.subsystem = subsystem
        self.properties = properties
    }
}

public func parseUevent(_ bytes: ArraySlice<UInt8>) -> Uevent? {
    let parts = bytes.split(separator: 0, omittingEmptySubsequences: true)
    guard let head = parts.first, let at = head.firstIndex(of: UInt8(ascii: "@")), at > head.startIndex else { return nil }
    let action = String(decoding: head[..<at], as: UTF8.self)
    let devpath = String(decoding: head[(at + 1)...], as: UTF8.self)
    guard action.utf8.allSatisfy({ $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }), devpath.hasPrefix("/") else { return nil }
    var props: [String: String] = [:]
    for p in parts.dropFirst() {
        guard let eq = p.firstIndex(of: UInt8(ascii: "=")) else { continue }
        props[String(decoding: p[..<eq], as: UTF8.self)] = String(decoding: p[(eq + 1)...], as: UTF8.self)
    }
    guard let subsystem = props["SUBSYSTEM"] else { return nil }
    return Uevent(action: action, devpath: devpath, subsystem: subsystem, properties: props)
}
