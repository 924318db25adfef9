// The shipped rules over real worker output (machine-a), and every fixture tree's function errors: exactly its documented ones.
import Alerting
import Reports
import TestSupport
import Testing
import Workers
@testable import Rules

@Suite struct FixtureMachineTests {
    /// The function errors each fixture tree is documented to have (its README's "Not here" list), as
    /// `worker.function: error` with the tree's path as `$TREE`. Any other error, or a listed one that does
    /// not happen, fails the test.
    static let documentedErrors: [String: [String: String]] = [
        "machine-a": [:],
        "machine-b": [:],
        "machine-c": [
            "disk.io": missing("$TREE/sys/class/block/", "\(Self.diskstatsDevices)", ""),
            "network.interfaces": "$TREE/proc/net/dev: No such file or directory",
            "network.sockets": "$TREE/proc/net/tcp: No such file or directory",
            "network.listening": "$TREE/proc/net/tcp: No such file or directory; $TREE/proc/net/udp6: No such file or directory",
            "system.info": "$TREE/proc/sys/kernel/hostname: No such file or directory; "
                + "$TREE/proc/sys/kernel/osrelease: No such file or directory; $TREE/proc/uptime: No such file or directory",
            "system.self": "$TREE/proc/self/status: No such file or directory",
        ],
        "machine-d": [
            "disk.io": missing("$TREE/sys/class/block/", "\(Self.diskstatsDevices) sdc2", ""),
            "memory.vm": "$TREE/proc/vmstat: No such file or directory",
            "network.interfaces": missing("$TREE/sys/class/net/", "vethf345468 lo docker0", "/operstate", "/mtu"),
            "processes.summary": "$TREE/proc/sys/fs/file-nr: No such file or directory",
            "system.info": "$TREE/proc/sys/kernel/hostname: No such file or directory; "
                + "$TREE/proc/sys/kernel/osrelease: No such file or directory; $TREE/proc/uptime: No such file or directory",
        ],
    ]

    /// node_exporter's diskstats devices (machine-c; machine-d adds sdc2), none of them in the tree's sys/class/block.
    static let diskstatsDevices = "sda sda1 sda2 sda3 sda4 dm-0 dm-1 dm-2 dm-3 dm-4 dm-5 mmcblk0 mmcblk0p1 mmcblk0p2 fd0 vda vda1 vda2 nvme0n1 nvme0n1p1 nvme0n1p2 sdb sdb1 sdb2 sdc sdc1"

    /// `PREFIX NAME SUFFIX: No such file or directory` for each name and suffix, joined as a function joins its errors.
    static func missing(_ prefix: String, _ names: String, _ suffixes: String...) -> String {
        names.split(separator: " ").flatMap { n in suffixes.map { prefix + n + $0 + ": No such file or directory" } }
            .joined(separator: "; ")
    }

    /// One daemon report of every worker reading a fixture tree.
    static func collect(_ workers: [Worker], tree: String = "machine-a", at seconds: Double) -> DaemonReport {
        let base = TestPaths.fixture(tree)
        let roots = SourceRoots(proc: base + "/proc", sys: base + "/sys", etc: base + "/etc")
        let now = TestCatalog.t0.adding(seconds: seconds)
        var reports: [WorkerReport] = []
        for w in workers {
            var frs: [FunctionReport] = []
            for f in w.functions {
                let ctx = CollectContext(roots: roots, options: WorkerOptions(), now: now, monotonic: seconds)
                do {
                    frs.append(FunctionReport(name: f.name, datetime: now, data: try f.collect(ctx)))
                } catch {
                    frs.append(FunctionReport(name: f.name, datetime: now, data: [], error: "\(error)"))
                }
            }
            reports.append(WorkerReport(name: w.name, datetime: now, functionReports: frs))
        }
        return DaemonReport(datetime: now, workerReports: reports)
    }

    /// The report's function errors as `worker.function: error`, the tree's path written `$TREE`.
    static func errors(_ report: DaemonReport, tree: String) -> [String: String] {
        var out: [String: String] = [:]
        for w in report.workerReports {
            for f in w.functionReports {
                if let e = f.error { out[w.name + "." + f.name] = e.replacing(TestPaths.fixture(tree), with: "$TREE") }
            }
        }
        return out
    }

    @Test(arguments: ["machine-a", "machine-b", "machine-c", "machine-d"])
    func functionErrorsAreExactlyTheDocumentedOnes(tree: String) throws {
        let report = Self.collect(WorkerRegistry.makeAll(), tree: tree, at: 0)
        #expect(Self.errors(report, tree: tree) == Self.documentedErrors[tree])
    }

    @Test func shippedRulesEvaluateRealRowsWithoutSurprises() throws {
        let config = try #require(RuleSetLoader.load(paths: [TestPaths.packageRoot + "/rules.d"], catalog: WorkerRegistry.catalog).configuration)
        let engine = Engine(configuration: config)
        let workers = WorkerRegistry.makeAll()
        let first = Self.collect(workers, at: 0)
        // Every function collected: an error here would leave its rules nothing to look at.
        #expect(Self.errors(first, tree: "machine-a") == [:])
        // The fixture was really read: filesystems and interfaces have rows.
        #expect(!(first.function(worker: "disk", function: "filesystems")?.data.isEmpty ?? true))
        #expect(!(first.function(worker: "network", function: "interfaces")?.data.isEmpty ?? true))
        var events: [AlertEvent] = []
        // An hour of identical readings a minute apart: rates are zero, windows fill, predictions settle.
        for m in 0...60 { events += engine.evaluate(report: Self.collect(workers, at: Double(m) * 60), now: TestCatalog.t0.adding(seconds: Double(m) * 60)) }
        // Whatever fires must be explained by the fixture's own readings, rendered without `?` holes.
        for e in events { #expect(!e.summary.contains("?"), "\(e.rule): \(e.summary)") }
        // The machine the fixture was copied from was healthy: no crit alerts.
        #expect(!events.contains { $0.severity == .crit }, "\(events.map { "\($0.rule) \($0.severity): \($0.summary)" })")
        // Every rule that has rows to look at created instances for them.
        #expect(engine.instanceCount > 0)
    }
}
