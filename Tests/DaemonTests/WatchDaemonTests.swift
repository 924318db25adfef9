// `shd run` with declared watches on this machine's /proc: processes the test starts and kills, watched by pid file and
// by command line, with every interval at an hour, so an alert at the webhook can only come from the loop's events
// (the pidfd of the main process, inotify on the pid file's folder).
import Kit
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct WatchDaemonTests {
    /// Every alert the webhook received (single messages and batches) of `rule` and `kind`.
    func received(_ h: DaemonHarness, _ rule: String, _ kind: String) -> [JSONValue] {
        h.alerts.flatMap { body -> [JSONValue] in
            if let batch = body["alerts"]?.array { return batch.filter { $0["kind"]?.string == kind } }
            return body["status"]?.string == kind ? [body["alert"]].compactMap { $0 } : []
        }.filter { $0["rule"]?.string == rule }
    }

    func watches(_ h: DaemonHarness, _ rule: String, _ kind: String) -> Set<String> {
        Set(received(h, rule, kind).compactMap { $0["labels"]?["watch"]?.string })
    }

    func rows(_ h: DaemonHarness, _ worker: String) -> [String: JSONValue] {
        guard let v = try? JSONValue.parse(readText(h.state + "/report.json")),
              let w = v["worker_reports"]?.array?.first(where: { $0["name"]?.string == worker }),
              let f = w["function_reports"]?.array?.first(where: { $0["name"]?.string == "watched" })
        else { return [:] }
        var out: [String: JSONValue] = [:]
        for r in f["data"]?.array ?? [] { if let n = r["watch"]?.string { out[n + (r["path"]?.string.map { ":" + $0 } ?? "")] = r } }
        return out
    }

    @Test func aKilledProcessAlertsInTheLoopTurnOfItsExitAndARestartResolves() throws {
        let h = try DaemonHarness("shd-watch-proc")
        // A command line no other process of the machine has.
        let seconds = "1\(Int.random(in: 100_000...999_999))"
        var sleeper = try ChildProcess(["/bin/sleep", seconds], outputDirectory: h.dir)
        let pidfile = h.dir + "/run/sleeper.pid"
        mkdir(h.dir + "/run", 0o755)
        writeText(pidfile, "\(sleeper.pid)\n")
        h.writeRules(threshold: 0)
        h.writeRules("""
            set interval.processes 1h
            watch sleeper process { pidfile "\(pidfile)" interval 1h }
            watch bycmd process { cmdline "sleep \(seconds)$" interval 1h }
            rule process_down on processes.watched by watch { crit running < 1 }
            rule process_restarted on processes.watched by watch { warn increase(pid_changes_total, 1h) > 0 }
            """, file: "watch.rules")
        try h.start(interval: "1h", live: true)
        #expect(h.waitFor(20) { rows(h, "processes")["sleeper"]?["running"]?.int64 == 1 && rows(h, "processes")["bycmd"]?["running"]?.int64 == 1 },
                "log: \(h.log)")
        let first = rows(h, "processes")
        #expect(first["sleeper"]?["main_pid"]?.int64 == Int64(sleeper.pid))
        #expect(first["bycmd"]?["main_pid"]?.int64 == Int64(sleeper.pid))
        #expect(first["sleeper"]?["selector"]?.string == "pidfile " + pidfile)
        #expect(watches(h, "process_down", "firing").isEmpty)

        // The kill: both watches see the exit through the pidfd, long before any interval.
        let killedAt = monotonicSeconds()
        sleeper.signal(SIGKILL)
        #expect(h.waitFor(10) { watches(h, "process_down", "firing") == ["sleeper", "bycmd"] }, "log: \(h.log)")
        let arrived = h.receiver.requests.map(\.receivedAt).max() ?? killedAt
        print("watched process exit to webhook: \(Int((arrived - killedAt) * 1000)) ms")
        #expect(h.log.contains("exited"), "log: \(h.log)")
        _ = sleeper.wait(timeout: 5)

        // The supervisor (this test) starts it again and rewrites the pid file: inotify on its folder finds it, the
        // command line watch looks again a second after the exit; the pid change is counted, the alert resolves.
        sleeper = try ChildProcess(["/bin/sleep", seconds], outputDirectory: h.dir)
        writeText(pidfile + ".tmp", "\(sleeper.pid)\n")
        rename(pidfile + ".tmp", pidfile)
        #expect(h.waitFor(15) { watches(h, "process_down", "resolved") == ["sleeper", "bycmd"] }, "log: \(h.log)")
        #expect(h.waitFor(10) { watches(h, "process_restarted", "firing") == ["sleeper", "bycmd"] }, "log: \(h.log)")
        #expect(h.waitFor(10) { rows(h, "processes")["sleeper"]?["pid_changes_total"]?.int64 == 1 })
        #expect(rows(h, "processes")["sleeper"]?["main_pid"]?.int64 == Int64(sleeper.pid))
        #expect(rows(h, "processes")["bycmd"]?["main_pid"]?.int64 == Int64(sleeper.pid))
        sleeper.signal(SIGKILL)
        _ = sleeper.wait(timeout: 5)
        h.stop()
    }

    @Test func anEditedFileAndADeletedOneAlertThroughInotify() throws {
        let h = try DaemonHarness("shd-watch-files")
        let data = h.dir + "/data"
        mkdir(data, 0o755)
        mkdir(data + "/drop", 0o755)
        writeText(data + "/app.conf", "listen 80\n")
        h.writeRules(threshold: 0)
        h.writeRules("""
            watch conf file { path "\(data)/app.conf" checksum true }
            watch drop directory { path "\(data)/drop" }
            rule file_changed on files.watched by watch, path { warn increase(changes_total, 1h) > 0 }
            rule file_missing on files.watched by watch, path { crit not exists }
            """, file: "watch.rules")
        try h.start(interval: "1h")
        #expect(h.waitFor(20) { rows(h, "files")["conf:" + data + "/app.conf"]?["exists"]?.bool == true }, "log: \(h.log)")
        let before = rows(h, "files")["conf:" + data + "/app.conf"]?["sha256"]?.string
        #expect(before == SHA256.hex(SHA256.digest(Array("listen 80\n".utf8))))
        #expect(rows(h, "files")["drop:" + data + "/drop"]?["entries"]?.int64 == 0)

        // An edit: collected when inotify reports it, an hour before the next tick.
        let editedAt = monotonicSeconds()
        writeText(data + "/app.conf", "listen 8080\n")
        #expect(h.waitFor(10) { watches(h, "file_changed", "firing").contains("conf") }, "log: \(h.log)")
        print("watched file change to webhook: \(Int(((h.receiver.requests.map(\.receivedAt).max() ?? editedAt) - editedAt) * 1000)) ms")
        let after = rows(h, "files")["conf:" + data + "/app.conf"]
        #expect(after?["changes_total"]?.int64 == 1)
        #expect(after?["sha256"]?.string == SHA256.hex(SHA256.digest(Array("listen 8080\n".utf8))))

        // A new entry in the folder is a change of the folder.
        writeText(data + "/drop/job-1", "x")
        #expect(h.waitFor(10) { watches(h, "file_changed", "firing").contains("drop") }, "log: \(h.log)")
        #expect(h.waitFor(5) { rows(h, "files")["drop:" + data + "/drop"]?["entries"]?.int64 == 1 })

        // Deleted: exists false.
        unlink(data + "/app.conf")
        #expect(h.waitFor(10) { watches(h, "file_missing", "firing").contains("conf") }, "log: \(h.log)")
        #expect(rows(h, "files")["conf:" + data + "/app.conf"]?["exists"]?.bool == false)
        h.stop()
    }

    @Test func watchesDeclaredByAReloadAreFollowedAtOnce() throws {
        let h = try DaemonHarness("shd-watch-reload")
        h.writeRules(threshold: 0)
        try h.start(interval: "1h")
        #expect(h.waitReady(), "log: \(h.log)")
        // The first watches arrive with a reload (inotify on the rules folder): the files worker joins, the pid file
        // is read, and both are judged in that turn, an hour before any tick.
        let missing = h.dir + "/nowhere/app.conf"
        h.writeRules("""
            watch conf file { path "\(missing)" }
            watch app process { pidfile "\(h.dir)/app.pid" interval 1h }
            rule file_missing on files.watched by watch, path { crit not exists }
            rule process_down on processes.watched by watch { crit running < 1 }
            """, file: "watch.rules")
        #expect(h.waitFor(15) { watches(h, "file_missing", "firing") == ["conf"] && watches(h, "process_down", "firing") == ["app"] },
                "log: \(h.log)")
        // The folder and the file appear: the nearest existing folder was followed.
        mkdir(h.dir + "/nowhere", 0o755)
        usleep(300_000)  // the folder is followed by then; the file's creation is its own event
        writeText(missing, "x")
        #expect(h.waitFor(10) { watches(h, "file_missing", "resolved") == ["conf"] }, "log: \(h.log)")
        h.stop()
    }

    @Test func aConfigurationWithoutWatchesReportsNoWatchedFunctions() throws {
        let h = try DaemonHarness("shd-no-watches")
        try h.start()
        #expect(h.waitReady(), "log: \(h.log)")
        let v = try JSONValue.parse(readText(h.state + "/report.json"))
        let processes = v["worker_reports"]?.array?.first { $0["name"]?.string == "processes" }
        #expect(processes?["function_reports"]?.array?.map { $0["name"]?.string ?? "" } == ["summary", "top", "zombies"])
        #expect(v["worker_reports"]?.array?.contains { $0["name"]?.string == "files" } == false)
        h.stop()
    }
}
