// Rule tests: the .test file language and its runner — samples at times in, expected alert states and events out.
// Over 400 lines: the .test language and its runner share one sample model (a split into parser and runner is the natural next cut).
#if canImport(Glibc)
import Alerting
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Reports

/// One parsed `.test` file.
struct RuleTestFile {
    struct Step {
        var time: Double
        /// (worker, function) → rows; an `error` entry marks the function as failed at this step.
        var data: [(worker: String, function: String, rows: [Row], error: String?)]
        /// Event entries at this step (TestEvents.swift), each at its offset after `time`.
        var entries: [TestEntry] = []
    }
    enum ExpectKind: Equatable {
        case state(AlertState)
        case event(AlertEvent.Kind)
        case silent
        /// A pending or firing instance that `inhibited by` holds back.
        case inhibited
        /// A firing instance held by flapping.
        case flapping
    }
    struct Expectation {
        var from: Double
        var to: Double
        var kind: ExpectKind
        var rule: String?
        var severity: Severity?
        var labels: [String: String]
        var location: SourceLocation
        var text: String
    }
    struct Case {
        var name: String
        var steps: [Step] = []
        var expectations: [Expectation] = []
        var location: SourceLocation
    }
    var path: String
    var rules: [String] = []
    var cases: [Case] = []
}

/// Parses the test-file language (same lexer as rules files).
struct RuleTestParser {
    var tokens: [Token]
    var p = 0
    /// Event entries of the step body being parsed.
    var stepEntries: [TestEntry] = []
    var diagnostics: [Diagnostic] = []
    let file: String

    /// When given, sample rows are checked against it: a misspelt field would make a "stays silent" test pass vacuously.
    let catalog: Catalog?

    init(file: String, bytes: [UInt8], catalog: Catalog? = nil) {
        self.catalog = catalog
        var lexer = Lexer(file: file, bytes: bytes)
        tokens = lexer.tokenize()
        diagnostics = lexer.diagnostics
        self.file = file
    }

    var tok: Token { tokens[p] }
    mutating func advance() -> Token {
        let t = tokens[p]
        if p < tokens.count - 1 { p += 1 }
        return t
    }

    mutating func fail(_ message: String, _ t: Token) -> ParseAbort {
        diagnostics.append(Diagnostic(.badTest, message, at: t.location, length: t.length))
        return ParseAbort()
    }

    mutating func expect(_ punct: String, _ context: String) throws(ParseAbort) {
        guard tok.isPunct(punct) else { throw fail("expected `\(punct)` \(context)", tok) }
        _ = advance()
    }

    mutating func time() throws(ParseAbort) -> Double {
        let t = tok
        guard t.kind == .number, t.unit == .duration || (t.unit == .none && t.number == 0) else {
            throw fail("expected a time offset like `0s`, `5m` or `1h30m`", t)
        }
        // Offsets past a century would overflow the timestamps; no test needs them.
        guard t.number <= 100 * 365 * 86400 else { throw fail("time offsets are limited to 100 years", t) }
        _ = advance()
        return t.number
    }

    mutating func parse() -> RuleTestFile {
        var f = RuleTestFile(path: file)
        while tok.kind != .eof {
            let start = p
            do throws(ParseAbort) {
                if tok.isWord("rules") {
                    _ = advance()
                    guard tok.kind == .string else { throw fail("expected a path string after `rules`", tok) }
                    f.rules.append(advance().text)
                } else if tok.isWord("test") {
                    f.cases.append(try parseCase())
                } else {
                    throw fail("expected `rules \"path\"` or `test \"name\" { … }`", tok)
                }
            } catch {
                if p == start { _ = advance() }
                while tok.kind != .eof && !(tok.startsLine && (tok.isWord("test") || tok.isWord("rules"))) { _ = advance() }
            }
        }
        return f
    }

