// Absurd numbers in kernel files: per-parser tables, and every worker over a tree whose every number is huge.
import Testing
import Kit
import Reports
import TestSupport
@testable import Workers

@Suite struct AbsurdValueParserTests {
    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func procStatBtimeAtInt64MaxIsAnErrorNotATrap() throws {
        let s = try parseProcStat(Self.b("cpu  1 0 1 1 0 0 0 0 0 0\nbtime 9223372036854775807\n"))
        #expect(s.bootTime == 9_223_372_036_854_775_807)
        #expect(throws: CollectError("stat: btime 9223372036854775807 is after the year 9999")) { try validBootTime(s.bootTime!) }
        #expect(try validBootTime(1_795_594_233) == 1_795_594_233)
        #expect(try validBootTime(maxBootTimeSeconds) == 253_402_300_799)
    }

    @Test func procStatCountersAtUInt64Max() throws {
        let max = "18446744073709551615"
        let s = try parseProcStat(Self.b("cpu  \(max) \(max) \(max) \(max) \(max) \(max) \(max) \(max) \(max) \(max)\nctxt \(max)\nprocesses \(max)\n"))
        #expect(s.total?.totalTicks == .max)
        #expect(s.contextSwitches == .max)
        // One more than UInt64 holds is not a number: an error, not a wrapped value.
        #expect(throws: CollectError.self) { try parseProcStat(Self.b("cpu  18446744073709551616 0 0 0\n")) }
    }

    /// Numbers that are not finite, or too big for a Double, mean nothing in a kernel file.
    @Test(arguments: ["inf", "-inf", "nan", "infinity", "1e999", "-1e999"])
    func nonFiniteDoublesAreRefused(_ text: String) {
        #expect(parseDouble(Array(text.utf8)[...]) == nil)
        #expect(throws: CollectError.self) { try parseLoadAvg(Self.b("\(text) 0.37 0.39 1/719 19737\n")) }
        #expect(throws: CollectError.self) { try parseUptime(Self.b("\(text) 1.0\n")) }
        #expect(throws: CollectError.self) { try parsePressure(Self.b("some avg10=\(text) avg60=0.00 avg300=0.00 total=1\n")) }
    }

    @Test func roundedKeepsValuesNearDoubleMax() {
        #expect(rounded(1.7e308) == 1.7e308)
        #expect(rounded(1.7e308, 3).isFinite)
        #expect(rounded(2.345) == 2.35)
    }

    @Test(arguments: [("0-18446744073709551615", nil), ("0-1048575", 1_048_576), ("0-1048576", nil),
                      ("0,18446744073709551615", 2), ("0-3,8", 5)] as [(String, Int?)])
    func cpuListsWithAbsurdBounds(_ text: String, _ count: Int?) {
        #expect(parseCPUListCount(Array(text.utf8)[...]) == count)
    }

    @Test func meminfoKilobytesSaturate() throws {
        let m = try parseMeminfo(Self.b("MemTotal: 18446744073709551615 kB\nMemFree: 18014398509481984 kB\nMemAvailable: 9 kB\n"))
        #expect(m["MemTotal"] == .max)
        #expect(m["MemFree"] == .max, "2^54 KiB is 2^64 bytes: one past UInt64")
        let row = memoryUsageRow(m)
        #expect(row["total_bytes"] == .int(.max))
        #expect(row["used_percent"]?.number == 100)
    }

    @Test func diskstatsSectorsSaturateAndRatesStayFinite() throws {
        let max = "18446744073709551615"
        let line = "   8       0 sda \(max) 0 \(max) \(max) \(max) 0 \(max) \(max) 0 \(max) \(max)\n"
        let s = try #require(try parseDiskStats(Self.b(line)).first)
        let zero = try #require(try parseDiskStats(Self.b("   8       0 sda 0 0 0 0 0 0 0 0 0 0 0\n")).first)
        let up = DiskIOFunction.row(s, partition: false, previous: zero, elapsed: 1)
        #expect(up["read_bytes_total"] == .int(.max))
        #expect(up["busy_percent"] == .double(100))
        #expect(up["read_bytes_per_second"]?.number?.isFinite == true)
        // And back down: every counter went backwards, so every rate is 0.
        let down = DiskIOFunction.row(zero, partition: false, previous: s, elapsed: 1)
        #expect(down["reads_per_second"] == .double(0) && down["busy_percent"] == .double(0) && down["await_seconds"] == .double(0))
    }

    @Test func statvfsProductsSaturate() {
        let m = MountEntry(mountID: 1, parentID: 0, mountPoint: "/", options: ["rw"], fstype: "ext4", source: "/dev/sda1",
                           superOptions: ["rw"])
        let r = FilesystemsFunction.row(m, .stats(FilesystemStats(blockSize: .max, blocks: .max, blocksFree: 0,
                                                                    blocksAvailable: .max, files: .max, filesFree: 0, readOnly: false)))
        #expect(r["size_bytes"] == .int(.max))
        #expect(r["used_percent"] == .double(50))
        #expect(r["inodes_used_percent"] == .double(100))
    }

