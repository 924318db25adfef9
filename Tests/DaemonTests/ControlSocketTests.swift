// The control socket with the real binary: status, explain, reload, permissions, a daemon that is not running,
// clients that send garbage, too much, or never read.
import Kit
import Reports
import Testing
import TestSupport
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A raw connection to a control socket, for what the shd client never sends.
final class RawControlConnection {
    let fd: Int32

    init?(_ path: String) {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            close(fd)
            return nil
        }
        var tv = timeval(tv_sec: 15, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends the bytes; false when the daemon closed the connection first.
    @discardableResult
    func send(_ text: String) -> Bool {
        let b = Array(text.utf8)
        var off = 0
        while off < b.count {
            let n = b.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// One answer line, parsed; nil at EOF or timeout.
    func answer() -> JSONValue? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == 0x0A { return try? JSONValue.parse(bytes: line) }
            line.append(byte)
        }
        return nil
    }

    /// One answer line read in large chunks (a large answer), without its newline; nil at EOF or timeout.
    func answerBytes() -> [UInt8]? {
        var line: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            line += buf[0..<n]
            if buf[n - 1] == 0x0A { return Array(line.dropLast()) }
        }
    }

    /// How many answer lines can be read now, without waiting (reads them).
    func readyLines() -> Int {
        var lines = 0
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { return lines }
            lines += buf[0..<n].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
    }

    /// Whether the daemon closed the connection (EOF) within the receive timeout.
    func closedByPeer() -> Bool {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }
}

@Suite(.serialized) struct ControlSocketTests {
    static func started() throws -> DaemonHarness {
        let h = try DaemonHarness("shd-control")
        try h.start()
        #expect(h.waitReady(), "\(h.log)")
        #expect(h.waitFor(10) { access(h.controlSocket, F_OK) == 0 }, "\(h.log)")
        return h
    }

    func ctl(_ h: DaemonHarness, _ args: [String]) throws -> (Int32?, String, String) {
        try h.command(args + ["--socket", h.controlSocket])
    }

    @Test func statusListsFiringAlertsAndExitsOneWhileAnythingFires() throws {
        let h = try Self.started()
        var (rc, out, err) = try ctl(h, ["status"])
        #expect(rc == 0, "\(out)\(err)")
        #expect(out.contains("0 firing"), "\(out)")
        #expect(out.contains("memory_low  on memory.usage"), "\(out)")
        #expect(out.contains("hook  webhook  queued 0"), "\(out)")
        #expect(!out.contains("\u{1B}["), "no colour when stdout is not a terminal")
        h.setAvailable(kB: 2_000_000)  // 8% available: fires
        #expect(h.waitFor(20) { !h.alerts(rule: "memory_low", status: "firing").isEmpty }, "\(h.log)")
        (rc, out, err) = try ctl(h, ["status"])
        #expect(rc == 1, "\(out)\(err)")
        #expect(out.contains("FIRING  warn  memory_low  -  since"), "\(out)")
        #expect(out.contains("available_percent=8.1"), "\(out)")
        #expect(out.contains("last delivery 0") || out.contains("last delivery 1") || out.contains("last delivery 2"), "\(out)")
        (rc, out, err) = try ctl(h, ["status", "--json"])
        #expect(rc == 1, "\(err)")
        let j = try JSONValue.parse(out)
        // Re-indented from the answer's bytes, it is what printing the parsed tree gave: the same bytes.
        #expect(out == j.encoded(pretty: true) + "\n")
        #expect(j["firing"]?.number == 1)
        #expect(j["alerts"]?.array?.first?["rule"]?.string == "memory_low")
        #expect(j["alerts"]?.array?.first?["state"]?.string == "firing")
        #expect(j["workers"]?.array?.count == WorkerRegistry.names.count)
        #expect(j["channels"]?.array?.contains { $0["name"]?.string == "hook" && $0["last_delivery"] != .null } == true, "\(out)")
    }