    mutating func parseCase() throws(ParseAbort) -> RuleTestFile.Case {
        let kw = advance()
        guard tok.kind == .string else { throw fail("expected the test name as a string after `test`", tok) }
        var c = RuleTestFile.Case(name: advance().text, location: kw.location)
        try expect("{", "to open the test")
        while !tok.isPunct("}") {
            if tok.kind == .eof { throw fail("expected `}` to close test \"\(c.name)\"", tok) }
            if tok.isWord("at") {
                _ = advance()
                let t = try time()
                stepEntries = []
                c.steps.append(RuleTestFile.Step(time: t, data: RuleTestParser.expand(try parseStepBody(), 0), entries: stepEntries))
            } else if tok.isWord("every") {
                _ = advance()
                let every = try time()
                guard tok.isWord("from") else { throw fail("expected `from` after `every DUR`", tok) }
                _ = advance()
                let from = try time()
                guard tok.isWord("to") else { throw fail("expected `to` after `from T`", tok) }
                _ = advance()
                let to = try time()
                guard every > 0, to >= from, (to - from) / every <= 100_000 else { throw fail("bad `every` range", tok) }
                stepEntries = []
                let body = try parseStepBody()
                var k = 0
                while from + Double(k) * every <= to + 1e-9 {
                    c.steps.append(RuleTestFile.Step(time: from + Double(k) * every, data: RuleTestParser.expand(body, k), entries: stepEntries))
                    k += 1
                }
            } else if tok.isWord("expect") {
                c.expectations.append(try parseExpectation())
            } else {
                throw fail("expected `at`, `every` or `expect` in a test", tok)
            }
        }
        _ = advance()
        return c
    }

    /// `{ worker.function { k v … } … }`, `report "file.json"` or `error worker.function "message"`.
    typealias Sample = (worker: String, function: String, rows: [Row], steps: [[String: Double]], error: String?)

    mutating func parseStepBody() throws(ParseAbort) -> [Sample] {
        var out: [Sample] = []
        func add(_ w: String, _ f: String, _ rows: [Row], _ err: String?, _ steps: [[String: Double]] = []) {
            let st = steps.isEmpty ? Array(repeating: [:], count: rows.count) : steps
            if let i = out.firstIndex(where: { $0.worker == w && $0.function == f }) {
                out[i].rows += rows
                out[i].steps += st
                if err != nil { out[i].error = err }
            } else {
                out.append((w, f, rows, st, err))
            }
        }
        if tok.isWord("report") {
            _ = advance()
            guard tok.kind == .string else { throw fail("expected a daemon report JSON path after `report`", tok) }
            let pathTok = advance()
            let path = RuleTestRunner.resolve(pathTok.text, relativeTo: file)
            guard let bytes = RuleTestRunner.readFile(path) else { throw fail("cannot read report \(path)", pathTok) }
            let report: DaemonReport
            do {
                report = try DaemonReport(json: try JSONValue.parse(bytes: bytes))
            } catch {
                throw fail("\(path) is not a daemon report: \(error)", pathTok)
            }
            for w in report.workerReports {
                for fr in w.functionReports { add(w.name, fr.name, fr.data, fr.error) }
            }
            return out
        }
        if tok.isWord("error") {
            _ = advance()
            let (w, f) = try functionName()
            guard tok.kind == .string else { throw fail("expected the error message as a string", tok) }
            add(w, f, [], advance().text)
            return out
        }
        if atEventSample {
            var list = stepEntries
            try parseEventSample(into: &list)
            stepEntries = list
            return out
        }
        try expect("{", "to open the samples of this time (or use `report \"file.json\"`)")
        while !tok.isPunct("}") {
            if tok.kind == .eof { throw fail("expected `}` to close the samples", tok) }
            if atEventSample {
                var list = stepEntries
                try parseEventSample(into: &list)
                stepEntries = list
                continue
            }
            let nameTok = tok
            let (w, f) = try functionName()
            var schema: FunctionSchema?
            if let catalog {
                schema = catalog.function(worker: w, function: f)
                if schema == nil {
                    diagnostics.append(Diagnostic(.badTest, "unknown function `\(w).\(f)` in the samples", at: nameTok.location,
                                                  length: w.count + 1 + f.count))
                }
            }
            if tok.isPunct("[") {
                _ = advance()
                var rows: [Row] = []
                var steps: [[String: Double]] = []
                while !tok.isPunct("]") {
                    if tok.kind == .eof { throw fail("expected `]`", tok) }
                    var st: [String: Double] = [:]
                    rows.append(try parseRow(steps: &st, schema: schema))
                    steps.append(st)
                    if tok.isPunct(",") { _ = advance() }
                }
                _ = advance()
                add(w, f, rows, nil, steps)
            } else {
                var st: [String: Double] = [:]
                let row = try parseRow(steps: &st, schema: schema)
                add(w, f, [row], nil, [st])
            }
        }
        _ = advance()
        return out
    }

