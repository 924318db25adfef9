// Text files as an event source, with the real binary and a local webhook: lines appended to a log in a temp folder
// fire once per captured code; rotation by rename (logrotate's create), by truncation (copytruncate) and delete and
// recreate are followed; a folder that appears later is read; a restart with a rotation while shd is down neither
// replays nor loses a line; every alert resolves after its quiet period. Plus the inotify record parser.
@testable import Daemon
import Kit
import Reports
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite struct InotifyRecordTests {
    func record(wd: Int32, mask: UInt32, name: String) -> [UInt8] {
        var b: [UInt8] = []
        withUnsafeBytes(of: wd) { b += $0 }
        withUnsafeBytes(of: mask) { b += $0 }
        withUnsafeBytes(of: UInt32(0)) { b += $0 }
        let padded = name.isEmpty ? [] : Array(name.utf8) + [UInt8](repeating: 0, count: 16 - name.utf8.count % 16)
        withUnsafeBytes(of: UInt32(padded.count)) { b += $0 }
        return b + padded
    }

    @Test func recordsWithAndWithoutNames() {
        let bytes = record(wd: 1, mask: 0x100, name: "app.log") + record(wd: 2, mask: 0x2, name: "") + record(wd: -1, mask: 0x4000, name: "")
        #expect(InotifyRecord.parse(bytes) == [InotifyRecord(wd: 1, mask: 0x100), InotifyRecord(wd: 2, mask: 0x2), InotifyRecord(wd: -1, mask: 0x4000)])
    }

    @Test func aRecordCutShortEndsTheList() {
        let whole = record(wd: 3, mask: 0x2, name: "")
        let named = record(wd: 4, mask: 0x100, name: "a-long-file-name.log")
        #expect(InotifyRecord.parse(whole + named.dropLast(5)) == [InotifyRecord(wd: 3, mask: 0x2)])
        #expect(InotifyRecord.parse(Array(whole.prefix(15))).isEmpty)
    }
}

@Suite(.serialized) struct FileTailProcessTests {
    /// Every alert of `rule` with `kind` the webhook received (a message may carry several).
    func received(_ h: DaemonHarness, _ kind: String, rule: String = "app_errors") -> [JSONValue] {
        h.alerts.flatMap { $0["alerts"]?.array ?? [] }.filter { $0["rule"]?.string == rule && $0["kind"]?.string == kind }
    }

    func codes(_ h: DaemonHarness, _ kind: String) -> [String] {
        received(h, kind).compactMap { $0["labels"]?["code"]?.string }.sorted()
    }

    func append(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        try #require(fd >= 0, "open \(path): errno \(errno)")
        defer { close(fd) }
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
    }

    /// The rule both tests follow `logs/*.log` with: one alert per error code, `atLeast` lines a minute.
    func appErrors(_ logs: String, atLeast n: Int) -> String {
        """
        rule app_errors on file "\(logs)/*.log" where message =~ /ERROR (?<code>\\w+)/ {
          warn count(1m) >= \(n)
          quiet 3s
          summary "{count} {code} errors in {path}"
        }

        """
    }

    func lines(_ code: String, _ n: Int, from k: Int = 0) -> String {
        (k..<(k + n)).map { "2025-11-30T10:00:\($0 < 10 ? "0" : "")\($0)Z ERROR \(code) request \($0) failed\n" }.joined()
    }

    /// Waits until the daemon says it read `path` to its current end.
    func waitRead(_ h: DaemonHarness, _ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return h.waitFor(10) { h.log.contains("\(path): read to byte \(st.st_size)") }
    }

