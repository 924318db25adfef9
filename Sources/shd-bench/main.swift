// shd-bench: in-process benchmarks of the rule engine (issue #3; see BENCHMARKS.md and scripts/bench-rules).
//
//   shd-bench evaluate --rules PATH... --report FILE [--iterations N] [--warmup N]
//       Loads and checks the rules (timed, in process), decodes a daemon report written by
//       `shd report`, evaluates every rule against it WARMUP times (one simulated second apart, so
//       rates and windows have history), then ITERATIONS more, timing each evaluation.
//   shd-bench encode --report FILE [--iterations N]
//       What writing STATE_DIR/report.json costs a tick: DaemonReport.json (the JSON tree) and
//       JSONValue.encoded() (the text), timed separately, per call.
//   shd-bench allocations --rules PATH... [--proc-root DIR --sys-root DIR --etc-root DIR] [--ticks N] [--warmup N]
//       Heap allocations per steady-state tick and per evaluation, counted by bench/malloc-count.c
//       (LD_PRELOAD): the daemon's tick (every worker, only the functions the rules read), then one
//       evaluation of the composed report, WARMUP times, then TICKS more counted. On a fixture tree the
//       data does not change between ticks. Prints `tick N` and `evaluation N` (allocations each, mean).
//   shd-bench instances --count N [--window SECONDS]
//       Memory per alert instance: one rule firing on every row of a synthetic processes.top with N
//       rows; anonymous memory (smaps_rollup) and RSS before and after. With --window, the rule keeps a
//       window of that many seconds and is evaluated that many times first (history per instance).
import Kit
import Reports
import Rules
import Workers
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    var m = "shd-bench: " + message + "\n"
    m.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func cpuSeconds() -> Double {
    var ru = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
    return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
}

func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { fail("cannot open \(path)") }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return out
}

/// Resident set size in kB (/proc/self/statm).
func rssKB() -> Int {
    let text = String(decoding: readFile("/proc/self/statm"), as: UTF8.self)
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
}