    /// The samples of repetition `k`: each stepped field advanced k steps.
    static func expand(_ body: [Sample], _ k: Int) -> [(worker: String, function: String, rows: [Row], error: String?)] {
        body.map { s in
            var rows = s.rows
            for (i, st) in s.steps.enumerated() where i < rows.count {
                for (field, inc) in st {
                    let v = (rows[i][field]?.number ?? 0) + Double(k) * inc
                    rows[i][field] = v == v.rounded() && Swift.abs(v) < 1e15 ? .int(Int64(v)) : .double(v)
                }
            }
            return (s.worker, s.function, rows, s.error)
        }
    }

    mutating func functionName() throws(ParseAbort) -> (String, String) {
        guard tok.kind == .ident else { throw fail("expected WORKER.FUNCTION", tok) }
        let w = advance().text
        try expect(".", "between worker and function")
        guard tok.kind == .ident else { throw fail("expected a function name", tok) }
        return (w, advance().text)
    }

    mutating func parseRow() throws(ParseAbort) -> Row {
        var steps: [String: Double] = [:]
        return try parseRow(steps: &steps)
    }

    /// `{ field value … }`; `field 90GiB step -1GiB` grows by the step at each repetition of `every`.
    mutating func parseRow(steps: inout [String: Double], schema: FunctionSchema? = nil) throws(ParseAbort) -> Row {
        try expect("{", "to open a row (`{ mount \"/\" used_percent 50 }`)")
        var row = Row()
        while !tok.isPunct("}") {
            guard tok.kind == .ident else { throw fail("expected a field name or `}` in a row", tok) }
            let keyTok = advance()
            let k = keyTok.text
            if let schema, schema.field(k) == nil {
                let hint = closest(k, in: schema.fields.map(\.name).sorted())
                diagnostics.append(Diagnostic(.badTest, "unknown field `\(k)` in \(schema.name) samples" + (hint.map { "; did you mean `\($0)`?" } ?? ""),
                                              at: keyTok.location, length: keyTok.length))
            }
            var neg = false
            if tok.isPunct("-") { _ = advance(); neg = true }
            let v = advance()
            switch v.kind {
            case .string: row[k] = .string(v.text)
            case .number:
                let n = neg ? -v.number : v.number
                row[k] = n == n.rounded() && abs(n) < 1e15 ? .int(Int64(n)) : .double(n)
            case .ident where v.text == "true" || v.text == "false": row[k] = .bool(v.text == "true")
            case .ident where v.text == "null": row[k] = .null
            default: throw fail("expected a value (string, number, true, false or null) for `\(k)`", v)
            }
            if tok.isWord("step") {
                _ = advance()
                var sneg = false
                if tok.isPunct("-") { _ = advance(); sneg = true }
                guard tok.kind == .number else { throw fail("expected a number after `step`", tok) }
                steps[k] = (sneg ? -1 : 1) * advance().number
            }
            if tok.isPunct(",") { _ = advance() }
        }
        _ = advance()
        return row
    }

