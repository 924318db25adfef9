// Fuzz target: the rule language (lexer, parser, checker against the real worker catalog), the three
// diagnostic printers, and — when a rule set checks clean — the evaluator and templates on a fixed report.
import Reports
import Rules
import Workers

/// A report from the machine-a fixture when the fuzzer runs from the repository root, else a tiny synthetic one.
let fixedReport: DaemonReport = {
    let root = "Tests/WorkersTests/Fixtures/machine-a"
    let roots = SourceRoots(proc: root + "/proc", sys: root + "/sys", etc: root + "/etc")
    let now = Timestamp(microseconds: 1_790_000_000_000_000)
    let workers = WorkerRegistry.makeAll().map { $0.collect(roots: roots, options: WorkerOptions(), now: now) }
    return DaemonReport(datetime: now, host: "fuzz", workerReports: workers)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRules(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let result = RuleSetLoader.load(sources: [("fuzz.rules", text)], catalog: WorkerRegistry.catalog)
    _ = DiagnosticPrinter.text(result.diagnostics, sources: result.sources, color: true)
    _ = DiagnosticPrinter.json(result.diagnostics)
    _ = DiagnosticPrinter.github(result.diagnostics)
    if let config = result.configuration, !result.hasErrors {
        let engine = Engine(configuration: config)
        var now = fixedReport.datetime
        for _ in 0..<3 {
            _ = engine.evaluate(report: fixedReport, now: now)
            now = Timestamp(microseconds: now.microseconds + 61_000_000)
        }
        let state = engine.exportState()
        let again = Engine(configuration: config)
        do { _ = try again.importState(state, now: now) } catch { fatalError("exported state does not import: \(error)") }
    }
    return 0
}
