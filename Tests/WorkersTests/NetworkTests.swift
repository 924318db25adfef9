// network.interfaces/sockets/listening: net/dev, sockstat and tcp/udp table parsers, hex addresses, fixture runs.
import Testing
import Reports
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite struct NetDevParserTests {
    static let machineA = """
        Inter-|   Receive                                                |  Transmit
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
            lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
          eth0: 26501430     688    0    0    0     0          0         0    31899     410    0    0    0     0       0          0

        """

    @Test func parsesRealFile() throws {
        let s = try parseNetDev(HostTesting.bytes(Self.machineA))
        #expect(s.map(\.name) == ["lo", "eth0"])
        #expect(s[1].rxBytes == 26501430 && s[1].rxPackets == 688 && s[1].txBytes == 31899 && s[1].txPackets == 410)
    }

    @Test(arguments: [
        // A byte count long enough to touch the colon (old kernels print "%6s:%8lu").
        ("  eth0:9120331204411 8120331204    3  412    0     0          0    412033 4412033120441 5120331204    5    6    0     0       0          0\n",
         "eth0", 9120331204411 as UInt64, 3 as UInt64, 412 as UInt64, 6 as UInt64),
        ("docker0:       0       0    0    0    0     0          0         0     4412      52    0    0    0     0       0          0   17\n",
         "docker0", 0, 0, 0, 0),
    ])
    func parsesLines(text: String, name: String, rxBytes: UInt64, rxErrors: UInt64, rxDrops: UInt64, txDrops: UInt64) throws {
        let s = try #require(try parseNetDev(HostTesting.bytes(text)).first)
        #expect(s.name == name)
        #expect(s.rxBytes == rxBytes && s.rxErrors == rxErrors && s.rxDrops == rxDrops && s.txDrops == txDrops)
    }

    @Test(arguments: ["  eth0: 1 2 3 4 5\n", "no colon here\n", "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n", ": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseNetDev(HostTesting.bytes(text)) }
    }
}

@Suite struct SocketParserTests {
    @Test func parsesSockstat() throws {
        let s = try parseSockstat(HostTesting.bytes("""
            sockets: used 290
            TCP: inuse 27 orphan 1 tw 0 alloc 32 mem 3
            UDP: inuse 9 mem 2
            UDPLITE: inuse 0
            RAW: inuse 0
            FRAG: inuse 0 memory 0
            MPTCP: inuse 0 newkey 4

            """))
        #expect(s["sockets"]?["used"] == 290)
        #expect(s["TCP"] == ["inuse": 27, "orphan": 1, "tw": 0, "alloc": 32, "mem": 3])
        #expect(s["UDP"]?["mem"] == 2)
        #expect(s["MPTCP"]?["newkey"] == 4)
    }

    @Test(arguments: ["TCP: inuse\n", "TCP inuse 27\n", "TCP: inuse many\n", "TCP: inuse 1 orphan\n"])
    func rejectsBadSockstat(text: String) {
        #expect(throws: CollectError.self) { try parseSockstat(HostTesting.bytes(text)) }
    }

    @Test(arguments: [
        ("0100007F:0CEA", "127.0.0.1", 3306 as UInt16),
        ("00000000:0016", "0.0.0.0", 22),
        ("3500007F:0035", "127.0.0.53", 53),
        ("0500000A:01BB", "10.0.0.5", 443),
        ("00000000000000000000000001000000:1538", "::1", 5432),
        ("00000000000000000000000000000000:0016", "::", 22),
        ("0000000000000000FFFF00000500000A:01BB", "::ffff:10.0.0.5", 443),
        ("B80D0120000000000000000010000000:238C", "2001:db8::10", 9100),
        ("000080FE00000000FF040C02A1B2FEFE:0222", "fe80::20c:4ff:fefe:b2a1", 546),
    ])
    func decodesHexEndpoints(text: String, address: String, port: UInt16) throws {
        let e = try #require(parseHexEndpoint(HostTesting.bytes(text)[...]))
        #expect(formatAddress(e.address) == address)
        #expect(e.port == port)
    }

    @Test(arguments: ["0100007F", "0100007F:", "0100007G:0016", "01007F:0016", "0100007F:16", "0100007F:00016"])
    func rejectsBadEndpoints(text: String) {
        #expect(parseHexEndpoint(HostTesting.bytes(text)[...]) == nil)
    }

    @Test func parsesSocketTable() throws {
        let text = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   118        0 17539 1 0000000000000000 100 0 0 10 0
               1: 0500000A:0016 4D00000A:E2C4 01 00000000:00000000 02:000A7214 00000000     0        0 88120 4 0000000000000000 20 4 30 10 -1

            """
        let t = try parseSocketTable(HostTesting.bytes(text))
        #expect(t.count == 2)
        #expect(t[0].state == 0x0A && t[0].localPort == 3306)
        #expect(formatAddress(t[1].remoteAddress) == "10.0.0.77" && t[1].remotePort == 58052)
        var counts: [UInt8: Int] = [:]
        try countSocketStates(HostTesting.bytes(text), into: &counts)
        #expect(counts == [0x0A: 1, 0x01: 1])
    }

    @Test(arguments: ["   0: 0100007F:0CEA 00000000:0000\n", "   0: 0100007F:0CEA 00000000:0000 ZZ 0\n", "   0: garbage 00000000:0000 0A\n"])
    func rejectsBadSocketLines(text: String) {
        #expect(throws: CollectError.self) { try parseSocketTable(HostTesting.bytes(text)) }
        var counts: [UInt8: Int] = [:]
        if !text.contains("garbage") {
            #expect(throws: CollectError.self) { try countSocketStates(HostTesting.bytes(text), into: &counts) }
        }
    }
}

@Suite struct NetworkFunctionTests {
    @Test func interfacesOnMachineB() throws {
        let f = InterfacesFunction()
        let roots = HostTesting.roots("machine-b")
        let rows = try f.collect(HostTesting.context(roots, monotonic: 5))
        #expect(rows.map { $0["name"]?.string ?? "" } == ["lo", "eth0", "eth1", "bond0", "docker0"])
        let eth0 = try #require(rows.first { $0["name"] == "eth0" })
        #expect(eth0["operstate"] == "up" && eth0["carrier"] == true && eth0["speed_mbps"] == .int(10000) && eth0["mtu"] == .int(9000))
        #expect(eth0["rx_bytes_total"] == .int(9120331204411))
        #expect(eth0["rx_drops_total"] == .int(412))
        #expect(eth0["rx_bytes_per_second"] == nil)
        let docker = try #require(rows.first { $0["name"] == "docker0" })
        #expect(docker["operstate"] == "down" && docker["carrier"] == nil && docker["speed_mbps"] == nil)
        #expect(rows.first { $0["name"] == "lo" }?["speed_mbps"] == nil)
        let again = try f.collect(HostTesting.context(roots, monotonic: 6))
        #expect(again.allSatisfy { $0["rx_bytes_per_second"] == .double(0) && $0["tx_errors_per_second"] == .double(0) })
    }

    @Test func interfaceRates() throws {
        let a = NetDevStat(name: "eth0", rxBytes: 1000, rxPackets: 10, rxErrors: 0, rxDrops: 0, txBytes: 0, txPackets: 0, txErrors: 0, txDrops: 0)
        var b = a
        b.rxBytes = 5000
        b.rxErrors = 4
        let r = InterfacesFunction.row(b, link: .init(), previous: a, elapsed: 2)
        #expect(r["rx_bytes_per_second"] == .double(2000))
        #expect(r["rx_errors_per_second"] == .double(2))
        // A counter that went backwards (driver reset) counts 0 for the interval, never a negative
        // rate; the counters that did not go back keep theirs.
        var c = b
        c.rxBytes = 10
        c.rxPackets = 30
        let reset = InterfacesFunction.row(c, link: .init(), previous: b, elapsed: 2)
        #expect(reset["rx_bytes_per_second"] == .double(0))
        #expect(reset["rx_packets_per_second"] == .double(10))
    }

    @Test func socketsOnMachineB() throws {
        let r = try #require(try SocketsFunction().collect(HostTesting.context(HostTesting.roots("machine-b"))).first)
        #expect(r["tcp_inuse"] == .int(88) && r["tcp_orphan"] == .int(2) && r["tcp_tw"] == .int(41) && r["tcp_alloc"] == .int(104))
        #expect(r["tcp_mem_bytes"] == .int(131 * pageSizeBytes))
        #expect(r["tcp6_inuse"] == .int(14) && r["udp6_inuse"] == .int(3) && r["sockets_used"] == .int(1412))
        #expect(r["tcp_listen"] == .int(5 + 3))
        #expect(r["tcp_established"] == .int(2 + 1))
        #expect(r["tcp_time_wait"] == .int(2))
        #expect(r["tcp_close_wait"] == .int(1))
        #expect(r["tcp_syn_sent"] == .int(1))
        #expect(r["tcp_fin_wait1"] == .int(0))
    }

    @Test func listeningOnMachineB() throws {
        let rows = try ListeningFunction().collect(HostTesting.context(HostTesting.roots("machine-b")))
        let got = rows.map { "\($0["proto"]?.string ?? "") \($0["endpoint"]?.string ?? "")" }
        #expect(got == [
            "tcp 0.0.0.0:22", "tcp 127.0.0.53:53", "tcp 0.0.0.0:443", "tcp 127.0.0.1:5432",
            "tcp6 [::]:22", "tcp6 [::1]:5432", "tcp6 [2001:db8::10]:9100",
            "udp 127.0.0.53:53", "udp 127.0.0.1:323",
            "udp6 [::1]:323",
        ])
        #expect(rows.first?["port"] == .int(22))
        #expect(rows.first?["address"] == "0.0.0.0")
    }

    @Test func networkOnThisMachine() throws {
        let w = try #require(WorkerRegistry.make("network"))
        let report = w.collect(roots: SourceRoots(), options: WorkerOptions())
        #expect(report.functionReports.allSatisfy { $0.error == nil })
        #expect(report.function("interfaces")?.data.contains { $0["name"] == "lo" } == true)
        #expect(report.function("sockets")?.data.count == 1)
    }
}

/// sock_diag listeners and the cheap mode of network.sockets/listening (tcpStateCounts off).
@Suite struct SockDiagTests {
    /// A TCP listener on 127.0.0.1 at an ephemeral port, closed by `close()`.
    struct Listener {
        let fd: Int32
        let port: UInt16

        init?() {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { return nil }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &a) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    bind(s, sa, len) == 0 && listen(s, 4) == 0 && getsockname(s, sa, &len) == 0
                }
            }
            guard ok else {
                _ = Glibc.close(s)
                return nil
            }
            fd = s
            port = UInt16(bigEndian: a.sin_port)
        }

        func close() { _ = Glibc.close(fd) }
    }

    @Test func dumpFindsOurListener() throws {
        let l = try #require(Listener())
        defer { l.close() }
        let entries = try dumpListeningTCP(family: AF_INET)
        #expect(entries.contains { $0.localPort == l.port && formatAddress($0.localAddress) == "127.0.0.1" })
        #expect(entries.allSatisfy { $0.state == TCPState.listen.rawValue })
    }

    @Test func listeningWithoutTheTableWalk() throws {
        let l = try #require(Listener())
        defer { l.close() }
        var options = WorkerOptions()
        options.tcpStateCounts = false
        let rows = try ListeningFunction().collect(HostTesting.context(SourceRoots(), options: options))
        #expect(rows.contains { $0["endpoint"]?.string == "127.0.0.1:\(l.port)" && $0["proto"] == "tcp" })
        let walked = try ListeningFunction().collect(HostTesting.context(SourceRoots()))
        #expect(walked.contains { $0["endpoint"]?.string == "127.0.0.1:\(l.port)" })
    }

    @Test func socketsWithoutStateCounts() throws {
        var options = WorkerOptions()
        options.tcpStateCounts = false
        let r = try #require(try SocketsFunction().collect(HostTesting.context(HostTesting.roots("machine-b"), options: options)).first)
        #expect(r["tcp_established"] == nil && r["tcp_listen"] == nil)
        #expect(r["tcp_tw"] == .int(41))
        // On a fixture tree listeners still come from the recorded tables.
        let rows = try ListeningFunction().collect(HostTesting.context(HostTesting.roots("machine-b"), options: options))
        #expect(rows.count == 10)
    }

    @Test func socketTableStateFilter() throws {
        let t = try parseSocketTable(try readOnce(TestPaths.fixture("machine-b") + "/proc/net/tcp"), states: [TCPState.listen.rawValue])
        #expect(t.count == 5 && t.allSatisfy { $0.state == 0x0A })
    }
}