    @Test func linesRotationsAndARestartReachTheWebhookExactlyOnce() throws {
        let h = try DaemonHarness("shd-tail")
        let logs = h.dir + "/logs", spool = h.dir + "/spool"
        try #require(mkdir(logs, 0o755) == 0)
        let app = logs + "/app.log"
        // History before shd starts is not replayed.
        try append(app, lines("OLD", 5))
        h.writeRules(threshold: 1, extra: appErrors(logs, atLeast: 3) + """
            rule late_file on file "\(spool)/late.log" {
              warn count(1m) >= 2
              quiet 3s
            }
            """)
        let (rc, out, _) = try h.command(["check-rules", "--format", "json", h.rules])
        #expect(rc == 0)
        #expect(out.contains("\"no-such-file\"") && out.contains("late.log"), "\(out)")
        try h.start()
        try #require(h.waitReady() && h.waitFor(20) { h.log.contains("\(app): following from its end") }, "\(h.log)")
        #expect(h.log.contains("cannot watch the folder \(spool)"), "\(h.log)")

        // Three lines, the last written in two parts: one alert, when the third line is whole.
        try append(app, lines("E1", 2) + "2025-11-30T10:00:02Z ERROR E")
        #expect(waitRead(h, app), "\(h.log)")
        #expect(codes(h, "firing").isEmpty)
        try append(app, "1 request 2 failed\n")
        #expect(h.waitFor(10) { codes(h, "firing") == ["E1"] }, "\(h.log)")
        #expect(received(h, "firing").first?["values"]?["count"]?.number == 3)

        // logrotate's create: renamed, a line still written to the old file, a new file at the path.
        #expect(rename(app, app + ".1") == 0)
        try append(app + ".1", lines("E1", 1, from: 3))
        try append(app, lines("E2", 3))
        #expect(h.waitFor(10) { codes(h, "firing") == ["E1", "E2"] }, "\(h.log)")

        // copytruncate: the file is emptied in place; what follows is read from its start.
        let fd = open(app, O_WRONLY | O_TRUNC)
        try #require(fd >= 0)
        close(fd)
        #expect(h.waitFor(10) { h.log.contains("\(app) was truncated") }, "\(h.log)")
        try append(app, lines("E3", 3))
        #expect(h.waitFor(10) { codes(h, "firing") == ["E1", "E2", "E3"] }, "\(h.log)")

        // Deleted and created again: the new file from its first line.
        #expect(unlink(app) == 0)
        #expect(h.waitFor(10) { h.log.contains("\(app) was deleted") }, "\(h.log)")
        try append(app, lines("E4", 3))
        #expect(h.waitFor(10) { codes(h, "firing") == ["E1", "E2", "E3", "E4"] }, "\(h.log)")

        // A folder that did not exist: seen at a tick, its file read from its first line.
        try #require(mkdir(spool, 0o755) == 0)
        try append(spool + "/late.log", "one\ntwo\n")
        #expect(h.waitFor(10) { received(h, "firing", rule: "late_file").count == 1 }, "\(h.log)")

        // Two lines, a restart; meanwhile one more line, a rotation by rename and a line in the new file.
        try append(app, lines("E5", 2))
        #expect(waitRead(h, app), "\(h.log)")
        #expect(h.stop() == 0)
        try append(app, lines("E5", 1, from: 2))
        #expect(rename(app, app + ".2") == 0)
        try append(app, lines("E5", 1, from: 3))
        try h.start()
        #expect(h.waitFor(20) { codes(h, "firing") == ["E1", "E2", "E3", "E4", "E5"] }, "\(h.log)")
        #expect(h.log.contains("was rotated while shd was stopped"), "\(h.log)")

        // Quiet for 3 s: every alert resolves once; E5 counted its four lines, none twice, none lost.
        #expect(h.waitFor(30) { codes(h, "resolved") == ["E1", "E2", "E3", "E4", "E5"] && received(h, "resolved", rule: "late_file").count == 1 }, "\(h.log)")
        let e5 = received(h, "resolved").first { $0["labels"]?["code"]?.string == "E5" }
        #expect(e5?["values"]?["count"]?.number == 4)
        #expect(codes(h, "firing") == ["E1", "E2", "E3", "E4", "E5"])
        #expect(h.stop() == 0)
    }

