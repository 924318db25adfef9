// The command table's parser: every form of option and operand, and every usage error, on a small table and on shd's.
import Testing
import Reports
@testable import CLI

/// A table with every kind of option, operands and a nested subcommand.
let sample = CommandSpec(
    "shd", abstract: "",
    subcommands: [
        CommandSpec("go", synopsis: "[options] [PATH…]", abstract: "go somewhere", options: [
            .option("--config", value: .file("FILE"), help: "a file"),
            .option("--format", "-f", value: .choice("text|json", ["text", "json"]), help: "a format"),
            .option("--interval", value: .duration("DURATION", positive: true, max: nil), help: "how often"),
            .option("--wait", value: .duration("SECS", positive: false, max: 60), help: "how long"),
            .option("--limit", value: .size("SIZE"), help: "how much"),
            .option("--count", value: .integer("N", 1...Int.max), help: "how many"),
            .option("--at", value: .timestamp("RFC3339"), help: "when"),
            .option("--tag", value: .text("TAG"), repeatable: true, help: "a tag"),
            .flag("--loud", help: "shout"),
            .flag("--quiet", help: "whisper"),
        ], operands: OperandSpec("PATH…", .file("PATH"), count: 0...Int.max), run: { _ in 0 }),
        CommandSpec("one", synopsis: "NAME", abstract: "exactly one", operands: OperandSpec("NAME", .text("NAME"), count: 1...1), run: { _ in 0 }),
        CommandSpec("group", aliases: ["--group"], synopsis: "SUBCOMMAND", abstract: "a group", subcommands: [
            CommandSpec("leaf", abstract: "a leaf", options: [.flag("--x", help: "x")], run: { _ in 0 }),
        ]),
    ])

struct ParseCase: CustomStringConvertible, Sendable {
    var args: [String]
    /// The parse, or the printed error line.
    var expected: Result<Invocation, Failure>
    struct Failure: Error, Equatable { var line: String }
    var description: String { args.joined(separator: " ") }

    static func ok(_ args: [String], _ path: [String], _ values: [String: [ArgumentValue]] = [:], operands: [String] = [],
                   order: [String]? = nil) -> ParseCase
    {
        var p = ParsedArguments(path: path, values: values, operands: operands)
        p.order = order ?? values.keys.sorted()
        return ParseCase(args: args, expected: .success(.run(p)))
    }
    static func help(_ args: [String], _ path: [String]) -> ParseCase { ParseCase(args: args, expected: .success(.help(path))) }
    static func error(_ args: [String], _ line: String) -> ParseCase { ParseCase(args: args, expected: .failure(Failure(line: line))) }
}

