// The network worker: network.interfaces (/proc/net/dev + /sys/class/net), network.sockets, network.listening.
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// `network.interfaces`: one row per interface with counters, rates and link state.
public final class InterfacesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "interfaces", help: "Network interfaces: traffic, errors, link state", fields: [
        FieldSchema("name", .label, help: "Interface name"),
        FieldSchema("operstate", .label, help: "RFC 2863 operational state (up, down, lowerlayerdown, unknown, …)"),
        FieldSchema("carrier", .bool, help: "Link detected (absent while the interface is administratively down)"),
        FieldSchema("speed_mbps", .number, help: "Negotiated link speed (absent when the driver does not know)"),
        FieldSchema("mtu", .number, unit: "bytes", help: "Maximum transmission unit"),
        FieldSchema("rx_bytes_total", .counter, unit: "bytes", help: "Bytes received"),
        FieldSchema("tx_bytes_total", .counter, unit: "bytes", help: "Bytes sent"),
        FieldSchema("rx_packets_total", .counter, help: "Packets received"),
        FieldSchema("tx_packets_total", .counter, help: "Packets sent"),
        FieldSchema("rx_errors_total", .counter, help: "Receive errors"),
        FieldSchema("tx_errors_total", .counter, help: "Transmit errors"),
        FieldSchema("rx_drops_total", .counter, help: "Received packets dropped"),
        FieldSchema("tx_drops_total", .counter, help: "Packets dropped on transmit"),
        FieldSchema("rx_bytes_per_second", .number, unit: "bytes", help: "Bytes received per second since the last tick"),
        FieldSchema("tx_bytes_per_second", .number, unit: "bytes", help: "Bytes sent per second since the last tick"),
        FieldSchema("rx_packets_per_second", .number, help: "Packets received per second"),
        FieldSchema("tx_packets_per_second", .number, help: "Packets sent per second"),
        FieldSchema("rx_errors_per_second", .number, help: "Receive errors per second"),
        FieldSchema("tx_errors_per_second", .number, help: "Transmit errors per second"),
        FieldSchema("rx_drops_per_second", .number, help: "Receive drops per second"),
        FieldSchema("tx_drops_per_second", .number, help: "Transmit drops per second"),
    ], key: ["name"])

    /// The sysfs attributes of one interface, kept open across ticks.
    final class LinkFiles {
        let operstate, carrier, speed, mtu: KernelFile
        init(_ dir: String) {
            operstate = KernelFile(dir + "/operstate", cap: 256, singleRecord: true)
            carrier = KernelFile(dir + "/carrier", cap: 256, singleRecord: true)
            speed = KernelFile(dir + "/speed", cap: 256, singleRecord: true)
            mtu = KernelFile(dir + "/mtu", cap: 256, singleRecord: true)
        }
    }

    private var file: KernelFile?
    private var links: [String: LinkFiles] = [:]
    private var previous: [String: NetDevStat] = [:]
    private var previousTime: Double?
    /// Link state pushed by rtnetlink on the live system (`openEventSource`); nil: sysfs each tick.
    public private(set) var linkMonitor: LinkMonitor?
    /// Speeds read from sysfs, kept until rtnetlink says the link changed (a speed changes only
    /// when the link renegotiates, which is a link message).
    private var speeds: [String: Int64?] = [:]

    public init() {}

    /// On the live system (shd's own network namespace: proc root `/proc`, sys root `/sys`) opens the
    /// rtnetlink link table, so each tick reads operstate, carrier and mtu from it instead of sysfs;
    /// nil (and sysfs each tick) where rtnetlink cannot be opened.
    public func openEventSource(_ roots: SourceRoots) -> LinkMonitor? {
        guard roots.live, roots.sys == "/sys", roots.rootFS == nil else { return nil }
        if linkMonitor == nil { linkMonitor = LinkMonitor() }
        return linkMonitor
    }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let f = file ?? KernelFile(ctx.roots.proc + "/net/dev")
        file = f
        let stats = try parseNetDev(try f.read())
        let elapsed = previousTime.map { ctx.monotonic - $0 } ?? 0
        var current: [String: NetDevStat] = [:]
        var currentLinks: [String: LinkFiles] = [:]
        var rows: [Row] = []
        var failures = SourceFailures()
        // The daemon's loop applies the kernel's messages when the socket is ready (no recv here each tick).
        let monitored = ctx.roots.live ? linkMonitor : nil
        let renegotiated = monitored?.takeChanged() ?? []
        for s in stats {
            current[s.name] = s
            let link = links[s.name] ?? LinkFiles(ctx.roots.sys + "/class/net/" + s.name)
            currentLinks[s.name] = link
            let state: LinkState
            if let m = monitored?.link(s.name) { state = self.state(m, files: link, renegotiated: renegotiated.contains(s.name)) } else {
                state = Self.readLink(link, &failures)
            }
            rows.append(Self.row(s, link: state, previous: previous[s.name], elapsed: elapsed))
        }
        previous = current
        links = currentLinks
        if monitored != nil { speeds = speeds.filter { current[$0.key] != nil } }
        previousTime = ctx.monotonic
        return try failures.finish(rows)
    }

    /// Link state from sysfs; an attribute the driver does not give (EINVAL from `speed` or
    /// `carrier` while down) is left out. `operstate` and `mtu` exist for every interface since
    /// 2.6.17: one missing (no sysfs in the tree, the interface's directory gone) is noted as a
    /// failure naming it, and the row keeps its counters.
    struct LinkState {
        var operstate: String?
        var carrier: Bool?
        var speedMbps: Int64?
        var mtu: Int64?
    }

    static func readLink(_ l: LinkFiles, _ failures: inout SourceFailures) -> LinkState {
        func number(_ k: KernelFile) -> Int64? { (try? k.read()).flatMap { parseInt64(trimmed($0[...])) } }
        func always(_ k: KernelFile) -> [UInt8]? {
            do {
                return try k.read()
            } catch {
                if error.isMissing { failures.note(error) }
                return nil
            }
        }
        var s = LinkState()
        if let b = always(l.operstate) { s.operstate = string(trimmed(b[...])) }
        s.carrier = number(l.carrier).map { $0 != 0 }
        // Drivers that do not know report -1 (or fail with EINVAL); virtual links often report nothing.
        s.speedMbps = number(l.speed).flatMap { $0 > 0 ? $0 : nil }
        s.mtu = always(l.mtu).flatMap { parseInt64(trimmed($0[...])) }
        return s
    }

    /// Link state from rtnetlink; carrier as sysfs gives it (only while administratively up), from sysfs
    /// on a kernel whose messages lack IFLA_CARRIER; speed from sysfs once per link change.
    func state(_ m: LinkMessage, files l: LinkFiles, renegotiated: Bool) -> LinkState {
        func number(_ k: KernelFile) -> Int64? { (try? k.read()).flatMap { parseInt64(trimmed($0[...])) } }
        var s = LinkState(operstate: m.operstate, mtu: m.mtu)
        if m.up { s.carrier = m.carrier ?? number(l.carrier).map { $0 != 0 } }
        if renegotiated || speeds[m.name ?? ""] == nil {
            speeds[m.name ?? ""] = .some(number(l.speed).flatMap { $0 > 0 ? $0 : nil })
        }
        s.speedMbps = speeds[m.name ?? ""] ?? nil
        return s
    }

    static func row(_ s: NetDevStat, link: LinkState, previous p: NetDevStat?, elapsed: Double) -> Row {
        var r: Row = ["name": .string(s.name)]
        if let o = link.operstate { r.append("operstate", .string(o)) }
        if let c = link.carrier { r.append("carrier", .bool(c)) }
        if let sp = link.speedMbps { r.append("speed_mbps", .int(sp)) }
        if let m = link.mtu { r.append("mtu", .int(m)) }
        let pairs: [(String, UInt64, UInt64?)] = [
            ("rx_bytes", s.rxBytes, p?.rxBytes), ("tx_bytes", s.txBytes, p?.txBytes),
            ("rx_packets", s.rxPackets, p?.rxPackets), ("tx_packets", s.txPackets, p?.txPackets),
            ("rx_errors", s.rxErrors, p?.rxErrors), ("tx_errors", s.txErrors, p?.txErrors),
            ("rx_drops", s.rxDrops, p?.rxDrops), ("tx_drops", s.txDrops, p?.txDrops),
        ]
        for (k, v, _) in pairs { r.append(k + "_total", counterValue(v)) }
        if elapsed > 0 {
            for (k, v, old) in pairs {
                if let old { r.append(k + "_per_second", .double(rounded(Double(counterDelta(v, since: old)) / elapsed))) }
            }
        }
        return r
    }
}

