// check-rules and test-rules as commands, and loading files: exit statuses, summaries, formats, bad input, JUnit.
import Testing
import Reports
import TestSupport
import Workers
#if canImport(Glibc)
import Glibc
#endif
@testable import Rules

/// A temporary directory removed when the value is released.
final class TempDir {
    let path: String
    init() {
        var template = Array("/tmp/shd-rules-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    deinit {
        if let d = opendir(path) {
            while let e = readdir(d) {
                // Through a pointer: copying `e.pointee.d_name` reads 256 bytes, past a short last record.
                let name = String(cString: UnsafeRawPointer(e).advanced(by: MemoryLayout<dirent>.offset(of: \dirent.d_name)!).assumingMemoryBound(to: CChar.self))
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(d)
        }
        rmdir(path)
    }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = path + "/" + name
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            precondition(n > 0)
            off += n
        }
        close(fd)
        return p
    }

    @discardableResult
    func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }

    func read(_ name: String) -> String? { RuleTestRunner.readFile(path + "/" + name).map { String(decoding: $0, as: UTF8.self) } }
}

@Suite struct LoaderTests {
    @Test func directoriesReadRulesFilesInNameOrder() throws {
        let dir = TempDir()
        dir.write("20-b.rules", "rule b on disk.filesystems { warn used_percent > 1 }")
        dir.write("10-a.rules", "rule a on disk.filesystems { warn used_percent > 1 }")
        dir.write("notes.txt", "this is not a rules file")
        dir.write(".hidden.rules", "garbage that must not be read {{{")
        let r = RuleSetLoader.load(paths: [dir.path], catalog: TestCatalog.catalog)
        #expect(r.diagnostics.isEmpty)
        #expect(r.configuration?.rules.map(\.name) == ["a", "b"])
        #expect(r.configuration?.files == [dir.path + "/10-a.rules", dir.path + "/20-b.rules"])
    }

    @Test func binaryFileIsAClearError() {
        let dir = TempDir()
        let p = dir.write("x.rules", Array("rule a on\n".utf8) + [0x7F, 0x45, 0x4C, 0x46, 0x00, 0x01])
        let r = RuleSetLoader.load(paths: [p], catalog: TestCatalog.catalog)
        #expect(r.diagnostics.map(\.id) == ["file-binary"])
        #expect(r.diagnostics[0].location.line == 2)
        #expect(r.diagnostics[0].message.contains("binary"))
    }

    @Test func invalidUTF8IsAClearError() {
        let dir = TempDir()
        let p = dir.write("x.rules", Array("set hostname \"".utf8) + [0xC3, 0x28] + Array("\"".utf8))
        let r = RuleSetLoader.load(paths: [p], catalog: TestCatalog.catalog)
        #expect(r.diagnostics.map(\.id) == ["file-encoding"])
        #expect(r.diagnostics[0].location.column == 15)
    }

    @Test func hugeFileIsRefusedQuickly() {
        let dir = TempDir()
        let line = Array("rule r on disk.filesystems { warn used_percent > 1 }\n".utf8)
        var big: [UInt8] = []
        big.reserveCapacity(RuleSetLoader.maxFileSize + line.count)
        while big.count <= RuleSetLoader.maxFileSize { big += line }
        let p = dir.write("big.rules", big)
        let r = RuleSetLoader.load(paths: [p], catalog: TestCatalog.catalog)
        #expect(r.diagnostics.map(\.id) == ["file-too-large"])
    }

    @Test func garbageTextGivesDiagnosticsNotACrash() {
        let dir = TempDir()
        var rng = SplitMix(seed: 7)
        let bytes = (0..<20000).map { _ in UInt8(32 + rng.next() % 95) }
        let p = dir.write("g.rules", bytes)
        let r = RuleSetLoader.load(paths: [p], catalog: TestCatalog.catalog)
        #expect(r.hasErrors)
        #expect(r.configuration == nil)
    }

    @Test func missingPathIsAnIOError() {
        let r = RuleSetLoader.load(paths: ["/nonexistent/shd.conf"], catalog: TestCatalog.catalog)
        #expect(r.diagnostics.first?.isIOError == true)
        #expect(RuleSetLoader.load(paths: ["/nonexistent/shd.conf"], catalog: TestCatalog.catalog, missingOK: true).diagnostics.isEmpty)
    }

