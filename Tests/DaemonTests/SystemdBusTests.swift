// The systemd worker in the real daemon against a private dbus-daemon with python3-dbusmock's systemd template:
// a unit's change arrives as an event (an alert at the webhook), the bus dying is a reconnect, not a crash.
import Kit
import Reports
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A private bus (`dbus-daemon --session` on a socket of its own) with a mock systemd manager on it.
final class MockSystemdBus {
    let dir: String
    var address: String { "unix:path=\(dir)/bus" }
    private var daemon: ChildProcess?
    private var mock: ChildProcess?
    private var runs = 0

    static let missing: String? = {
        if access("/usr/bin/dbus-daemon", X_OK) != 0 { return "dbus-daemon is not installed (scripts/deps test)" }
        if access("/usr/bin/busctl", X_OK) != 0 { return "busctl (systemd) is not installed (scripts/deps test)" }
        if runShell("/usr/bin/python3 -c 'import dbusmock' 2>/dev/null") != 0 { return "python3-dbusmock is not installed (scripts/deps test)" }
        return nil
    }()

    init(dir: String) { self.dir = dir }
    /// What dbus-daemon logged (it names a connection that passed a limit).
    var log: String { daemon?.stderr ?? "" }

    /// Starts the bus and the mock, and gives the mock what its template lacks: Subscribe and ListUnits
    /// (listing the mock's units from their own properties).
    /// `replyLimit`: dbus-daemon's max_replies_per_connection (the system bus's default is 128).
    func start(replyLimit: Int? = nil) throws {
        runs += 1
        unlink(dir + "/bus")
        let out = dir + "/bus\(runs)"
        mkdir(out, 0o755)
        var config = ["--session"]
        if let replyLimit {
            writeText(out + "/bus.conf", """
                <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
                 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
                <busconfig>
                  <include>/usr/share/dbus-1/session.conf</include>
                  <limit name="max_replies_per_connection">\(replyLimit)</limit>
                </busconfig>
                """)
            config = ["--config-file=" + out + "/bus.conf"]
        }
        daemon = try ChildProcess(["/usr/bin/dbus-daemon"] + config + ["--nofork", "--address=" + address], outputDirectory: out)
        guard ChildProcess.waitFor(10, { access(dir + "/bus", F_OK) == 0 }) else { throw MockBusError(message: "dbus-daemon did not start") }
        mock = try ChildProcess(["/usr/bin/python3", "-m", "dbusmock", "--system", "--template", "systemd"],
                                environment: ["DBUS_SYSTEM_BUS_ADDRESS": address, "PATH": "/usr/bin:/bin"], outputDirectory: out)
        guard ChildProcess.waitFor(15, { self.mockCall("AddMethod sssss org.freedesktop.systemd1.Manager Subscribe '' '' ''") }) else {
            throw MockBusError(message: "dbusmock did not come up")
        }
        let list = "ret = [(n, 'mock unit', objects[p].props['org.freedesktop.systemd1.Unit']['LoadState'], "
            + "objects[p].props['org.freedesktop.systemd1.Unit']['ActiveState'], 'dead', '', p, dbus.UInt32(0), '', '/') for n, p in self.units.items()]"
        _ = mockCall("AddMethod sssss org.freedesktop.systemd1.Manager ListUnits '' 'a(ssssssouso)' \"\(list)\"")
    }

    func stop() {
        for p in [mock, daemon] {
            p?.signal(SIGKILL)
            _ = p?.wait(timeout: 5)
        }
        mock = nil
        daemon = nil
    }

    deinit { stop() }

    @discardableResult
    func mockCall(_ args: String, path: String = "/org/freedesktop/systemd1") -> Bool {
        runShell("/usr/bin/busctl --address='\(address)' call org.freedesktop.systemd1 \(path) org.freedesktop.DBus.Mock \(args) >/dev/null 2>&1") == 0
    }

    /// A mock unit with the properties the worker reads.
    func addUnit(_ name: String, active: String, result: String) {
        mockCall("AddMockUnit s \(name)")
        mockCall("AddProperties 'sa{sv}' org.freedesktop.systemd1.Unit 3 Result s \(result) SubState s dead TriggeredBy as 0", path: unitPath(name))
        setState(name, active: active, result: result)
    }

    /// PropertiesChanged of the unit, as systemd sends when it changes state.
    func setState(_ name: String, active: String, result: String) {
        mockCall("UpdateProperties 'sa{sv}' org.freedesktop.systemd1.Unit 2 ActiveState s \(active) Result s \(result)", path: unitPath(name))
    }

    /// A PropertiesChanged that says `active` without changing what GetAll answers: systemd 252's signal sent between
    /// the two steps of a failure with Restart= ("failed", then at once "activating (auto-restart)").
    @discardableResult
    func emitStateSignal(_ name: String, active: String) -> Bool {
        mockCall("EmitSignal sssav org.freedesktop.DBus.Properties PropertiesChanged 'sa{sv}as' 3 s org.freedesktop.systemd1.Unit "
            + "'a{sv}' 1 ActiveState s \(active) as 0", path: unitPath(name))
    }

