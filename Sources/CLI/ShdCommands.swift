// shd's commands and options: the one table that parsing, --help, usage errors and completions come from.
import Daemon
import Reports
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The `shd` command line. A new option is one `OptionSpec` in its command's list, read in that command's `run`.
public enum ShdCommandLine {
    public static let version = "0.1.0"

    // Options shared by `run` and `notify test`: they locate the configuration the same way.
    static let config = OptionSpec.option("--config", value: .file("FILE"),
                                          help: "configuration file (default /etc/shd/shd.conf if it exists)")
    static let rules = OptionSpec.option("--rules", value: .directory("DIR"), help: "rules folder, *.rules (default /etc/shd/rules.d)")
    static let stateDir = OptionSpec.option("--state-dir", value: .directory("DIR"),
                                            help: "alert state, spool and report.json (default /var/lib/shd; set state_dir)")
    static let logLevels = ["error", "warning", "notice", "info", "debug"]

    static let run: CommandSpec = CommandSpec(
        "run", abstract: "run the daemon (foreground; --daemonize for SysV init)",
        discussion: """
            Runs the daemon in the foreground (systemd Type=notify), or as a System V daemon with --daemonize.
            Every option can also be set in shd.conf with `set`; the flag wins.
            """,
        footer: """
            Signals: TERM/INT stop, HUP reloads, USR1 logs the alert states. Edits to the config file or the
            rules folder are picked up by themselves.
            """,
        options: [
            config, rules, stateDir,
            .option("--textfile", value: .directory("DIR"),
                    help: "write DIR/shd.prom for node_exporter's textfile collector (set textfile_dir)"),
            .option("--interval", value: .duration("DURATION", positive: true, max: nil), help: """
                default collection interval, e.g. 10s, 1s or 1d (set interval); the processes
                worker runs at most every 10s unless `set interval.processes` says otherwise
                """),
            .option("--proc-root", value: .directory("DIR"), help: "read /proc from DIR (set proc_root)"),
            .option("--sys-root", value: .directory("DIR"), help: "read /sys from DIR (set sys_root)"),
            .option("--etc-root", value: .directory("DIR"), help: "read /etc/os-release and /etc/passwd from DIR"),
            .option("--root-fs", value: .directory("DIR"), help: """
                the host's root filesystem mounted at DIR (a container: -v /:/host:ro,rslave):
                filesystems come from the mount table of pid 1 of --proc-root and statvfs runs
                on DIR + mount point (set root_fs)
                """),
            .option("--log-level", value: .choice("LEVEL", logLevels),
                    help: "error, warning, notice, info or debug (default info; set log_level)"),
            .flag("--daemonize", help: """
                detach (PEP 3143: double fork, setsid, umask 027, chdir /, stdio to /dev/null);
                the command returns once the daemon is ready, exit 1 with the reason if not
                """),
            .option("--pidfile", value: .file("PATH"), help: "pid file held with a lock (default /run/shd.pid with --daemonize)"),
            .option("--socket", value: .file("PATH"), help: "the control socket (default /run/shd/control; \"\" for none; set control_socket)"),
        ],
        run: { p in RunCommand.run(runFlags(p)) })

    /// The flags of `run` (and the configuration flags of `notify test`).
    static func runFlags(_ p: ParsedArguments) -> RunFlags {
        var f = RunFlags()
        f.config = p.text("--config")
        f.rules = p.text("--rules")
        f.stateDir = p.text("--state-dir")
        f.textfileDir = p.text("--textfile")
        f.interval = p.number("--interval")
        f.procRoot = p.text("--proc-root")
        f.sysRoot = p.text("--sys-root")
        f.etcRoot = p.text("--etc-root")
        f.rootFS = p.text("--root-fs")
        f.logLevel = p.text("--log-level")
        f.pidfile = p.text("--pidfile")
        f.daemonize = p.flag("--daemonize")
        f.controlSocket = p.text("--socket")
        return f
    }

