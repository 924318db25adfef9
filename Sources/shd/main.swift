// shd command line: parses arguments and hands over to the Daemon module.
import Daemon
import Reports
#if canImport(Glibc)
import Glibc
#endif

let version = "0.1.0"

let usage = """
    shd \(version) — Linux system-health alerting daemon

    Usage:
      shd run [options]                 run the daemon (foreground; --daemonize for SysV init)
      shd report [options]              print one daemon report as JSON
      shd --check-rules [PATH…]         check shd.conf and rules files (also: shd check-rules)
      shd test-rules FILE…              run rule unit tests
      shd notify test CHANNEL           send a test alert through a configured channel
      shd --version | --help | help COMMAND

    Run `shd help run`, `shd help report`, `shd check-rules --help` or `shd test-rules --help` for options.

    """

let runUsage = """
    Usage: shd run [options]

    Runs the daemon in the foreground (systemd Type=notify), or as a System V daemon with --daemonize.
    Every option can also be set in shd.conf with `set`; the flag wins.

      --config FILE        configuration file (default /etc/shd/shd.conf if it exists)
      --rules DIR          rules folder, *.rules (default /etc/shd/rules.d)
      --state-dir DIR      alert state, spool and report.json (default /var/lib/shd; set state_dir)
      --textfile DIR       write DIR/shd.prom for node_exporter's textfile collector (set textfile_dir)
      --interval DURATION  default collection interval, e.g. 10s or 1s (set interval); the processes
                           worker runs at most every 10s unless `set interval.processes` says otherwise
      --proc-root DIR      read /proc from DIR (set proc_root)
      --sys-root DIR       read /sys from DIR (set sys_root)
      --etc-root DIR       read /etc/os-release and /etc/passwd from DIR
      --log-level LEVEL    error, warning, notice, info or debug (default info; set log_level)
      --daemonize          detach (PEP 3143: double fork, setsid, umask 027, chdir /, stdio to /dev/null);
                           the command returns once the daemon is ready, exit 1 with the reason if not
      --pidfile PATH       pid file held with a lock (default /run/shd.pid with --daemonize)

    Signals: TERM/INT stop, HUP reloads, USR1 logs the alert states. Edits to the config file or the
    rules folder are picked up by themselves.

    """

let reportUsage = """
    Usage: shd report [options]

    Prints one daemon report as JSON. Rates and percentages come from two samples taken
    --sample-interval apart.

      --pretty                 indent the JSON
      --worker NAME            only this worker (repeatable): cpu, load, memory, pressure, disk, network,
                               processes, hardware, system
      --sample-interval SECS   seconds between the two samples (default 0.25)
      --latest                 print the report the running daemon last wrote (STATE_DIR/report.json)
      --state-dir DIR          where --latest looks (default /var/lib/shd)
      --proc-root DIR, --sys-root DIR, --etc-root DIR   read another tree (fixtures)
      --fixed-time RFC3339     stamp every report with this time (golden tests)
      --cycles N               benchmark: collect N cycles back to back, print CPU ms per cycle and
                               peak RSS to stderr

    """

/// A cursor over the arguments with the option forms `--name value` and `--name=value`.
struct Arguments {
    var items: [String]
    var index = 0

    mutating func next() -> String? {
        guard index < items.count else { return nil }
        defer { index += 1 }
        return items[index]
    }

    /// The value of the option just read (`--name value` or `--name=value`).
    mutating func value(for arg: String) throws -> String {
        if let eq = arg.firstIndex(of: "=") { return String(arg[arg.index(after: eq)...]) }
        guard let v = next() else { throw UsageError("\(arg) needs a value") }
        return v
    }
}

func optionName(_ arg: String) -> String {
    arg.firstIndex(of: "=").map { String(arg[..<$0]) } ?? arg
}

func parseDuration(_ s: String, option: String) throws -> Double {
    var text = s
    var mult = 1.0
    if text.hasSuffix("ms") { mult = 0.001; text.removeLast(2) }
    else if text.hasSuffix("s") { text.removeLast() }
    else if text.hasSuffix("m") { mult = 60; text.removeLast() }
    else if text.hasSuffix("h") { mult = 3600; text.removeLast() }
    guard let v = Double(text), v > 0 else { throw UsageError("\(option): expected a duration such as 10s, got '\(s)'") }
    return v * mult
}