    @Test func explainShowsValuesConditionsAndTimers() throws {
        let h = try DaemonHarness("shd-control")
        h.writeRules("""
            rule mem on memory.usage {
              let used = 100 - available_percent
              warn available_percent < 99 for 1h
              crit used > 99.5 clear used < 90
            }
            rule disk on disk.filesystems where fstype != "tmpfs" {
              warn used_percent > 1
            }
            """)
        try h.start()
        #expect(h.waitReady(), "\(h.log)")
        var (rc, out, err) = try ctl(h, ["explain", "mem", "--json"])
        #expect(rc == 0, "\(out)\(err)")
        let j = try JSONValue.parse(out)
        let inst = try #require(j["instances"]?.array?.first, "\(out)")
        #expect(inst["state"]?.string == "pending", "\(out)")
        #expect(inst["fields"]?["available_percent"]?.string == "98.1", "\(out)")
        #expect(inst["lets"]?["used"]?.string == "1.9", "\(out)")
        let warn = try #require(inst["conditions"]?.array?.first)
        #expect(warn["trigger"]?.string == "available_percent < 99")
        #expect(warn["trigger_holds"]?.bool == true)
        #expect((warn["fires_in"]?.number ?? 0) > 3500, "the 1h `for` has just started: \(out)")
        #expect(warn["steps"]?.array?.first?["left"]?.string == "98.1")
        let crit = try #require(inst["conditions"]?.array?.last)
        #expect(crit["trigger_holds"]?.bool == false)
        #expect(crit["clear"]?.string == "used < 90")
        (rc, out, err) = try ctl(h, ["explain", "disk", "mount=/"])
        #expect(rc == 0, "\(out)\(err)")
        #expect(out.contains("instance device=/dev/vda,fstype=ext4,mount=/: firing warn"), "\(out)")
        #expect(out.contains("used_percent > 1: 15.82 vs 1 → true"), "\(out)")
        #expect(out.contains("where fstype != \"tmpfs\""), "\(out)")
        (rc, out, err) = try ctl(h, ["explain", "disk", "mount=/nowhere"])
        #expect(rc == 0 && out.contains("No instance matches"), "\(out)\(err)")
        (rc, _, err) = try ctl(h, ["explain", "nope"])
        #expect(rc == 1)
        #expect(err.contains("no rule named nope; rules: mem, disk"), "\(err)")
        (rc, _, err) = try ctl(h, ["explain", "mem", "oops"])
        #expect(rc == 2, "a label without = is a usage error: \(err)")
    }

    @Test func reloadWithABrokenFileKeepsTheOldRulesAndReportsTheError() throws {
        let h = try Self.started()
        h.writeRules("rule broken on memory.usage { warn no_such_field > 1 }\n", file: "zz.rules")
        var (rc, out, err) = try ctl(h, ["reload"])
        #expect(rc == 1, "\(out)\(err)")
        #expect(err.contains("refused: 1 error(s); the previous rules stay in force"), "\(err)")
        #expect(err.contains("zz.rules:1:36: error: unknown field `no_such_field`"), "\(err)")
        #expect(err.contains("^~~~"), "the caret: \(err)")
        (rc, out, _) = try ctl(h, ["status", "--json"])
        let j = try JSONValue.parse(out)
        #expect(j["rules"]?.array?.map { $0["name"]?.string } == ["memory_low"], "the old rules: \(out)")
        #expect(j["config_invalid"]?.bool == true)
        #expect(j["last_reload"]?["applied"]?.bool == false)
        #expect(h.log.contains("control: reload by uid \(getuid())"), "the change is logged with its caller: \(h.log)")
        unlink(h.rules + "/zz.rules")
        (rc, out, err) = try ctl(h, ["reload"])
        #expect(rc == 0, "\(out)\(err)")
        #expect(out.hasPrefix("reloaded: 1 rules, 2 channels"), "\(out)")
        (rc, out, err) = try ctl(h, ["reload", "--json"])
        #expect(rc == 0 && (try? JSONValue.parse(out))?["applied"]?.bool == true, "\(out)\(err)")
    }

