// processes.summary/top/zombies: [pid]/stat, status, file-nr and passwd parsers; walks of machine-b and scratch trees.
import Testing
import Reports
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory tree for tests that need files changed between ticks; removed on deinit.
final class ScratchTree {
    let path: String

    init() {
        var template = Array("/tmp/shd-wb-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = p.map { String(cString: $0) } ?? "/tmp/shd-wb-failed"
    }

    deinit { _ = system("rm -rf '\(path)'") }

    /// Writes `text` at `relative`, creating directories.
    func write(_ relative: String, _ text: String) {
        let full = path + "/" + relative
        var dir = ""
        for part in full.split(separator: "/").dropLast() {
            dir += "/" + part
            mkdir(dir, 0o755)
        }
        let f = fopen(full, "w")
        _ = text.withCString { fputs($0, f) }
        fclose(f)
    }

    func mkdirs(_ relative: String) {
        var dir = ""
        for part in (path + "/" + relative).split(separator: "/") {
            dir += "/" + part
            mkdir(dir, 0o755)
        }
    }

    var roots: SourceRoots { SourceRoots(proc: path + "/proc", sys: path + "/sys", etc: path + "/etc") }
}

/// A /proc/[pid]/stat line with the fields the parser reads set, the rest as a real 5.15 kernel prints them.
func statLine(pid: Int, comm: String, state: String = "S", ppid: Int = 1, utime: Int = 0, stime: Int = 0,
              threads: Int = 1, start: Int = 100, rss: Int = 10) -> String {
    "\(pid) (\(comm)) \(state) \(ppid) \(pid) \(pid) 0 -1 4194560 100 0 0 0 \(utime) \(stime) 0 0 20 0 \(threads) 0 \(start) "
        + "10000000 \(rss) 18446744073709551615 1 1 0 0 0 0 0 4096 16386 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
}

@Suite struct ProcessStatParserTests {
    @Test(arguments: [
        ("1 (systemd) S 0 1 1 0 -1 4194560 96345 4380813 109 1471 1883 4120 0 0 20 0 1 0 4 171716608 3312 18446744073709551615\n",
         1 as Int64, "systemd", "S", 1883 + 4120 as UInt64, 3312 as Int64),
        (statLine(pid: 77, comm: "(a b) c)", state: "R", utime: 5, stime: 7, rss: 9), 77, "(a b) c)", "R", 12, 9),
        (statLine(pid: 2450, comm: "worker) (2 x", threads: 9), 2450, "worker) (2 x", "S", 0, 10),
        (statLine(pid: 5, comm: "", state: "Z", rss: 0), 5, "", "Z", 0, 0),
        (statLine(pid: 7001, comm: "kworker/u16:2-events_unbound", state: "I"), 7001, "kworker/u16:2-events_unbound", "I", 0, 10),
    ])
    func parsesRealLines(text: String, pid: Int64, comm: String, state: String, ticks: UInt64, rss: Int64) throws {
        let s = try parseProcessStat(HostTesting.bytes(text)[...])
        #expect(s.pid == pid)
        #expect(s.comm == comm)
        #expect(s.state == state.utf8.first)
        #expect(s.cpuTicks == ticks)
        #expect(s.rssPages == rss)
    }

    @Test(arguments: [
        "", "1 (systemd S 0 1", "1 (systemd) S 0 1 1 0 -1 4194560", "(x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22",
        "1 (x) SS 0 1 1 0 -1 4194560 1 0 0 0 a b 0 0 20 0 1 0 4 1 1 1", "\u{0}\u{1}",
    ])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseProcessStat(HostTesting.bytes(text)[...]) }
    }

    @Test func parsesStatus() throws {
        let s = try parseProcessStatus(HostTesting.bytes(
            "Name:\tpostgres\nUmask:\t0077\nState:\tS (sleeping)\nUid:\t115\t115\t115\t115\nVmRSS:\t  244812 kB\nNewKey:\t1\n"))
        #expect(s.name == "postgres")
        #expect(s.uid == 115)
        #expect(s.vmRSSBytes == 244812 * 1024)
        #expect(throws: CollectError.self) { try parseProcessStatus(HostTesting.bytes("garbage\nmore garbage\n")) }
    }

    @Test func parsesFileNrAndPasswd() throws {
        let nr = try parseFileNr(HostTesting.bytes("14208\t0\t9223372036854775807\n"))
        #expect(nr.allocated == 14208 && nr.free == 0 && nr.max == 9223372036854775807)
        #expect(throws: CollectError.self) { try parseFileNr(HostTesting.bytes("14208\t0\n")) }
        let users = parsePasswd(HostTesting.bytes("root:x:0:0:root:/root:/bin/bash\nbroken line\n+::::::\nalice:x:1000:1000::/home/alice:/bin/sh\ndup:x:0:0::/:/bin/sh\n"))
        #expect(users == [0: "root", 1000: "alice"])
    }
}