/// Anonymous memory in kB (/proc/self/smaps_rollup "Anonymous:"): the heap, without file pages.
func anonymousKB() -> Int {
    let text = String(decoding: readFile("/proc/self/smaps_rollup"), as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix("Anonymous:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

func fmt(_ x: Double, _ digits: Int = 1) -> String {
    var p: Double = 1
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

func say(_ s: String) { print(s) }

struct Args {
    var rest: [String]
    init() { rest = Array(CommandLine.arguments.dropFirst()) }
    mutating func next() -> String? { rest.isEmpty ? nil : rest.removeFirst() }
    mutating func value(_ flag: String) -> String {
        guard let v = next() else { fail("\(flag) needs a value") }
        return v
    }
}

func evaluateCommand(_ a: inout Args) {
    var rules: [String] = []
    var reportPath: String?
    var iterations = 1000
    var warmup = 60
    while let f = a.next() {
        switch f {
        case "--rules": rules.append(a.value(f))
        case "--report": reportPath = a.value(f)
        case "--iterations": iterations = Int(a.value(f)) ?? iterations
        case "--warmup": warmup = Int(a.value(f)) ?? warmup
        default: fail("unknown option \(f)")
        }
    }
    guard !rules.isEmpty, let reportPath else { fail("evaluate needs --rules PATH and --report FILE") }

    let catalog = WorkerRegistry.catalog
    let t0 = monotonicSeconds()
    let loaded = RuleSetLoader.load(paths: rules, catalog: catalog)
    let loadMs = (monotonicSeconds() - t0) * 1e3
    guard let config = loaded.configuration, !loaded.hasErrors else {
        fail("the rules have \(loaded.errorCount) error(s); run shd --check-rules \(rules.joined(separator: " "))")
    }
    let json: JSONValue
    do { json = try JSONValue.parse(bytes: readFile(reportPath)) } catch { fail("\(reportPath): \(error)") }
    let base: DaemonReport
    do { base = try DaemonReport(json: json) } catch { fail("\(reportPath): \(error)") }
    let rows = base.workerReports.reduce(0) { $0 + $1.functionReports.reduce(0) { $0 + $1.data.count } }
    say("rules: \(config.rules.count) from \(rules.joined(separator: " ")) (load + check in process: \(fmt(loadMs, 2)) ms)")
    say("report: \(reportPath): \(base.workerReports.count) workers, \(rows) rows")

    let engine = Engine(configuration: config)
    var now = Timestamp(microseconds: base.datetime.microseconds)
    var events = 0
    for _ in 0..<warmup {
        now = now.adding(seconds: 1)
        events += engine.evaluate(report: base, now: now).count
    }
    var times: [Double] = []
    times.reserveCapacity(iterations)
    let c0 = cpuSeconds()
    let w0 = monotonicSeconds()
    for _ in 0..<iterations {
        now = now.adding(seconds: 1)
        let s = monotonicSeconds()
        events += engine.evaluate(report: base, now: now).count
        times.append(monotonicSeconds() - s)
    }
    let wall = monotonicSeconds() - w0
    let cpu = cpuSeconds() - c0
    times.sort()
    let med = times[times.count / 2] * 1e6
    let p99 = times[min(times.count - 1, times.count * 99 / 100)] * 1e6
    say("evaluations: \(warmup) warm-up + \(iterations) timed, one simulated second apart; \(events) alert events; \(engine.instanceCount) instances held")
    say("per evaluation: median \(fmt(med)) us, p99 \(fmt(p99)) us, max \(fmt(times.last! * 1e6)) us, mean wall \(fmt(wall / Double(iterations) * 1e6)) us, mean CPU \(fmt(cpu / Double(iterations) * 1e6)) us")
    say("per rule: \(fmt(med / Double(config.rules.count) * 1000, 0)) ns (median evaluation / rules)")
}

func instancesCommand(_ a: inout Args) {
    var count = 10000
    var window = 0
    while let f = a.next() {
        switch f {
        case "--count": count = Int(a.value(f)) ?? count
        case "--window": window = Int(a.value(f)) ?? window
        default: fail("unknown option \(f)")
        }
    }
    let source: String
    if window > 0 {
        source = """
        rule inst on processes.top {
          warn avg(cpu_percent, \(window)s) >= 0
          summary "{name} ({pid}, {user}) uses {cpu_percent}% CPU"
        }

        """
    } else {
        source = """
        rule inst on processes.top {
          warn cpu_percent >= 0
          summary "{name} ({pid}, {user}) uses {cpu_percent}% CPU"
        }

        """
    }
    let loaded = RuleSetLoader.load(sources: [("inst.rules", source)], catalog: WorkerRegistry.catalog)
    guard let config = loaded.configuration, !loaded.hasErrors else { fail("instance rule does not check: \(loaded.diagnostics)") }
    let t = Timestamp(microseconds: 1_795_000_000_000_000)
    var rows: [Row] = []
    rows.reserveCapacity(count)
    for i in 0..<count {
        var r = Row()
        r.append("pid", .int(Int64(10000 + i)))
        r.append("name", .string("proc-\(i)"))
        r.append("user", .string("user\(i % 50)"))
        r.append("rank_by", .string("cpu"))
        r.append("rank", .int(Int64(i + 1)))
        r.append("cpu_percent", .double(Double(i % 100) / 3))
        r.append("rss_bytes", .int(Int64(1_000_000 + i)))
        r.append("threads", .int(4))
        rows.append(r)
    }
    let report = DaemonReport(datetime: t, workerReports: [
        WorkerReport(name: "processes", datetime: t, functionReports: [FunctionReport(name: "top", datetime: t, data: rows)]),
    ])
    let engine = Engine(configuration: config)
    let anon0 = anonymousKB(), rss0 = rssKB()
    var now = t
    var events = 0
    for _ in 0..<max(1, window) {
        now = now.adding(seconds: 1)
        events += engine.evaluate(report: report, now: now).count
    }
    let anon1 = anonymousKB(), rss1 = rssKB()
    let n = engine.instanceCount
    say("instances: \(n) (\(events) firing events), rule \(window > 0 ? "with avg(cpu_percent, \(window)s), \(window) evaluations" : "plain threshold, 1 evaluation")")
    say("anonymous memory: \(anon0) -> \(anon1) kB: \(fmt(Double(anon1 - anon0) * 1024 / Double(max(n, 1)), 0)) bytes per instance")
    say("RSS: \(rss0) -> \(rss1) kB: \(fmt(Double(rss1 - rss0) * 1024 / Double(max(n, 1)), 0)) bytes per instance")
    withExtendedLifetime(engine) {}
}

func encodeCommand(_ a: inout Args) {
    var reportPath: String?
    var iterations = 2000
    while let f = a.next() {
        switch f {
        case "--report": reportPath = a.value(f)
        case "--iterations": iterations = Int(a.value(f)) ?? iterations
        default: fail("unknown option \(f)")
        }
    }
    guard let reportPath else { fail("encode needs --report FILE") }
    let report: DaemonReport
    do { report = try DaemonReport(json: JSONValue.parse(bytes: readFile(reportPath))) } catch { fail("\(reportPath): \(error)") }
    var bytes = 0
    var tree: [Double] = [], text: [Double] = [], stamp: [Double] = []
    for _ in 0..<iterations {
        let t0 = monotonicSeconds()
        let j = report.json
        let t1 = monotonicSeconds()
        bytes = j.encoded().utf8.count
        let t2 = monotonicSeconds()
        var n = 0
        for w in report.workerReports { n += w.datetime.rfc3339.utf8.count; for f in w.functionReports { n += f.datetime.rfc3339.utf8.count } }
        let t3 = monotonicSeconds()
        if n == 0 { fail("no timestamps") }
        tree.append(t1 - t0); text.append(t2 - t1); stamp.append(t3 - t2)
    }
    func med(_ x: [Double]) -> Double { x.sorted()[x.count / 2] * 1e6 }
    let stamps = report.workerReports.reduce(report.workerReports.count) { $0 + $1.functionReports.count }
    say("report: \(reportPath), \(bytes) bytes encoded, \(iterations) iterations")
    say("DaemonReport.json (tree): median \(fmt(med(tree))) us; JSONValue.encoded(): median \(fmt(med(text))) us; "
        + "\(stamps) Timestamp.rfc3339 alone: median \(fmt(med(stamp))) us (\(fmt(med(stamp) / Double(stamps), 2)) us each)")
}

/// The preloaded counter's `shd_malloc_count`, or nil without it.
let mallocCount: (@convention(c) () -> UInt64)? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "shd_malloc_count")
    .map { unsafeBitCast($0, to: (@convention(c) () -> UInt64).self) }

func allocationsCommand(_ a: inout Args) {
    var rules: [String] = []
    var roots = SourceRoots()
    var ticks = 100
    var warmup = 20
    while let f = a.next() {
        switch f {
        case "--rules": rules.append(a.value(f))
        case "--proc-root": roots.proc = a.value(f)
        case "--sys-root": roots.sys = a.value(f)
        case "--etc-root": roots.etc = a.value(f)
        case "--ticks": ticks = Int(a.value(f)) ?? ticks
        case "--warmup": warmup = Int(a.value(f)) ?? warmup
        default: fail("unknown option \(f)")
        }
    }
    guard let count = mallocCount else { fail("run with LD_PRELOAD=libmalloc-count.so (cc -shared -fPIC -O2 -o libmalloc-count.so bench/malloc-count.c)") }
    guard !rules.isEmpty else { fail("allocations needs --rules PATH") }
    let loaded = RuleSetLoader.load(paths: rules, catalog: WorkerRegistry.catalog)
    guard let config = loaded.configuration, !loaded.hasErrors else { fail("the rules have \(loaded.errorCount) error(s)") }
    var inUse: [String: Set<String>] = [:]
    for r in config.rules { inUse[r.worker, default: []].insert(r.function) }
    let workers = WorkerRegistry.makeAll()
    var options = WorkerOptions()
    options.tcpStateCounts = false
    let engine = Engine(configuration: config)
    var latest: [String: WorkerReport] = [:]
    var clock = Timestamp.now()
    // One full collection first, as the daemon's first tick.
    for w in workers { latest[w.name] = w.collect(roots: roots, options: options, now: clock) }
    var tickAllocs: UInt64 = 0, evalAllocs: UInt64 = 0
    for i in 0..<(warmup + ticks) {
        clock = clock.adding(seconds: 1)
        let c0 = count()
        for w in workers {
            guard let only = inUse[w.name], !only.isEmpty else { continue }
            latest[w.name] = w.collect(roots: roots, options: options, now: clock, only: only, previous: latest[w.name])
        }
        let c1 = count()
        let report = DaemonReport(datetime: clock, host: "bench", workerReports: workers.compactMap { latest[$0.name] })
        _ = engine.evaluate(report: report, now: clock)
        let c2 = count()
        if i >= warmup {
            tickAllocs += c1 - c0
            evalAllocs += c2 - c1
        }
    }
    say("rules: \(config.rules.count); functions read each tick: \(inUse.values.reduce(0) { $0 + $1.count }); proc root \(roots.proc); \(ticks) ticks after \(warmup) warm-up")
    say("tick \(tickAllocs / UInt64(ticks))")
    say("evaluation \(evalAllocs / UInt64(ticks))")
    // Where a tick's allocations go: each function alone (one more collection of it, after the others).
    for w in workers {
        for f in w.functions where inUse[w.name]?.contains(f.name) == true {
            clock = clock.adding(seconds: 1)
            let c0 = count()
            latest[w.name] = w.collect(roots: roots, options: options, now: clock, only: [f.name], previous: latest[w.name])
            say("  \(w.name).\(f.name) \(count() - c0)")
        }
    }
}

var args = Args()
switch args.next() {
case "evaluate": evaluateCommand(&args)
case "instances": instancesCommand(&args)
case "encode": encodeCommand(&args)
case "allocations": allocationsCommand(&args)
default: fail("usage: shd-bench allocations --rules PATH [--proc-root DIR …] [--ticks N] | evaluate --rules PATH --report FILE [--iterations N] [--warmup N] | encode --report FILE [--iterations N] | instances --count N [--window SECONDS]")
}