    @Test func tenThousandRulesCheckInReasonableTime() {
        var src = "channel ops log\n"
        for i in 0..<10_000 {
            src += "rule r\(i) on disk.filesystems where mount ~ \"/*\" { warn used_percent > 85 for 5m clear < 80\n crit used_percent > 95 notify ops }\n"
        }
        let start = monotonic()
        let r = RuleSetLoader.load(sources: [("big.rules", src)], catalog: TestCatalog.catalog)
        let elapsed = monotonic() - start
        #expect(r.configuration?.rules.count == 10_000)
        // The budget (100 ms, release build) is measured in BENCHMARKS; a debug build gets generous room.
        #expect(elapsed < 10, "took \(elapsed) s")
    }
}

func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

@Suite struct CheckRulesCommandTests {
    func run(_ args: [String], defaults: [String] = [], tty: Bool = false) -> (Int32, String) {
        var out = ""
        let s = CheckRulesCommand.run(arguments: args, catalog: TestCatalog.catalog, defaultPaths: defaults, isTTY: tty) { out += $0 }
        return (s, out)
    }

    @Test func cleanPrintsASummaryAndExitsZero() {
        let dir = TempDir()
        dir.write("shd.conf", "channel ops log\nchannel pager webhook { url \"https://x\" }")
        dir.write("a.rules", "rule a on disk.filesystems { warn used_percent > 1 }\nrule b on disk.filesystems { warn used_percent > 2 }")
        let (s, out) = run([dir.path + "/shd.conf", dir.path + "/a.rules"])
        #expect(s == 0)
        #expect(out == "2 files, 2 rules, 2 channels: OK\n")
    }

    @Test func errorsExitOne() {
        let dir = TempDir()
        let p = dir.write("a.rules", "rule a on disk.filesystems { warn used_procent > 1 }")
        let (s, out) = run([p])
        #expect(s == 1)
        #expect(out.hasPrefix(p + ":1:35: error: unknown field `used_procent`"))
        #expect(out.hasSuffix("1 error, 0 warnings\n"))
    }

    @Test func usageAndIOErrorsExitTwo() {
        #expect(run(["--format", "xml"]).0 == 2)
        #expect(run(["--bogus"]).0 == 2)
        #expect(run(["/nonexistent.rules"]).0 == 2)
    }

    @Test func emptyRuleSetWarnsAndStrictFails() {
        let dir = TempDir()
        let p = dir.write("shd.conf", "set interval 10s")
        let (s, out) = run([p])
        #expect(s == 0)
        #expect(out.contains("warning: the rule set has no rules"))
        #expect(out.hasSuffix("1 file, 0 rules, 0 channels: OK (1 warning)\n"))
        let (s2, out2) = run(["--strict", p])
        #expect(s2 == 1)
        #expect(out2.contains("error: the rule set has no rules"))
    }

    @Test func strictTurnsWarningsIntoFailure() {
        let dir = TempDir()
        let p = dir.write("a.rules", "rule a on network.interfaces { warn rx_errors_total > 1 }")
        #expect(run([p]).0 == 0)
        #expect(run(["--strict", p]).0 == 1)
    }

    @Test func jsonAndGithubFormats() throws {
        let dir = TempDir()
        let p = dir.write("a.rules", "rule a on disk.filesystems { warn used_procent > 1 }")
        let (s, out) = run(["--format", "json", p])
        #expect(s == 1)
        let o = try JSONValue.parse(out)
        #expect(o["ok"] == .bool(false))
        #expect(o["errors"] == .int(1))
        #expect(o["diagnostics"]?.array?.first?["id"] == .string("unknown-field"))
        let (s2, out2) = run(["--format=github", p])
        #expect(s2 == 1)
        #expect(out2.hasPrefix("::error file=\(p),line=1,col=35,title=unknown-field::"))
    }

    @Test func defaultPathsSkipMissingOnes() {
        let dir = TempDir()
        dir.write("a.rules", "rule a on disk.filesystems { warn used_percent > 1 }")
        let (s, out) = run([], defaults: ["/nonexistent/shd.conf", dir.path])
        #expect(s == 0)
        #expect(out == "1 file, 1 rule, 0 channels: OK\n")
    }

