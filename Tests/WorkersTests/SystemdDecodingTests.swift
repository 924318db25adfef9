// The systemd worker's decoders on recorded D-Bus replies (busctl --json=short) and cgroup files, and its rows.
import Reports
import Testing
@testable import Workers

@Suite struct SystemdDecodingTests {
    // `busctl --json=short call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager
    // ListUnits`, recorded against python3-dbusmock's systemd template (the tests' private bus).
    static let listUnitsMock = #"{"type":"a(ssssssouso)","data":[[["good.service","mock unit","loaded","inactive","dead","","/org/freedesktop/systemd1/unit/good_service",0,"","/"],["bad.service","mock unit","loaded","failed","dead","","/org/freedesktop/systemd1/unit/bad_service",0,"","/"]]]}"#

    // Written by hand in the shape of systemd 252's reply (not recorded: the build machine runs no systemd):
    // units that failed to load are lines too, and one has a job in flight.
    static let listUnitsSystemd = #"{"type":"a(ssssssouso)","data":[[["nginx.service","A high performance web server and a reverse proxy server","loaded","failed","failed","","/org/freedesktop/systemd1/unit/nginx_2eservice",0,"","/"],["broken.service","broken.service","bad-setting","inactive","dead","","/org/freedesktop/systemd1/unit/broken_2eservice",0,"","/"],["syslog.service","syslog.service","not-found","inactive","dead","","/org/freedesktop/systemd1/unit/syslog_2eservice",0,"","/"],["apt-daily.timer","Daily apt download activities","loaded","active","waiting","","/org/freedesktop/systemd1/unit/apt_2ddaily_2etimer",0,"","/"],["backup.service","Nightly backup","loaded","activating","start","","/org/freedesktop/systemd1/unit/backup_2eservice",412,"start","/org/freedesktop/systemd1/job/412"]]]}"#

    // GetAll org.freedesktop.systemd1.Unit on the mock after AddProperties.
    static let getAllMock = #"{"type":"a{sv}","data":[{"Id":{"type":"s","data":"bad.service"},"Names":{"type":"as","data":["bad.service"]},"LoadState":{"type":"s","data":"loaded"},"ActiveState":{"type":"s","data":"failed"},"Result":{"type":"s","data":"exit-code"},"NRestarts":{"type":"u","data":3},"StateChangeTimestamp":{"type":"t","data":1796173652000000},"LoadError":{"type":"(ss)","data":["",""]},"TriggeredBy":{"type":"as","data":[]}}]}"#

    @Test func listUnitsKeepsEveryLineWhateverItsLoadState() throws {
        let units = try decodeListUnits(try BusValue.fromBusctlJSON(Self.listUnitsSystemd))
        #expect(units.map(\.name) == ["nginx.service", "broken.service", "syslog.service", "apt-daily.timer", "backup.service"])
        #expect(units.map(\.loadState) == ["loaded", "bad-setting", "not-found", "loaded", "loaded"])
        #expect(units[0].activeState == "failed" && units[0].subState == "failed")
        #expect(units[0].path == "/org/freedesktop/systemd1/unit/nginx_2eservice")
        #expect(units[3].type == "timer" && units[3].typeInterface == "org.freedesktop.systemd1.Timer")
        #expect(units[1].description == "broken.service")
    }

    @Test func listUnitsOfTheMock() throws {
        let units = try decodeListUnits(try BusValue.fromBusctlJSON(Self.listUnitsMock))
        #expect(units.map(\.name) == ["good.service", "bad.service"])
        #expect(units.map(\.activeState) == ["inactive", "failed"])
    }