/// Whether the kernel has IPv6. Without it (`CONFIG_IPV6=n`, `ipv6.disable=1`) none of
/// /proc/net/sockstat6, tcp6 and udp6 exists, and their figures are no data; with it all three do,
/// so one missing beside the others is an error naming it. Asked once per proc root.
final class IPv6Presence {
    private var known: (proc: String, present: Bool)?

    func present(_ proc: String) -> Bool {
        if let k = known, k.proc == proc { return k.present }
        let p = ["sockstat6", "tcp6", "udp6"].contains { access(proc + "/net/" + $0, F_OK) == 0 }
        known = (proc, p)
        return p
    }
}

/// /proc/net/tcp and tcp6, read at most once a tick and shared by `network.sockets` and
/// `network.listening`: each read walks the kernel's whole connection hash table.
public final class TCPTables {
    private var files: [String: KernelFile] = [:]
    private var tick: Double?
    private var cached: [(proto: String, bytes: [UInt8])] = []
    let ipv6 = IPv6Presence()

    public init() {}

    /// Both tables as of this tick (only tcp when the kernel has no IPv6). Either one unreadable is an
    /// error naming it: counts or listeners of one family alone would pass for the whole host's.
    public func read(_ ctx: CollectContext) throws -> [(proto: String, bytes: [UInt8])] {
        if tick == ctx.monotonic { return cached }
        var out: [(proto: String, bytes: [UInt8])] = []
        for proto in ipv6.present(ctx.roots.proc) ? ["tcp", "tcp6"] : ["tcp"] {
            // Busy servers have 100k+ connections at ~150 bytes each.
            let f = files[proto] ?? KernelFile(ctx.roots.proc + "/net/" + proto, cap: 1 << 26)
            files[proto] = f
            out.append((proto, try f.read()))
        }
        cached = out
        tick = ctx.monotonic
        return out
    }
}