let parseCases: [ParseCase] = [
    // Both value forms, flags, operands between options.
    .ok(["go", "--config", "a.conf"], ["go"], ["--config": [.text("a.conf")]]),
    .ok(["go", "--config=a.conf"], ["go"], ["--config": [.text("a.conf")]]),
    .ok(["go", "--config="], ["go"], ["--config": [.text("")]]),
    .ok(["go", "--config=x=y"], ["go"], ["--config": [.text("x=y")]]),
    .ok(["go", "-f", "json"], ["go"], ["--format": [.text("json")]]),
    .ok(["go", "--loud", "a", "--quiet", "b"], ["go"], ["--loud": [.present], "--quiet": [.present]], operands: ["a", "b"],
        order: ["--loud", "--quiet"]),
    .ok(["go", "-"], ["go"], operands: ["-"]),
    // A repeated single-value option: the last wins; a repeatable one keeps all, in order.
    .ok(["go", "--config", "a", "--config=b"], ["go"], ["--config": [.text("b")]], order: ["--config", "--config"]),
    .ok(["go", "--tag", "a", "--tag=b", "--tag", "c"], ["go"], ["--tag": [.text("a"), .text("b"), .text("c")]],
        order: ["--tag", "--tag", "--tag"]),
    // `--` ends the options: what follows is an operand, even -h.
    .ok(["go", "--loud", "--", "--quiet", "-h", "--"], ["go"], ["--loud": [.present]], operands: ["--quiet", "-h", "--"]),
    // Durations and sizes in the rule language's syntax; a bare number is seconds or bytes.
    .ok(["go", "--interval", "1d"], ["go"], ["--interval": [.number(86400)]]),
    .ok(["go", "--interval=1h30m"], ["go"], ["--interval": [.number(5400)]]),
    .ok(["go", "--interval", "250ms"], ["go"], ["--interval": [.number(0.25)]]),
    .ok(["go", "--interval", "10"], ["go"], ["--interval": [.number(10)]]),
    .ok(["go", "--wait", "0"], ["go"], ["--wait": [.number(0)]]),
    .ok(["go", "--wait", "1m"], ["go"], ["--wait": [.number(60)]]),
    .ok(["go", "--limit", "1.5GiB"], ["go"], ["--limit": [.number(1.5 * 1_073_741_824)]]),
    .ok(["go", "--limit", "512MB"], ["go"], ["--limit": [.number(512e6)]]),
    .ok(["go", "--limit", "4096"], ["go"], ["--limit": [.number(4096)]]),
    .ok(["go", "--count", "3"], ["go"], ["--count": [.number(3)]]),
    .ok(["go", "--at", "2026-11-25T08:00:00Z"], ["go"], ["--at": [.time(Timestamp(rfc3339: "2026-11-25T08:00:00Z")!)]]),
    .ok(["one", "x"], ["one"], operands: ["x"]),
    .ok(["group", "leaf", "--x"], ["group", "leaf"], ["--x": [.present]]),
    .ok(["--group", "leaf"], ["group", "leaf"]),
    // Help anywhere before `--`, on every level.
    .help(["-h"], []), .help(["--help"], []), .help(["go", "-h"], ["go"]), .help(["go", "a", "--loud", "--help"], ["go"]),
    .help(["group", "--help"], ["group"]), .help(["group", "leaf", "-h"], ["group", "leaf"]),
    // Arguments are read in order: an error before -h is reported.
    .error(["go", "--bogus=1", "-h"], "shd go: unknown option '--bogus'; see shd go --help"),
    // Every usage error, as printed.
    .error(["go", "--x"], "shd go: unknown option '--x'; see shd go --help"),
    .error(["go", "--x=1"], "shd go: unknown option '--x'; see shd go --help"),
    .error(["go", "-x"], "shd go: unknown option '-x'; see shd go --help"),
    .error(["go", "--config"], "shd go: option '--config' needs a value (FILE); see shd go --help"),
    .error(["go", "--config", "--loud"], "shd go: option '--config' needs a value (FILE); see shd go --help"),
    .error(["go", "-f"], "shd go: option '-f' needs a value (text|json); see shd go --help"),
    .error(["go", "--loud=yes"], "shd go: option '--loud' takes no value; see shd go --help"),
    .error(["go", "--help=1"], "shd go: option '--help' takes no value; see shd go --help"),
    .error(["go", "-f", "xml"], "shd go: invalid value 'xml' for '-f': expected text or json; see shd go --help"),
    .error(["go", "--interval", "5mins"],
           "shd go: invalid value '5mins' for '--interval': unknown unit `mins`; did you mean `m`?; see shd go --help"),
    .error(["go", "--interval", "1GB"],
           "shd go: invalid value '1GB' for '--interval': expected a duration such as 10s or 1h30m; see shd go --help"),
    .error(["go", "--interval", "0s"], "shd go: invalid value '0s' for '--interval': expected a positive duration; see shd go --help"),
    .error(["go", "--interval", "10 s"],
           "shd go: invalid value '10 s' for '--interval': expected a duration such as 10s or 1h30m; see shd go --help"),
    .error(["go", "--interval", "1h30"],
           "shd go: invalid value '1h30' for '--interval': a compound duration needs a unit after every part (e.g. `1h30m`); see shd go --help"),
    .error(["go", "--wait", "61s"], "shd go: invalid value '61s' for '--wait': expected a duration of at most 60s; see shd go --help"),
    .error(["go", "--limit", "10s"], "shd go: invalid value '10s' for '--limit': expected a size such as 512MB or 1GiB; see shd go --help"),
    .error(["go", "--limit", "3gb"], "shd go: invalid value '3gb' for '--limit': unknown unit `gb`; did you mean `GB`?; see shd go --help"),
    .error(["go", "--count", "0"], "shd go: invalid value '0' for '--count': expected a whole number of at least 1; see shd go --help"),
    .error(["go", "--count", "2.5"], "shd go: invalid value '2.5' for '--count': expected a whole number of at least 1; see shd go --help"),
    .error(["go", "--at", "yesterday"],
           "shd go: invalid value 'yesterday' for '--at': expected an RFC 3339 time such as 2026-01-05T00:00:00Z; see shd go --help"),
    .error(["one"], "shd one: missing NAME; see shd one --help"),
    .error(["one", "a", "b"], "shd one: unexpected argument 'b'; see shd one --help"),
    .error(["bogus"], "shd: unknown command 'bogus'; see shd --help"),
    .error(["--bogus"], "shd: unknown option '--bogus'; see shd --help"),
    .error(["group"], "shd group: missing subcommand (leaf); see shd group --help"),
    .error(["group", "twig"], "shd group: unknown command 'twig'; see shd group --help"),
    .error(["group", "leaf", "extra"], "shd group leaf: unexpected argument 'extra'; see shd group leaf --help"),
]

