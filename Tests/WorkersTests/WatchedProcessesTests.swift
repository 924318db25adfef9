// processes.watched: the parsers of the small files a process watch reads (real kernel text), and the function on
// scratch trees: each selector, the main process, pid reuse, restarts, zombies, an unreadable /proc.
import Testing
import Reports
import Kit
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite struct WatchParserTests {
    static let pidfiles: [(String, Int64?)] = [
        ("812\n", 812), ("812", 812), ("  4242  \n", 4242), ("1\n", 1), ("4194304\n", 4_194_304),
        ("3501\nnginx: master process\n", 3501), ("77 extra words\n", 77),
        ("", nil), ("\n", nil), ("0\n", nil), ("-5\n", nil), ("4194305\n", nil), ("12a\n", nil), ("abc\n", nil),
        ("99999999999999999999\n", nil), ("\u{0}12\n", nil),
    ]

    @Test(arguments: pidfiles)
    func pidfile(_ text: String, _ want: Int64?) { #expect(parsePidfile(Array(text.utf8)[...]) == want) }

    @Test func cgroupProcsAreSortedAndUnique() {
        #expect(parseCgroupProcs(Array("1288\n1290\n1289\n1290\n\nx\n".utf8)) == [1288, 1289, 1290])
        #expect(parseCgroupProcs([]) == [])
    }

    static let cmdlines: [(String, String)] = [
        ("/usr/sbin/nginx\u{0}-g\u{0}daemon off;\u{0}", "/usr/sbin/nginx -g daemon off;"),
        ("nginx: worker process\u{0}\u{0}\u{0}", "nginx: worker process"),  // rewritten argv, padded with NULs
        ("python3\u{0}/srv/app/worker.py\u{0}--queue\u{0}mail\u{0}", "python3 /srv/app/worker.py --queue mail"),
        ("", ""),
    ]

    @Test(arguments: cmdlines)
    func cmdline(_ raw: String, _ want: String) { #expect(parseCmdline(Array(raw.utf8)[...]) == want) }

    /// /proc/self/limits of a 6.1 kernel, as it pads its columns.
    static let limits = """
        Limit                     Soft Limit           Hard Limit           Units     
        Max cpu time              unlimited            unlimited            seconds   
        Max processes             96363                96363                processes 
        Max open files            1024                 524288               files     
        Max locked memory         8388608              8388608              bytes     
        Max msgqueue size         819200               819200               bytes     

        """

    @Test func openFilesLimit() {
        let b = Array(Self.limits.utf8)
        #expect(parseLimit(b, "Max open files") == ResourceLimit(soft: 1024, hard: 524_288))
        #expect(parseLimit(b, "Max cpu time") == ResourceLimit(soft: nil, hard: nil))
        #expect(parseLimit(b, "Max processes") == ResourceLimit(soft: 96363, hard: 96363))
        #expect(parseLimit(b, "Max file locks") == nil)
        #expect(parseLimit(Array("Max open files            lots                 1                    files\n".utf8), "Max open files") == nil)
        // A name that only starts like the one asked for is another limit.
        #expect(parseLimit(Array("Max open filesystems      1                    1\n".utf8), "Max open files") == nil)
    }

    @Test func pssFromSmapsRollup() {
        let text = """
            564b39de1000-7ffeb6ad8000 ---p 00000000 00:00 0                          [rollup]
            Rss:                1640 kB
            Pss:                 256 kB
            Pss_Dirty:           112 kB
            Pss_Anon:            112 kB

            """
        #expect(parseSmapsRollupPss(Array(text.utf8)) == 256 * 1024)
        #expect(parseSmapsRollupPss(Array("Rss: 1 kB\n".utf8)) == nil)
        #expect(parseSmapsRollupPss(Array("Pss_Anon: 4 kB\n".utf8)) == nil)
    }
}

@Suite struct WatchedProcessesTests {
    /// A scratch machine: uptime, passwd, and the processes written with `process`.
    func machine() -> ScratchTree {
        let t = ScratchTree()
        t.write("proc/uptime", "5000.00 9000.00\n")
        t.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n")
        return t
    }

    func process(_ t: ScratchTree, pid: Int, comm: String, state: String = "S", ppid: Int = 1, start: Int = 100_000,
                 utime: Int = 0, uid: Int = 33, cmdline: String? = nil, fds: Int = 3)
    {
        t.write("proc/\(pid)/stat", statLine(pid: pid, comm: comm, state: state, ppid: ppid, utime: utime, threads: 2, start: start, rss: 100))
        t.write("proc/\(pid)/status", "Name:\t\(comm)\nState:\tS (sleeping)\nUid:\t\(uid)\t\(uid)\t\(uid)\t\(uid)\n")
        t.write("proc/\(pid)/cmdline", "")
        let argv = Array((cmdline ?? comm).utf8).map { $0 == 0x20 ? 0 : $0 } + [0]
        let fd = open(t.path + "/proc/\(pid)/cmdline", O_WRONLY | O_TRUNC)
        _ = argv.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        t.write("proc/\(pid)/limits", WatchParserTests.limits)
        t.write("proc/\(pid)/smaps_rollup", "0-0 ---p 00000000 00:00 0 [rollup]\nRss: 400 kB\nPss: 300 kB\n")
        t.mkdirs("proc/\(pid)/fd")
        for k in 0..<fds { t.write("proc/\(pid)/fd/\(k)", "") }
        t.mkdirs("proc/\(pid)/task/\(pid)")
    }

    func gone(_ t: ScratchTree, _ pid: Int) { _ = system("rm -rf '\(t.path)/proc/\(pid)'") }

    func function(_ specs: [ProcessWatchSpec]) -> WatchedProcessesFunction {
        let f = WatchedProcessesFunction()
        f.configure(specs)
        return f
    }

    func collect(_ f: WatchedProcessesFunction, _ t: ScratchTree, at tick: Double) throws -> [Row] {
        var roots = t.roots
        roots.rootFS = t.path
        return try f.collect(HostTesting.context(roots, monotonic: tick))
    }

    @Test func withoutWatchesTheFunctionIsNotReported() throws {
        let w = try #require(WorkerRegistry.make("processes"))
        #expect(w.collect(roots: HostTesting.roots("machine-b"), options: WorkerOptions()).functionReports.map(\.name) == ["summary", "top", "zombies"])
        #expect(WorkerRegistry.catalog.function(worker: "processes", function: "watched") != nil)
    }

    @Test func aPidfileNamesTheMainProcess() throws {
        let t = machine()
        process(t, pid: 812, comm: "nginx", start: 200_000, cmdline: "nginx: master process /usr/sbin/nginx")
        process(t, pid: 813, comm: "nginx", ppid: 812, start: 200_100)
        t.write("run/nginx.pid", "812\n")
        let f = function([ProcessWatchSpec(name: "nginx", selector: .pidfile("/run/nginx.pid"), interval: 10)])
        let r = try #require(try collect(f, t, at: 100).first)
        #expect(r["watch"] == "nginx" && r["selector"] == "pidfile /run/nginx.pid")
        #expect(r["running"] == .int(1))
        #expect(r["main_pid"] == .int(812) && r["ppid"] == .int(1) && r["state"] == "sleeping" && r["user"] == "www-data")
        // 5000 s of uptime, started 2000 s after boot (200000 ticks at 100 Hz).
        #expect(r["uptime_seconds"] == .double(rounded(5000 - 200_000 / clockTicksPerSecond, 1)))
        #expect(r["rss_bytes"] == .int(100 * pageSizeBytes) && r["pss_bytes"] == .int(300 * 1024) && r["threads"] == .int(2))
        #expect(r["open_fds"] == .int(3) && r["fd_limit"] == .int(1024))
        #expect(r["fds_used_percent"] == .double(rounded(3.0 / 1024 * 100, 2)))
        // No task/PID/children file (a kernel without CONFIG_PROC_CHILDREN): counted from a walk of /proc.
        #expect(r["children"] == .int(1))
        #expect(r["pid_changes_total"] == .int(0) && r["error"] == "")
        #expect(f.mainProcesses.map(\.process) == [ProcessIdentity(pid: 812, startTime: 200_000)])
        #expect(f.pidfileFolders({ var r = t.roots; r.rootFS = t.path; return r }()) == [t.path + "/run"])
    }

    /// /proc/PID/fd and smaps_rollup refused (another user's process, without CAP_SYS_PTRACE): the fields are absent
    /// and the row says which and why, so a rule on them is not silently quiet. The refusal is made real with mode
    /// 000 files read under another filesystem uid (as root, setfsuid drops this thread's DAC override until undone).
    @Test func fieldsTheKernelRefusesAreNamedInTheRow() throws {
        let t = machine()
        process(t, pid: 812, comm: "nginx")
        t.write("run/nginx.pid", "812\n")
        let f = function([ProcessWatchSpec(name: "nginx", selector: .pidfile("/run/nginx.pid"), interval: 10)])
        let readable = try #require(try collect(f, t, at: 1).first)
        #expect(readable["open_fds"] == .int(3) && readable["unreadable"] == "")

        chmod(t.path, 0o755)
        chmod(t.path + "/proc/812/fd", 0)
        chmod(t.path + "/proc/812/smaps_rollup", 0)
        // glibc's setfsuid(2) is not in Swift's Glibc module: looked up by name.
        typealias SetFSUID = @convention(c) (UInt32) -> Int32
        let setfsuid = try #require(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setfsuid").map { unsafeBitCast($0, to: SetFSUID.self) })
        let asRoot = getuid() == 0
        if asRoot { _ = setfsuid(65534) }
        let r = try collect(f, t, at: 2).first
        if asRoot { _ = setfsuid(0) }
        let row = try #require(r)
        #expect(row["running"] == .int(1) && row["main_pid"] == .int(812) && row["fd_limit"] == .int(1024))
        #expect(row["open_fds"] == nil && row["fds_used_percent"] == nil && row["pss_bytes"] == nil)
        #expect(row["unreadable"] == .string("open_fds, fds_used_percent, pss_bytes (/proc/812/smaps_rollup: Permission denied; "
            + "another user's process takes CAP_SYS_PTRACE, docs/packaging.md)"))
        // Readable again: the fields are back and the note is gone.
        chmod(t.path + "/proc/812/fd", 0o755)
        chmod(t.path + "/proc/812/smaps_rollup", 0o644)
        let back = try #require(try collect(f, t, at: 3).first)
        #expect(back["open_fds"] == .int(3) && back["pss_bytes"] == .int(300 * 1024) && back["unreadable"] == "")
    }

    @Test func childrenFromTheKernelsListWhenItHasOne() throws {
        let t = machine()
        process(t, pid: 900, comm: "supervisor")
        t.write("proc/900/task/900/children", "901 902 ")
        t.write("run/s.pid", "900")
        let f = function([ProcessWatchSpec(name: "s", selector: .pidfile("/run/s.pid"), interval: 10)])
        #expect(try collect(f, t, at: 1).first?["children"] == .int(2))
    }

    @Test func aRestartIsAPidChangeAndAReusedPidIsAnotherProcess() throws {
        let t = machine()
        process(t, pid: 812, comm: "nginx", start: 200_000)
        t.write("run/nginx.pid", "812\n")
        let f = function([ProcessWatchSpec(name: "nginx", selector: .pidfile("/run/nginx.pid"), interval: 10)])
        _ = try collect(f, t, at: 100)
        // Between discoveries only /proc/812/stat is read: a new start time under the same pid is not nginx.
        process(t, pid: 812, comm: "bash", start: 300_000)
        var r = try #require(try collect(f, t, at: 101).first)
        #expect(r["running"] == .int(0) && r["main_pid"] == nil)
        #expect(f.nextDiscovery == 102)  // a successor is looked for a second later
        // The supervisor started nginx again with a new pid and pid file: one restart.
        process(t, pid: 1500, comm: "nginx", start: 310_000)
        t.write("run/nginx.pid", "1500\n")
        r = try #require(try collect(f, t, at: 102).first)
        #expect(r["running"] == .int(1) && r["main_pid"] == .int(1500) && r["pid_changes_total"] == .int(1))
        // A missing pid file is a stopped daemon, not an error.
        _ = unlink(t.path + "/run/nginx.pid")
        f.pidfilesChanged()
        r = try #require(try collect(f, t, at: 103).first)
        #expect(r["running"] == .int(0) && r["error"] == "")
        // Garbage in the pid file: nothing runs, and the row says why.
        t.write("run/nginx.pid", "starting\n")
        f.pidfilesChanged()
        r = try #require(try collect(f, t, at: 104).first)
        #expect(r["running"] == .int(0) && r["error"] == "/run/nginx.pid holds no pid")
    }

    @Test func aZombieIsNotRunning() throws {
        let t = machine()
        process(t, pid: 812, comm: "nginx", state: "Z")
        t.write("run/nginx.pid", "812\n")
        let f = function([ProcessWatchSpec(name: "nginx", selector: .pidfile("/run/nginx.pid"), interval: 10)])
        #expect(try collect(f, t, at: 1).first?["running"] == .int(0))
    }

    @Test func aProcessThatExitsBetweenDiscoveriesIsGone() throws {
        let t = machine()
        process(t, pid: 40, comm: "sshd", start: 500)
        let f = function([ProcessWatchSpec(name: "sshd", selector: .name("sshd"), interval: 30)])
        #expect(try collect(f, t, at: 10).first?["running"] == .int(1))
        gone(t, 40)
        f.exited(ProcessIdentity(pid: 40, startTime: 500), now: 10.5)
        #expect(f.nextDiscovery == 11.5)
        let r = try #require(try collect(f, t, at: 10.6).first)
        #expect(r["running"] == .int(0) && r["pid_changes_total"] == .int(0))
        // Still nothing a second later: the next looks back off (2 s, 4 s, …) up to the interval.
        _ = try collect(f, t, at: 11.5)
        #expect(f.nextDiscovery == 13.5)
        _ = try collect(f, t, at: 13.5)
        #expect(f.nextDiscovery == 17.5)
        process(t, pid: 41, comm: "sshd", start: 600)
        let back = try #require(try collect(f, t, at: 17.5).first)
        #expect(back["running"] == .int(1) && back["pid_changes_total"] == .int(1))
        #expect(f.nextDiscovery == 47.5)
    }

    @Test func byNameTheEldestTopProcessIsMain() throws {
        let t = machine()
        process(t, pid: 100, comm: "postgres", start: 1000, uid: 0)
        process(t, pid: 150, comm: "postgres", ppid: 100, start: 1200)
        process(t, pid: 90, comm: "postgres", ppid: 100, start: 1100)
        process(t, pid: 300, comm: "postgresql", start: 900)  // another name
        process(t, pid: 310, comm: "postgres", state: "Z", ppid: 100, start: 1300)
        let f = function([ProcessWatchSpec(name: "pg", selector: .name("postgres"), interval: 10)])
        let r = try #require(try collect(f, t, at: 5).first)
        #expect(r["running"] == .int(3) && r["main_pid"] == .int(100) && r["user"] == "root")
        #expect(r["total_rss_bytes"] == .int(3 * 100 * pageSizeBytes))
    }

    @Test func byCommandLineWithCPU() throws {
        let t = machine()
        process(t, pid: 700, comm: "python3", utime: 100, cmdline: "python3 /srv/app/worker.py --queue mail")
        process(t, pid: 701, comm: "python3", utime: 0, cmdline: "python3 /srv/app/web.py")
        let pattern = "worker\\.py --queue"
        let f = function([ProcessWatchSpec(name: "mailq", selector: .cmdline(pattern, matches: { $0.contains("worker.py --queue") }), interval: 10)])
        var r = try #require(try collect(f, t, at: 50).first)
        #expect(r["running"] == .int(1) && r["main_pid"] == .int(700) && r["selector"] == "cmdline worker\\.py --queue")
        #expect(r["cpu_percent"] == nil)  // one reading: no rate yet
        process(t, pid: 700, comm: "python3", utime: 300, cmdline: "python3 /srv/app/worker.py --queue mail")
        r = try #require(try collect(f, t, at: 52).first)
        #expect(r["cpu_percent"] == .double(rounded(200 / clockTicksPerSecond / 2 * 100)))
        #expect(r["total_cpu_percent"] == r["cpu_percent"])
        // A collection right after (an event) repeats the figure instead of dividing by milliseconds.
        process(t, pid: 700, comm: "python3", utime: 310, cmdline: "python3 /srv/app/worker.py --queue mail")
        r = try #require(try collect(f, t, at: 52.01).first)
        #expect(r["cpu_percent"] == .double(rounded(200 / clockTicksPerSecond / 2 * 100)))
    }

    @Test func aUnitsCgroupIncludingItsSubCgroups() throws {
        let t = machine()
        process(t, pid: 1288, comm: "postgres", start: 400)
        process(t, pid: 1290, comm: "postgres", ppid: 1288, start: 410)
        process(t, pid: 1400, comm: "helper", ppid: 1, start: 420)
        t.write("sys/fs/cgroup/system.slice/postgresql@15-main.service/cgroup.procs", "1290\n1288\n")
        t.write("sys/fs/cgroup/system.slice/postgresql@15-main.service/memory.max", "max\n")
        t.write("sys/fs/cgroup/system.slice/postgresql@15-main.service/helper/cgroup.procs", "1400\n")
        let f = function([ProcessWatchSpec(name: "pg", selector: .unit("postgresql@15-main.service"), interval: 10)])
        let r = try #require(try collect(f, t, at: 1).first)
        #expect(r["running"] == .int(3) && r["main_pid"] == .int(1288) && r["selector"] == "unit postgresql@15-main.service")
        // A stopped unit has no cgroup: nothing runs.
        let stopped = function([ProcessWatchSpec(name: "x", selector: .unit("stopped.service"), interval: 10)])
        #expect(try collect(stopped, t, at: 1).first?["running"] == .int(0))
    }

    @Test func aUnitOutsideSystemSliceAndOnTheHybridLayout() throws {
        let t = machine()
        process(t, pid: 60, comm: "app")
        t.write("sys/fs/cgroup/unified/cgroup.procs", "1\n")
        t.write("sys/fs/cgroup/unified/user.slice/user-1000.slice/user@1000.service/app.slice/app.service/cgroup.procs", "60\n")
        #expect(findCgroup("app.service", t.path + "/sys/fs/cgroup") == t.path + "/sys/fs/cgroup/unified/user.slice/user-1000.slice/user@1000.service/app.slice/app.service")
        let f = function([ProcessWatchSpec(name: "app", selector: .unit("app.service"), interval: 10)])
        #expect(try collect(f, t, at: 1).first?["main_pid"] == .int(60))
    }

    @Test func aReparentedMainProcessCountsAPpidChange() throws {
        let t = machine()
        process(t, pid: 70, comm: "worker", ppid: 69)
        t.write("run/w.pid", "70")
        let f = function([ProcessWatchSpec(name: "w", selector: .pidfile("/run/w.pid"), interval: 10)])
        _ = try collect(f, t, at: 1)
        process(t, pid: 70, comm: "worker", ppid: 1)
        let r = try #require(try collect(f, t, at: 2).first)
        #expect(r["ppid"] == .int(1) && r["ppid_changes_total"] == .int(1) && r["pid_changes_total"] == .int(0))
    }

    @Test func aReloadKeepsWhatAnUnchangedWatchKnows() throws {
        let t = machine()
        process(t, pid: 812, comm: "nginx", start: 1)
        t.write("run/nginx.pid", "812")
        let spec = ProcessWatchSpec(name: "nginx", selector: .pidfile("/run/nginx.pid"), interval: 10)
        let f = function([spec])
        _ = try collect(f, t, at: 1)
        process(t, pid: 813, comm: "nginx", start: 2)
        t.write("run/nginx.pid", "813")
        f.pidfilesChanged()
        #expect(try collect(f, t, at: 2).first?["pid_changes_total"] == .int(1))
        f.configure([spec, ProcessWatchSpec(name: "sshd", selector: .name("sshd"), interval: 10)])
        let rows = try collect(f, t, at: 3)
        #expect(rows.map { $0["watch"]?.string ?? "" } == ["nginx", "sshd"])
        #expect(rows[0]["pid_changes_total"] == .int(1))
        #expect(f.nextDiscovery == 12)
        // A new interval takes effect at once; the counters stay.
        f.configure([ProcessWatchSpec(name: "nginx", selector: .pidfile("/run/nginx.pid"), interval: 60)])
        #expect(f.nextDiscovery == -.infinity)
        #expect(try collect(f, t, at: 4).first?["pid_changes_total"] == .int(1))
        #expect(f.nextDiscovery == 64)
        f.configure([])
        #expect(!f.isActive && f.nextDiscovery == nil && f.mainProcesses.isEmpty)
    }

    @Test func anUnreadableProcIsAnErrorNotAQuietMachine() throws {
        let t = machine()
        _ = unlink(t.path + "/proc/uptime")
        t.write("run/nginx.pid", "812")
        let f = function([ProcessWatchSpec(name: "nginx", selector: .pidfile("/run/nginx.pid"), interval: 10)])
        #expect(throws: ReadError.self) { try collect(f, t, at: 1) }
        // A pid file shd cannot read (here a folder: EISDIR, the way EACCES would be for a daemon without the
        // right) is not "not running": that watch's row has no `running` and the collection is partial.
        t.write("proc/uptime", "1.0 1.0\n")
        process(t, pid: 40, comm: "sshd")
        t.mkdirs("run/odd.pid")
        let two = function([ProcessWatchSpec(name: "odd", selector: .pidfile("/run/odd.pid"), interval: 10),
                            ProcessWatchSpec(name: "sshd", selector: .name("sshd"), interval: 10)])
        do {
            _ = try collect(two, t, at: 1)
            Issue.record("expected a partial collection")
        } catch let p as PartialCollection {
            #expect(p.rows.count == 2)
            #expect(p.rows[0]["running"] == nil && (p.rows[0]["error"]?.string ?? "").contains("odd.pid"))
            #expect(p.rows[1]["running"] == .int(1))
        }
    }

    @Test func thisProcessByPidfileOnTheLiveSystem() throws {
        let dir = makeTempDirectory("shd-watch-live")
        defer { _ = system("rm -rf '\(dir)'") }
        writeText(dir + "/me.pid", "\(getpid())\n")
        let f = function([ProcessWatchSpec(name: "me", selector: .pidfile(dir + "/me.pid"), interval: 10)])
        let r = try #require(try f.collect(HostTesting.context(SourceRoots(), monotonic: monotonicSeconds())).first)
        #expect(r["running"] == .int(1) && r["main_pid"] == .int(Int64(getpid())))
        #expect((r["threads"]?.number ?? 0) >= 1 && (r["open_fds"]?.number ?? 0) >= 3 && (r["uptime_seconds"]?.number ?? -1) >= 0)
        #expect(r["pss_bytes"] != nil || access("/proc/self/smaps_rollup", R_OK) != 0)
    }
}

