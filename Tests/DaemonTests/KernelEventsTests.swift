// Kernel events: the PSI triggers rules imply, their registration, and a link going down in a namespace
// reaching a webhook while the interval is an hour (so only the rtnetlink event can have collected it).
import Testing
import Kit
import Reports
import Rules
import TestSupport
import Workers
@testable import Daemon
#if canImport(Glibc)
import Glibc
#endif

private func rules(_ text: String) throws -> [AlertRule] {
    let r = RuleSetLoader.load(sources: [("t.rules", text)], catalog: WorkerRegistry.catalog)
    return try #require(r.configuration?.rules)
}

@Suite struct PressureTriggerMappingTests {
    @Test func shippedRulesBecomeFullTriggersAtTheirThresholds() throws {
        let loaded = RuleSetLoader.load(paths: [TestPaths.packageRoot + "/rules.d"], catalog: WorkerRegistry.catalog)
        let specs = pressureTriggers(for: try #require(loaded.configuration?.rules))
        // pressure.rules: memory full avg60 > 10 / > 30, io full avg60 > 20 / > 50; 10 s windows.
        #expect(specs.map { "\($0.resource) \($0.line)" } == [
            "memory full 1000000 10000000", "memory full 3000000 10000000",
            "io full 2000000 10000000", "io full 5000000 10000000",
        ])
    }

    @Test func onlyNecessaryThresholdsMap() throws {
        let specs = pressureTriggers(for: try rules("""
            rule a on pressure.cpu { warn avg10 > 40 and avg300 > 1 }
            rule b on pressure.io where kind == "some" { warn 25 < avg10 }
            rule c on pressure.memory { warn avg10 > 5 or avg60 > 1 }
            rule d on pressure.memory { warn total_seconds > 100 }
            rule e on pressure.memory where kind == "odd" { warn avg10 > 5 }
            """))
        // `and`: both sides are needed (kind defaults to some); `or`, a non-average field, or an unknown kind: none.
        #expect(specs.map { "\($0.resource) \($0.line)" } == [
            "cpu some 100000 10000000", "cpu some 4000000 10000000", "io some 2500000 10000000",
        ])
    }
}

/// After a PSI trigger the named functions are read again each second for one 10 s window (the kernel's averages
/// move every 2 s); another trigger extends its function's window; nothing is read once every window has ended.
@Suite struct PressureFollowUpTests {
    @Test func readsFollowEachTriggerForOneWindow() {
        var f = PressureFollowUp()
        #expect(f.next == nil && f.due(now: 5) == [])
        f.triggered(["pressure.cpu"], now: 100)
        #expect(f.next == 101)
        #expect(f.due(now: 100.5) == [], "not due yet")
        var reads: [(Double, [String])] = []
        while let n = f.next, n < 130 {
            reads.append((n, f.due(now: n)))
            if n == 104 { f.triggered(["pressure.memory", "pressure.cpu"], now: 104.2) }
        }
        // cpu: 101 … 114 (its window extended to 114.2 by the trigger at 104.2); memory: 105 … 114.
        #expect(reads.map(\.0) == (101...114).map(Double.init))
        #expect(reads.filter { $0.1.contains("pressure.cpu") }.count == 14)
        #expect(reads.filter { $0.1.contains("pressure.memory") }.map(\.0) == (105...114).map(Double.init), "\(reads)")
        #expect(f.next == nil && f.until.isEmpty, "every window ended: no timer left")
        // A trigger after a quiet spell starts again.
        f.triggered(["pressure.io"], now: 200)
        #expect(f.next == 201 && f.due(now: 201.3) == ["pressure.io"] && f.next == 202.3)
    }
}

