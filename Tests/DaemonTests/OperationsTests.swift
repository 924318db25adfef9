// Operations: a broken edit never takes monitoring down (restart, reload, upgrade), diagnostics reach the journal
// at error priority on every line, the unit's reload commands check first, `shd notify test` prints whole lines.
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The lines of a priority-prefixed log from the one containing `first` through the caret line after it.
func diagnosticBlock(_ log: String, from first: String) -> [Substring] {
    let lines = log.split(separator: "\n")
    guard let start = lines.firstIndex(where: { $0.contains(first) }) else { return [] }
    guard let caret = lines[start...].firstIndex(where: { $0.contains("^") }) else { return Array(lines[start...]) }
    return Array(lines[start...caret])
}

func breakRules(_ h: DaemonHarness) {
    writeText(h.rules + "/test.rules", readText(h.rules + "/test.rules").replacingFirst("available_percent <", "available_procent <"))
}

@Suite(.serialized) struct OperationsTests {
    @Test func aStartWithBrokenFilesRunsTheLastGoodRulesAndFlagsItOnce() throws {
        let h = try DaemonHarness()
        h.setAvailable(kB: 2_000_000)  // 8 % available: memory_low fires
        try h.start()
        #expect(h.waitFor(10) { h.allAlerts(rule: "memory_low", state: "firing").count == 1 }, "log: \(h.log)")
        h.process!.signal(SIGTERM)
        #expect(h.process!.wait(timeout: 5) == 0)

        // A broken edit, then a restart (systemctl restart, a reboot): shd keeps monitoring with the rules that checked.
        breakRules(h)
        try h.start()
        #expect(h.waitFor(10) { h.allAlerts(rule: "shd_config_invalid", state: "firing").count == 1 }, "log: \(h.log)")
        #expect(h.process!.isRunning, "log: \(h.log)")
        #expect(h.log.contains("starting with the last configuration that checked"), "log: \(h.log)")
        let block = diagnosticBlock(h.log, from: "test.rules:4:")
        #expect(block.count >= 3, "file:line:col, the source line, the caret: \(h.log)")
        #expect(block.allSatisfy { $0.hasPrefix("<3>") }, "every line at priority err: \(block)")
        h.setAvailable(kB: 20_000_000)
        #expect(h.waitFor(5) { h.allAlerts(rule: "memory_low", state: "resolved").count == 1 }, "the old rules stopped; log: \(h.log)")
        #expect(h.allAlerts(rule: "memory_low", state: "firing").count == 1, "fired twice")

        // Restarted again while still broken: the page already open stays open, it is not opened twice.
        h.process!.signal(SIGTERM)
        #expect(h.process!.wait(timeout: 5) == 0)
        try h.start()
        #expect(h.waitReady(), "log: \(h.log)")
        #expect(h.waitFor(5) { h.log.contains("starting with the last configuration") })
        usleep(300_000)
        #expect(h.allAlerts(rule: "shd_config_invalid", state: "firing").count == 1, "meta-alert fired twice")

        // Fixed: the meta-alert resolves, once.
        h.writeRules(threshold: 50)
        #expect(h.waitFor(5) { h.allAlerts(rule: "shd_config_invalid", state: "resolved").count == 1 }, "log: \(h.log)")
        h.process!.signal(SIGTERM)
        #expect(h.process!.wait(timeout: 5) == 0)
    }

    @Test func aFirstStartWithBrokenFilesRefusesWithEveryLineAtErrorPriority() throws {
        let h = try DaemonHarness()
        breakRules(h)
        try h.start()
        #expect(h.process!.wait(timeout: 10) == 1, "log: \(h.log)")
        let block = diagnosticBlock(h.log, from: "the configuration has errors")
        #expect(block.count >= 4, "the message, file:line:col, the source line, the caret: \(h.log)")
        #expect(block.allSatisfy { $0.hasPrefix("<3>") }, "every line at priority err: \(block)")
        #expect(block.contains { $0.contains("test.rules:4:") })
    }