    static let report: CommandSpec = CommandSpec(
        "report", abstract: "print one daemon report as JSON",
        discussion: """
            Prints one daemon report as JSON. Rates and percentages come from two samples taken
            --sample-interval apart. With --config or --rules, the report also has the rows of the
            watches and probes that configuration declares (processes.watched, files.watched, probes.*),
            each probe run once.
            """,
        options: [
            .flag("--pretty", help: "indent the JSON"),
            .option("--worker", value: .choice("NAME", WorkerRegistry.names), repeatable: true, help: """
                only this worker (repeatable): cpu, load, memory, pressure, disk, network,
                processes, hardware, system
                """),
            .option("--sample-interval", value: .duration("SECS", positive: false, max: 60),
                    help: "seconds between the two samples (default 0.25; at most 60, e.g. 0.5 or 500ms)"),
            .option("--config", value: .file("FILE"), help: "include the watches and probes this configuration file declares"),
            .option("--rules", value: .directory("DIR"), help: "include the watches and probes of this rules folder's files"),
            .flag("--latest", help: "print the report the running daemon last wrote (STATE_DIR/report.json)"),
            .option("--state-dir", value: .directory("DIR"), help: "where --latest looks (default /var/lib/shd)"),
            .option("--proc-root", value: .directory("DIR"), help: "read /proc from DIR: a host's procfs (live) or a fixture tree"),
            .option("--sys-root", value: .directory("DIR"), help: "read /sys from DIR (a host's, or a fixture tree)"),
            .option("--etc-root", value: .directory("DIR"), help: "read /etc/os-release and /etc/passwd from DIR"),
            .option("--root-fs", value: .directory("DIR"), help: "the host's root filesystem mounted at DIR (see `shd help run`)"),
            .option("--fixed-time", value: .timestamp("RFC3339"), help: "stamp every report with this time (golden tests)"),
            .option("--cycles", value: .integer("N", 1...Int.max), help: """
                benchmark: collect N cycles back to back, print CPU ms per cycle and
                peak RSS to stderr
                """),
        ],
        run: { p in
            var o = ReportOptions()
            o.pretty = p.flag("--pretty")
            o.workers = p.texts("--worker")
            if let v = p.number("--sample-interval") { o.sampleInterval = v }
            o.latest = p.flag("--latest")
            if let v = p.text("--state-dir") { o.stateDir = v }
            if let v = p.text("--proc-root") { o.roots.proc = v }
            if let v = p.text("--sys-root") { o.roots.sys = v }
            if let v = p.text("--etc-root") { o.roots.etc = v }
            if let v = p.text("--root-fs") { o.roots.rootFS = v }
            o.fixedTime = p.time("--fixed-time")
            if let v = p.number("--cycles") { o.cycles = Int(v) }
            if p.text("--config") != nil || p.text("--rules") != nil {
                var f = RunFlags()
                f.config = p.text("--config")
                f.rules = p.text("--rules")
                o.declarations = f
            }
            return ReportCommand.run(o)
        })

    static let checkRules: CommandSpec = CommandSpec(
        "check-rules", aliases: ["--check-rules"], shownAs: "--check-rules", synopsis: "[options] [PATH…]",
        abstract: "check shd.conf and rules files (also: shd check-rules)",
        discussion: """
            Checks shd.conf and rules files (directories: their *.rules files) and reports every problem.
            Without PATH: /etc/shd/shd.conf (if it exists) and /etc/shd/rules.d. Also spelt shd --check-rules.
            """,
        footer: "Exit status: 0 clean, 1 errors (or warnings with --strict), 2 usage or I/O errors.",
        options: [
            .option("--format", "-f", value: .choice("text|json|github|journal", ["text", "json", "github", "journal"]),
                    help: "text (default), JSON for programs, GitHub Actions annotations, or journal: text with a "
                        + "syslog priority prefix on every line (<3> for an error's lines), as the systemd unit runs it"),
            .flag("--strict", help: "warnings fail the check too"),
            .flag("--color", help: "colour the text (default: when standard output is a terminal)"),
            .flag("--no-color", help: "never colour the text"),
        ],
        operands: OperandSpec("PATH…", .file("PATH"), count: 0...Int.max),
        run: { p in
            var o = CheckRulesCommand.Options(format: p.text("--format") ?? "text", strict: p.flag("--strict"), paths: p.operands)
            if let c = p.last(of: ["--color", "--no-color"]) { o.color = c == "--color" }
            var defaults: [String] = []
            if access(DaemonSettings.defaultConfig, F_OK) == 0 { defaults.append(DaemonSettings.defaultConfig) }
            defaults.append(DaemonSettings.defaultRules)
            return CheckRulesCommand.run(o, catalog: WorkerRegistry.catalog, defaultPaths: defaults, isTTY: isatty(1) != 0,
                                         write: writeStdout)
        })

