// The alert-state features with the real binary and a real webhook receiver: a silence across a restart and its end,
// an acknowledgement that stops repeats but not the resolution, the alert log's rotation, inhibition between rules.
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct AlertStateProcessTests {
    func ctl(_ h: DaemonHarness, _ args: [String]) throws -> (Int32?, String, String) {
        try h.command(args + ["--socket", h.controlSocket])
    }

    func firings(_ h: DaemonHarness, _ rule: String) -> Int { h.allAlerts(rule: rule, state: "firing").count }

    @Test func aSilenceSurvivesARestartAndEndsByItself() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(h.waitReady(), "\(h.log)")
        var (rc, out, err) = try ctl(h, ["silence", "add", "--match", "rule=memory_low", "--for", "15s", "--id", "restart-1"])
        #expect(rc == 0, "\(out)\(err)")
        h.setAvailable(kB: 2_000_000)  // 8 % available: fires
        #expect(h.waitFor(10) { h.log.contains("alert memory_low") || (try? self.ctl(h, ["status"]))?.1.contains("FIRING") == true })
        #expect(h.stop() == 0)
        #expect(readText(h.state + "/state.json").contains("\"restart-1\""))
        try h.start()
        // report.json is the last run's: wait for the new daemon's socket.
        #expect(h.waitFor(20) { (try? self.ctl(h, ["silence", "list"]))?.0 == 0 }, "\(h.log)")
        (rc, out, err) = try ctl(h, ["silence", "list"])
        #expect(rc == 0 && out.contains("restart-1"), "kept across the restart: \(out)\(err)")
        #expect(firings(h, "memory_low") == 0, "silenced across the restart")
        // It ends by itself; the alert, still firing, is announced then.
        #expect(h.waitFor(30) { self.firings(h, "memory_low") == 1 }, "\(h.log)")
        (rc, out, err) = try ctl(h, ["history", "--rule", "memory_low", "--json"])
        let actions = (try? JSONValue.parse(out))?["entries"]?.array?.compactMap { $0["action"]?.string } ?? []
        #expect(actions.contains("added") && actions.contains("ended"), "\(out)\(err)")
    }

    @Test func anAckStopsRepeatsAndTheAlertStillResolves() throws {
        let h = try DaemonHarness()
        h.writeRules("""
            set default_channels ["hook"]
            channel hook webhook { url "\(h.receiver.url)/hook" }
            rule memory_low on memory.usage {
              warn available_percent < 50
              repeat 500ms
            }
            """)
        h.setAvailable(kB: 2_000_000)
        try h.start()
        #expect(h.waitFor(10) { self.firings(h, "memory_low") >= 3 }, "repeats: \(h.log)")
        let (rc, out, err) = try ctl(h, ["ack", "memory_low", "--comment", "swapping the DIMM"])
        #expect(rc == 0, "\(out)\(err)")
        usleep(700_000)  // a repeat already queued may still arrive
        let afterAck = firings(h, "memory_low")
        usleep(2_500_000)
        #expect(firings(h, "memory_low") == afterAck, "no repeat after the ack")
        h.setAvailable(kB: 24_215_532)
        #expect(h.waitFor(10) { h.allAlerts(rule: "memory_low", state: "resolved").count == 1 }, "\(h.log)")
        // The deliveries are in the history under the rule they carried.
        let (_, hist, _) = try ctl(h, ["history", "--rule", "memory_low", "--json"])
        let deliveries = (try? JSONValue.parse(hist))?["entries"]?.array?.filter { $0["type"]?.string == "delivery" } ?? []
        #expect(!deliveries.isEmpty && deliveries.allSatisfy { $0["rule"]?.string == "memory_low" && $0["rules"] == .array(["memory_low"]) },
                "\(hist)")
        #expect(h.stop() == 0)
        #expect(!readText(h.state + "/state.json").contains("\"ack\""), "the ack ended with the alert")
    }

    /// The webhook's alert objects for `rule` in the order received, as `kind` or `kind/reason`.
    func notices(_ h: DaemonHarness, _ rule: String) -> [String] {
        h.allAlerts.filter { $0["rule"]?.string == rule }.map { a in
            (a["kind"]?.string ?? "?") + (a["reason"]?.string.map { "/" + $0 } ?? "")
        }
    }

    @Test func aFlappingAlertIsAnnouncedOnceHeldAndEndsWithAResolved() throws {
        let h = try DaemonHarness()
        h.writeRules("""
            set default_channels ["hook"]
            set flap_transitions 4
            set flap_window 10m
            set flap_stable 3s
            channel hook webhook { url "\(h.receiver.url)/hook" }
            rule memory_low on memory.usage {
              warn available_percent < 50
            }
            """)
        try h.start()
        #expect(h.waitReady(), "\(h.log)")
        let low = 2_000_000, high = 24_215_532
        // Two starts and two ends: the fourth change makes it flapping, announced instead of resolved.
        h.setAvailable(kB: low)
        #expect(h.waitFor(10) { self.notices(h, "memory_low") == ["firing"] }, "\(notices(h, "memory_low")) \(h.log)")
        h.setAvailable(kB: high)
        #expect(h.waitFor(10) { self.notices(h, "memory_low") == ["firing", "resolved"] }, "\(notices(h, "memory_low"))")
        h.setAvailable(kB: low)
        #expect(h.waitFor(10) { self.notices(h, "memory_low") == ["firing", "resolved", "firing"] }, "\(notices(h, "memory_low"))")
        h.setAvailable(kB: high)
        #expect(h.waitFor(10) { self.notices(h, "memory_low") == ["firing", "resolved", "firing", "repeated/flapping"] },
                "\(notices(h, "memory_low")) \(h.log)")
        let flapNotice = h.allAlerts.last { $0["rule"]?.string == "memory_low" }
        #expect(flapNotice?["state"]?.string == "firing" && flapNotice?["summary"]?.string?.contains("flapping") == true, "\(String(describing: flapNotice))")
        // Held: it is firing and flapping in status, and one more start and end send nothing.
        var (rc, out, _) = try ctl(h, ["status", "--json"])
        let instance = (try? JSONValue.parse(out))?["alerts"]?.array?.first { $0["rule"]?.string == "memory_low" }
        #expect(rc == 1 && instance?["state"]?.string == "firing" && instance?["flapping"] == .bool(true), "\(out)")
        h.setAvailable(kB: low)
        usleep(600_000)
        h.setAvailable(kB: high)
        usleep(600_000)
        #expect(notices(h, "memory_low").count == 4, "nothing more while held: \(notices(h, "memory_low"))")
        // Stable for 3 s with the condition false: it resolves, once.
        #expect(h.waitFor(15) { self.notices(h, "memory_low").count == 5 }, "\(notices(h, "memory_low")) \(h.log)")
        usleep(500_000)
        #expect(notices(h, "memory_low") == ["firing", "resolved", "firing", "repeated/flapping", "resolved"])
        (rc, out, _) = try ctl(h, ["status", "--json"])
        #expect(rc == 0 && (try? JSONValue.parse(out))?["firing"]?.number == 0, "\(out)")
        let (_, hist, _) = try ctl(h, ["history", "--rule", "memory_low", "--json"])
        let types = (try? JSONValue.parse(hist))?["entries"]?.array?.compactMap { $0["type"]?.string } ?? []
        #expect(types.filter { $0 == "flapping" }.count == 1 && types.filter { $0 == "flapping_ended" }.count == 1, "\(hist)")
    }

    @Test func theAlertLogRotatesBySize() throws {
        let h = try DaemonHarness()
        h.writeRules("""
            set default_channels ["hook"]
            set history_max_size 4KiB
            channel hook webhook { url "\(h.receiver.url)/hook" }
            rule memory_low on memory.usage {
              warn available_percent < 50
              repeat 200ms
            }
            """)
        h.setAvailable(kB: 2_000_000)
        try h.start()
        let log = h.state + "/history.jsonl"
        // Rotation renames the log; the next entry creates it again.
        #expect(h.waitFor(30) { access(log + ".1", F_OK) == 0 && access(log, F_OK) == 0 }, "\(h.log)")
        var st = stat()
        #expect(stat(log + ".1", &st) == 0 && st.st_size <= 4096 && st.st_size > 2048)
        #expect(stat(log, &st) == 0 && st.st_size <= 4096)
        #expect(readText(log).split(separator: "\n").allSatisfy { (try? JSONValue.parse(String($0))) != nil })
        #expect(readText(log + ".1").contains("\"type\":\"delivery\""))
    }

    /// `inhibited_by` of the rule's instance in `shd status --json` (nil: no such instance).
    static func inhibitedBy(_ json: String, _ rule: String) -> [String]? {
        guard let v = try? JSONValue.parse(json) else { return nil }
        func find(_ v: JSONValue) -> JSONValue? {
            if v["rule"]?.string == rule, let i = v["inhibited_by"] { return i }
            for c in v.array ?? v.object.map({ Array($0.map(\.1)) }) ?? [] { if let f = find(c) { return f } }
            return nil
        }
        return find(v)?.array?.compactMap(\.string)
    }

    @Test func anInhibitedAlertWaitsForItsInhibitor() throws {
        let h = try DaemonHarness()
        h.writeRules("""
            set default_channels ["hook"]
            channel hook webhook { url "\(h.receiver.url)/hook" }
            rule memory_target on memory.usage {
              warn available_percent < 60
              inhibited by memory_source on worker
            }
            rule memory_source on memory.usage {
              crit available_percent < 50
            }
            """)
        h.setAvailable(kB: 2_000_000)  // 8 %: both conditions hold
        try h.start()
        #expect(h.waitFor(10) { self.firings(h, "memory_source") == 1 }, "\(h.log)")
        usleep(500_000)
        #expect(firings(h, "memory_target") == 0, "inhibited")
        var (rc, out, _) = try ctl(h, ["status", "--json"])
        #expect(rc == 1 && Self.inhibitedBy(out, "memory_target") == ["memory_source"], "\(out)")
        h.setAvailable(kB: 13_500_000)  // ~55 %: only the target's condition holds
        #expect(h.waitFor(10) { self.firings(h, "memory_target") == 1 && h.allAlerts(rule: "memory_source", state: "resolved").count == 1 },
                "\(h.log)")
        (rc, out, _) = try ctl(h, ["status", "--json"])
        #expect(Self.inhibitedBy(out, "memory_target") == [], "\(out)")
    }
}
