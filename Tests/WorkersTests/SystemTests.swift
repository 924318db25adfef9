// system worker: uptime, os-release, adjtimex and self parsers, and info/time/self on machine-a and live.
import Testing
import Reports
import TestSupport
@testable import Workers

@Suite struct SystemParserTests {
    @Test(arguments: [("431.51 782.09\n", 431.51), ("3.02 5.20\n", 3.02), ("1234567.89 9876543.21 future\n", 1234567.89)])
    func parsesUptime(text: String, uptime: Double) throws {
        #expect(try parseUptime(Array(text.utf8)).uptime == uptime)
    }

    @Test(arguments: ["", "abc def\n", "-5 1\n", "\u{0}\u{1}"])
    func rejectsBadUptime(text: String) {
        #expect(throws: CollectError.self) { try parseUptime(Array(text.utf8)) }
    }

    @Test func parsesOSRelease() {
        // Debian 12 as on this machine, plus the quoting os-release(5) allows and a comment.
        let text = """
            PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
            # a comment
            VERSION_CODENAME=bookworm
            ID=debian
            QUOTED='single $quoted'
            ESCAPED="say \\"hi\\" for \\$5"
            not a pair

            """
        let v = parseOSRelease(Array(text.utf8))
        #expect(v["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)")
        #expect(v["VERSION_CODENAME"] == "bookworm")
        #expect(v["ID"] == "debian")
        #expect(v["QUOTED"] == "single $quoted")
        #expect(v["ESCAPED"] == "say \"hi\" for $5")
        #expect(v.count == 5)
    }

    /// `adjtimex --print` of an unsynchronised VM (this machine) and of a chrony-disciplined host (STA_NANO).
    @Test(arguments: [
        ("""
                 mode: 0
               offset: 0
            frequency: 0
             maxerror: 16000000
             esterror: 16000000
               status: 64
        time_constant: 2
            precision: 1
            tolerance: 32768000
                 tick: 10000
             raw time:  1795594608s 47171us = 1795594608.047171
         return value = 5

        """, false, "error", 0.0, 16.0),
        ("""
                 mode: 0
               offset: -23661
            frequency: -1102435
             maxerror: 1532
             esterror: 12
               status: 8193
        time_constant: 7
         return value = 0

        """, true, "ok", -0.000023661, 0.001532),
    ])
    func parsesAdjtimexPrint(text: String, synced: Bool, state: String, offset: Double, maxError: Double) throws {
        let c = try parseAdjtimexPrint(Array(text.utf8))
        #expect(c.synchronised == synced)
        #expect(c.stateName == state)
        #expect(c.offsetSeconds == offset)
        #expect(Double(c.maxError) / 1e6 == maxError)
    }

    @Test(arguments: ["", "status: 64\n", " return value = 5\n", "garbage\u{0}"])
    func rejectsTruncatedAdjtimex(text: String) {
        #expect(throws: CollectError.self) { try parseAdjtimexPrint(Array(text.utf8)) }
    }

    @Test func parsesSelfStatus() throws {
        // From this machine's /proc/self/status (cat), abridged, with a key a newer kernel may add.
        let text = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nVmSize:\t    3060 kB\nVmHWM:\t    1780 kB\n"
            + "VmRSS:\t    1760 kB\nThreads:\t1\nFutureField:\t7 kB\nSigQ:\t0/95829\n"
        let u = try parseSelfStatus(Array(text.utf8))
        #expect(u == SelfUsage(rssBytes: 1760 * 1024, peakRSSBytes: 1780 * 1024, virtualBytes: 3060 * 1024, threads: 1))
        // A kernel thread has no Vm lines.
        let kthread = try parseSelfStatus(Array("Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n".utf8))
        #expect(kthread.rssBytes == nil)
    }

    @Test(arguments: ["", "Name:\tcat\nVmRSS:\t1760 kB\n", "\u{0}\u{1}"])
    func rejectsTruncatedStatus(text: String) {
        #expect(throws: CollectError.self) { try parseSelfStatus(Array(text.utf8)) }
    }

    @Test(arguments: [
        ("15449 (cat) R 15445 15445 3318 0 -1 4194304 99 0 0 0 7 3 0 0 20 0 1 0 70446 3133440 394 18446744073709551615\n", 10 as UInt64),
        // comm may hold spaces and parentheses: fields are counted after the last ')'.
        ("77 (a) b) c) S 1 77 77 0 -1 4194560 1 0 0 0 120 30 0 0 20 0 4 0 500 1000 50 1\n", 150),
    ])
    func parsesStatCPUTicks(text: String, ticks: UInt64) throws {
        #expect(try parseProcessStat(Array(text.utf8)[...]).cpuTicks == ticks)
    }