    @Test func sockstatPagesTimesPageSizeSaturate() throws {
        let tree = try DamagedTree(copyOf: "machine-b")
        defer { tree.destroy() }
        try tree.write("proc/net/sockstat", "sockets: used 1\nTCP: inuse 9223372036854775807 orphan 0 tw 0 alloc 1 mem 9223372036854775807\nUDP: inuse 0 mem -9223372036854775808\n")
        let r = try tree.collect("network", "sockets")
        #expect(r.error == nil)
        #expect(r.data.first?["tcp_mem_bytes"] == .int(.max))
        #expect(r.data.first?["udp_mem_bytes"] == .int(.min))
    }

    @Test func processStatFieldsSaturate() throws {
        let max = "18446744073709551615"
        let line = "7 (x) S 1 7 7 0 -1 0 0 0 0 0 \(max) \(max) 0 0 20 0 9223372036854775807 0 \(max) 0 9223372036854775807\n"
        let p = try parseProcessStat(Array(line.utf8)[...])
        #expect(p.cpuTicks == .max)
        #expect(p.numThreads == .max && p.rssPages == .max)
        #expect(try parseSelfStatus(Self.b("VmRSS:\t\(max) kB\nThreads:\t\(max)\n")).rssBytes == .max)
    }

    @Test func mdstatCountsBeyondIntClamp() throws {
        let text = "md0 : active raid1 sda1[0] sdb1[1]\n      1 blocks [18446744073709551615/18446744073709551615] [UU]\n"
        let a = try #require(try parseMdStat(Self.b(text)).first)
        #expect(a.devicesTotal == .max && a.devicesActive == .max)
        _ = RaidFunction.row(a)
    }

    @Test func countersAtTheLimitParseWithoutWrapping() throws {
        let max = "18446744073709551615"
        let dev = try #require(try parseNetDev(Self.b("  eth0: " + Array(repeating: max, count: 16).joined(separator: " ") + "\n")).first)
        #expect(dev.rxBytes == .max && dev.txDrops == .max)
        let zero = NetDevStat(name: "eth0", rxBytes: 0, rxPackets: 0, rxErrors: 0, rxDrops: 0, txBytes: 0, txPackets: 0, txErrors: 0, txDrops: 0)
        let up = InterfacesFunction.row(dev, link: .init(), previous: zero, elapsed: 1e-9)
        #expect(up["rx_bytes_total"] == .int(.max))
        #expect(up["rx_bytes_per_second"]?.number?.isFinite == true)
        #expect(try parseVmstat(Self.b("pgfault \(max)\noom_kill \(max)\n"))["oom_kill"] == .max)
        let nr = try parseFileNr(Self.b("\(max)\t0\t\(max)\n"))
        #expect(nr.allocated == .max && nr.max == .max)
        #expect(try parsePressure(Self.b("some avg10=0.00 avg60=0.00 avg300=0.00 total=\(max)\n")).first?.totalMicroseconds == .max)
        #expect(try parseSysfsInteger(Self.b("-9223372036854775808\n")) == .min)
        #expect(throws: CollectError.self) { try parseSysfsInteger(Self.b("9223372036854775808\n")) }
    }

    @Test func doubleToIntegerConversionsClamp() {
        #expect(clampedInt64(Double(Int64.max)) == .max)
        #expect(clampedInt64(-1e300) == .min)
        #expect(clampedInt64(.nan) == 0)
        #expect(clampedInt64(1234.9) == 1234)
        #expect(saturatingProduct(Int64.min, -1) == .max)
        #expect(saturatingSum(Int64.max, 1) == .max && saturatingSum(Int64.min, -1) == .min)
        #expect(saturatingProduct(UInt64.max, 2) == .max && saturatingSum(UInt64.max, 1) == .max)
    }
}

/// Every worker over a copy of machine-b whose every number is replaced by a huge one, alternating
/// with the real numbers so rates see huge increases and huge decreases. A trap anywhere stops the
/// test process, so reaching the end is the assertion; the report must also encode.
@Suite struct AbsurdTreeTests {
    /// Each run of digits in `bytes` replaced by `value`.
    static func replacingNumbers(_ bytes: [UInt8], with value: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        var inDigits = false
        for c in bytes {
            let digit = c >= 0x30 && c <= 0x39
            if digit && !inDigits { out.append(contentsOf: value.utf8) }
            if !digit { out.append(c) }
            inDigits = digit
        }
        return out
    }

    static func files(under dir: String) -> [String] {
        var out: [String] = []
        for name in listDirectory(dir) {
            let p = dir + "/" + name
            let sub = listDirectory(p)
            if sub.isEmpty, (try? readOnce(p, cap: 1 << 20)) != nil { out.append(p) } else { out += files(under: p) }
        }
        return out
    }

