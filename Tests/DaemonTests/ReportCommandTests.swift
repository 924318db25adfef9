// `shd report` as a process: golden reports on fixture trees, and a live run on this machine.
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Replaces what legitimately changes between runs of the same tree: how long functions took, and
/// where the tree is (error messages name files by their full path): `root` becomes `$TREE`.
func normalised(_ v: JSONValue, root: String = "") -> JSONValue {
    switch v {
    case .object(let o):
        var out = JSONObject()
        for (k, e) in o {
            if k == "duration_seconds" { out.append(k, .double(0)); continue }
            out.append(k, normalised(e, root: root))
        }
        return .object(out)
    case .array(let a): return .array(a.map { normalised($0, root: root) })
    case .string(let s) where !root.isEmpty && s.contains(root):
        return .string(s.split(separator: root, omittingEmptySubsequences: false).joined(separator: "$TREE"))
    default: return v
    }
}

/// The first difference between two function reports, named by row and key.
func rowDifference(_ a: FunctionReport, _ g: FunctionReport) -> String {
    if a.error != g.error { return "error \(a.error ?? "nil") vs golden \(g.error ?? "nil")" }
    if a.data.count != g.data.count { return "\(a.data.count) rows vs golden \(g.data.count)" }
    for (i, (ra, rg)) in zip(a.data, g.data).enumerated() where ra != rg {
        let keys = Set(ra.keys).union(rg.keys).sorted()
        for k in keys where ra[k] != rg[k] {
            return "row \(i) key \(k): \(ra[k].map { $0.encoded() } ?? "absent") vs golden \(rg[k].map { $0.encoded() } ?? "absent")"
        }
        return "row \(i): key order differs"
    }
    return "datetime"
}

@Suite(.serialized) struct ReportGoldenTests {
    static let trees = ["machine-a", "machine-b", "machine-c", "machine-d"]

    @Test(arguments: trees)
    func reportOnFixtureTreeMatchesGolden(tree: String) throws {
        let root = TestPaths.fixture(tree)
        try #require(access(root + "/proc", F_OK) == 0, "fixture tree \(tree) is missing")
        let tmp = makeTempDirectory()
        let p = try ChildProcess([shdBinary, "report", "--proc-root", root + "/proc", "--sys-root", root + "/sys",
                                  "--etc-root", root + "/etc", "--sample-interval", "0", "--pretty",
                                  "--fixed-time", "2026-11-25T08:00:00.000000+00:00"], outputDirectory: tmp)
        #expect(p.wait(timeout: 60) == 0, "stderr: \(p.stderr)")
        let actual = normalised(try JSONValue.parse(p.stdout), root: root)
        let goldenPath = TestPaths.packageRoot + "/Tests/DaemonTests/Golden/\(tree).json"
        if getenv("SHD_UPDATE_GOLDEN") != nil {
            writeText(goldenPath, actual.encoded(pretty: true) + "\n")
        }
        let golden = try JSONValue.parse(readText(goldenPath))
        // Compare worker by worker so a failure names the part that changed.
        let a = try DaemonReport(json: actual), g = try DaemonReport(json: golden)
        #expect(a.workerReports.map(\.name) == g.workerReports.map(\.name))
        for (wa, wg) in zip(a.workerReports, g.workerReports) {
            #expect(wa.functionReports.map(\.name) == wg.functionReports.map(\.name), "\(tree): \(wa.name) functions")
            for (fa, fg) in zip(wa.functionReports, wg.functionReports) where fa != fg {
                Issue.record("\(tree): \(wa.name).\(fa.name) differs from the golden file: \(rowDifference(fa, fg)) (SHD_UPDATE_GOLDEN=1 swift test --filter ReportGoldenTests regenerates it)")
            }
        }
    }
}