@Suite struct PressureTriggerRegistrationTests {
    @Test(.enabled(if: access("/proc/pressure/cpu", F_OK) == 0, "no /proc/pressure here (kernel without CONFIG_PSI, or booted with psi=0)"))
    func kernelAcceptsTheTriggerAndRefusesAnImpossibleOne() throws {
        // 10 s: the longest window, a multiple of 2 s (unprivileged since Linux 6.5).
        let t = try PressureTrigger(proc: "/proc", resource: "cpu", kind: "some", stallMicroseconds: 100_000, windowMicroseconds: 10_000_000)
        #expect(t.fd >= 0)
        #expect(t.priority)
        #expect(t.functions == ["pressure.cpu"])
        // A stall longer than its window is refused by the kernel (EINVAL), with the file named.
        do {
            _ = try PressureTrigger(proc: "/proc", resource: "cpu", kind: "some", stallMicroseconds: 20_000_000, windowMicroseconds: 10_000_000)
            Issue.record("the kernel accepted a stall longer than its window")
        } catch {
            #expect(error.errno == EINVAL)
            #expect(error.path == "/proc/pressure/cpu")
        }
    }
}

@Suite(.serialized) struct LinkEventProcessTests {
    @Test(.enabled(if: NetworkNamespace.unavailableReason == nil, "\(NetworkNamespace.unavailableReason ?? "")"))
    func vethDownAndUpReachTheWebhookWithoutATick() throws {
        let ns = try NetworkNamespace("shdlink")
        defer { ns.remove() }
        try #require(ns.ip("link add shdva type veth peer name shdvb") && ns.ip("link set shdva up") && ns.ip("link set shdvb up"))
        let receiver = try ns.inside { try LocalHTTPServer() }
        defer { receiver.stop() }
        let dir = makeTempDirectory("shd-link")
        defer { _ = runShell("rm -rf '\(dir)'") }
        mkdir(dir + "/rules.d", 0o755)
        writeText(dir + "/rules.d/link.rules", """
            set default_channels ["hook"]
            channel hook webhook { url "\(receiver.url)/hook" }
            rule veth_down on network.interfaces by name where name == "shdva" {
              crit operstate != "up"
              summary "{name} is {operstate}"
            }
            """)
        // An hour between ticks: after the first one, only a kernel event can collect network.interfaces.
        let p = try ChildProcess(ns.exec([shdBinary, "run", "--rules", dir + "/rules.d", "--state-dir", dir + "/state",
                                          "--interval", "1h", "--log-level", "debug"]), outputDirectory: dir)
        defer {
            p.signal(SIGTERM)
            if p.wait(timeout: 10) == nil { p.signal(SIGKILL); _ = p.wait(timeout: 5) }
        }
        func bodies(_ status: String) -> [JSONValue] {
            receiver.requests.compactMap { try? JSONValue.parse($0.bodyText) }.filter { $0["status"]?.string == status }
        }
        #expect(ChildProcess.waitFor(20) { access(dir + "/state/report.json", F_OK) == 0 }, "no report.json: \(p.stderr)")
        #expect(bodies("firing").isEmpty)

        #expect(ns.ip("link set shdvb down"))
        #expect(ChildProcess.waitFor(10) { !bodies("firing").isEmpty }, "no firing alert after the peer went down: \(p.stderr)")
        let fired = try #require(bodies("firing").first)
        #expect(fired["alert"]?["rule"]?.string == "veth_down")
        #expect(fired["alert"]?["summary"]?.string == "shdva is lowerlayerdown")

        #expect(ns.ip("link set shdvb up"))
        #expect(ChildProcess.waitFor(10) { !bodies("resolved").isEmpty }, "no resolved alert after the peer came up: \(p.stderr)")
        #expect(p.stderr.contains("rtnetlink RTMGRP_LINK: collected network.interfaces now"))
        // system.sources says how network.interfaces is read.
        let report = try JSONValue.parse(bytes: try readOnce(dir + "/state/report.json"))
        let sources = report["worker_reports"]?.array?.first { $0["name"]?.string == "system" }?["function_reports"]?.array?
            .first { $0["name"]?.string == "sources" }?["data"]?.array ?? []
        let link = sources.filter { $0["function"]?.string == "network.interfaces" }.map { ($0["mode"]?.string ?? "") + " " + ($0["mechanism"]?.string ?? "") }
        #expect(link.contains("event rtnetlink RTMGRP_LINK"))
        #expect(link.contains("poll timerfd"))
    }
}
