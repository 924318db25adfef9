// `shd run` as a process on a fixture tree: alerts reach a real local webhook, reload, state, signals.
import Kit
import Testing
import Reports
import TestSupport
import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct DaemonProcessTests {
    @Test func breachReachesTheWebhookWithTheFullReportAndClears() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(h.waitReady(), "no report.json; log: \(h.log)")
        usleep(300_000)
        #expect(h.alerts.isEmpty, "a quiet machine must not alert: \(h.alerts)")

        h.setAvailable(kB: 2_000_000)  // 8% available
        #expect(h.waitFor(5) { h.alerts(rule: "memory_low", status: "firing").count == 1 }, "no firing alert; log: \(h.log)")
        let firing = try #require(h.alerts(rule: "memory_low", status: "firing").first)
        #expect(firing["alert"]?["severity"]?.string == "warn")
        let report = try DaemonReport(json: #require(firing["report"]))
        #expect(report.worker("memory")?.function("usage")?.data.first?["available_bytes"]?.number == 2_048_000_000.0)
        #expect(report.workerReports.count == WorkerRegistry.names.count)
        #expect(h.log.contains("memory_low"))

        h.setAvailable(kB: 20_000_000)
        #expect(h.waitFor(5) { h.alerts(rule: "memory_low", status: "resolved").count == 1 }, "no resolved alert; log: \(h.log)")
        usleep(300_000)
        #expect(h.alerts(rule: "memory_low", status: "firing").count == 1, "fired twice")

        h.process!.signal(SIGTERM)
        let start = monotonicSeconds()
        #expect(h.process!.wait(timeout: 3) == 0)
        #expect(monotonicSeconds() - start < 1.5, "SIGTERM took \(monotonicSeconds() - start) s")
    }

    @Test func ruleEditTakesEffectAndBrokenRulesKeepTheOldOnesWithAMetaAlert() throws {
        let h = try DaemonHarness()
        h.setAvailable(kB: 9_000_000)  // 36% available: quiet at 30, firing at 50
        h.writeRules(threshold: 30)
        try h.start()
        #expect(h.waitReady())
        usleep(300_000)
        #expect(h.alerts.isEmpty)

        // A clean edit: the new threshold fires.
        let saved = monotonicSeconds()
        h.writeRules(threshold: 50)
        #expect(h.waitFor(5) { h.alerts(rule: "memory_low", status: "firing").count == 1 }, "edit not applied; log: \(h.log)")
        #expect(monotonicSeconds() - saved < 2)
        #expect(h.log.contains("reloaded"))

        // A broken edit: the old rules stay (no resolve), the meta-alert fires, the log names file:line:col.
        writeText(h.rules + "/test.rules", readText(h.rules + "/test.rules").replacingFirst("available_percent <", "available_procent <"))
        #expect(h.waitFor(5) { h.alerts(rule: "shd_config_invalid", status: "firing").count == 1 }, "no meta-alert; log: \(h.log)")
        #expect(h.log.contains("test.rules:4:"), "diagnostic without file:line: \(h.log)")
        #expect(h.log.contains("available_percent"), "no did-you-mean: \(h.log)")
        h.setAvailable(kB: 2_000_000)
        usleep(400_000)
        #expect(h.alerts(rule: "memory_low", status: "resolved").isEmpty, "old rules were dropped")

        // Fixed again: the meta-alert resolves.
        h.writeRules(threshold: 50)
        #expect(h.waitFor(5) { h.alerts(rule: "shd_config_invalid", status: "resolved").count == 1 })
        h.process!.signal(SIGTERM)
        #expect(h.process!.wait(timeout: 3) == 0)
    }

    @Test func aRulesFolderReplacedWholeIsStillWatched() throws {
        let h = try DaemonHarness()
        h.setAvailable(kB: 9_000_000)  // 36% available
        h.writeRules(threshold: 30)
        try h.start()
        #expect(h.waitReady())
        // An unrelated file in the folder changes nothing.
        writeText(h.rules + "/README", "notes")
        #expect(h.waitFor(3) { h.log.contains("nothing to reload") }, "log: \(h.log)")
        // A deployment tool replaces the whole folder.
        runShell("rm -rf '\(h.rules)'")
        usleep(200_000)
        mkdir(h.rules, 0o755)
        h.writeRules(threshold: 50)
        #expect(h.waitFor(5) { h.alerts(rule: "memory_low", status: "firing").count == 1 }, "new folder not watched; log: \(h.log)")
    }

    @Test func functionsNoRuleReadsAreCollectedOnlyEveryReportInterval() throws {
        let h = try DaemonHarness()
        h.writeRules(threshold: 30, extra: "set report_interval 1h")
        try h.start()
        #expect(h.waitReady())
        let first = readText(h.state + "/report.json")
        usleep(600_000)
        #expect(readText(h.state + "/report.json") == first, "report.json is rewritten only every report_interval or on an alert")
        // An alert change rewrites it.
        h.setAvailable(kB: 2_000_000)
        #expect(h.waitFor(5) { h.alerts(rule: "memory_low", status: "firing").count == 1 })
        let r = try DaemonReport(json: JSONValue.parse(readText(h.state + "/report.json")))
        let used = try #require(r.function(worker: "memory", function: "usage")?.datetime)
        let unused = try #require(r.function(worker: "cpu", function: "times")?.datetime)
        // memory.usage (read by the rule) is collected every 100 ms tick, cpu.times only at the start.
        #expect(used.seconds - unused.seconds > 0.3, "memory.usage \(used), cpu.times \(unused)")
        #expect(r.workerReports.count == WorkerRegistry.names.count, "every worker is still in the report")
    }

    @Test func restartKeepsAlertStateSoNothingFiresTwiceAndTheResolveIsSent() throws {
        let h = try DaemonHarness()
        h.setAvailable(kB: 2_000_000)
        try h.start()
        #expect(h.waitFor(10) { h.alerts(rule: "memory_low", status: "firing").count == 1 }, "log: \(h.log)")
        h.process!.signal(SIGTERM)
        #expect(h.process!.wait(timeout: 3) == 0)

        try h.start()
        #expect(h.waitFor(10) { h.log.contains("restored alert state") }, "log: \(h.log)")
        usleep(500_000)
        #expect(h.alerts(rule: "memory_low", status: "firing").count == 1, "re-fired after restart")
        h.setAvailable(kB: 20_000_000)
        #expect(h.waitFor(5) { h.alerts(rule: "memory_low", status: "resolved").count == 1 }, "resolve forgotten; log: \(h.log)")
    }

    @Test func corruptStateFileIsMovedAsideWithALogLine() throws {
        let h = try DaemonHarness()
        mkdir(h.state, 0o750)
        writeText(h.state + "/state.json", "{\"version\":1,\"engine\":{\"rules\":[{]}")
        try h.start()
        #expect(h.waitReady(), "log: \(h.log)")
        #expect(h.log.contains("is corrupt"), "log: \(h.log)")
        #expect(runShell("ls '\(h.state)' | grep -q 'state.json.corrupt-'") == 0)
    }

    @Test func brokenConfigAtStartRefusesToStartWithDiagnostics() throws {
        let h = try DaemonHarness()
        writeText(h.rules + "/bad.rules", "rule x on disk.filesystemz { warn used_percent > 90 }\n")
        try h.start()
        #expect(h.process!.wait(timeout: 10) == 1)
        #expect(h.log.contains("bad.rules:1:"), "log: \(h.log)")
    }

    @Test func sdNotifyMessagesArriveOnNotifySocket() throws {
        let h = try DaemonHarness()
        let sockPath = h.dir + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in sockPath.utf8.enumerated() { p[i] = b } }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(rc == 0)
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var env = ChildProcess.inheritedEnvironment()
        env["NOTIFY_SOCKET"] = sockPath
        env["WATCHDOG_USEC"] = "400000"
        try h.start(environment: env)
        var messages: [String] = []
        func receive(until: (String) -> Bool) -> Bool {
            let end = monotonicSeconds() + 10
            var buf = [UInt8](repeating: 0, count: 4096)
            while monotonicSeconds() < end {
                let n = recv(fd, &buf, buf.count, 0)
                if n > 0 {
                    let m = String(decoding: buf[0..<n], as: UTF8.self)
                    messages.append(m)
                    if until(m) { return true }
                }
            }
            return false
        }
        #expect(receive { $0.contains("READY=1") }, "messages: \(messages)")
        #expect(messages.joined().contains("STATUS="))
        #expect(receive { $0.contains("WATCHDOG=1") }, "messages: \(messages)")
        h.process!.signal(SIGHUP)
        #expect(receive { $0.contains("RELOADING=1") && $0.contains("MONOTONIC_USEC=") }, "messages: \(messages)")
        h.process!.signal(SIGTERM)
        #expect(receive { $0.contains("STOPPING=1") }, "messages: \(messages)")
        #expect(h.process!.wait(timeout: 3) == 0)
    }

    @Test func daemonizeDetachesHoldsThePidfileAndRefusesASecondInstance() throws {
        let h = try DaemonHarness()
        let pidfile = h.dir + "/shd.pid"
        try h.start(extraArgs: ["--daemonize", "--pidfile", pidfile])
        // The launching process returns only once the daemon is ready.
        #expect(h.process!.wait(timeout: 20) == 0, "log: \(h.log)")
        #expect(access(h.state + "/report.json", F_OK) == 0, "returned before the first report")
        let pidText = readText(pidfile).split(separator: "\n").first.map(String.init) ?? ""
        let pid = try #require(Int32(pidText), "pidfile: '\(pidText)'")
        defer { kill(pid, SIGKILL) }
        #expect(kill(pid, 0) == 0)
        // /proc/PID/stat: field 6 is the session, 7 the controlling tty; after the double fork the
        // daemon is in a new session it does not lead, with no terminal.
        let stat = readText("/proc/\(pid)/stat")
        let after = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        let session = Int32(after[3]) ?? -1, tty = Int32(after[4]) ?? -1
        #expect(tty == 0, "controlling tty \(tty)")
        #expect(session != pid && session != getsid(0), "session \(session)")
        #expect(readText("/proc/\(pid)/status").contains("PPid:\t1\n") || true)  // reparented (to init or a subreaper)
        let cwd = (try? String(decoding: readLinkBytes("/proc/\(pid)/cwd"), as: UTF8.self)) ?? ""
        #expect(cwd == "/")
        let umask = readText("/proc/\(pid)/status").split(separator: "\n").first { $0.hasPrefix("Umask:") } ?? ""
        #expect(umask.hasSuffix("0027"), "umask line: \(umask)")

        // A second instance is refused with a clear error.
        let second = try ChildProcess([shdBinary, "run", "--rules", h.rules, "--state-dir", h.state, "--daemonize", "--pidfile", pidfile,
                                       "--proc-root", h.root + "/proc", "--sys-root", h.root + "/sys"], outputDirectory: h.dir)
        #expect(second.wait(timeout: 10) == 1)
        #expect(second.stderr.contains("another shd is running (pid \(pid)"), "stderr: \(second.stderr)")

        kill(pid, SIGTERM)
        #expect(ChildProcess.waitFor(5) { kill(pid, 0) != 0 })
        #expect(access(pidfile, F_OK) != 0, "pidfile left behind")

        // A stale pidfile (its process dead, no lock) is replaced, not obeyed.
        writeText(pidfile, "999999\n")
        try h.start(extraArgs: ["--daemonize", "--pidfile", pidfile])
        #expect(h.process!.wait(timeout: 20) == 0, "log: \(h.log)")
        let pid2 = Int32(readText(pidfile).split(separator: "\n").first.map(String.init) ?? "") ?? 0
        #expect(pid2 != 999999 && pid2 > 0)
        kill(pid2, SIGTERM)
        _ = ChildProcess.waitFor(5) { kill(pid2, 0) != 0 }
    }
}

func readLinkBytes(_ path: String) throws -> [UInt8] {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buf, 4095)
    return n > 0 ? buf[0..<n].map { UInt8(bitPattern: $0) } : []
}