@Suite struct CommandTableParserTests {
    @Test(arguments: parseCases)
    func parses(_ c: ParseCase) {
        let got: Result<Invocation, ParseCase.Failure>
        do { got = .success(try sample.parse(c.args)) } catch { got = .failure(.init(line: "\(error)")) }
        #expect(got == c.expected)
    }

    @Test func everyShdOptionIsParsedByItsDeclaredKind() throws {
        let t = ShdCommandLine.table
        guard case .run(let p) = try t.parse(["run", "--interval", "1d", "--config=/x.conf", "--log-level", "debug", "--daemonize"]) else {
            Issue.record("not a run"); return
        }
        let f = ShdCommandLine.runFlags(p)
        #expect(f.interval == 86400)
        #expect(f.config == "/x.conf")
        #expect(f.logLevel == "debug")
        #expect(f.daemonize)
        #expect(f.rules == nil && f.stateDir == nil && f.pidfile == nil)
        #expect(throws: CommandLineError(path: ["run"], code: .badValue(option: "--log-level", value: "loud",
                                                                        reason: "expected error, warning, notice, info or debug"))) {
            try t.parse(["run", "--log-level", "loud"])
        }
        #expect(throws: CommandLineError(path: ["report"], code: .badValue(option: "--worker", value: "cpux",
                                                                           reason: "expected cpu, load, memory, pressure, disk, network, processes, hardware, system or systemd"))) {
            try t.parse(["report", "--worker", "cpux"])
        }
        #expect(try t.parse(["report", "--sample-interval", "500ms"])
                == .run(ParsedArguments(path: ["report"], values: ["--sample-interval": [.number(0.5)]]).ordered(["--sample-interval"])))
        #expect(try t.parse(["--check-rules", "-f", "json", "a.rules"])
                == .run(ParsedArguments(path: ["check-rules"], values: ["--format": [.text("json")]], operands: ["a.rules"]).ordered(["--format"])))
        #expect(throws: CommandLineError(path: ["test-rules"], code: .missingOperand("no test files given"))) { try t.parse(["test-rules"]) }
        #expect(throws: CommandLineError(path: ["notify"], code: .missingCommand(["test"]))) { try t.parse(["notify"]) }
        #expect(throws: CommandLineError(path: ["completions"], code: .badValue(option: "SHELL", value: "tcsh", reason: "expected bash, zsh or fish"))) {
            try t.parse(["completions", "tcsh"])
        }
    }

    @Test func lastOfUndoingFlagsWins() throws {
        guard case .run(let p) = try sample.parse(["go", "--loud", "--quiet", "--loud"]) else { Issue.record("not a run"); return }
        #expect(p.last(of: ["--loud", "--quiet"]) == "--loud")
        #expect(p.last(of: ["--tag"]) == nil)
    }
}

extension ParsedArguments {
    func ordered(_ o: [String]) -> ParsedArguments {
        var c = self
        c.order = o
        return c
    }
}

/// A valid value for an option of this kind.
func sampleValue(_ v: ValueKind) -> String {
    switch v {
    case .text, .file, .directory: return "/x"
    case .choice(_, let words): return words[0]
    case .duration: return "1s"
    case .size: return "1MB"
    case .integer(_, let r): return String(r.lowerBound)
    case .timestamp: return "2026-01-05T00:00:00Z"
    }
}

@Suite struct RunFlagsMappingTests {
    /// Every `run` option reaches a `RunFlags` field and every field has an option: given all options, no field is
    /// left nil or false (a new option declared but not read, or a field without an option, fails here).
    @Test func everyRunOptionFillsAField() throws {
        let run = try #require(ShdCommandLine.table.find(["run"]))
        var args = ["run"]
        for o in run.options { args += o.value.map { [o.name, sampleValue($0)] } ?? [o.name] }
        guard case .run(let p) = try ShdCommandLine.table.parse(args) else { Issue.record("not a run"); return }
        let flags = ShdCommandLine.runFlags(p)
        for child in Mirror(reflecting: flags).children {
            let label = child.label ?? "?"
            if let b = child.value as? Bool {
                #expect(b, "RunFlags.\(label) is not set by any run option")
            } else {
                #expect("\(child.value)" != "nil", "RunFlags.\(label) is not set by any run option")
            }
        }
        #expect(Mirror(reflecting: flags).children.count == run.options.count, "run options and RunFlags fields differ in number")
    }
}