    /// `count` units u0.service … at once (one call: a busctl per unit would take seconds), active, result success.
    func addUnits(_ count: Int) {
        let code = "for i in range(args[0]): n = 'u%d.service' % i; p = '/org/freedesktop/systemd1/unit/u%d_2eservice' % i; "
            + "self.units[n] = p; self.AddObject(p, 'org.freedesktop.systemd1.Unit', {'Id': n, 'Names': [n], "
            + "'LoadState': 'loaded', 'ActiveState': 'active', 'SubState': 'running', 'Result': 'success', "
            + "'TriggeredBy': dbus.Array([], signature='s')}, [])"
        mockCall("AddMethod sssss org.freedesktop.systemd1.Manager AddUnits u '' \"\(code)\"")
        _ = runShell("/usr/bin/busctl --address='\(address)' call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager AddUnits u \(count) >/dev/null 2>&1")
    }

    func unitPath(_ name: String) -> String {
        "/org/freedesktop/systemd1/unit/" + name.replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: "-", with: "_")
    }
}

struct MockBusError: Error { var message: String }

extension String {
    func replacingOccurrences(of a: String, with b: String) -> String { split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b) }
}

@Suite(.serialized) struct SystemdBusTests {
    @Test(.enabled(if: MockSystemdBus.missing == nil, "\(MockSystemdBus.missing ?? "")"))
    func aFailedUnitArrivesAsAnEventAndTheBusDyingIsAReconnect() throws {
        let dir = makeTempDirectory("shd-systemd-bus")
        defer { _ = runShell("rm -rf '\(dir)'") }
        let bus = MockSystemdBus(dir: dir)
        try bus.start()
        bus.addUnit("app.service", active: "active", result: "success")
        bus.addUnit("other.service", active: "active", result: "success")

        let receiver = try LocalHTTPServer()
        defer { receiver.stop() }
        let rules = dir + "/rules.d", state = dir + "/state"
        mkdir(rules, 0o755)
        writeText(rules + "/systemd.rules", readText(TestPaths.packageRoot + "/rules.d/systemd.rules"))
        // app.service's journal: seven lines of its own and one of another unit; the alert shows its last five.
        let journal = dir + "/system.journal"
        if let remote = JournalProcessTests.remote {
            var export = ""
            for (i, (unit, text)) in ((1...7).map { ("app.service", "app: line \($0)") } + [("other.service", "other: not app's")]).enumerated() {
                export += "__REALTIME_TIMESTAMP=\(Timestamp.now().microseconds - 60_000_000 + Int64(i) * 1000)\n__MONOTONIC_TIMESTAMP=\(1000 + i)\n"
                    + "_BOOT_ID=5f0e9a8b7c6d4e3f2a1b0c9d8e7f6a5b\nPRIORITY=3\n_SYSTEMD_UNIT=\(unit)\nMESSAGE=\(text)\n\n"
            }
            writeText(dir + "/units.export", export)
            #expect(runShell("'\(remote)' -o '\(journal)' '\(dir)/units.export' > '\(dir)/remote.log' 2>&1") == 0, "\(readText(dir + "/remote.log"))")
        }
        writeText(rules + "/test.rules", """
            set workers ["systemd"]
            set default_channels ["hook", "log"]
            channel hook webhook { url "\(receiver.url)/hook" }
            """)
        // A long interval: what arrives within a second came as an event, not with a tick.
        let shd = try ChildProcess([shdBinary, "run", "--rules", rules, "--state-dir", state, "--interval", "1h", "--log-level", "debug"],
                                   environment: ["DBUS_SYSTEM_BUS_ADDRESS": bus.address, "PATH": "/usr/bin:/bin", "SHD_TEST_JOURNAL_FILE": journal],
                                   outputDirectory: dir)
        defer { shd.signal(SIGKILL); _ = shd.wait(timeout: 5) }
        func alerts(_ status: String) -> [JSONValue] {
            receiver.requests.compactMap { try? JSONValue.parse($0.bodyText) }
                .filter { $0["alert"]?["rule"]?.string == "unit_failed" && $0["status"]?.string == status }
        }
        func reportHas(_ unit: String, _ active: String) -> Bool {
            guard let r = try? JSONValue.parse(readText(state + "/report.json")) else { return false }
            let rows = r["worker_reports"]?.array?.first { $0["name"]?.string == "systemd" }?["function_reports"]?.array?
                .first { $0["name"]?.string == "units" }?["data"]?.array ?? []
            return rows.contains { $0["unit"]?.string == unit && $0["active_state"]?.string == active }
        }
        #expect(ChildProcess.waitFor(20) { reportHas("app.service", "active") }, "the listing at start: \(shd.stderr)")

        // A crash with Restart=: systemd 252 can signal "failed" while the unit is already waiting to restart. The
        // worker reads the state back and sees no failure.
        #expect(bus.mockCall("UpdateProperties 'sa{sv}' org.freedesktop.systemd1.Unit 3 ActiveState s activating SubState s auto-restart "
            + "Result s exit-code", path: bus.unitPath("app.service")))
        #expect(bus.emitStateSignal("app.service", active: "failed"))
        usleep(2_000_000)
        #expect(alerts("firing").isEmpty, "a signal of a passing \"failed\" fired: \(shd.stderr)")
        #expect(reportHas("app.service", "activating"))

        let before = monotonicSeconds()
        bus.setState("app.service", active: "failed", result: "exit-code")
        #expect(ChildProcess.waitFor(10) { alerts("firing").count == 1 }, "\(shd.stderr)")
        let latency = monotonicSeconds() - before
        #expect(latency < 5, "the failure took \(latency) s to reach the webhook (BENCHMARKS.md has the budget)")
        #expect(alerts("firing").first?["alert"]?["labels"]?["unit"]?.string == "app.service")
        if JournalProcessTests.remote != nil {
            // The unit's last five journal lines, oldest first, read when it failed; not the other unit's.
            let description = alerts("firing").first?["alert"]?["description"]?.string ?? ""
            #expect(description.hasSuffix("journal lines (`journalctl -u app.service` has the rest):\napp: line 3\napp: line 4\napp: line 5\napp: line 6\napp: line 7"),
                    "\(description)")
        }

        // The bus goes away (dbus restarted): a log line and a reconnect; the unit is still failed on the new bus,
        // so its alert stays the one that fired.
        bus.stop()
        #expect(ChildProcess.waitFor(10) { shd.stderr.contains("systemd: the system bus connection ended") }, "\(shd.stderr)")
        // shd waits while the new bus gets its units (a mock unit is made inactive, then set failed: listed in
        // between, that is a resolution and a second firing, as it would be on a real host).
        kill(shd.pid, SIGSTOP)
        try bus.start()
        bus.addUnit("app.service", active: "failed", result: "exit-code")
        bus.addUnit("other.service", active: "active", result: "success")
        kill(shd.pid, SIGCONT)
        #expect(ChildProcess.waitFor(40) { reportHas("other.service", "active") && shd.stderr.contains("reconnecting in") }, "\(shd.stderr)")
        #expect(kill(shd.pid, 0) == 0, "shd is still running")

        // systemctl reset-failed: inactive, result success. One resolution, and no second firing.
        bus.setState("app.service", active: "inactive", result: "success")
        #expect(ChildProcess.waitFor(10) { alerts("resolved").count == 1 }, "\(shd.stderr)")
        #expect(alerts("firing").count == 1)
        shd.signal(SIGTERM)
        #expect(shd.wait(timeout: 10) == 0)
    }

    /// A listing of 300 units reads 600 interfaces. Sent at once they passed the bus's limit of replies a connection
    /// may await (128 on the system bus; a guest's dbus-daemon refused thousands of shd's calls, and PID 1, busy
    /// answering the rest, left `systemctl reload` waiting): the worker sends 32 at a time. Here the bus allows 40,
    /// so any burst would lose units' properties (a row without its result).
    @Test(.enabled(if: MockSystemdBus.missing == nil, "\(MockSystemdBus.missing ?? "")"))
    func aLargeListingStaysUnderTheBusLimitOfAwaitedReplies() throws {
        let dir = makeTempDirectory("shd-systemd-many")
        defer { _ = runShell("rm -rf '\(dir)'") }
        let bus = MockSystemdBus(dir: dir)
        try bus.start(replyLimit: 40)
        bus.addUnits(300)
        let rules = dir + "/rules.d", state = dir + "/state"
        mkdir(rules, 0o755)
        writeText(rules + "/test.rules", """
            set workers ["systemd"]
            rule failed on systemd.units by unit { crit active_state == "failed" }
            """)
        let shd = try ChildProcess([shdBinary, "run", "--rules", rules, "--state-dir", state, "--interval", "1h"],
                                   environment: ["DBUS_SYSTEM_BUS_ADDRESS": bus.address, "PATH": "/usr/bin:/bin"], outputDirectory: dir)
        defer { shd.signal(SIGKILL); _ = shd.wait(timeout: 5) }
        func rows() -> [JSONValue] {
            guard let r = try? JSONValue.parse(readText(state + "/report.json")) else { return [] }
            return r["worker_reports"]?.array?.first { $0["name"]?.string == "systemd" }?["function_reports"]?.array?
                .first { $0["name"]?.string == "units" }?["data"]?.array ?? []
        }
        // Only GetAll gives Result (ListUnits does not): every unit's is read, however long the listing takes.
        func unread() -> [String] { rows().filter { $0["result"]?.string != "success" }.compactMap { $0["unit"]?.string } }
        #expect(ChildProcess.waitFor(60) { rows().count == 300 && unread().isEmpty }, "\(shd.stderr)")
        let unread = unread()
        #expect(unread.isEmpty, "\(unread.count) units without their properties, e.g. \(unread.prefix(3)); \(shd.stderr)")
        #expect(!bus.log.contains("maximum number of pending replies"), "\(bus.log)")
        shd.signal(SIGTERM)
        #expect(shd.wait(timeout: 10) == 0)
    }
}