    @Test(arguments: ["", "15449 (cat) R 15445", "15449 cat R 1 2 3 4 5 6 7 8 9 10 11 12 13 14", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x y\n"])
    func rejectsTruncatedStat(text: String) {
        #expect(throws: CollectError.self) { try parseProcessStat(Array(text.utf8)[...]).cpuTicks }
    }
}

@Suite struct SystemFunctionTests {
    @Test func infoOnMachineA() throws {
        let rows = try SystemInfoFunction().collect(CW.context(CW.machineA, monotonic: 1))
        let row = try #require(rows.first)
        #expect(row["hostname"] == .string("vm"))
        #expect(row["kernel"] == .string("6.18.44-fc-v669"))
        #expect(row["os"] == .string("Debian GNU/Linux 12 (bookworm)"))
        #expect(row["os_id"] == .string("debian"))
        #expect(row["os_version"] == .string("12"))
        #expect(row["boot_time"] == .string("2026-11-25T08:10:33.000000+00:00"))
        #expect(row["boot_time_seconds"] == .int(1795594233))
        #expect(row["uptime_seconds"] == .double(580.74))
        #expect(CW.schemaMismatches(rows, SystemInfoFunction.schema).isEmpty)
    }

    @Test func timeOnMachineAIsTheRecordedState() throws {
        let f = SystemTimeFunction()
        let a = try f.collect(CW.context(CW.machineA, monotonic: 1))
        let b = try f.collect(CW.context(CW.machineA, monotonic: 2))
        #expect(a == b)
        let row = try #require(a.first)
        #expect(row["synchronised"] == .bool(false))
        #expect(row["clock_state"] == .string("error"))
        #expect(row["status_flags"] == .int(64))
        #expect(row["max_error_seconds"] == .double(16))
        #expect(CW.schemaMismatches(a, SystemTimeFunction.schema).isEmpty)
    }

    @Test func timeWithoutRecordedStateIsNoData() throws {
        let dir = try CW.makeTree([("proc/uptime", "3.02 5.20\n")])
        defer { CW.removeTree(dir) }
        let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
        #expect(try SystemTimeFunction().collect(CW.context(roots, monotonic: 1)).isEmpty)
    }

    @Test func selfOnMachineA() throws {
        let rows = try SystemSelfFunction().collect(CW.context(CW.machineA, monotonic: 1))
        let row = try #require(rows.first)
        #expect(row["rss_bytes"] == .int(1760 * 1024))
        #expect(row["threads"] == .int(1))
        #expect(row["open_fds"] == nil, "the fixture has no fd directory")
        #expect(row["cpu_seconds_total"] == .double(0))
        #expect(CW.schemaMismatches(rows, SystemSelfFunction.schema).isEmpty)
    }

    @Test func accountingFeedsSelfAndErrors() throws {
        let acc = SelfAccounting()
        let t = Timestamp(microseconds: 1_795_600_000_000_000)
        let ok = FunctionReport(name: "io", datetime: t, data: [], durationSeconds: 0.002)
        let failed = FunctionReport(name: "filesystems", datetime: t, data: [], error: "mountinfo: truncated",
                                    durationSeconds: 0.001)
        let self_ = SystemSelfFunction(accounting: acc)
        let errors = SystemErrorsFunction(accounting: acc)
        #expect(try errors.collect(CW.context(CW.machineA, monotonic: 1)).isEmpty, "nothing recorded yet")
        #expect(try self_.collect(CW.context(CW.machineA, monotonic: 1))[0]["function_errors_total"] == nil)
        acc.record(WorkerReport(name: "disk", datetime: t, functionReports: [failed, ok]))
        acc.record(WorkerReport(name: "disk", datetime: t, functionReports: [
            FunctionReport(name: "filesystems", datetime: t, data: [], durationSeconds: 0.001), ok]))
        acc.record(WorkerReport(name: "load", datetime: t, functionReports: [
            FunctionReport(name: "averages", datetime: t, data: [], durationSeconds: 0.0005)]))
        let rows = try errors.collect(CW.context(CW.machineA, monotonic: 2))
        #expect(rows.map { $0["function"]?.string } == ["disk.filesystems", "disk.io", "load.averages"])
        #expect(rows[0]["errors_total"] == .int(1))
        #expect(rows[0]["collections_total"] == .int(2))
        #expect(rows[0]["failing"] == .bool(false), "the latest collection succeeded")
        #expect(rows[0]["last_error"] == nil)
        #expect(CW.schemaMismatches(rows, SystemErrorsFunction.schema).isEmpty)
        let me = try #require(try self_.collect(CW.context(CW.machineA, monotonic: 2)).first)
        #expect(me["function_errors_total"] == .int(1))
        #expect(me["cycle_seconds"] == nil, "a measured duration is left out of fixture reports")
        #expect(acc.cycleSeconds.map { abs($0 - 0.0035) < 1e-9 } == true)
        let live = try #require(try self_.collect(CW.context(CW.live, monotonic: 3)).first)
        #expect(live["cycle_seconds"] == .double(0.0035))
    }

    @Test func liveMachine() throws {
        let r = SystemWorker.make().collect(roots: CW.live, options: WorkerOptions())
        #expect(r.functionReports.allSatisfy { $0.error == nil }, "\(r.functionReports.compactMap(\.error))")
        let info = try #require(r.function("info")?.data.first)
        #expect((info["uptime_seconds"]?.number ?? 0) > 0)
        #expect(info["kernel"]?.string?.isEmpty == false)
        let time = try #require(r.function("time")?.data.first)
        #expect(time["synchronised"]?.bool != nil)
        let me = try #require(r.function("self")?.data.first)
        #expect((me["rss_bytes"]?.number ?? 0) > 1_000_000)
        #expect((me["open_fds"]?.number ?? 0) >= 3)
        #expect((me["threads"]?.number ?? 0) >= 1)
    }
}