    /// The value, and how many functions at least still build rows from it (a number past UInt64 is
    /// refused by every integer parser; one past Int64 by the signed ones).
    @Test(arguments: [("18446744073709551615", 10), ("9223372036854775807", 15), ("99999999999999999999999", 3),
                      ("4294967295", 15)])
    func everyWorkerSurvivesHugeNumbers(_ value: String, _ minimumWithRows: Int) throws {
        let tree = try DamagedTree(copyOf: "machine-b")
        defer { tree.destroy() }
        let paths = Self.files(under: tree.dir)
        #expect(paths.count > 100)
        let originals = try paths.map { try readOnce($0, cap: 1 << 20) }
        func write(absurd: Bool) throws {
            for (p, b) in zip(paths, originals) {
                try tree.write(String(p.dropFirst(tree.dir.count + 1)),
                               String(decoding: absurd ? Self.replacingNumbers(b, with: value) : b, as: UTF8.self))
            }
        }
        let workers = WorkerRegistry.names.compactMap { $0 == "system" ? SystemWorker.make(accounting: SelfAccounting()) : WorkerRegistry.make($0) }
        var withRows = Set<String>()
        for (i, absurd) in [false, true, false, true].enumerated() {
            try write(absurd: absurd)
            let now = Timestamp(microseconds: 1_795_600_000_000_000 + Int64(i) * 1_000_000)
            let reports = workers.map { $0.collect(roots: tree.roots, options: WorkerOptions(), now: now) }
            let encoded = DaemonReport(datetime: now, workerReports: reports).json.encoded(pretty: false)
            #expect(encoded.hasPrefix("{"))
            if absurd {
                for r in reports { for f in r.functionReports where !f.data.isEmpty { withRows.insert(r.name + "." + f.name) } }
            }
        }
        // Some parsers refuse such numbers (with an error naming the file), which is allowed; most
        // take them, so the arithmetic after them ran.
        #expect(withRows.count >= minimumWithRows, "functions with rows from huge numbers: \(withRows.sorted())")
    }
}

/// Rates over two real collections of machine-b where one counter of a row went back and the others
/// moved on: the one counts 0, the others keep their interval values (counterDelta everywhere).
@Suite struct CountersGoingBackwardsTests {
    /// Collects `function`, edits `file` with `edit`, collects again; the second report.
    static func twice(_ worker: String, _ function: String, _ file: String, _ edit: (String) -> String) throws -> FunctionReport {
        let tree = try DamagedTree(copyOf: "machine-b")
        defer { tree.destroy() }
        let w = try #require(WorkerRegistry.make(worker))
        _ = w.collect(roots: tree.roots, options: WorkerOptions(), only: [function])
        let text = String(decoding: try readOnce(tree.dir + "/" + file), as: UTF8.self)
        try tree.write(file, edit(text))
        let second = w.collect(roots: tree.roots, options: WorkerOptions(), only: [function])
        return try #require(second.function(function))
    }

    static func replacing(_ old: String, _ new: String) -> (String) -> String {
        { t in
            precondition(t.contains(old), "fixture line changed: \(old)")
            return t.replacing(old, with: new)
        }
    }

    @Test func iowaitGoingBackOneJiffyKeepsTheIntervalShares() throws {
        // cpu0: user +100, idle +300, iowait -1.
        let r = try Self.twice("cpu", "utilisation", "proc/stat",
                               Self.replacing("cpu0 2913420 1512 612044 78834120 212330", "cpu0 2913520 1512 612044 78834420 212329"))
        #expect(r.error == nil)
        let cpu0 = try #require(r.data.first { $0["cpu"] == .string("0") })
        #expect(cpu0["iowait_percent"] == .double(0))
        #expect(cpu0["user_percent"] == .double(25) && cpu0["idle_percent"] == .double(75))
        #expect(cpu0["busy_percent"] == .double(25))
        #expect(cpu0["window_seconds"]?.number == 400 / userHZ, "the interval's ticks, not since boot")
    }

    @Test func diskCounterGoingBackLeavesTheOthers() throws {
        // sda: reads back by 2, writes +10.
        let r = try Self.twice("disk", "io", "proc/diskstats",
                               Self.replacing("sda 1874332 40112 98332114 402331 9983312", "sda 1874330 40112 98332114 402331 9983322"))
        let sda = try #require(r.data.first { $0["device"] == .string("sda") })
        #expect(sda["reads_per_second"] == .double(0))
        #expect((sda["writes_per_second"]?.number ?? 0) > 0)
    }

    @Test func vmCounterGoingBackLeavesTheOthers() throws {
        let r = try Self.twice("memory", "vm", "proc/vmstat", { t in
            Self.replacing("pgmajfault 881203", "pgmajfault 881303")(Self.replacing("pgfault 18830441203", "pgfault 18830441000")(t))
        })
        let row = try #require(r.data.first)
        #expect(row["pgfault_per_second"] == .double(0))
        #expect((row["pgmajfault_per_second"]?.number ?? 0) > 0)
    }

    @Test func processTicksGoingBackIsZeroPercentNotMissing() throws {
        let r = try Self.twice("processes", "top", "proc/1/stat", Self.replacing(" 18830 41203 ", " 18830 41000 "))
        let systemd = try #require(r.data.first { $0["pid"] == .string("1") && $0["rank_by"] == .string("cpu") })
        #expect(systemd["cpu_percent"] == .double(0))
    }
}