    @Test func shippedRulesCheckCleanWithTheRealCatalog() {
        var out = ""
        let s = CheckRulesCommand.run(arguments: ["--strict", TestPaths.packageRoot + "/rules.d"], catalog: WorkerRegistry.catalog,
                                      defaultPaths: [], isTTY: false) { out += $0 }
        #expect(s == 0, "\(out)")
        #expect(out.hasSuffix("channels: OK\n"))
    }
}

@Suite struct TestRulesCommandTests {
    @Test func shippedRuleTestsPassAsACommand() {
        var out = ""
        let status = TestRulesCommand.run(arguments: [TestPaths.packageRoot + "/rules-tests"], catalog: WorkerRegistry.catalog) { out += $0 }
        #expect(status == 0, "\(out)")
        #expect(out.contains(", 0 failed"))
    }

    @Test func aFailingTestIsReportedWithADiffAndJUnit() throws {
        let dir = TempDir()
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
        }
        """)
        var out = ""
        let status = TestRulesCommand.run(arguments: ["--junit", dir.path + "/junit.xml", t], catalog: TestCatalog.catalog) { out += $0 }
        #expect(status == 1)
        #expect(out.contains("ok    \(t): passes\n"))
        #expect(out.contains("FAIL  \(t): fails\n"))
        #expect(out.contains("r.test:9:3: at 0s: expected 0s firing full"))
        #expect(out.contains("events: firing full crit {mount=\"/\"} — / full"))
        #expect(out.hasSuffix("2 tests, 1 failed\n"))
        let xml = try #require(dir.read("junit.xml"))
        #expect(xml.contains("<testsuites name=\"shd test-rules\" tests=\"2\" failures=\"1\">"))
        #expect(xml.contains("<testcase classname=\"\(t)\" name=\"passes\"/>"))
        #expect(xml.contains("<failure message="))
    }

    @Test func brokenRulesOrTestFileExitTwo() {
        let dir = TempDir()
        dir.write("bad.rules", "rule x on disk.filesystems { warn nope > 1 }")
        let t1 = dir.write("a.test", "rules \"bad.rules\"\ntest \"t\" { at 0s { disk.filesystems { mount \"/\" } } }")
        let t2 = dir.write("b.test", "rules \"bad.rules\"\ntest \"t\" { at soon }")
        let t4 = dir.write("d.test", "rules \"good.rules\"\ntest \"t\" { at 1e300s { disk.filesystems { mount \"/\" } } }")
        dir.write("good.rules", "rule x on disk.filesystems { warn used_percent > 1 }")
        let t3 = dir.write("c.test", "rules \"good.rules\"\ntest \"t\" { at 0s { disk.filesystems { mount \"/\" used_procent 5 } }\n expect 0s silent }")
        var out = ""
        #expect(TestRulesCommand.run(arguments: [t1], catalog: TestCatalog.catalog) { out += $0 } == 2)
        #expect(out.contains("unknown field `nope`"))
        out = ""
        #expect(TestRulesCommand.run(arguments: [t2], catalog: TestCatalog.catalog) { out += $0 } == 2)
        #expect(out.contains("expected a time offset"))
        #expect(TestRulesCommand.run(arguments: [], catalog: TestCatalog.catalog) { _ in } == 2)
        out = ""
        // A misspelt sample field would make a silent test pass vacuously: it is a load error instead.
        #expect(TestRulesCommand.run(arguments: [t3], catalog: TestCatalog.catalog) { out += $0 } == 2)
        #expect(out.contains("unknown field `used_procent` in filesystems samples; did you mean `used_percent`?"))
        out = ""
        #expect(TestRulesCommand.run(arguments: [t4], catalog: TestCatalog.catalog) { out += $0 } == 2)
        #expect(out.contains("limited to 100 years"))
    }

    @Test func recordedReportsAsSamples() throws {
        let dir = TempDir()
        dir.write("r.rules", "rule full on disk.filesystems { crit used_percent > 90 }")
        let report = TestCatalog.report("disk", "filesystems", at: 0, [TestCatalog.disk("/", used: 97)])
        dir.write("report.json", report.json.encoded(pretty: true))
        let t = dir.write("r.test", """
        rules "r.rules"
        test "from a recorded report" {
          at 0s report "report.json"
          expect 0s firing full crit { mount "/" }
        }
        """)
        var out = ""
        #expect(TestRulesCommand.run(arguments: [t], catalog: TestCatalog.catalog) { out += $0 } == 0, "\(out)")
    }
}