/// `network.sockets`: one row of socket counts from sockstat and the TCP state table.
public final class SocketsFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "sockets", help: "Socket counts: sockstat and TCP connection states", fields: [
        FieldSchema("sockets_used", .number, help: "Sockets in use (all families)"),
        FieldSchema("tcp_inuse", .number, help: "IPv4 TCP sockets in use"),
        FieldSchema("tcp_orphan", .number, help: "TCP sockets no longer attached to a process"),
        FieldSchema("tcp_tw", .number, help: "TCP sockets in TIME_WAIT (sockstat)"),
        FieldSchema("tcp_alloc", .number, help: "TCP sockets allocated"),
        FieldSchema("tcp_mem_bytes", .number, unit: "bytes", help: "Memory used by TCP buffers"),
        FieldSchema("udp_inuse", .number, help: "IPv4 UDP sockets in use"),
        FieldSchema("udp_mem_bytes", .number, unit: "bytes", help: "Memory used by UDP buffers"),
        FieldSchema("tcp6_inuse", .number, help: "IPv6 TCP sockets in use"),
        FieldSchema("udp6_inuse", .number, help: "IPv6 UDP sockets in use"),
    ] + TCPState.allCases.map {
        FieldSchema($0.fieldName, .number, help: "TCP sockets (IPv4 and IPv6) in this state (absent when tcpStateCounts is off)")
    })

    let tables: TCPTables
    private var sockstat: KernelFile?
    private var sockstat6: KernelFile?

    public init(tables: TCPTables = TCPTables()) { self.tables = tables }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        let net = ctx.roots.proc + "/net/"
        let s4 = sockstat ?? KernelFile(net + "sockstat", cap: 65536, singleRecord: true)
        let s6 = sockstat6 ?? KernelFile(net + "sockstat6", cap: 65536, singleRecord: true)
        sockstat = s4
        sockstat6 = s6
        // sockstat, sockstat6 and the TCP tables stand alone: one failing leaves the others' fields.
        var failures = SourceFailures()
        var stat: [String: [String: Int64]] = [:]
        if let b = failures.attempt({ try s4.read() }), let p = failures.attempt({ try parseSockstat(b) }) { stat = p }
        if tables.ipv6.present(ctx.roots.proc), let b = failures.attempt({ try s6.read() }),
           let p = failures.attempt({ try parseSockstat(b) }) {
            stat.merge(p) { a, _ in a }
        }
        var r: Row = [:]
        func put(_ key: String, _ proto: String, _ field: String, scale: Int64 = 1) {
            if let v = stat[proto]?[field] { r.append(key, .int(saturatingProduct(v, scale))) }
        }
        put("sockets_used", "sockets", "used")
        put("tcp_inuse", "TCP", "inuse")
        put("tcp_orphan", "TCP", "orphan")
        put("tcp_tw", "TCP", "tw")
        put("tcp_alloc", "TCP", "alloc")
        put("tcp_mem_bytes", "TCP", "mem", scale: pageSizeBytes)
        put("udp_inuse", "UDP", "inuse")
        put("udp_mem_bytes", "UDP", "mem", scale: pageSizeBytes)
        put("tcp6_inuse", "TCP6", "inuse")
        put("udp6_inuse", "UDP6", "inuse")
        if ctx.options.tcpStateCounts, let list = failures.attempt({ try tables.read(ctx) }),
           let states = failures.attempt({ () throws -> [UInt8: Int] in
               var states: [UInt8: Int] = [:]
               for t in list { try countSocketStates(t.bytes, into: &states) }
               return states
           }) {
            for st in TCPState.allCases { r.append(st.fieldName, .int(Int64(states[st.rawValue] ?? 0))) }
        }
        return try failures.finish(r.isEmpty ? [] : [r])
    }
}

