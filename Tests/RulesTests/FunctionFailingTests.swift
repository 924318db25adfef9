// A kernel file gone from a real tree reaches the shipped shd_function_failing rule: worker error → system.errors → alert.
import Alerting
import Reports
import TestSupport
import Testing
import Workers
@testable import Rules

@Suite struct FunctionFailingTests {
    /// machine-a without /proc/diskstats, collected as the daemon does (Worker.collect, then
    /// SelfAccounting.record), a minute apart for 12 minutes, through the shipped rules.
    @Test func missingDiskstatsFiresShdFunctionFailing() throws {
        let dir = makeTempDirectory("shd-failing")
        defer { runShell("rm -rf '\(dir)'") }
        try #require(runShell("cp -a '\(TestPaths.fixture("machine-a"))/.' '\(dir)/' && rm '\(dir)/proc/diskstats'") == 0)
        let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
        let config = try #require(RuleSetLoader.load(paths: [TestPaths.packageRoot + "/rules.d"],
                                                     catalog: WorkerRegistry.catalog).configuration)
        let engine = Engine(configuration: config)
        let accounting = SelfAccounting()
        let disk = try #require(WorkerRegistry.make("disk"))
        let system = SystemWorker.make(accounting: accounting)
        var events: [AlertEvent] = []
        var firedAtMinute: Int?
        for minute in 0...12 {
            let now = TestCatalog.t0.adding(seconds: Double(minute) * 60)
            let d = disk.collect(roots: roots, options: WorkerOptions(), now: now)
            accounting.record(d)
            let s = system.collect(roots: roots, options: WorkerOptions(), now: now)
            let new = engine.evaluate(report: DaemonReport(datetime: now, workerReports: [d, s]), now: now)
            if firedAtMinute == nil, new.contains(where: { $0.rule == "shd_function_failing" }) { firedAtMinute = minute }
            events += new
        }
        let errors = dir + "/proc/diskstats: No such file or directory"
        let firing = events.filter { $0.rule == "shd_function_failing" && $0.kind == .firing }
        #expect(firing.count == 1, "\(events.map { "\($0.rule) \($0.kind): \($0.summary)" })")
        #expect(firing.first?.summary == "shd cannot collect disk.io: \(errors)")
        // It waits its `for 10m`: nothing before minute 10.
        #expect(firedAtMinute == 10)
        // disk.filesystems still works, so it does not fire for that one.
        #expect(!events.contains { $0.summary.contains("disk.filesystems") })
    }
}