    @Test func aRefusedReloadLogsEveryLineAtErrorPriority() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(h.waitReady(), "log: \(h.log)")
        breakRules(h)
        #expect(h.waitFor(5) { h.log.contains("refused") }, "log: \(h.log)")
        let block = diagnosticBlock(h.log, from: "refused")
        #expect(block.count >= 4, "\(h.log)")
        #expect(block.allSatisfy { $0.hasPrefix("<3>") }, "every line at priority err: \(block)")
    }

    /// The unit's ExecReload lines, as systemd runs them (shd's default paths replaced by the test's folder).
    static func execReloadCommands(pid: pid_t, rules: String) -> [String] {
        readText(TestPaths.packageRoot + "/debian/shd.service").split(separator: "\n")
            .filter { $0.hasPrefix("ExecReload=") }
            .map { line in
                var c = String(line.dropFirst("ExecReload=".count))
                    .replacingFirst("/usr/sbin/shd", shdBinary).replacingFirst("$MAINPID", "\(pid)")
                if c.contains("check-rules") { c += " '\(rules)'" }
                return c
            }
    }

    /// Runs the commands in order, stopping at the first failure, as systemd does; returns the status and stdout.
    static func runInOrder(_ commands: [String], in dir: String) throws -> (status: Int32?, stdout: String, ran: Int) {
        var out = ""
        for (i, c) in commands.enumerated() {
            let p = try ChildProcess(["/bin/sh", "-c", c], outputDirectory: dir)
            let st = p.wait(timeout: 30)
            out += p.stdout
            if st != 0 { return (st, out, i + 1) }
        }
        return (0, out, commands.count)
    }

    @Test func theUnitsReloadChecksFirstAndFailsOnABrokenEdit() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(h.waitReady(), "log: \(h.log)")
        let commands = Self.execReloadCommands(pid: h.process!.pid, rules: h.rules)
        #expect(commands.count == 2 && commands[0].contains("check-rules --format journal") && commands[1].contains("kill -HUP"),
                "\(commands)")

        let good = try Self.runInOrder(commands, in: h.dir)
        #expect(good.status == 0, "\(good)")
        #expect(good.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("<6>") }, "\(good.stdout)")
        #expect(h.waitFor(5) { h.log.contains("reloaded (SIGHUP)") }, "log: \(h.log)")

        breakRules(h)
        let bad = try Self.runInOrder(commands, in: h.dir)
        #expect(bad.status == 1 && bad.ran == 1, "the daemon must not be signalled: \(bad)")
        let lines = bad.stdout.split(separator: "\n")
        #expect(lines.count >= 4, "\(bad.stdout)")
        #expect(lines.allSatisfy { $0.hasPrefix("<3>") }, "every line at priority err: \(bad.stdout)")
        #expect(lines.first?.contains("test.rules:4:") == true && lines.contains { $0.contains("^") }, "\(bad.stdout)")
        usleep(300_000)
        #expect(!h.log.contains("reload (SIGHUP) refused"))
        #expect(h.process!.isRunning)
    }

    @Test func notifyTestPrintsWholeLines() throws {
        let h = try DaemonHarness()
        for (channel, status) in [("log", Int32(0)), ("nope", 2)] {
            let p = try ChildProcess([shdBinary, "notify", "test", channel, "--rules", h.rules, "--state-dir", h.state],
                                     outputDirectory: h.dir)
            #expect(p.wait(timeout: 30) == status, "\(channel): \(p.stderr)")
            #expect(!p.stdout.isEmpty && p.stdout.hasSuffix("\n"), "\(channel): \(p.stdout.debugDescription)")
            #expect(!p.stdout.contains("\n\n"))
        }
    }
}

/// debian/shd.postinst on an upgrade, with the commands it calls replaced by stubs that log their arguments.
@Suite struct PostinstTests {
    struct Run {
        var status: Int32?
        var stderr: String
        var calls: [String]
    }

    static func postinst(_ args: [String], checkStatus: Int) throws -> Run {
        let dir = makeTempDirectory("shd-postinst")
        defer { runShell("rm -rf '\(dir)'") }
        let calls = dir + "/calls"
        func stub(_ name: String, _ body: String) {
            writeText(dir + "/" + name, "#!/bin/sh\necho \"\(name) $*\" >>'\(calls)'\n" + body + "\n")
            chmod(dir + "/" + name, 0o755)
        }
        stub("runuser", "exit \(checkStatus)")
        for name in ["deb-systemd-invoke", "invoke-rc.d", "getent", "addgroup", "adduser", "install"] { stub(name, "exit 0") }
        let p = try ChildProcess(["/bin/sh", TestPaths.packageRoot + "/debian/shd.postinst"] + args,
                                 environment: ["PATH": dir + ":/usr/bin:/bin"], outputDirectory: dir)
        let st = p.wait(timeout: 30)
        let log = readText(calls).split(separator: "\n").map(String.init).filter {
            // Users, groups and folders are set up before the check on every configure (the control socket's
            // shd-admin group reaches hosts that upgrade from a version without it); these tests are about what follows.
            !$0.hasPrefix("getent") && !$0.hasPrefix("install") && !$0.hasPrefix("addgroup") && !$0.hasPrefix("adduser")
        }
        return Run(status: st, stderr: p.stderr, calls: log)
    }

    static var serviceManagerPresent: Bool { access("/run/systemd/system", F_OK) == 0 || access("/etc/init.d/shd", X_OK) == 0 }

    @Test func anUpgradeTheNewVersionRefusesFailsLoudlyAndRestartsNothing() throws {
        let r = try Self.postinst(["configure", "0.1.0"], checkStatus: 1)
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("shd was NOT restarted") && r.stderr.contains("dpkg --configure -a"), "\(r.stderr)")
        #expect(r.calls == ["runuser -u shd -- /usr/sbin/shd check-rules"], "checked as shd, nothing restarted: \(r.calls)")
    }

    @Test func anUpgradeThatChecksRestarts() throws {
        let r = try Self.postinst(["configure", "0.1.0"], checkStatus: 0)
        #expect(r.status == 0, "\(r)")
        #expect(r.calls.first == "runuser -u shd -- /usr/sbin/shd check-rules", "\(r.calls)")
        if Self.serviceManagerPresent {
            #expect(r.calls.contains { $0 == "deb-systemd-invoke restart shd.service" || $0 == "invoke-rc.d shd restart" }, "\(r.calls)")
        }
    }

    @Test func aFirstInstallChecksNothingAndRestartsNothing() throws {
        let r = try Self.postinst(["configure"], checkStatus: 1)
        #expect(r.status == 0, "\(r)")
        #expect(!r.calls.contains { $0.hasPrefix("runuser") || $0.contains("restart") }, "\(r.calls)")
    }
}