    /// `expect T[..T] firing|pending|inactive|inhibited|flapping RULE [SEV] [{labels}]`, `expect T event KIND RULE …`,
    /// `expect T silent [RULE]`.
    mutating func parseExpectation() throws(ParseAbort) -> RuleTestFile.Expectation {
        let kw = advance()
        let startIndex = p
        let from = try time()
        var to = from
        if tok.isPunct(".") && tokens[min(p + 1, tokens.count - 1)].isPunct(".") {
            _ = advance(); _ = advance()
            to = try time()
        }
        guard tok.kind == .ident else { throw fail("expected firing, pending, inactive, event, silent, inhibited or flapping", tok) }
        let what = advance()
        var kind: RuleTestFile.ExpectKind
        switch what.text {
        case "firing": kind = .state(.firing)
        case "pending": kind = .state(.pending)
        case "inactive": kind = .state(.inactive)
        case "silent": kind = .silent
        case "inhibited": kind = .inhibited
        case "flapping": kind = .flapping
        // `expect 12m resolved disk_space` reads naturally; resolution is an event, not a lasting state.
        case "resolved": kind = .event(.resolved)
        case "event":
            guard tok.kind == .ident, let k = AlertEvent.Kind(rawValue: tok.text) else {
                throw fail("expected an event kind: firing, escalated, deescalated, repeated or resolved", tok)
            }
            _ = advance()
            kind = .event(k)
        default: throw fail("expected firing, pending, inactive, event, silent, inhibited or flapping; found `\(what.text)`", what)
        }
        var rule: String?
        if tok.kind == .ident && !tok.startsLine && !["expect", "at", "every"].contains(tok.text) { rule = advance().text }
        var severity: Severity?
        if rule != nil && tok.kind == .ident && !tok.startsLine, let s = Severity(rawValue: tok.text) {
            _ = advance()
            severity = s
        }
        var labels: [String: String] = [:]
        if rule != nil && tok.isPunct("{") {
            for (k, v) in try parseRow() { labels[k] = v.string ?? v.encoded() }
        }
        if kind != .silent && rule == nil { throw fail("expected a rule name after `\(what.text)`", tok) }
        // As written: tokens that touch in the file (`5m..10m`) touch in the text, the others have one space.
        var text = ""
        var last: Token?
        for t in tokens[startIndex..<p] {
            if let l = last, l.location.line != t.location.line || l.location.column + l.length != t.location.column { text += " " }
            text += t.raw
            last = t
        }
        return RuleTestFile.Expectation(from: from, to: to, kind: kind, rule: rule, severity: severity, labels: labels,
                                        location: kw.location, text: text)
    }
}

/// The outcome of one test case.
public struct RuleTestResult: Sendable {
    public var file: String
    public var name: String
    /// Empty when the test passed.
    public var failures: [String]
    public var passed: Bool { failures.isEmpty }
}

/// Runs rule test files.
public enum RuleTestRunner {
    /// Tests start at this instant (a Monday, 00:00 UTC) so `mute` windows line up with `at` offsets.
    public static let epoch = Timestamp(rfc3339: "2026-01-05T00:00:00Z")!

    static func resolve(_ path: String, relativeTo file: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }

    static func readFile(_ path: String) -> [UInt8]? {
        var files: [(String, [UInt8])] = []
        var diags: [Diagnostic] = []
        RuleSetLoader.read(path, into: &files, &diags)
        return diags.isEmpty ? files.first?.1 : nil
    }