    @Test func aDaemonThatIsNotRunning() throws {
        let dir = makeTempDirectory("shd-control")
        defer { _ = runShell("rm -rf '\(dir)'") }
        for cmd in [["status"], ["explain", "x"], ["reload"], ["silence", "list"], ["history"]] {
            let p = try ChildProcess([shdBinary] + cmd + ["--socket", dir + "/control"], outputDirectory: dir)
            #expect(p.wait(timeout: 30) == 3, "\(cmd): \(p.stderr)")
            #expect(p.stderr.contains("shd is not running (nothing answers on \(dir)/control"), "\(p.stderr)")
        }
        // A stale socket file left by a killed daemon: connection refused, same answer.
        let h = try Self.started()
        h.process?.signal(SIGKILL)
        _ = h.process?.wait(timeout: 10)
        let (rc, _, err) = try ctl(h, ["status"])
        #expect(rc == 3, "\(err)")
        #expect(err.contains("Connection refused"), "\(err)")
        // The next daemon replaces the stale socket.
        try h.start()
        #expect(h.waitReady())
        #expect(h.waitFor(10) { (try? ctl(h, ["status"]))?.0 == 0 }, "\(h.log)")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to run the client as another uid (setpriv)"))
    func onlyRootAndTheControlGroupMayUseTheSocket() throws {
        let h = try DaemonHarness("shd-control")
        // The admin group is nogroup (65534) here; the test's uids are made up.
        h.writeRules("set control_group \"nogroup\"\n" + DaemonHarness.memoryRule(channels: ["log"]))
        try h.start()
        #expect(h.waitReady(), "\(h.log)")
        chmod(h.dir, 0o755)
        var st = stat()
        #expect(stat(h.controlSocket, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o660, "mode \(String(st.st_mode & 0o777, radix: 8))")
        #expect(st.st_gid == 65534)
        func run(_ uid: Int, _ gid: Int, _ args: [String]) throws -> (Int32?, String) {
            let p = try ChildProcess(["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", shdBinary] + args
                                        + ["--socket", h.controlSocket], outputDirectory: h.dir)
            return (p.wait(timeout: 30), p.stdout + p.stderr)
        }
        // Not root, not in the group: the socket's mode refuses the connection.
        var (rc, out) = try run(4242, 4242, ["status"])
        #expect(rc == 4, "\(out)")
        #expect(out.contains("permission denied on \(h.controlSocket)"), "\(out)")
        (rc, out) = try run(4242, 4242, ["reload"])
        #expect(rc == 4, "\(out)")
        // A member of the control group (here by its primary gid) may.
        (rc, out) = try run(4242, 65534, ["status"])
        #expect(rc == 0, "\(out)")
        #expect(out.contains("memory_low"), "\(out)")
        // And root.
        (rc, out) = try run(0, 0, ["status"])
        #expect(rc == 0, "\(out)")
    }

    @Test func garbageTooLargeRequestsAndUnknownCommandsAreAnsweredAndTheDaemonGoesOn() throws {
        let h = try Self.started()
        let c = try #require(RawControlConnection(h.controlSocket))
        c.send("this is not json\n")
        #expect(c.answer()?["code"]?.string == "bad-request")
        c.send("{\"command\":\"status\",\"extra\":1}\n")
        #expect(c.answer()?["error"]?.string == "status: unknown key \"extra\"")
        c.send("{\"command\":\"format-disk\"}\n")
        #expect(c.answer()?["code"]?.string == "unknown-command")
        c.send("\u{0}\u{1}\u{FF}\r\n")
        #expect(c.answer()?["ok"]?.bool == false)
        // The same connection still serves a good request.
        c.send("{\"command\":\"status\"}\n")
        #expect(c.answer()?["ok"]?.bool == true)
        // 100 KiB without a newline: too large, and the connection is closed.
        let big = try #require(RawControlConnection(h.controlSocket))
        big.send(String(repeating: "x", count: 100 * 1024))
        #expect(big.answer()?["code"]?.string == "too-large")
        #expect(big.closedByPeer())
        // A client that connects and says nothing is disconnected after the timeout (10 s).
        let idle = try #require(RawControlConnection(h.controlSocket))
        #expect(idle.closedByPeer())
        #expect(h.log.contains("no request within 10 s"), "\(h.log)")
        let (rc, _, err) = try ctl(h, ["status"])
        #expect(rc == 0, "\(err)")
    }

    @Test func aClientThatNeverReadsStallsNothingAndIsDisconnected() throws {
        let h = try Self.started()
        // Thousands of status requests, never reading an answer: the daemon answers one at a time into the socket
        // buffer, then stops reading this client until the timeout ends it.
        let hog = try #require(RawControlConnection(h.controlSocket))
        _ = hog.send(String(repeating: "{\"command\":\"status\"}\n", count: 5000))
        let ticksBefore = readText(h.state + "/report.json")
        // Meanwhile others are served and collection goes on.
        var (rc, _, err) = try ctl(h, ["status"])
        #expect(rc == 0, "\(err)")
        h.setAvailable(kB: 2_000_000)
        #expect(h.waitFor(20) { !h.alerts(rule: "memory_low", status: "firing").isEmpty }, "ticks go on: \(h.log)")
        #expect(readText(h.state + "/report.json") != ticksBefore)
        #expect(h.waitFor(30) { h.log.contains("no read of its answer within 10 s") }, "\(h.log)")
        (rc, _, err) = try ctl(h, ["status"])
        #expect(rc == 1, "\(err)")
        // 16 silent clients fill the table; the 17th is told the daemon is busy.
        let idle = (0..<16).compactMap { _ in RawControlConnection(h.controlSocket) }
        #expect(idle.count == 16)
        let extra = try #require(RawControlConnection(h.controlSocket))
        #expect(extra.answer()?["code"]?.string == "busy")
    }

    @Test func aLargeAnswerIsSentAsTheClientReadsAndTheLoopGoesOnMeanwhile() throws {
        let h = try DaemonHarness("shd-control")
        // 300 firing alerts with 3,000-byte summaries: a status answer of ~1 MB, far more than the socket buffers.
        let filler = String(repeating: "x", count: 3000)
        h.writeRules((0..<300).map { "rule big\($0) on memory.usage {\n  warn available_percent < 101\n  notify log\n  summary \"\(filler)\"\n}\n" }
            .joined(), file: "big.rules")
        try h.start()
        #expect(h.waitFor(30) { (try? self.ctl(h, ["status", "--alerts"]))?.1.split(separator: "\n").count == 300 }, "\(h.log)")
        let slow = try #require(RawControlConnection(h.controlSocket))
        slow.send("{\"command\":\"status\"}\n")
        usleep(500_000)  // the answer fills the socket buffers; the rest waits in the daemon for the client to read
        // The loop is not waiting on the slow client: another client is answered, and an alert fires and is delivered.
        let (rc, out, err) = try ctl(h, ["silence", "list"])
        #expect(rc == 0 && out.contains("none"), "\(out)\(err)")
        h.setAvailable(kB: 2_000_000)
        #expect(h.waitFor(20) { !h.alerts(rule: "memory_low", status: "firing").isEmpty }, "\(h.log)")
        // The slow client reads the whole answer: the rest was sent as its socket drained.
        let bytes = try #require(slow.answerBytes())
        #expect(bytes.count > 900_000)
        let answer = try JSONValue.parse(bytes: bytes)
        #expect(answer["ok"]?.bool == true)
        #expect(answer["result"]?["alerts"]?.array?.count == 300)
        #expect(answer["result"]?["alerts"]?.array?.allSatisfy { $0["summary"]?.string == filler } == true)
    }

    @Test func pipelinedRequestsAreAnsweredOneATurnBesideOtherClients() throws {
        let h = try Self.started()
        // 100 reloads sent at once: each is answered in a turn of its own, so another client is served among them.
        let hog = try #require(RawControlConnection(h.controlSocket))
        hog.send(String(repeating: "{\"command\":\"reload\"}\n", count: 100))
        let other = try #require(RawControlConnection(h.controlSocket))
        other.send("{\"command\":\"silence_list\"}\n")
        #expect(other.answer()?["ok"]?.bool == true)
        var got = hog.readyLines()
        #expect(got < 100, "the other client waited for all 100 reloads")
        // The rest follow.
        while got < 100, hog.answer()?["ok"]?.bool == true { got += 1 }
        #expect(got == 100)
    }

    @Test func silenceAckAndHistoryThroughTheSocket() throws {
        let h = try Self.started()
        let add = ["silence", "add", "--match", "rule=memory_low", "--for", "2h", "--comment", "restore", "--id", "backup-1"]
        var (rc, out, err) = try ctl(h, add)
        #expect(rc == 0, "\(out)\(err)")
        #expect(out.hasPrefix("silence backup-1 added: rule=memory_low until "), "\(out)")
        // The same command again (a cron job run twice) keeps one silence, its end moved to 2 h from now.
        (rc, out, err) = try ctl(h, add + ["--json"])
        #expect(rc == 0, "\(err)")
        #expect((try? JSONValue.parse(out))?["change"]?.string == "updated", "\(out)")
        // With --until the same command changes nothing.
        let until = ["silence", "add", "--match", "rule=memory_low,mount=/backup*", "--until", "2099-01-01T00:00:00Z", "--id", "later"]
        (rc, out, err) = try ctl(h, until)
        #expect(rc == 0 && out.contains("silence later added: mount=/backup*,rule=memory_low"), "\(out)\(err)")
        (rc, out, err) = try ctl(h, until + ["--json"])
        #expect((try? JSONValue.parse(out))?["change"]?.string == "unchanged", "\(out)\(err)")
        (rc, out, err) = try ctl(h, ["silence", "expire", "later"])
        #expect(rc == 0, "\(err)")
        (rc, out, err) = try ctl(h, ["silence", "list"])
        #expect(rc == 0 && out.contains("backup-1  rule=memory_low  until ") && out.contains("\"restore\""), "\(out)\(err)")
        #expect(h.log.contains("control: silence_add by uid \(getuid())"), "\(h.log)")
        // A firing alert under the silence: status shows it silenced, nothing reaches the webhook.
        h.setAvailable(kB: 2_000_000)
        #expect(h.waitFor(20) { (try? ctl(h, ["status"]))?.0 == 1 })
        (rc, out, err) = try ctl(h, ["status"])
        #expect(out.contains("FIRING  warn  memory_low  -  since") && out.contains("[silenced: backup-1]"), "\(out)")
        #expect(out.contains("backup-1  rule=memory_low"), "the silences section: \(out)")
        #expect(h.alerts(rule: "memory_low", status: "firing").isEmpty)
        (rc, out, err) = try ctl(h, ["explain", "memory_low", "--json"])
        #expect((try? JSONValue.parse(out))?["silences"]?.array?.first?["id"]?.string == "backup-1", "\(out)")
        (rc, out, err) = try ctl(h, ["silence", "expire", "backup-1"])
        #expect(rc == 0 && out == "silence backup-1 expired\n", "\(out)\(err)")
        #expect(h.waitFor(20) { !h.alerts(rule: "memory_low", status: "firing").isEmpty }, "announced once the silence ends")
        (rc, out, err) = try ctl(h, ["silence", "expire", "backup-1"])
        #expect(rc == 0 || rc == 1, "\(err)")
        (rc, out, err) = try ctl(h, ["silence", "expire", "no-such"])
        #expect(rc == 1 && !err.isEmpty, "\(out)\(err)")
        // An acknowledgement of the firing instance.
        (rc, out, err) = try ctl(h, ["ack", "memory_low", "--comment", "on it"])
        #expect(rc == 0 && out == "acknowledged 1 firing instance\n", "\(out)\(err)")
        (rc, out, _) = try ctl(h, ["status"])
        #expect(out.contains("[acked by "), "\(out)")
        (rc, out, err) = try ctl(h, ["ack", "no_such_rule"])
        #expect(rc == 1 && !err.isEmpty, "\(out)\(err)")
        // The history has the silence, the ack and the transition.
        (rc, out, err) = try ctl(h, ["history", "--since", "1h"])
        #expect(rc == 0, "\(err)")
        #expect(out.contains("silence added") && out.contains("backup-1"), "\(out)")
        #expect(out.contains("ack added  memory_low"), "\(out)")
        #expect(out.contains("transition firing  memory_low"), "\(out)")
        (rc, out, err) = try ctl(h, ["history", "--rule", "memory_low", "--limit", "1", "--json"])
        #expect(rc == 0 && (try? JSONValue.parse(out))?["entries"]?.array?.count == 1, "\(out)\(err)")
        (rc, _, err) = try ctl(h, ["silence", "add", "--match", "rule=x"])
        #expect(rc == 2 && err.contains("give --for DURATION or --until TIME"), "\(err)")
    }
}