    static let testRules: CommandSpec = CommandSpec(
        "test-rules", synopsis: "[options] FILE|DIR…", abstract: "run rule unit tests",
        discussion: "Runs rule tests (*.test files; see docs/rules.md), one line per test.",
        footer: "Exit status: 0 all pass, 1 a test failed, 2 usage or load errors.",
        options: [.option("--junit", value: .file("FILE"), help: "also write a JUnit XML report to FILE")],
        operands: OperandSpec("FILE|DIR…", .file("PATH"), count: 1...Int.max, missing: "no test files given"),
        run: { p in
            TestRulesCommand.run(paths: p.operands, junit: p.text("--junit"), catalog: WorkerRegistry.catalog, write: writeStdout)
        })

    static let notify: CommandSpec = CommandSpec(
        "notify", synopsis: "SUBCOMMAND", abstract: "talk to the configured channels",
        discussion: "Commands on the notification channels of the configuration.",
        subcommands: [
            CommandSpec(
                "test", synopsis: "CHANNEL [options]", abstract: "send a test alert through a configured channel",
                discussion: """
                    Sends a test alert through one channel of the configuration (found as `shd run` finds it) and
                    prints the outcome.
                    """,
                footer: "Exit status: 0 delivered, 1 not delivered or refused config, 2 no such channel or a usage error.",
                options: [config, rules, stateDir],
                operands: OperandSpec("CHANNEL", .text("CHANNEL"), count: 1...1, missing: "name the channel to test"),
                run: { p in CLICommands.notifyTest(channel: p.operands[0], flags: runFlags(p)) }),
        ])

    static let completions: CommandSpec = CommandSpec(
        "completions", synopsis: "bash|zsh|fish", abstract: "print a shell completion script",
        discussion: """
            Prints the completion script for the shell, generated from shd's command table. The Debian package
            installs them where each shell looks; by hand: `shd completions bash > /etc/bash_completion.d/shd`.
            """,
        operands: OperandSpec("SHELL", .choice("SHELL", ["bash", "zsh", "fish"]), count: 1...1,
                              missing: "name the shell (bash, zsh or fish)"),
        run: { p in
            writeStdout(table.completionScript(for: p.operands[0]) ?? "")
            return 0
        })

    static let help: CommandSpec = CommandSpec(
        "help", synopsis: "[COMMAND…]", abstract: "print the help of a command", listed: false, discussion: "Prints the help of a command, as COMMAND --help does.",
        operands: OperandSpec("COMMAND", .text("COMMAND"), count: 0...2),
        run: { p in
            guard table.find(p.operands) != nil else {
                throw CommandLineError(path: ["help"], code: .unknownCommand(p.operands.joined(separator: " ")))
            }
            writeStdout(table.helpText(p.operands))
            return 0
        })

    static let versionCommand: CommandSpec = CommandSpec(
        "version", aliases: ["--version"], synopsis: "", abstract: "print the version", listed: false, discussion: "Prints shd's version.",
        run: { _ in
            writeStdout("shd \(version)\n")
            return 0
        })

    /// Every command; `shd` itself is the root.
    public static let table: CommandSpec = CommandSpec(
        "shd", synopsis: "--version | --help | help COMMAND", abstract: "Linux system-health alerting daemon",
        discussion: "shd \(version) — Linux system-health alerting daemon",
        footer: "Run `shd help COMMAND` or `shd COMMAND --help` for its options.",
        subcommands: [run, report, checkRules, testRules, notify] + ControlCommands.all + [completions, help, versionCommand])

    /// Parses and runs a command line (without the program name); returns the exit status: the command's, 0 for
    /// `--help`, 2 for a usage error.
    public static func main(_ arguments: [String]) -> Int32 {
        guard !arguments.isEmpty else {
            writeStderr(table.helpText([]))
            return 2
        }
        do {
            switch try table.parse(arguments) {
            case .help(let path):
                writeStdout(table.helpText(path))
                return 0
            case .run(let p):
                guard let run = table.find(p.path)?.run else { return 2 }
                return try run(p)
            }
        } catch {
            writeStderr("\(error is CommandLineError ? "" : "shd: ")\(error)\n")
            return 2
        }
    }
}
