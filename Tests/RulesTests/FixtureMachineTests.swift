// The shipped rules over real worker output: the workers run on the machine-a fixture tree and the engine evaluates it.
import Testing
import Reports
import TestSupport
import Workers
@testable import Rules

@Suite struct FixtureMachineTests {
    /// One daemon report of every worker reading the fixture tree.
    static func collect(_ workers: [Worker], at seconds: Double) -> DaemonReport {
        let roots = SourceRoots(proc: TestPaths.fixture("machine-a") + "/proc", sys: TestPaths.fixture("machine-a") + "/sys",
                                etc: TestPaths.fixture("machine-a") + "/etc")
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

    @Test func shippedRulesEvaluateRealRowsWithoutSurprises() throws {
        let config = try #require(RuleSetLoader.load(paths: [TestPaths.packageRoot + "/rules.d"], catalog: WorkerRegistry.catalog).configuration)
        let engine = Engine(configuration: config)
        let workers = WorkerRegistry.makeAll()
        let first = Self.collect(workers, at: 0)
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