@Suite struct ProcessFunctionTests {
    @Test func summaryOnMachineB() throws {
        let r = try #require(try ProcessSummaryFunction().collect(HostTesting.context(HostTesting.roots("machine-b"))).first)
        // 20 processes; 31870 exited mid-read and is skipped.
        #expect(r["processes"] == .int(20))
        #expect(r["running"] == .int(1))
        #expect(r["disk_sleep"] == .int(2))
        #expect(r["zombie"] == .int(1))
        #expect(r["stopped"] == .int(1))
        #expect(r["idle"] == .int(2))
        #expect(r["sleeping"] == .int(13))
        #expect(r["threads"] == .int(40))  // 17 single-threaded, chronyd 2, the renamed worker 9, node_exporter 12
        #expect(r["fds_used"] == .int(14208))
    }

    @Test func processesThatVanishMidWalkAreSkipped() throws {
        let t = ScratchTree()
        t.write("proc/100/stat", statLine(pid: 100, comm: "alive"))
        t.mkdirs("proc/101")                       // exited: directory still listed, stat gone
        t.write("proc/102/stat", "")                // exited between open and read
        t.write("proc/sys/fs/file-nr", "10\t0\t100\n")
        let r = try #require(try ProcessSummaryFunction().collect(HostTesting.context(t.roots)).first)
        #expect(r["processes"] == .int(1))
        #expect(r["fds_used_percent"] == .double(10))
    }

    @Test func topOnMachineB() throws {
        let table = ProcessTable()
        let f = TopProcessesFunction(table: table)
        var options = WorkerOptions()
        options.topProcesses = 3
        let roots = HostTesting.roots("machine-b")
        let first = try f.collect(HostTesting.context(roots, options: options, monotonic: 10))
        // No previous tick: no CPU ranking yet, RSS ranking right away.
        #expect(first.allSatisfy { $0["rank_by"] == "rss" })
        let rows = try f.collect(HostTesting.context(roots, options: options, monotonic: 11))
        let rss = rows.filter { $0["rank_by"] == "rss" }
        #expect(rss.map { $0["pid"]?.string ?? "" } == ["1288", "1290", "2450"])
        #expect(rss.first?["user"] == "postgres")
        #expect(rss.first?["rss_bytes"] == .int(1204331 * pageSizeBytes))
        #expect(rss.last?["name"] == "worker) (2 x")
        #expect(rss.last?["user"] == "alice")
        let cpu = rows.filter { $0["rank_by"] == "cpu" }
        #expect(cpu.count == 3)
        #expect(cpu.allSatisfy { $0["cpu_percent"] == .double(0) })
    }

