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

    /// Starts the bus and the mock, and gives the mock what its template lacks: Subscribe and ListUnits
    /// (listing the mock's units from their own properties).
    func start() throws {
        runs += 1
        unlink(dir + "/bus")
        let out = dir + "/bus\(runs)"
        mkdir(out, 0o755)
        daemon = try ChildProcess(["/usr/bin/dbus-daemon", "--session", "--nofork", "--address=" + address], outputDirectory: out)
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
        writeText(rules + "/test.rules", """
            set workers ["systemd"]
            set default_channels ["hook", "log"]
            channel hook webhook { url "\(receiver.url)/hook" }
            """)
        // A long interval: what arrives within a second came as an event, not with a tick.
        let shd = try ChildProcess([shdBinary, "run", "--rules", rules, "--state-dir", state, "--interval", "1h", "--log-level", "debug"],
                                   environment: ["DBUS_SYSTEM_BUS_ADDRESS": bus.address, "PATH": "/usr/bin:/bin"], outputDirectory: dir)
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

        let before = monotonicSeconds()
        bus.setState("app.service", active: "failed", result: "exit-code")
        #expect(ChildProcess.waitFor(10) { alerts("firing").count == 1 }, "\(shd.stderr)")
        let latency = monotonicSeconds() - before
        #expect(latency < 5, "the failure took \(latency) s to reach the webhook (BENCHMARKS.md has the budget)")
        #expect(alerts("firing").first?["alert"]?["labels"]?["unit"]?.string == "app.service")

        // The bus goes away (dbus restarted): a log line and a reconnect; the unit is still failed on the new bus,
        // so its alert stays the one that fired.
        bus.stop()
        #expect(ChildProcess.waitFor(10) { shd.stderr.contains("systemd: the system bus connection ended") }, "\(shd.stderr)")
        try bus.start()
        bus.addUnit("app.service", active: "failed", result: "exit-code")
        bus.addUnit("other.service", active: "active", result: "success")
        #expect(ChildProcess.waitFor(40) { reportHas("other.service", "active") && shd.stderr.contains("reconnecting in") }, "\(shd.stderr)")
        #expect(kill(shd.pid, 0) == 0, "shd is still running")

        // systemctl reset-failed: inactive, result success. One resolution, and no second firing.
        bus.setState("app.service", active: "inactive", result: "success")
        #expect(ChildProcess.waitFor(10) { alerts("resolved").count == 1 }, "\(shd.stderr)")
        #expect(alerts("firing").count == 1)
        shd.signal(SIGTERM)
        #expect(shd.wait(timeout: 10) == 0)
    }
}
