// memory worker: the meminfo and vmstat parsers on real kernel text, and both functions on machine-a and live.
import Testing
import Reports
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite struct MeminfoParserTests {
    /// This machine (Linux 6.18), first lines and the huge page lines.
    static let linux618 = """
        MemTotal:       24684084 kB
        MemFree:        23346516 kB
        MemAvailable:   24285128 kB
        Buffers:           24360 kB
        Cached:          1084032 kB
        SwapCached:            0 kB
        SwapTotal:             0 kB
        SwapFree:              0 kB
        Zswap:                 0 kB
        Dirty:             14564 kB
        Writeback:             0 kB
        Shmem:              8872 kB
        Slab:             117792 kB
        SReclaimable:      93504 kB
        CommitLimit:    12342040 kB
        Committed_AS:      61832 kB
        HugePages_Total:       0
        HugePages_Free:        0
        Hugepagesize:       2048 kB
        DirectMap1G:    25165824 kB

        """

    /// A 2.6.32 kernel (CentOS 6): no MemAvailable, so available is estimated; swap in use.
    static let linux2632 = """
        MemTotal:        1922152 kB
        MemFree:          137344 kB
        Buffers:          108300 kB
        Cached:          1108496 kB
        SwapCached:         1216 kB
        SwapTotal:       4128760 kB
        SwapFree:        4096868 kB
        Dirty:                52 kB
        HugePages_Total:       0
        Hugepagesize:       2048 kB

        """

    /// Keys newer kernels print (Unaccepted appeared in 6.5; the second is made up for a future kernel): skipped.
    static let futureKeys = """
        MemTotal:        8000000 kB
        MemFree:         1000000 kB
        MemAvailable:    6000000 kB
        Unaccepted:            0 kB
        SomeFutureCounter:    42
        SwapTotal:       2000000 kB
        SwapFree:        1500000 kB

        """

    /// (text, total bytes, available bytes, used %, swap used %)
    static let cases: [(String, Int64, Int64, Double, Double)] = [
        (linux618, 24684084 * 1024, 24285128 * 1024, 1.62, 0.0),
        (linux2632, 1922152 * 1024, (137344 + 108300 + 1108496) * 1024, 29.55, 0.77),
        (futureKeys, 8000000 * 1024, 6000000 * 1024, 25.0, 25.0),
    ]

    @Test(arguments: cases)
    func parsesRealText(text: String, total: Int64, available: Int64, usedPercent: Double, swapPercent: Double) throws {
        let m = try parseMeminfo(Array(text.utf8))
        let row = memoryUsageRow(m)
        #expect(row["total_bytes"] == .int(total))
        #expect(row["available_bytes"] == .int(available))
        #expect(row["used_bytes"] == .int(total - available))
        #expect(row["used_percent"] == .double(usedPercent))
        #expect(row["swap_used_percent"] == .double(swapPercent))
        #expect(CW.schemaMismatches([row], MemoryUsageFunction.schema).isEmpty)
    }

    @Test func unitLessLinesStayCounts() throws {
        let m = try parseMeminfo(Array(Self.linux618.utf8))
        #expect(m["HugePages_Total"] == 0)
        #expect(m["Hugepagesize"] == 2048 * 1024)
        #expect(memoryUsageRow(m)["hugepage_size_bytes"] == .int(2048 * 1024))
    }

    @Test(arguments: [
        "", "\u{0}\u{1}\u{2}", "MemTotal: abc kB\nMemFree: 1 kB\n", "MemTotal 123 kB\nMemFree: 1 kB\n",
        "MemTotal:        8000000 kB\n", "MemTotal: 5 MB\nMemFree: 1 kB\n", "MemTotal:        80000",
        "MemTotal: -1 kB\nMemFree: 1 kB\n",
    ])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseMeminfo(Array(text.utf8)) }
    }
}

