// memory worker: the meminfo and vmstat parsers on real kernel text, and both functions on machine-a and live.
// Over 400 lines: meminfo, vmstat and zoneinfo parser tables from real kernels, and the functions over four trees.
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

    /// A 2.6.32 kernel (CentOS 6), some of its lines: no MemAvailable and, in this excerpt, no
    /// Active(file)/Inactive(file) (as kernels before 2.6.28 print none); swap in use.
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
        (futureKeys, 8000000 * 1024, 6000000 * 1024, 25.0, 25.0),
    ]

    /// A Linux 3.x meminfo without MemAvailable (prometheus/node_exporter collector/fixtures/proc/meminfo).
    static let linux3NoMemAvailable = """
        MemTotal:        3742148 kB
        MemFree:          225472 kB
        Buffers:           22040 kB
        Cached:           930888 kB
        SwapCached:       192504 kB
        Active:          2233416 kB
        Inactive:        1028728 kB
        Active(anon):    2020004 kB
        Inactive(anon):   883052 kB
        Active(file):     213412 kB
        Inactive(file):   145676 kB
        SwapTotal:       4194300 kB
        SwapFree:        3155360 kB
        Shmem:            593840 kB
        Slab:              98932 kB
        SReclaimable:      44772 kB
        SUnreclaim:        54160 kB

        """

    /// The kernel's estimate, not free + buffers + cached: Cached holds 580 MB of shmem/tmpfs here,
    /// which the old sum called available.
    @Test func withoutMemAvailableTheKernelsEstimateIsUsed() throws {
        let m = try parseMeminfo(Array(Self.linux3NoMemAvailable.utf8))
        let low: UInt64 = 21118 * 4096  // ZoneinfoParserTests.linux32rc5's watermarks, 4 KiB pages
        // free − low + (file LRU − min(half, low)) + (SReclaimable − min(half, low)), in kB:
        // 225472 − 84472 + (359088 − 84472) + (44772 − 22386) = 438002
        let row = memoryUsageRow(m, lowWatermarkBytes: low)
        #expect(row["available_bytes"] == .int(438002 * 1024))
        #expect(row["used_bytes"] == .int((3742148 - 438002) * 1024))
        #expect(row["used_percent"] == .double(88.3))
        #expect(row["available_bytes"] != .int((225472 + 22040 + 930888) * 1024))
        #expect(CW.schemaMismatches([row], MemoryUsageFunction.schema).isEmpty)
        // Watermarks above everything reclaimable: zero, never a wrapped number.
        #expect(estimatedAvailableBytes(m, lowWatermarkBytes: 1 << 40) == 0)
    }

    /// Without Active(file)/Inactive(file) (before 2.6.28) there is nothing to estimate from, so no
    /// available, used or percentages, rather than a guess.
    @Test func tooOldToEstimateIsNoData() throws {
        let row = memoryUsageRow(try parseMeminfo(Array(Self.linux2632.utf8)), lowWatermarkBytes: 1000)
        #expect(row["total_bytes"] == .int(1922152 * 1024) && row["swap_used_percent"] == .double(0.77))
        #expect(row["available_bytes"] == nil && row["used_percent"] == nil && row["used_bytes"] == nil)
    }

    /// The published trees without MemAvailable (node_exporter's and procfs's fixtures): the
    /// estimate from their own zoneinfo, never free + buffers + cached.
    @Test(arguments: ["machine-c", "machine-d"])
    func publishedTreesWithoutMemAvailable(tree: String) throws {
        let roots = HostTesting.roots(tree)
        let m = try parseMeminfo(try readOnce(roots.proc + "/meminfo"))
        #expect(m["MemAvailable"] == nil)
        let low = try parseZoneinfoLowWatermarkPages(try readOnce(roots.proc + "/zoneinfo")) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let row = try #require(try MemoryUsageFunction().collect(CW.context(roots, monotonic: 1)).first)
        let expected = try #require(estimatedAvailableBytes(m, lowWatermarkBytes: low))
        #expect(row["available_bytes"] == .int(Int64(expected)))
        #expect(row["available_bytes"] != .int(Int64(m["MemFree"]! + m["Buffers"]! + m["Cached"]!)))
    }

    @Test func functionReadsZoneinfoOnlyWithoutMemAvailable() throws {
        let dir = try CW.makeTree([("proc/meminfo", Self.linux3NoMemAvailable), ("proc/zoneinfo", ZoneinfoParserTests.linux32rc5)])
        defer { CW.removeTree(dir) }
        let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
        let row = try #require(try MemoryUsageFunction().collect(CW.context(roots, monotonic: 1)).first)
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let expected = estimatedAvailableBytes(try parseMeminfo(Array(Self.linux3NoMemAvailable.utf8)), lowWatermarkBytes: 21118 * page)
        #expect(row["available_bytes"] == expected.map { .int(Int64($0)) })
        // A missing zoneinfo is an error naming it, not a silent guess.
        unlink(dir + "/proc/zoneinfo")
        #expect { try MemoryUsageFunction().collect(CW.context(roots, monotonic: 2)) } throws: { "\($0)".contains("zoneinfo") }
        // With MemAvailable, zoneinfo is not needed at all.
        let dir2 = try CW.makeTree([("proc/meminfo", Self.linux618)])
        defer { CW.removeTree(dir2) }
        let roots2 = SourceRoots(proc: dir2 + "/proc", sys: dir2 + "/sys", etc: dir2 + "/etc")
        #expect(try MemoryUsageFunction().collect(CW.context(roots2, monotonic: 1)).first?["available_bytes"] == .int(24285128 * 1024))
    }

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