    @Test func cpuPercentFromTicksBetweenWalks() throws {
        let t = ScratchTree()
        t.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        t.write("proc/500/stat", statLine(pid: 500, comm: "busy", utime: 100, stime: 0))
        t.write("proc/500/status", "Name:\tbusy\nUid:\t0\t0\t0\t0\n")
        t.write("proc/501/stat", statLine(pid: 501, comm: "nobody's", utime: 10, stime: 0))
        t.write("proc/501/status", "Name:\tnobody's\nUid:\t4242\t4242\t4242\t4242\n")
        let f = TopProcessesFunction()
        _ = try f.collect(HostTesting.context(t.roots, monotonic: 50))
        // 200 ticks of utime+stime in 2 s at USER_HZ is 1 s of CPU per second: 100 % of a core at 100 Hz.
        t.write("proc/500/stat", statLine(pid: 500, comm: "busy", utime: 200, stime: 100))
        t.write("proc/501/stat", statLine(pid: 501, comm: "nobody's", utime: 10, stime: 0))
        let rows = try f.collect(HostTesting.context(t.roots, monotonic: 52))
        let top = try #require(rows.first { $0["rank_by"] == "cpu" })
        #expect(top["pid"] == "500")
        #expect(top["user"] == "root")
        #expect(top["cpu_percent"] == .double(rounded(200 / clockTicksPerSecond / 2 * 100)))
        #expect(rows.first { $0["pid"] == "501" }?["user"] == "4242")
        // A reused pid (new start time) is a new process: no rate from the old one's ticks.
        t.write("proc/500/stat", statLine(pid: 500, comm: "busy", utime: 900, stime: 100, start: 999))
        let again = try f.collect(HostTesting.context(t.roots, monotonic: 54))
        #expect(!again.contains { $0["rank_by"] == "cpu" && $0["pid"] == "500" })
    }

    @Test func zombiesOnMachineB() throws {
        let rows = try ZombiesFunction().collect(HostTesting.context(HostTesting.roots("machine-b")))
        #expect(rows == [["pid": "3101", "name": "gzip", "ppid": 3050]])
    }

    @Test func oneWalkPerTick() throws {
        let w = try #require(WorkerRegistry.make("processes"))
        let report = w.collect(roots: HostTesting.roots("machine-b"), options: WorkerOptions())
        #expect(report.functionReports.map(\.name) == ["summary", "top", "zombies"])
        #expect(report.functionReports.allSatisfy { $0.error == nil })
    }

    @Test func summaryOnThisMachine() throws {
        let r = try #require(try ProcessSummaryFunction().collect(HostTesting.context(SourceRoots())).first)
        #expect((r["processes"]?.number ?? 0) >= 1)
        let pct = try #require(r["fds_used_percent"]?.number)
        #expect(pct >= 0 && pct <= 100)
    }
}

/// The walk that skips listing /proc while no pid was allocated (loadavg's last pid).
@Suite struct ProcessWalkShortcutTests {
    static func context(_ roots: SourceRoots, _ tick: Double) -> CollectContext {
        HostTesting.context(roots, monotonic: tick)
    }

    @Test func fixtureTreesAreAlwaysListed() throws {
        // A fixture's loadavg is a regular file: its last pid says nothing about the tree.
        let table = ProcessTable()
        for tick in 1...3 { try table.refresh(Self.context(HostTesting.roots("machine-b"), Double(tick))) }
        #expect(table.fullWalks == 3 && table.keptWalks == 0)
    }

    @Test func liveWalkSeesNewAndExitedProcessesAndSkipsListingWhenNothingStarted() throws {
        let table = ProcessTable()
        var tick = 1.0
        func walk() throws -> Set<Int64> {
            tick += 1
            try table.refresh(Self.context(SourceRoots(), tick))
            return Set(table.processes.map(\.pid))
        }
        let before = try walk()
        #expect(before.contains(Int64(getpid())))
        // A new process allocates a pid: the next walk lists /proc and finds it.
        let child = try ChildProcess(["/bin/sleep", "30"], outputDirectory: "/tmp")
        let full = table.fullWalks
        #expect(try walk().contains(Int64(child.pid)))
        #expect(table.fullWalks == full + 1)
        // Once it exits and is reaped, it is gone, whichever walk runs.
        child.signal(SIGKILL)
        #expect(child.wait(timeout: 5) != nil)
        #expect(try !walk().contains(Int64(child.pid)))
        // With nothing started between two walks (other tests run beside this one and start processes, so retry for
        // up to 10 s; the loop ends at the first quiet pair), the walk re-reads the kept fds only, and still sees this process.
        var skipped = false
        for _ in 0..<2_000 where !skipped {
            let kept = table.keptWalks
            let pids = try walk()
            if table.keptWalks > kept {
                skipped = true
                #expect(pids.contains(Int64(getpid())))
            }
            usleep(5_000)
        }
        #expect(skipped, "every walk in 10 s listed /proc: a pid was allocated before each")
    }
}