    /// Rotated to another folder while shd was stopped (logrotate's olddir): the old file's unread lines cannot be
    /// found, and the log says so, with the offset; the new file at the path is read from its first line.
    @Test func aFileRotatedOutOfItsFolderWhileStoppedIsSaidLost() throws {
        let h = try DaemonHarness("shd-tail-olddir")
        let logs = h.dir + "/logs", old = h.dir + "/old"
        try #require(mkdir(logs, 0o755) == 0 && mkdir(old, 0o755) == 0)
        let app = logs + "/app.log"
        try append(app, lines("OLD", 2))
        h.writeRules(threshold: 1, extra: appErrors(logs, atLeast: 2))
        try h.start()
        try #require(h.waitReady() && h.waitFor(20) { h.log.contains("\(app): following from its end") }, "\(h.log)")
        try append(app, lines("E1", 1))
        #expect(waitRead(h, app), "\(h.log)")
        var st = stat()
        try #require(stat(app, &st) == 0)
        #expect(h.stop() == 0)
        try append(app, lines("E1", 1, from: 1))
        #expect(rename(app, old + "/app.log.1") == 0)
        try append(app, lines("E2", 2))
        try h.start()
        #expect(h.waitFor(20) { h.log.contains("\(app) was rotated while shd was stopped and its old file is no longer in \(logs)") }, "\(h.log)")
        #expect(h.log.contains("lines written to it after byte \(st.st_size) were not read"), "\(h.log)")
        #expect(h.waitFor(20) { codes(h, "firing") == ["E2"] }, "\(h.log)")
        // shd status lists the followed path, its rule and the file with the byte read to.
        #expect(waitRead(h, app), "\(h.log)")
        try #require(stat(app, &st) == 0)
        let (rc, out, err) = try h.command(["status", "--socket", h.controlSocket])
        #expect(rc == 1, "firing: \(err)")
        #expect(out.contains("\nEvent sources\n  file \(logs)/*.log  (rule app_errors)  \(app) at byte \(st.st_size)\n"), "\(out)")
        #expect(h.stop() == 0)
    }

    @Test func aReloadFollowsFromTheEndAndAKillResumesFromTheLastCommit() throws {
        let h = try DaemonHarness("shd-tail-kill")
        let logs = h.dir + "/logs"
        try #require(mkdir(logs, 0o755) == 0)
        let app = logs + "/app.log"
        try append(app, lines("E1", 3))
        try h.start()
        try #require(h.waitReady(), "\(h.log)")
        // A rule added by a reload reads the file from its end: the three E1 lines before it are history.
        h.replaceRules(threshold: 1, extra: """
            rule app_errors on file "\(app)" where message =~ /ERROR (?<code>\\w+)/ {
              warn count(1m) >= 3
              quiet 1h
            }
            """)
        try #require(h.waitFor(20) { h.log.contains("\(app): following from its end") }, "\(h.log)")
        try append(app, lines("E1", 3, from: 3))
        #expect(h.waitFor(10) { codes(h, "firing") == ["E1"] }, "\(h.log)")
        #expect(received(h, "firing").first?["values"]?["count"]?.number == 3)

        // Killed after two more lines and no transition (nothing committed since E1 fired), one line while down: the
        // restart resumes at the offset of that commit, so the two are read again with the third, each once.
        try append(app, lines("E2", 2))
        #expect(waitRead(h, app), "\(h.log)")
        h.process?.signal(SIGKILL)
        _ = h.process?.wait(timeout: 10)
        try append(app, lines("E2", 1, from: 2))
        try h.start()
        #expect(h.waitFor(20) { codes(h, "firing") == ["E1", "E2"] }, "\(h.log)")
        #expect(received(h, "firing").first { $0["labels"]?["code"]?.string == "E2" }?["values"]?["count"]?.number == 3)
        #expect(h.log.contains("resuming at byte"), "\(h.log)")

        // The rule removed: the tails are closed (its alerts resolve as `rule removed`).
        h.replaceRules(threshold: 1)
        #expect(h.waitFor(20) { h.log.contains("file tails closed") }, "\(h.log)")
        #expect(h.waitFor(20) { codes(h, "resolved") == ["E1", "E2"] }, "resolved: \(codes(h, "resolved")); \(h.log)")
        #expect(codes(h, "firing") == ["E1", "E2"])
        #expect(h.stop() == 0)
    }
}