@Suite struct LiveReportTests {
    @Test func reportOnThisMachineHasEveryWorkerAndSaneValues() throws {
        let tmp = makeTempDirectory()
        let p = try ChildProcess([shdBinary, "report", "--sample-interval", "0.2"], outputDirectory: tmp)
        #expect(p.wait(timeout: 60) == 0, "stderr: \(p.stderr)")
        let report = try DaemonReport(json: JSONValue.parse(p.stdout))
        #expect(report.workerReports.map(\.name) == ["cpu", "load", "memory", "pressure", "disk", "network", "processes", "hardware", "system", "systemd"])
        var checked = 0
        let cpuCount = max(1, (report.function(worker: "cpu", function: "times")?.data.count ?? 2) - 1)
        for w in report.workerReports {
            for f in w.functionReports {
                #expect(f.error == nil, "\(w.name).\(f.name) failed: \(f.error ?? "")")
                for row in f.data {
                    for (k, v) in row {
                        guard let n = v.number else { continue }
                        checked += 1
                        #expect(n.isFinite, "\(w.name).\(f.name).\(k) is not finite")
                        // processes.top cpu_percent is in percent of one core: a busy multi-threaded
                        // process (a compiler on this machine) goes past 100, up to 100 per CPU.
                        let ceiling = (w.name == "processes" && k == "cpu_percent") ? 100.0 * Double(cpuCount) : 100.0
                        if k.hasSuffix("_percent") {
                            #expect(n >= 0 && n <= ceiling + 0.0001, "\(w.name).\(f.name).\(k) = \(n) is outside 0–\(ceiling)")
                        }
                        if k.hasSuffix("_total") || k.hasSuffix("_bytes") {
                            #expect(n >= 0, "\(w.name).\(f.name).\(k) = \(n) is negative")
                        }
                    }
                }
            }
        }
        #expect(checked > 100, "only \(checked) numeric fields in the live report")
        let cpus = report.function(worker: "cpu", function: "times")?.data.count ?? 0
        #expect(cpus >= 2, "cpu.times should have a total row and one per CPU")
    }

    /// `shd report --rules DIR` has the rows of what DIR declares: a process watch on a process this test starts,
    /// a file watch and an HTTP probe against a server on 127.0.0.1 (run once, within its timeout).
    @Test func reportWithDeclarationsHasTheirRows() throws {
        let tmp = makeTempDirectory("shd-report-decl")
        defer { _ = runShell("rm -rf '\(tmp)'") }
        let web = try LocalHTTPServer()
        defer { web.stop() }
        web.defaultResponse = .status(200, body: "all systems ok")
        let marker = "shd-report-decl-\(getpid())"
        let sleeper = try ChildProcess(["/bin/bash", "-c", "exec -a \(marker) sleep 60"], outputDirectory: tmp)
        defer { sleeper.signal(SIGKILL); _ = sleeper.wait(timeout: 5) }
        #expect(ChildProcess.waitFor(10) { readText("/proc/\(sleeper.pid)/cmdline").hasPrefix(marker) }, "the shell exec'd")
        writeText(tmp + "/watched.txt", "hello\n")
        let rules = tmp + "/rules.d"
        mkdir(rules, 0o755)
        writeText(rules + "/decl.rules", """
            watch sleeper process { cmdline "^\(marker)" }
            watch notes file { path "\(tmp)/watched.txt" checksum true }
            probe web http { url "\(web.url)/health" body_regex "systems ok" timeout 2s }
            """)
        let p = try ChildProcess([shdBinary, "report", "--rules", rules, "--sample-interval", "0"], outputDirectory: tmp)
        #expect(p.wait(timeout: 30) == 0, "\(p.stderr)")
        let r = try DaemonReport(json: JSONValue.parse(p.stdout))
        let watched = try #require(r.function(worker: "processes", function: "watched")?.data.first, "\(p.stdout.prefix(500))")
        #expect(watched["watch"] == "sleeper" && watched["running"] == .int(1), "\(watched)")
        #expect(watched["main_pid"] == .int(Int64(sleeper.pid)))
        let file = try #require(r.function(worker: "files", function: "watched")?.data.first)
        #expect(file["watch"] == "notes" && file["exists"] == .bool(true) && file["size_bytes"] == .int(6), "\(file)")
        #expect(file["sha256"] == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        let probe = try #require(r.workerReports.first { $0.name == "probes" }?.functionReports.first { $0.name == "http" }?.data.first)
        #expect(probe["probe"] == "web" && probe["up"] == .bool(true) && probe["status"] == .int(200), "\(probe)")
        #expect(web.requests.count == 1, "the probe ran once")

        // Without the flags, no declarations are read: the report is as before.
        let plain = try ChildProcess([shdBinary, "report", "--sample-interval", "0"], outputDirectory: tmp)
        #expect(plain.wait(timeout: 30) == 0)
        let pr = try DaemonReport(json: JSONValue.parse(plain.stdout))
        #expect(pr.function(worker: "processes", function: "watched") == nil && !pr.workerReports.contains { $0.name == "probes" })
        // A configuration that does not check: its errors, exit 1, no report.
        writeText(rules + "/decl.rules", "watch sleeper process { cmdline 12 }\n")
        let bad = try ChildProcess([shdBinary, "report", "--rules", rules], outputDirectory: tmp)
        #expect(bad.wait(timeout: 30) == 1)
        #expect(bad.stdout.isEmpty && bad.stderr.contains("decl.rules:1"), "\(bad.stderr)")
    }