    /// Runs every test of one file. Returns the results, or diagnostics when the file or its rules don't load.
    public static func run(file: String, catalog: Catalog) -> (results: [RuleTestResult], diagnostics: [Diagnostic], sources: [String: String]) {
        guard let bytes = readFile(file) else {
            return ([], [RuleSetLoader.ioError(file, "cannot read the test file")], [:])
        }
        if let nul = bytes.firstIndex(of: 0) {
            return ([], [Diagnostic(.fileBinary, "this is a binary file (NUL byte at offset \(nul)), not a test file",
                                    at: SourceLocation(file: file, line: 1, column: 1))], [:])
        }
        var parser = RuleTestParser(file: file, bytes: bytes, catalog: catalog)
        let tf = parser.parse()
        var sources = [file: String(decoding: bytes, as: UTF8.self)]
        if !parser.diagnostics.isEmpty { return ([], parser.diagnostics, sources) }
        if tf.rules.isEmpty {
            return ([], [Diagnostic(.badTest, "the test file names no rules: add `rules \"path/to/file.rules\"`",
                                    at: SourceLocation(file: file, line: 1, column: 1))], sources)
        }
        let loaded = RuleSetLoader.load(paths: tf.rules.map { resolve($0, relativeTo: file) }, catalog: catalog)
        for (k, v) in loaded.sources { sources[k] = v }
        guard let config = loaded.configuration else { return ([], loaded.diagnostics, sources) }
        return (tf.cases.map { runCase($0, file: file, config: config, catalog: catalog) }, loaded.diagnostics, sources)
    }

    static func describe(_ rule: String, _ sev: Severity?, _ labels: [String: String]) -> String {
        var s = rule
        if let sev { s += " " + sev.rawValue }
        let ls = labels.keys.sorted().filter { $0 != "worker" && $0 != "function" }
        if !ls.isEmpty { s += " {" + ls.map { "\($0)=\"\(labels[$0]!)\"" }.joined(separator: ", ") + "}" }
        return s
    }