    @Test(arguments: [
        (#"{"type":"s","data":["x"]}"#, "ListUnits: expected a(ssssssouso)"),
        (#"{"type":"a(ss)","data":[[["a","b"]]]}"#, "ListUnits: a line is not (ssssssouso)"),
    ])
    func listUnitsOfAnotherShapeIsAnError(json: String, message: String) throws {
        let body = try BusValue.fromBusctlJSON(json)
        #expect(throws: BusDecodingError.self) { try decodeListUnits(body) }
        do { _ = try decodeListUnits(body) } catch { #expect(error.message.hasPrefix(message)) }
    }

    @Test func getAllAppliesTheUnitsProperties() throws {
        var u = SystemdUnit(name: "bad.service", path: "/org/freedesktop/systemd1/unit/bad_service")
        u.apply(try decodeProperties(try BusValue.fromBusctlJSON(Self.getAllMock)))
        #expect(u.activeState == "failed")
        #expect(u.result == "exit-code")
        #expect(u.restarts == 3)
        #expect(u.stateChangeUsec == 1_796_173_652_000_000)
        #expect(u.loadError == nil)
        #expect(u.triggeredBy == "")
    }

    @Test func serviceAndTimerPropertiesAsSystemdSendsThem() throws {
        // GetAll of .Unit, .Service and .Timer, written by hand in systemd 252's shape (the fields shd reads, among
        // dozens; MemoryCurrent's UINT64_MAX is systemd's "unknown").
        let service = #"{"type":"a{sv}","data":[{"Result":{"type":"s","data":"success"},"NRestarts":{"type":"u","data":0},"MainPID":{"type":"u","data":0},"ControlGroup":{"type":"s","data":""},"ExecMainExitTimestamp":{"type":"t","data":1764630000123456},"MemoryCurrent":{"type":"t","data":18446744073709551615}}]}"#
        let unit = #"{"type":"a{sv}","data":[{"Id":{"type":"s","data":"backup.service"},"ActiveState":{"type":"s","data":"inactive"},"SubState":{"type":"s","data":"dead"},"TriggeredBy":{"type":"as","data":["backup.timer"]},"LoadError":{"type":"(ss)","data":["",""]}}]}"#
        let timer = #"{"type":"a{sv}","data":[{"Unit":{"type":"s","data":"backup.service"},"Result":{"type":"s","data":"success"},"LastTriggerUSec":{"type":"t","data":1764630000000000},"NextElapseUSecRealtime":{"type":"t","data":1764716400000000},"NextElapseUSecMonotonic":{"type":"t","data":0}}]}"#
        var s = SystemdUnit(name: "backup.service", path: "/org/freedesktop/systemd1/unit/backup_2eservice")
        s.apply(try decodeProperties(try BusValue.fromBusctlJSON(unit)))
        s.apply(try decodeProperties(try BusValue.fromBusctlJSON(service)))
        #expect(s.triggeredBy == "backup.timer")
        #expect(s.controlGroup == nil)
        #expect(s.lastSuccessUsec == 1_764_630_000_123_456)
        var t = SystemdUnit(name: "backup.timer", path: "/org/freedesktop/systemd1/unit/backup_2etimer")
        t.apply(try decodeProperties(try BusValue.fromBusctlJSON(timer)))
        let row = timerRow(t, service: s, nowUsec: 1_764_633_600_000_000, monotonicUsec: 0)
        #expect(row["unit"] == "backup.service")
        #expect(row["unit_result"] == "success")
        #expect(row["last_trigger_age_seconds"] == .double(3600))
        #expect(row["next_elapse_seconds"] == .double(82800))
        #expect(row["period_seconds"] == .double(86400))
        #expect(row["unit_last_success_age_seconds"] == .double(3599.877))
    }

    @Test func aFailureKeepsTheLastSuccess() {
        var s = SystemdUnit(name: "job.service", path: "/p")
        s.apply([("ActiveState", .string("inactive")), ("Result", .string("success")), ("ExecMainExitTimestamp", .uint(100))])
        s.apply([("ActiveState", .string("failed")), ("Result", .string("exit-code")), ("ExecMainExitTimestamp", .uint(200))])
        #expect(s.lastSuccessUsec == 100)
    }

    @Test func aLoadErrorIsItsMessage() {
        var u = SystemdUnit(name: "broken.service", path: "/p")
        u.apply([("LoadState", .string("bad-setting")),
                 ("LoadError", .structure([.string("org.freedesktop.systemd1.BadUnitSetting"), .string("Unit broken.service has a bad unit file setting.")]))])
        #expect(u.loadError == "Unit broken.service has a bad unit file setting.")
        let row = unitRow(u, usage: nil, nowUsec: 0)
        #expect(row["load_state"] == "bad-setting")
        #expect(row["load_error"] == "Unit broken.service has a bad unit file setting.")
        #expect(row["in_state_seconds"] == nil)
    }

    @Test func propertiesChangedIsInterfaceValuesAndInvalidated() throws {
        let body: [BusValue] = [.string("org.freedesktop.systemd1.Unit"),
                                .array([.structure([.string("ActiveState"), .variant(.string("failed"))]),
                                        .structure([.string("SubState"), .variant(.string("failed"))])]),
                                .array([.string("Conditions")])]
        let (iface, changed, invalidated) = try decodePropertiesChanged(body)
        #expect(iface == "org.freedesktop.systemd1.Unit")
        #expect(changed.map(\.0) == ["ActiveState", "SubState"])
        #expect(changed[0].1 == .string("failed"))
        #expect(invalidated == ["Conditions"])
        #expect(throws: BusDecodingError.self) { try decodePropertiesChanged([.string("x")]) }
    }

    @Test(arguments: [
        ("/org/freedesktop/systemd1/unit/nginx_2eservice", "nginx.service"),
        ("/org/freedesktop/systemd1/unit/apt_2ddaily_2etimer", "apt-daily.timer"),
        ("/org/freedesktop/systemd1/unit/user_401000_2eservice", "user@1000.service"),
        ("/org/freedesktop/systemd1/unit/_2d_2eslice", "-.slice"),
    ])
    func unitNameFromObjectPath(path: String, name: String) {
        #expect(unitName(fromPath: path) == name)
    }

    @Test func transientUnitsAreExcludedByDefault() {
        for n in ["run-r3a9.scope", "session-4.scope", "user@1000.service", "user-runtime-dir@1000.service"] {
            #expect(unitExcluded(n, by: defaultExcludedUnits), "\(n)")
        }
        for n in ["nginx.service", "run-parts.service", "user.slice", "session.service"] {
            #expect(!unitExcluded(n, by: defaultExcludedUnits), "\(n)")
        }
        #expect(!unitExcluded("session-4.scope", by: []))
    }

    // A cgroup's memory.events (Linux 6.1), after one OOM kill.
    @Test func oomKillsFromMemoryEvents() {
        let text = "low 0\nhigh 0\nmax 37\noom 1\noom_kill 1\noom_group_kill 0\n"
        #expect(parseOOMKills(Array(text.utf8)) == 1)
        #expect(parseOOMKills(Array("low 0\nhigh 0\n".utf8)) == nil)
        #expect(parseCgroupCPUSeconds(Array("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n".utf8)) == 2.5)
    }

    @Test func oomKillCountRisesAcrossANewCgroup() {
        var u = SystemdUnit(name: "a.service", path: "/p")
        u.noteOOMKills(2)  // first sight: the cgroup's count so far
        u.noteOOMKills(3)
        u.oomKillsSeen = nil  // the cgroup was removed; the next one counts from its own zero
        u.noteOOMKills(1)
        #expect(u.oomKills == 4)
    }

    @Test func busctlJSONTypesFollowTheSignature() throws {
        let v = try BusValue.fromBusctlJSON(#"{"type":"tbxa{sv}","data":[18446744073709551615,true,-5,{"A":{"type":"i","data":-1}}]}"#)
        #expect(v == [.uint(.max), .bool(true), .int(-5), .array([.structure([.string("A"), .variant(.int(-1))])])])
        #expect(throws: BusDecodingError.self) { try BusValue.fromBusctlJSON(#"{"type":"s","data":[1]}"#) }
    }
}
