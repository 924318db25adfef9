// check-rules and test-rules as commands: exit statuses, summaries, formats, colour, bad input, JUnit.
import Testing
import Reports
import TestSupport
import Workers
@testable import CLI

/// A temp folder with files written into it; removed when released.
final class Folder {
    let path = makeTempDirectory("shd-cli-rules")
    deinit { _ = runShell("rm -rf '\(path)'") }
    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        writeText(path + "/" + name, text)
        return path + "/" + name
    }
}

@Suite struct CheckRulesCommandTests {
    func run(_ o: CheckRulesCommand.Options, defaults: [String] = [], tty: Bool = false) -> (Int32, String) {
        var out = ""
        let s = CheckRulesCommand.run(o, catalog: WorkerRegistry.catalog, defaultPaths: defaults, isTTY: tty) { out += $0 }
        return (s, out)
    }

    @Test func cleanPrintsASummaryAndExitsZero() {
        let dir = Folder()
        dir.write("shd.conf", "channel ops log\nchannel pager webhook { url \"https://x\" }")
        dir.write("a.rules", "rule a on disk.filesystems { warn used_percent > 1 }\nrule b on disk.filesystems { warn used_percent > 2 }")
        let (s, out) = run(.init(paths: [dir.path + "/shd.conf", dir.path + "/a.rules"]))
        #expect(s == 0)
        #expect(out == "2 files, 2 rules, 2 channels: OK\n")
    }

    @Test func errorsExitOne() {
        let dir = Folder()
        let p = dir.write("a.rules", "rule a on disk.filesystems { warn used_procent > 1 }")
        let (s, out) = run(.init(paths: [p]))
        #expect(s == 1)
        #expect(out.hasPrefix(p + ":1:35: error: unknown field `used_procent`"))
        #expect(out.hasSuffix("1 error, 0 warnings\n"))
    }

    @Test func ioErrorsExitTwo() {
        #expect(run(.init(paths: ["/nonexistent.rules"])).0 == 2)
    }

    @Test func emptyRuleSetWarnsAndStrictFails() {
        let dir = Folder()
        let p = dir.write("shd.conf", "set interval 10s")
        let (s, out) = run(.init(paths: [p]))
        #expect(s == 0)
        #expect(out.contains("warning: the rule set has no rules"))
        #expect(out.hasSuffix("1 file, 0 rules, 0 channels: OK (1 warning)\n"))
        let (s2, out2) = run(.init(strict: true, paths: [p]))
        #expect(s2 == 1)
        #expect(out2.contains("error: the rule set has no rules"))
    }

    @Test func strictTurnsWarningsIntoFailure() {
        let dir = Folder()
        let p = dir.write("a.rules", "rule a on network.interfaces { warn rx_errors_total > 1 }")
        #expect(run(.init(paths: [p])).0 == 0)
        #expect(run(.init(strict: true, paths: [p])).0 == 1)
    }

    @Test func jsonAndGithubFormats() throws {
        let dir = Folder()
        let p = dir.write("a.rules", "rule a on disk.filesystems { warn used_procent > 1 }")
        let (s, out) = run(.init(format: "json", paths: [p]))
        #expect(s == 1)
        let o = try JSONValue.parse(out)
        #expect(o["ok"] == .bool(false))
        #expect(o["errors"] == .int(1))
        #expect(o["diagnostics"]?.array?.first?["id"] == .string("unknown-field"))
        let (s2, out2) = run(.init(format: "github", paths: [p]))
        #expect(s2 == 1)
        #expect(out2.hasPrefix("::error file=\(p),line=1,col=35,title=unknown-field::"))
    }

    @Test func colourFollowsTheTerminalUnlessTold() {
        let dir = Folder()
        let p = dir.write("a.rules", "rule a on disk.filesystems { warn used_procent > 1 }")
        #expect(run(.init(paths: [p]), tty: true).1.contains("\u{1B}["))
        #expect(!run(.init(paths: [p]), tty: false).1.contains("\u{1B}["))
        #expect(!run(.init(color: false, paths: [p]), tty: true).1.contains("\u{1B}["))
        #expect(run(.init(color: true, paths: [p]), tty: false).1.contains("\u{1B}["))
    }

    @Test func theLastOfColorAndNoColorWins() throws {
        for (args, color) in [(["--color", "--no-color"], false), (["--no-color", "--color"], true)] {
            guard case .run(let p) = try ShdCommandLine.table.parse(["check-rules"] + args) else { Issue.record("not a run"); continue }
            #expect(p.last(of: ["--color", "--no-color"]) == (color ? "--color" : "--no-color"))
        }
    }

    @Test func defaultPathsSkipMissingOnes() {
        let dir = Folder()
        dir.write("a.rules", "rule a on disk.filesystems { warn used_percent > 1 }")
        let (s, out) = run(.init(), defaults: ["/nonexistent/shd.conf", dir.path])
        #expect(s == 0)
        #expect(out == "1 file, 1 rule, 0 channels: OK\n")
    }

