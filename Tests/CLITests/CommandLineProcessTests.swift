// The real shd binary: -h and --help of every command of the table, and the exact usage-error line and exit status.
import Testing
import TestSupport
@testable import CLI

/// Runs shd with `args`; returns (exit status, stdout, stderr).
func shd(_ args: [String]) throws -> (Int32?, String, String) {
    let tmp = makeTempDirectory("shd-cli")
    defer { _ = runShell("rm -rf '\(tmp)'") }
    let p = try ChildProcess([shdBinary] + args, outputDirectory: tmp)
    let status = p.wait(timeout: 30)
    return (status, p.stdout, p.stderr)
}

/// Every command path of the table, the root included.
let commandPaths: [[String]] = ShdCommandLine.table.allCommands().map { $0.key.isEmpty ? [] : $0.key.split(separator: "/").map(String.init) }

@Suite struct CommandLineProcessTests {
    @Test(arguments: commandPaths)
    func everyCommandAnswersHelpAndH(_ path: [String]) throws {
        let expected = ShdCommandLine.table.helpText(path)
        for flag in ["-h", "--help"] {
            let (status, out, err) = try shd(path + [flag])
            #expect(status == 0, "\(path) \(flag): \(err)")
            #expect(out == expected, "\(path) \(flag)")
            #expect(err == "")
        }
        if !path.isEmpty {
            #expect(expected.contains("\n  -h, --help "))
            #expect(expected.hasPrefix("Usage: shd " + path.joined(separator: " ")))
            let (status, out, _) = try shd(["help"] + path)
            #expect(status == 0)
            #expect(out == expected, "shd help \(path)")
        }
    }

    @Test func helpOfRunKeepsItsOptionsAndTheirTexts() throws {
        let (status, out, _) = try shd(["help", "run"])
        #expect(status == 0)
        for line in [
            "Usage: shd run [options]\n",
            "Every option can also be set in shd.conf with `set`; the flag wins.\n",
            "  --config FILE        configuration file (default /etc/shd/shd.conf if it exists)\n",
            "  --daemonize          detach (PEP 3143: double fork, setsid, umask 027, chdir /, stdio to /dev/null);\n" +
                "                       the command returns once the daemon is ready, exit 1 with the reason if not\n",
            "  -h, --help           show this help\n",
            "Signals: TERM/INT stop, HUP reloads, USR1 logs the alert states.",
        ] {
            #expect(out.contains(line), "missing: \(line)")
        }
        let (_, top, _) = try shd(["--help"])
        #expect(top.hasPrefix("shd \(ShdCommandLine.version) — Linux system-health alerting daemon\n\nUsage:\n  shd run [options]"))
        #expect(top.contains("  shd --check-rules [options] [PATH…]"))
        #expect(top.contains("  shd notify test CHANNEL [options]"))
        #expect(top.contains("  shd completions bash|zsh|fish"))
    }

    static let errors: [([String], String)] = [
        (["run", "--x"], "shd run: unknown option '--x'; see shd run --help"),
        (["run", "--interval"], "shd run: option '--interval' needs a value (DURATION); see shd run --help"),
        (["run", "--interval", "5mins"], "shd run: invalid value '5mins' for '--interval': unknown unit `mins`; did you mean `m`?; see shd run --help"),
        (["run", "--config", "--rules", "x"], "shd run: option '--config' needs a value (FILE); see shd run --help"),
        (["run", "extra"], "shd run: unexpected argument 'extra'; see shd run --help"),
        (["report", "--x"], "shd report: unknown option '--x'; see shd report --help"),
        (["report", "--pretty=1"], "shd report: option '--pretty' takes no value; see shd report --help"),
        (["report", "--cycles", "0"], "shd report: invalid value '0' for '--cycles': expected a whole number of at least 1; see shd report --help"),
        (["check-rules", "--x"], "shd check-rules: unknown option '--x'; see shd check-rules --help"),
        (["--check-rules", "--format", "xml"], "shd check-rules: invalid value 'xml' for '--format': expected text, json, github or journal; see shd check-rules --help"),
        (["test-rules"], "shd test-rules: no test files given; see shd test-rules --help"),
        (["test-rules", "--junit"], "shd test-rules: option '--junit' needs a value (FILE); see shd test-rules --help"),
        (["notify"], "shd notify: missing subcommand (test); see shd notify --help"),
        (["notify", "tset"], "shd notify: unknown command 'tset'; see shd notify --help"),
        (["notify", "test"], "shd notify test: name the channel to test; see shd notify test --help"),
        (["notify", "test", "a", "b"], "shd notify test: unexpected argument 'b'; see shd notify test --help"),
        (["completions"], "shd completions: name the shell (bash, zsh or fish); see shd completions --help"),
        (["completions", "tcsh"], "shd completions: invalid value 'tcsh' for 'SHELL': expected bash, zsh or fish; see shd completions --help"),
        (["help", "nope"], "shd help: unknown command 'nope'; see shd help --help"),
        (["bogus"], "shd: unknown command 'bogus'; see shd --help"),
        (["--bogus"], "shd: unknown option '--bogus'; see shd --help"),
    ]

    @Test(arguments: errors)
    func usageErrorsPrintOneLineAndExitTwo(_ args: [String], _ line: String) throws {
        let (status, out, err) = try shd(args)
        #expect(status == 2)
        #expect(err == line + "\n")
        #expect(out == "")
    }

    @Test func noArgumentsPrintsTheOverviewToStderrAndExitsTwo() throws {
        let (status, out, err) = try shd([])
        #expect(status == 2)
        #expect(out == "")
        #expect(err == ShdCommandLine.table.helpText([]))
    }

    @Test func versionBothSpellings() throws {
        for v in ["--version", "version"] {
            let (status, out, _) = try shd([v])
            #expect(status == 0)
            #expect(out == "shd \(ShdCommandLine.version)\n")
        }
    }

    /// A duration option reads the rule language's syntax end to end: `--interval 1d` reaches the daemon (which
    /// then fails on the missing rules folder, after the flags were accepted).
    @Test func intervalTakesRuleLanguageDurations() throws {
        let dir = makeTempDirectory("shd-cli")
        defer { _ = runShell("rm -rf '\(dir)'") }
        let (status, _, err) = try shd(["run", "--interval", "1d", "--rules", dir + "/missing", "--state-dir", dir + "/state"])
        #expect(status == 1, "\(err)")
        #expect(!err.contains("--interval"), "\(err)")
    }
}

/// README's Commands section and shd(8) name every command and every `run` option of the table.
@Suite struct CommandDocsTests {
    @Test func readmeAndManPageNameEveryCommandAndRunOption() {
        let readme = readText(TestPaths.packageRoot + "/README.md")
        let man = readText(TestPaths.packageRoot + "/docs/man/shd.8")
        let t = ShdCommandLine.table
        for c in t.subcommands where c.listed {
            #expect(readme.contains("`shd \(c.shownAs ?? c.name)"), "README: \(c.name)")
            #expect(man.contains(c.name.replacing("-", with: "\\-")), "shd.8: \(c.name)")
        }
        for o in t.find(["run"])!.options {
            #expect(readme.contains("`\(o.name)"), "README: run \(o.name)")
            #expect(man.contains(o.name.replacing("-", with: "\\-")), "shd.8: run \(o.name)")
        }
    }
}