/// `network.listening`: listening TCP and bound UDP sockets, one row per distinct proto/address/port.
public final class ListeningFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "listening", help: "Listening TCP and bound UDP sockets", fields: [
        FieldSchema("proto", .label, help: "tcp, tcp6, udp or udp6"),
        FieldSchema("address", .label, help: "Local address (0.0.0.0 and :: mean every address)"),
        FieldSchema("endpoint", .label, help: "address:port ([v6]:port), the row's identity for alerts"),
        FieldSchema("port", .number, help: "Local port"),
    ])

    let tables: TCPTables
    private var files: [String: KernelFile] = [:]

    public init(tables: TCPTables = TCPTables()) { self.tables = tables }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        var seen: Set<String> = []
        var found: [(proto: String, address: String, port: UInt16, endpoint: String)] = []
        func add(_ proto: String, _ entries: [SocketEntry]) {
            for e in entries {
                let addr = formatAddress(e.localAddress)
                let endpoint = (e.localAddress.count == 16 ? "[\(addr)]" : addr) + ":\(e.localPort)"
                // SO_REUSEPORT groups and per-CPU listeners show the same endpoint several times.
                if seen.insert(proto + " " + endpoint).inserted {
                    found.append((proto, addr, e.localPort, endpoint))
                }
            }
        }
        // TCP and UDP stand alone: one failing leaves the other's rows.
        var failures = SourceFailures()
        if let viaDiag = liveListenersWithoutWalk(ctx) {
            add("tcp", viaDiag.v4)
            add("tcp6", viaDiag.v6)
        } else if let list = failures.attempt({ try tables.read(ctx) }) {
            for t in list {
                if let e = failures.attempt({ try parseSocketTable(t.bytes, states: [TCPState.listen.rawValue]) }) {
                    add(t.proto, listeningSockets(e, udp: false))
                }
            }
        }
        for proto in tables.ipv6.present(ctx.roots.proc) ? ["udp", "udp6"] : ["udp"] {
            let f = files[proto] ?? KernelFile(ctx.roots.proc + "/net/" + proto, cap: 1 << 26)
            files[proto] = f
            if let bytes = failures.attempt({ try f.read() }), let e = failures.attempt({ try parseSocketTable(bytes) }) {
                add(proto, listeningSockets(e, udp: true))
            }
        }
        found.sort { ($0.proto, $0.port, $0.address) < ($1.proto, $1.port, $1.address) }
        return try failures.finish(found.map {
            ["proto": .string($0.proto), "address": .string($0.address), "endpoint": .string($0.endpoint),
             "port": .int(Int64($0.port))]
        })
    }

    /// On the live system with TCP state counts off, listeners come from sock_diag so the connection
    /// table is not walked; nil (use /proc/net/tcp) when the tables are read anyway, on a fixture tree,
    /// or when sock_diag is unavailable (no inet_diag module, a seccomp sandbox).
    private func liveListenersWithoutWalk(_ ctx: CollectContext) -> (v4: [SocketEntry], v6: [SocketEntry])? {
        guard !ctx.options.tcpStateCounts, ctx.roots.live, let v4 = try? dumpListeningTCP(family: AF_INET)
        else { return nil }
        // IPv6 off: the family has no handler and the dump fails; that is no listeners, not an error.
        return (v4, (try? dumpListeningTCP(family: AF_INET6)) ?? [])
    }
}

/// Listening TCP sockets (state 0A) or bound, unconnected UDP sockets (state 07 with a local port).
public func listeningSockets(_ entries: [SocketEntry], udp: Bool) -> [SocketEntry] {
    entries.filter { e in
        udp ? (e.state == TCPState.close.rawValue && e.localPort != 0) : e.state == TCPState.listen.rawValue
    }
}

enum NetworkWorker {
    static func make() -> Worker {
        let tables = TCPTables()
        return Worker(name: "network", functions: [
            InterfacesFunction(), SocketsFunction(tables: tables), ListeningFunction(tables: tables),
        ])
    }
}