    static func runCase(_ c: RuleTestFile.Case, file: String, config: Configuration, catalog: Catalog) -> RuleTestResult {
        let engine = Engine(configuration: config)
        var failures: [String] = []
        // Steps at the same time merge; later ones win per function.
        var times: [Double] = []
        var byTime: [Double: [(worker: String, function: String, rows: [Row], error: String?)]] = [:]
        var entriesAt: [Double: [EventEntry]] = [:]
        for s in c.steps {
            if byTime[s.time] == nil { times.append(s.time) }
            // A step with no rows (`at 30m {}`, or events only) is still a time: evaluations run and expectations apply.
            if byTime[s.time] == nil { byTime[s.time] = [] }
            for e in s.entries {
                let t = s.time + e.offset
                if byTime[t] == nil { byTime[t] = []; times.append(t) }
                entriesAt[t, default: []].append(EventEntry(source: e.source, argument: e.argument, time: epoch.adding(seconds: t), fields: e.fields))
            }
            for d in s.data {
                var list = byTime[s.time] ?? []
                list.removeAll { $0.worker == d.worker && $0.function == d.function }
                list.append(d)
                byTime[s.time] = list
            }
        }
        times.sort()
        for e in c.expectations where !times.contains(where: { $0 >= e.from - 1e-9 && $0 <= e.to + 1e-9 }) {
            failures.append("\(e.location): `expect \(e.text)`: no sample at \(formatDuration(e.from)); add `at \(formatDuration(e.from)) { … }`")
        }
        var unknown: Set<String> = []
        for s in c.steps {
            for d in s.data where catalog.function(worker: d.worker, function: d.function) == nil { unknown.insert(d.worker + "." + d.function) }
        }
        for fs in unknown.sorted() { failures.append("samples for unknown function \(fs) (not in the catalog)") }
        // Latest data of every function: a function not given at a step keeps its last report (and datetime).
        var current: [String: FunctionReport] = [:]
        var order: [String] = []
        for t in times {
            let now = epoch.adding(seconds: t)
            for d in byTime[t]! {
                let key = d.worker + "." + d.function
                if current[key] == nil { order.append(key) }
                current[key] = FunctionReport(name: d.function, datetime: now, data: d.rows, error: d.error)
            }
            var workers: [WorkerReport] = []
            for key in order {
                let w = String(key.split(separator: ".")[0])
                let fr = current[key]!
                if let i = workers.firstIndex(where: { $0.name == w }) { workers[i].functionReports.append(fr) } else {
                    workers.append(WorkerReport(name: w, datetime: now, functionReports: [fr]))
                }
            }
            var events = engine.ingest(entriesAt[t] ?? [], now: now)
            events += engine.advanceEvents(now: now)
            events += engine.evaluate(report: DaemonReport(datetime: now, workerReports: workers), now: now)
            let states = engine.activeStates
            for e in c.expectations where t >= e.from - 1e-9 && t <= e.to + 1e-9 {
                func matches(_ rule: String, _ labels: [String: String], _ sev: Severity) -> Bool {
                    (e.rule == nil || e.rule == rule) && (e.severity == nil || e.severity == sev)
                        && e.labels.allSatisfy { labels[$0.key] == $0.value }
                }
                let ok: Bool
                switch e.kind {
                case .state(.inactive):
                    ok = !states.contains { matches($0.rule, $0.labels, $0.severity) }
                case .state(let st):
                    ok = states.contains { $0.state == st && matches($0.rule, $0.labels, $0.severity) }
                case .event(let k):
                    ok = events.contains { $0.kind == k && matches($0.rule, $0.labels, $0.severity) }
                case .silent:
                    ok = !events.contains { matches($0.rule, $0.labels, $0.severity) }
                        && !states.contains { $0.state == .firing && matches($0.rule, $0.labels, $0.severity) }
                case .inhibited:
                    ok = engine.status(now: now).instances.contains { !$0.inhibitedBy.isEmpty && matches($0.rule, $0.labels, $0.severity) }
                case .flapping:
                    ok = engine.status(now: now).instances.contains { $0.flapping && matches($0.rule, $0.labels, $0.severity) }
                }
                if !ok {
                    var msg = "\(e.location): at \(formatDuration(t)): expected \(e.text)\n"
                    let st = states.map { "\($0.state.rawValue) " + describe($0.rule, $0.severity, $0.labels) }
                    msg += "        states: " + (st.isEmpty ? "(none)" : st.joined(separator: "; ")) + "\n"
                    let ev = events.map { "\($0.kind.rawValue) " + describe($0.rule, $0.severity, $0.labels) + " — " + $0.summary }
                    msg += "        events: " + (ev.isEmpty ? "(none)" : ev.joined(separator: "; "))
                    failures.append(msg)
                }
            }
        }
        return RuleTestResult(file: file, name: c.name, failures: failures)
    }

    static func xmlEscape(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            default: o.append(c)
            }
        }
        return o
    }

    /// JUnit XML for CI systems.
    public static func junit(_ results: [RuleTestResult]) -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let failed = results.filter { !$0.passed }.count
        out += "<testsuites name=\"shd test-rules\" tests=\"\(results.count)\" failures=\"\(failed)\">\n"
        var files: [String] = []
        for r in results where !files.contains(r.file) { files.append(r.file) }
        for f in files {
            let rs = results.filter { $0.file == f }
            out += "  <testsuite name=\"\(xmlEscape(f))\" tests=\"\(rs.count)\" failures=\"\(rs.filter { !$0.passed }.count)\">\n"
            for r in rs {
                out += "    <testcase classname=\"\(xmlEscape(f))\" name=\"\(xmlEscape(r.name))\""
                if r.passed {
                    out += "/>\n"
                } else {
                    out += ">\n      <failure message=\"\(xmlEscape(r.failures[0].split(separator: "\n").first.map(String.init) ?? ""))\">"
                    out += xmlEscape(r.failures.joined(separator: "\n")) + "</failure>\n    </testcase>\n"
                }
            }
            out += "  </testsuite>\n"
        }
        return out + "</testsuites>\n"
    }
}