    /// In a network namespace of its own whose sysfs is not remounted (`unshare --net`), /sys/class/net shows the
    /// interfaces of the namespace that mounted sysfs, not shd's. The link state comes from rtnetlink, as in the
    /// daemon: the new namespace's lo is down (no carrier), whatever the host's lo in sysfs says; with
    /// SHD_KERNEL_EVENTS=0 (sysfs each cycle) the row says what the host's sysfs file says.
    @Test(.enabled(if: geteuid() == 0 && access("/usr/bin/unshare", X_OK) == 0, "needs root and unshare(1) for a network namespace"))
    func linkStateIsThatOfShdsOwnNetworkNamespace() throws {
        let tmp = makeTempDirectory()
        func lo(_ environment: [String: String]) throws -> JSONObject? {
            let p = try ChildProcess(["/usr/bin/unshare", "--net", shdBinary, "report", "--worker", "network", "--sample-interval", "0"],
                                     environment: ChildProcess.inheritedEnvironment().merging(environment) { $1 }, outputDirectory: tmp)
            #expect(p.wait(timeout: 30) == 0, "stderr: \(p.stderr)")
            let r = try DaemonReport(json: JSONValue.parse(p.stdout))
            let rows = r.function(worker: "network", function: "interfaces")?.data ?? []
            #expect(rows.map { $0["name"] } == [.string("lo")], "a new namespace has only lo: \(rows)")
            return rows.first
        }
        let events = try lo([:])
        #expect(events?["operstate"] == .string("down"), "\(String(describing: events))")
        #expect(events?["carrier"] == nil, "no carrier while administratively down: \(String(describing: events))")
        let hostSysfs = String(readText("/sys/class/net/lo/operstate").prefix { $0 != "\n" })
        let sysfs = try lo(["SHD_KERNEL_EVENTS": "0"])
        #expect(sysfs?["operstate"] == .string(hostSysfs), "\(String(describing: sysfs))")
    }

    @Test func workerFilterAndUsageErrors() throws {
        let tmp = makeTempDirectory()
        let p = try ChildProcess([shdBinary, "report", "--worker", "load", "--sample-interval", "0"], outputDirectory: tmp)
        #expect(p.wait(timeout: 30) == 0)
        let r = try DaemonReport(json: JSONValue.parse(p.stdout))
        #expect(r.workerReports.map(\.name) == ["load"])
        let bad = try ChildProcess([shdBinary, "report", "--worker", "cpux"], outputDirectory: tmp)
        #expect(bad.wait(timeout: 30) == 2)
        // The command table knows the worker names: a usage error before anything is collected.
        #expect(bad.stderr == "shd report: invalid value 'cpux' for '--worker': expected cpu, load, memory, pressure, disk, network, processes, hardware, system or systemd; see shd report --help\n")
    }
}