@Suite struct VmstatParserTests {
    /// This machine (Linux 6.18), the lines around the counters shd reads.
    static let linux618 = """
        nr_free_pages 874711
        nr_free_pages_blocks 798720
        pgpgin 2482401
        pgpgout 466508
        pswpin 0
        pswpout 0
        pgalloc_dma 0
        pgfault 2920573
        pgmajfault 1743
        oom_kill 0
        swap_ra 0

        """

    /// A 4.9 kernel, before oom_kill (4.13): the field is simply absent.
    static let linux49 = """
        nr_free_pages 3041380
        pgpgin 1234500
        pgpgout 9876540
        pswpin 17
        pswpout 231
        pgfault 785467321
        pgmajfault 11205

        """

    @Test(arguments: [(linux618, 2920573 as UInt64, 0 as UInt64?), (linux49, 785467321, nil)])
    func parsesRealText(text: String, pgfault: UInt64, oomKill: UInt64?) throws {
        let v = try parseVmstat(Array(text.utf8))
        #expect(v["pgfault"] == pgfault)
        #expect(v["oom_kill"] == oomKill)
        #expect(v["nr_free_pages"] == nil, "keys shd does not report are not kept")
    }

    @Test(arguments: ["", "pgfault\n", "pgfault x\n", "pgfault 1 2\n", "nr_free_pages 5\n", "\u{0}\u{1}"])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseVmstat(Array(text.utf8)) }
    }
}

@Suite struct MemoryFunctionTests {
    @Test func usageOnMachineA() throws {
        let rows = try MemoryUsageFunction().collect(CW.context(CW.machineA, monotonic: 1))
        let row = try #require(rows.first)
        #expect(row["total_bytes"] == .int(24684084 * 1024))
        #expect(row["swap_total_bytes"] == .int(0))
        let used = try #require(row["used_percent"]?.number)
        #expect(used >= 0 && used <= 100)
        #expect(CW.schemaMismatches(rows, MemoryUsageFunction.schema).isEmpty)
    }

    @Test func vmOnMachineATwice() throws {
        let f = VMCountersFunction()
        let first = try #require(try f.collect(CW.context(CW.machineA, monotonic: 5)).first)
        #expect(first["pgfault_per_second"] == nil, "no rate before a second sample")
        #expect(first["pgfault_total"] == .int(6226059))
        let second = try #require(try f.collect(CW.context(CW.machineA, monotonic: 7)).first)
        for k in ["pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout", "oom_kill"] {
            #expect(second[k + "_per_second"] == .double(0), "\(k) on identical samples")
        }
        #expect(CW.schemaMismatches([first, second], VMCountersFunction.schema).isEmpty)
    }

    @Test func vmRateBetweenDifferentSamples() throws {
        let dir = try CW.makeTree([("proc/vmstat", VmstatParserTests.linux49)])
        defer { CW.removeTree(dir) }
        let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
        let f = VMCountersFunction()
        _ = try f.collect(CW.context(roots, monotonic: 100))
        // 1000 more page faults 4 seconds later, through the same kept-open file.
        let newer = VmstatParserTests.linux49.split(separator: "\n")
            .map { $0 == "pgfault 785467321" ? "pgfault 785468321" : String($0) }.joined(separator: "\n")
        let h = try #require(fopen(dir + "/proc/vmstat", "w"))
        fputs(newer, h)
        fclose(h)
        let row = try #require(try f.collect(CW.context(roots, monotonic: 104)).first)
        #expect(row["pgfault_per_second"] == .double(250))
        #expect(row["oom_kill_total"] == nil)
    }

    @Test func liveMachine() throws {
        let w = MemoryWorker.make()
        _ = w.collect(roots: CW.live, options: WorkerOptions())
        let r = w.collect(roots: CW.live, options: WorkerOptions())
        #expect(r.functionReports.allSatisfy { $0.error == nil })
        let usage = try #require(r.function("usage")?.data.first)
        let total = try #require(usage["total_bytes"]?.number)
        let available = try #require(usage["available_bytes"]?.number)
        #expect(total > 0 && available <= total)
        let vm = try #require(r.function("vm")?.data.first)
        #expect((vm["pgfault_per_second"]?.number ?? -1) >= 0)
    }
}