func parseRun(_ args: inout Arguments) throws -> RunFlags? {
    var f = RunFlags()
    while let a = args.next() {
        switch optionName(a) {
        case "--config": f.config = try args.value(for: a)
        case "--rules": f.rules = try args.value(for: a)
        case "--state-dir": f.stateDir = try args.value(for: a)
        case "--textfile": f.textfileDir = try args.value(for: a)
        case "--interval": f.interval = try parseDuration(args.value(for: a), option: "--interval")
        case "--proc-root": f.procRoot = try args.value(for: a)
        case "--sys-root": f.sysRoot = try args.value(for: a)
        case "--etc-root": f.etcRoot = try args.value(for: a)
        case "--log-level": f.logLevel = try args.value(for: a)
        case "--pidfile": f.pidfile = try args.value(for: a)
        case "--daemonize": f.daemonize = true
        case "--help", "-h": writeStdout(runUsage); return nil
        default: throw UsageError("run: unknown option '\(a)' (see `shd help run`)")
        }
    }
    return f
}

func parseReport(_ args: inout Arguments) throws -> ReportOptions? {
    var o = ReportOptions()
    while let a = args.next() {
        switch optionName(a) {
        case "--pretty": o.pretty = true
        case "--worker": o.workers.append(try args.value(for: a))
        case "--sample-interval":
            let v = try args.value(for: a)
            guard let d = Double(v), d >= 0, d <= 60 else { throw UsageError("--sample-interval: expected seconds between 0 and 60, got '\(v)'") }
            o.sampleInterval = d
        case "--latest": o.latest = true
        case "--state-dir": o.stateDir = try args.value(for: a)
        case "--proc-root": o.roots.proc = try args.value(for: a)
        case "--sys-root": o.roots.sys = try args.value(for: a)
        case "--etc-root": o.roots.etc = try args.value(for: a)
        case "--fixed-time":
            let v = try args.value(for: a)
            guard let t = Timestamp(rfc3339: v) else { throw UsageError("--fixed-time: expected an RFC 3339 time, got '\(v)'") }
            o.fixedTime = t
        case "--cycles":
            let v = try args.value(for: a)
            guard let n = Int(v), n > 0 else { throw UsageError("--cycles: expected a positive number, got '\(v)'") }
            o.cycles = n
        case "--help", "-h": writeStdout(reportUsage); return nil
        default: throw UsageError("report: unknown option '\(a)' (see `shd help report`)")
        }
    }
    return o
}

func main() -> Int32 {
    // Before any thread exists: signals go to the signalfd only. libcurl is loaded later, and only when a
    // configured channel sends through it (Notify's `CurlLibrary`, from the Dispatcher).
    HandledSignals.block()

    var args = Arguments(items: Array(CommandLine.arguments.dropFirst()))
    guard let command = args.next() else {
        writeStderr(usage)
        return 2
    }
    let rest = Array(args.items[args.index...])
    do {
        switch command {
        case "run":
            guard let f = try parseRun(&args) else { return 0 }
            return RunCommand.run(f)
        case "report":
            guard let o = try parseReport(&args) else { return 0 }
            return ReportCommand.run(o)
        case "--check-rules", "check-rules":
            return CLICommands.checkRules(arguments: rest)
        case "test-rules":
            return CLICommands.testRules(arguments: rest)
        case "notify":
            return CLICommands.notify(arguments: rest)
        case "--version", "version":
            writeStdout("shd \(version)\n")
            return 0
        case "--help", "-h", "help":
            switch args.next() {
            case "run": writeStdout(runUsage)
            case "report": writeStdout(reportUsage)
            case "check-rules": return CLICommands.checkRules(arguments: ["--help"])
            case "test-rules": return CLICommands.testRules(arguments: ["--help"])
            default: writeStdout(usage)
            }
            return 0
        default:
            writeStderr("shd: unknown command '\(command)'\n\n" + usage)
            return 2
        }
    } catch {
        writeStderr("shd: \(error)\n")
        return 2
    }
}

exit(main())