    @Test func shippedRulesCheckClean() {
        let (s, out) = run(.init(strict: true, paths: [TestPaths.packageRoot + "/rules.d"]))
        #expect(s == 0, "\(out)")
        #expect(out.hasSuffix("channels: OK\n"))
    }
}

@Suite struct TestRulesCommandTests {
    func run(_ paths: [String], junit: String? = nil) -> (Int32, String) {
        var out = ""
        let s = TestRulesCommand.run(paths: paths, junit: junit, catalog: WorkerRegistry.catalog) { out += $0 }
        return (s, out)
    }

    @Test func shippedRuleTestsPassAsACommand() {
        let (status, out) = run([TestPaths.packageRoot + "/rules-tests"])
        #expect(status == 0, "\(out)")
        #expect(out.contains(", 0 failed"))
    }

    @Test func aFailingTestIsReportedWithADiffAndJUnit() throws {
        let dir = Folder()
        dir.write("r.rules", "rule full on disk.filesystems { crit used_percent > 90 summary \"{mount} full\" }")
        let t = dir.write("r.test", """
        rules "r.rules"
        test "passes" {
          at 0s { disk.filesystems { mount "/" used_percent 95 } }
          expect 0s event firing full crit { mount "/" }
        }
        test "fails" {
          at 0s { disk.filesystems { mount "/" used_percent 50 } }
          at 1m { disk.filesystems { mount "/" used_percent 95 } }
          expect 0s firing full
          expect 1m silent
          expect 0s..1m  inactive full { mount "/" }
        }
        """)
        let (status, out) = run([t], junit: dir.path + "/junit.xml")
        #expect(status == 1)
        #expect(out.contains("ok    \(t): passes\n"))
        #expect(out.contains("FAIL  \(t): fails\n"))
        #expect(out.contains("r.test:9:3: at 0s: expected 0s firing full"))
        // The expectation as written: a range without spaces, one space where the file has two.
        #expect(out.contains("r.test:11:3: at 1m: expected 0s..1m inactive full { mount \"/\" }"), "\(out)")
        #expect(out.contains("events: firing full crit {mount=\"/\"} — / full"))
        #expect(out.hasSuffix("2 tests, 1 failed\n"))
        let xml = readText(dir.path + "/junit.xml")
        #expect(xml.contains("<testsuites name=\"shd test-rules\" tests=\"2\" failures=\"1\">"))
        #expect(xml.contains("<testcase classname=\"\(t)\" name=\"passes\"/>"))
        #expect(xml.contains("<failure message="))
    }

    @Test func brokenRulesOrTestFileExitTwo() {
        let dir = Folder()
        dir.write("bad.rules", "rule x on disk.filesystems { warn nope > 1 }")
        let t1 = dir.write("a.test", "rules \"bad.rules\"\ntest \"t\" { at 0s { disk.filesystems { mount \"/\" } } }")
        let t2 = dir.write("b.test", "rules \"bad.rules\"\ntest \"t\" { at soon }")
        let t4 = dir.write("d.test", "rules \"good.rules\"\ntest \"t\" { at 1e300s { disk.filesystems { mount \"/\" } } }")
        dir.write("good.rules", "rule x on disk.filesystems { warn used_percent > 1 }")
        let t3 = dir.write("c.test", "rules \"good.rules\"\ntest \"t\" { at 0s { disk.filesystems { mount \"/\" used_procent 5 } }\n expect 0s silent }")
        var (s, out) = run([t1])
        #expect(s == 2)
        #expect(out.contains("unknown field `nope`"))
        (s, out) = run([t2])
        #expect(s == 2)
        #expect(out.contains("expected a time offset"))
        // A misspelt sample field would make a silent test pass vacuously: it is a load error instead.
        (s, out) = run([t3])
        #expect(s == 2)
        #expect(out.contains("unknown field `used_procent` in filesystems samples; did you mean `used_percent`?"))
        (s, out) = run([t4])
        #expect(s == 2)
        #expect(out.contains("limited to 100 years"))
    }

    @Test func aFolderRunsItsTestFilesInNameOrder() {
        let dir = Folder()
        dir.write("r.rules", "rule full on disk.filesystems { crit used_percent > 90 }")
        for n in ["b", "a"] {
            dir.write("\(n).test", "rules \"r.rules\"\ntest \"\(n)\" {\n  at 0s { disk.filesystems { mount \"/\" used_percent 10 } }\n  expect 0s silent\n}\n")
        }
        dir.write("notes.txt", "not a test")
        let (s, out) = run([dir.path])
        #expect(s == 0, "\(out)")
        #expect(out == "ok    \(dir.path)/a.test: a\nok    \(dir.path)/b.test: b\n2 tests, 0 failed\n")
    }
}
