// `shd completions bash|zsh|fish`: each script parses in its shell and names every command and option of the table.
import Testing
import TestSupport
@testable import CLI
#if canImport(Glibc)
import Glibc
#endif

/// The shell's path if it is installed.
func installed(_ shell: String) -> String? {
    ["/usr/bin/", "/bin/", "/usr/local/bin/"].map { $0 + shell }.first { access($0, X_OK) == 0 }
}

@Suite struct CompletionTests {
    @Test(arguments: ["bash", "zsh", "fish"])
    func scriptParsesAndNamesEveryOption(_ shell: String) throws {
        let (status, script, err) = try shd(["completions", shell])
        #expect(status == 0, "\(err)")
        #expect(script == ShdCommandLine.table.completionScript(for: shell))
        for (key, c) in ShdCommandLine.table.allCommands() {
            for o in c.allOptions {
                for n in o.names {
                    // fish spells them -l config / -s f.
                    let spelled = shell == "fish" ? (n.hasPrefix("--") ? "-l \(n.dropFirst(2))" : "-s \(n.dropFirst())") : n
                    #expect(script.contains(spelled), "\(shell): \(key.isEmpty ? "shd" : key) \(n)")
                }
                if case .choice(_, let words)? = o.value {
                    #expect(script.contains(words.joined(separator: " ")), "\(shell): values of \(o.name)")
                }
            }
            for s in c.subcommands {
                for n in [s.name] + s.aliases {
                    let spelled = shell == "fish" && n.hasPrefix("--") ? "-l \(n.dropFirst(2))" : n
                    #expect(script.contains(spelled), "\(shell): command \(n)")
                }
            }
        }
        guard let path = installed(shell) else {
            // Not a pass in disguise: the names above were checked; the syntax needs the shell.
            print("skip \(shell) -n: \(shell) is not installed")
            return
        }
        let dir = makeTempDirectory("shd-completion")
        defer { _ = runShell("rm -rf '\(dir)'") }
        writeText(dir + "/shd." + shell, script)
        let p = try ChildProcess([path, "-n", dir + "/shd." + shell], outputDirectory: dir)
        #expect(p.wait(timeout: 30) == 0, "\(shell) -n: \(p.stderr)")
        #expect(p.stderr == "", "\(shell) -n: \(p.stderr)")
    }

    /// bash completes from the table: commands, a command's options, an option's values, files for paths.
    @Test func bashCompletesFromTheTable() throws {
        guard let bash = installed("bash") else { print("skip: bash is not installed"); return }
        let dir = makeTempDirectory("shd-completion")
        defer { _ = runShell("rm -rf '\(dir)'") }
        writeText(dir + "/shd.bash", ShdCommandLine.table.completionScript(for: "bash")!)
        writeText(dir + "/rules.test", "")
        func complete(_ words: [String]) throws -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            writeText(dir + "/run.sh", """
                source '\(dir)/shd.bash'
                cd '\(dir)'
                COMP_WORDS=(shd \(quoted)); COMP_CWORD=\(words.count)
                _shd
                printf '%s\\n' "${COMPREPLY[@]}"
                """)
            let p = try ChildProcess([bash, dir + "/run.sh"], outputDirectory: dir)
            #expect(p.wait(timeout: 30) == 0, "\(p.stderr)")
            return p.stdout.split(separator: "\n").map(String.init)
        }
        #expect(try complete(["rep"]) == ["report"])
        #expect(try complete(["re"]) == ["report", "reload"])
        #expect(try complete(["run", "--st"]) == ["--state-dir"])
        #expect(try complete(["run", "--log-level", "d"]) == ["debug"])
        #expect(try complete(["--check-rules", "-f", ""]) == ["text", "json", "github", "journal"])
        #expect(try complete(["notify", ""]) == ["test"])
        #expect(try complete(["notify", "test", "--r"]) == ["--rules"])
        #expect(try complete(["completions", "f"]) == ["fish"])
        #expect(try complete(["test-rules", "--junit", "x.xml", "rules."]) == ["rules.test"])
        #expect(try complete(["report", "--worker", "me"]) == ["memory"])
    }
}

/// fish completes from the table too (`complete -C` asks it what it would offer).
@Suite struct FishCompletionTests {
    @Test func fishCompletesFromTheTable() throws {
        guard let fish = installed("fish") else { print("skip: fish is not installed"); return }
        let dir = makeTempDirectory("shd-completion")
        defer { _ = runShell("rm -rf '\(dir)'") }
        writeText(dir + "/shd.fish", ShdCommandLine.table.completionScript(for: "fish")!)
        func complete(_ line: String) throws -> [String] {
            let p = try ChildProcess([fish, "--no-config", "-c", "source '\(dir)/shd.fish'; complete -C '\(line)'"], outputDirectory: dir)
            #expect(p.wait(timeout: 30) == 0, "\(p.stderr)")
            return p.stdout.split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") }
        }
        #expect(try complete("shd rep") == ["report"])
        #expect(Set(try complete("shd re")) == ["report", "reload"])
        #expect(try complete("shd run --st") == ["--state-dir"])
        #expect(try complete("shd run --log-level d") == ["debug"])
        let formats = try #require(ShdCommandLine.table.find(["check-rules"])?.options.first { $0.name == "--format" }?.value)
        guard case .choice(_, let words) = formats else { Issue.record("--format is not a choice"); return }
        #expect(try complete("shd --check-rules -f ").sorted() == words.sorted())
        #expect(try complete("shd notify ") == ["test"])
        #expect(try complete("shd notify test --r") == ["--rules"])
        #expect(try complete("shd completions f") == ["fish"])
        #expect(try complete("shd report --worker me") == ["memory"])
    }
}