@Suite struct ZoneinfoParserTests {
    /// A file server on 3.2.0-rc5 (linux-mm, "Kswapd in 3.2.0-rc5 is a CPU hog", 2011-12-27), the
    /// watermark lines of its three zones with the lines around them.
    static let linux32rc5 = """
        Node 0, zone      DMA
          pages free     3980
                min      64
                low      80
                high     96
                scanned  0
                spanned  4080
                present  3916
            nr_free_pages 3980
                protection: (0, 3503, 4007, 4007)
          pagesets
            cpu: 0
                      count: 0
                      high:  0
                      batch: 1
          vm stats threshold: 4
          all_unreclaimable: 1
          start_pfn:         16
          inactive_ratio:    1
        Node 0, zone    DMA32
          pages free     19620
                min      14715
                low      18393
                high     22072
                scanned  0
                spanned  1044480
                present  896960
            nr_free_pages 19620
            nr_inactive_file 412249
            nr_active_file 126151
        Node 0, zone   Normal
          pages free     2854
                min      2116
                low      2645
                high     3174
                scanned  0
                spanned  131072
                present  129024
            nr_free_pages 2854

        """

    /// Linux 2.6.14 (linux-mm attachment, 2005-10-25): per-cpu pagesets print their own `low:`,
    /// which is not a watermark.
    static let linux2614 = """
        Node 0, zone      DMA
          pages free     1370
                min      17
                low      21
                high     25
                active   1715
                inactive 34
                scanned  0 (a: 24 i: 4)
                spanned  4096
                present  4096
                protection: (0, 880, 998)
          pagesets
            cpu: 0 pcp: 0
                      count: 5
                      low:   2
                      high:  6
                      batch: 1
          all_unreclaimable: 0
        Node 0, zone   Normal
          pages free     11121
                min      939
                low      1173
                high     1408

        """

    /// Linux 5.x+ (prometheus/node_exporter collector/fixtures/proc/zoneinfo): per-node stats
    /// first, empty Movable and Device zones.
    static let linux5 = """
        Node 0, zone      DMA
          per-node stats
              nr_inactive_file 723339
              nr_active_file 688810
          pages free     2949
                min      8
                low      11
                high     14
                spanned  4095
                present  3997
                managed  3973
                protection: (0, 2039, 31932, 31932, 31932)
              nr_free_pages 2949
        Node 0, zone    DMA32
          pages free     528427
                min      1078
                low      1600
                high     2122
        Node 0, zone   Normal
          pages free     4539739
                min      15809
                low      23461
                high     31113
        Node 0, zone  Movable
          pages free     0
                min      0
                low      0
                high     0
        Node 0, zone   Device
          pages free     0
                min      0
                low      0
                high     0

        """

    static let sums: [(String, UInt64)] = [(linux32rc5, 80 + 18393 + 2645), (linux2614, 21 + 1173), (linux5, 11 + 1600 + 23461)]

    @Test(arguments: sums)
    func sumsTheLowWatermarks(text: String, pages: UInt64) throws {
        #expect(try parseZoneinfoLowWatermarkPages(Array(text.utf8)) == pages)
    }

    /// Every prefix of a real zoneinfo, and absurd watermarks: an error or a sum, never a trap; the
    /// estimate saturates instead of wrapping.
    @Test func truncatedAndAbsurdNeverTrap() throws {
        let full = try readOnce(TestPaths.fixture("machine-c") + "/proc/zoneinfo")
        for n in 0...full.count {
            do { _ = try parseZoneinfoLowWatermarkPages(Array(full[0..<n])) } catch {}
        }
        let max = "18446744073709551615"
        #expect(try parseZoneinfoLowWatermarkPages(Array("        low      \(max)\n        low      5\n".utf8)) == .max)
        let m: [String: UInt64] = ["MemTotal": .max, "MemFree": .max, "Active(file)": .max, "Inactive(file)": .max, "SReclaimable": .max]
        #expect(estimatedAvailableBytes(m, lowWatermarkBytes: .max) == 0, "saturated sums: the watermarks win")
        #expect(estimatedAvailableBytes(m, lowWatermarkBytes: 0) == .max)
        _ = memoryUsageRow(m, lowWatermarkBytes: .max)
    }

    @Test(arguments: ["", "Node 0, zone      DMA\n  pages free     3980\n", "Node 0, zone DMA\n        low      x\n",
                      "Node 0, zone DMA\n        low      1 2\n"])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseZoneinfoLowWatermarkPages(Array(text.utf8)) }
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
