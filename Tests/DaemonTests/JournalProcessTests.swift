// The journal as an event source, with the real binary and a real journal file (written by systemd-journal-remote
// from export-format text): entries appended while shd follows reach the webhook; a restart resumes after the
// saved cursor (an entry written while shd was down still alerts, none is sent twice); old entries are not replayed.
import Kit
import Reports
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct JournalProcessTests {
    static let remote: String? = ["/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote"].first { (p: String) in access(p, X_OK) == 0 }

    func append(_ journal: String, _ device: String, at seconds: Int, dir: String) throws {
        let export = dir + "/entry-\(device).export"
        writeText(export, """
            __REALTIME_TIMESTAMP=\(Timestamp.now().microseconds - 60_000_000 + Int64(seconds) * 1_000_000)
            __MONOTONIC_TIMESTAMP=\(1000 + seconds)
            _BOOT_ID=5f0e9a8b7c6d4e3f2a1b0c9d8e7f6a5b
            PRIORITY=3
            SYSLOG_IDENTIFIER=kernel
            _TRANSPORT=kernel
            MESSAGE=blk_update_request: I/O error, dev \(device), sector 2048 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0


            """)
        let rc = runShell("'\(Self.remote!)' -o '\(journal)' '\(export)' > '\(export).log' 2>&1")
        try #require(rc == 0, "systemd-journal-remote: \(readText(export + ".log"))")
    }

    /// The kernel I/O error rule both tests follow the journal with; its `device` capture names the instance.
    static let ioErrorRule = """
        rule disk_io_errors on journal where transport == "kernel" and message =~ /I\\/O error, dev (?<device>\\w+)/ {
          warn count(1h) >= 1
          quiet 1h
        }
        """

    func received(_ h: DaemonHarness, _ kind: String) -> [String] {
        h.alerts.flatMap { $0["alerts"]?.array ?? [] }.filter { $0["rule"]?.string == "disk_io_errors" && $0["kind"]?.string == kind }
            .compactMap { $0["labels"]?["device"]?.string }
    }

    @Test(.enabled(if: remote != nil, "needs systemd-journal-remote (scripts/deps test) to write a journal file"))
    func followsTheJournalAndResumesAfterTheCursor() throws {
        let h = try DaemonHarness("shd-journal")
        h.writeRules(threshold: 1, extra: Self.ioErrorRule)
        let journal = h.dir + "/test.journal"
        try append(journal, "sda", at: 0, dir: h.dir)
        var env = ChildProcess.inheritedEnvironment()
        env["SHD_TEST_JOURNAL_FILE"] = journal
        try h.start(environment: env)
        try #require(h.waitFor(20) { h.log.contains("event rules read the journal file") }, "\(h.log)")
        try append(journal, "sdq", at: 10, dir: h.dir)
        #expect(h.waitFor(10) { received(h, "firing") == ["sdq"] }, "\(h.log)")
        #expect(h.stop() == 0)

        // Written while shd was down: read after the restart from the saved cursor; sdq is not announced again.
        try append(journal, "sdr", at: 20, dir: h.dir)
        try h.start(environment: env)
        #expect(h.waitFor(20) { received(h, "firing").sorted() == ["sdq", "sdr"] }, "\(h.log)")
        #expect(h.log.contains("resuming after the saved cursor"))
        usleep(300_000)
        #expect(received(h, "firing").sorted() == ["sdq", "sdr"])
        #expect(!received(h, "firing").contains("sda"))
        #expect(h.stop() == 0)
    }

    /// A journal file of `entries` kernel lines (the rule's `transport == "kernel"` is a library match, so only such
    /// lines reach shd), 100 µs apart from two minutes ago: `ioError(i)` is the device of entry i's I/O error, nil
    /// for a firewall line. Returns the environment that reads it from its first entry, without a rate limit.
    func backlog(_ h: DaemonHarness, entries: Int, ioError: (Int) -> String?) throws -> [String: String] {
        let journal = h.dir + "/backlog.journal", export = h.dir + "/backlog.export"
        let start = Timestamp.now().microseconds - 120_000_000
        var text = ""
        text.reserveCapacity(entries * 200)
        for i in 0..<entries {
            let device = ioError(i)
            text += "__REALTIME_TIMESTAMP=\(start + Int64(i) * 100)\n__MONOTONIC_TIMESTAMP=\(1_000_000 + i * 100)\n"
            text += "_BOOT_ID=5f0e9a8b7c6d4e3f2a1b0c9d8e7f6a5b\nPRIORITY=\(device == nil ? 6 : 3)\nSYSLOG_IDENTIFIER=kernel\n_TRANSPORT=kernel\n"
            text += device.map { "MESSAGE=blk_update_request: I/O error, dev \($0), sector 8\n\n" }
                ?? "MESSAGE=[UFW BLOCK] IN=eno1 OUT= SRC=198.51.100.\(i % 250) DST=192.0.2.10 PROTO=TCP DPT=\(i % 1000)\n\n"
        }
        writeText(export, text)
        let rc = runShell("'\(Self.remote!)' -o '\(journal)' '\(export)' > '\(export).log' 2>&1")
        try #require(rc == 0, "systemd-journal-remote: \(readText(export + ".log"))")
        var env = ChildProcess.inheritedEnvironment()
        env["SHD_TEST_JOURNAL_FILE"] = journal
        env["SHD_TEST_JOURNAL_HEAD"] = "1"
        env["SHD_TEST_EVENT_RATE"] = "0"
        return env
    }

    /// A backlog (shd down for a while, or reading from the first entry) is read a batch a loop turn: SIGTERM in the
    /// middle of it stops the daemon at once, not after the backlog's end; the next start resumes after the cursor
    /// saved at the stop and reaches the backlog's last entry, announced once.
    @Test(.enabled(if: remote != nil, "needs systemd-journal-remote (scripts/deps test) to write a journal file"))
    func aBacklogDoesNotHoldOffAStop() throws {
        let h = try DaemonHarness("shd-journal-backlog")
        h.writeRules(threshold: 1, extra: Self.ioErrorRule)
        let entries = 250_000
        let env = try backlog(h, entries: entries) { $0 == entries - 1 ? "sdz" : nil }
        try h.start(environment: env)
        try #require(h.waitFor(20) { h.log.contains("from its first entry") }, "\(h.log)")
        usleep(200_000)
        let asked = monotonicSeconds()
        #expect(h.stop() == 0)
        let took = monotonicSeconds() - asked
        // Before, the stop waited for the whole backlog (250,000 entries: about 3 s in a debug build here).
        #expect(took < 1.5, "the stop took \(took) s")
        let firstRun = received(h, "firing")

        try h.start(environment: env)
        #expect(h.waitFor(60) { received(h, "firing") == ["sdz"] }, "\(h.log)")
        if firstRun.isEmpty { #expect(h.log.contains("resuming after the saved cursor"), "\(h.log)") }
        usleep(300_000)
        #expect(received(h, "firing") == ["sdz"], "announced once")
        #expect(h.stop() == 0)
    }

    /// A backlog's transitions are committed together (every 100 ms, and at its end), not after each batch of
    /// 2,000 entries: 50 alerts, one in each batch, take far fewer than 50 commits, and each is delivered once.
    @Test(.enabled(if: remote != nil, "needs systemd-journal-remote (scripts/deps test) to write a journal file"))
    func aBacklogCommitsItsTransitionsTogether() throws {
        let h = try DaemonHarness("shd-journal-commits")
        h.writeRules(threshold: 1, extra: Self.ioErrorRule)
        let env = try backlog(h, entries: 100_000) { $0 % 2000 == 1000 ? "sd\($0 / 2000)" : nil }
        try h.start(environment: env)
        #expect(h.waitFor(60) { Set(received(h, "firing")).count == 50 }, "\(received(h, "firing").count) of 50\n\(h.log)")
        usleep(300_000)
        #expect(h.stop() == 0)
        #expect(received(h, "firing").count == 50, "each alert once")
        let state = try JSONValue.parse(readText(h.state + "/state.json"))
        let commits = try #require(state["commit"]?.number)
        // Before: one commit per batch with a transition, 50 at least.
        #expect(commits <= 30, "\(commits) commits")
    }

    /// scripts/bench-journal's modes: a directory of journal files (SHD_TEST_JOURNAL_FILE=DIR, sd_journal_open_directory)
    /// read from its first entry (SHD_TEST_JOURNAL_HEAD=1): the entry written before the start alerts, and one in a
    /// file that appears in the directory later is followed too.
    @Test(.enabled(if: remote != nil, "needs systemd-journal-remote (scripts/deps test) to write a journal file"))
    func readsADirectoryFromItsFirstEntry() throws {
        let h = try DaemonHarness("shd-journal-dir")
        h.writeRules(threshold: 1, extra: Self.ioErrorRule)
        let dir = h.dir + "/journals"
        try #require(mkdir(dir, 0o755) == 0)
        try append(dir + "/a.journal", "sda", at: 0, dir: h.dir)
        var env = ChildProcess.inheritedEnvironment()
        env["SHD_TEST_JOURNAL_FILE"] = dir
        env["SHD_TEST_JOURNAL_HEAD"] = "1"
        try h.start(environment: env)
        try #require(h.waitFor(20) { h.log.contains("from its first entry") }, "\(h.log)")
        #expect(h.waitFor(10) { received(h, "firing") == ["sda"] }, "\(h.log)")
        try append(dir + "/b.journal", "sdb", at: 10, dir: h.dir)
        #expect(h.waitFor(10) { received(h, "firing").sorted() == ["sda", "sdb"] }, "\(h.log)")
        #expect(h.stop() == 0)
    }
}
