// Loading rule files and folders, and running a .test file (the commands themselves are tested in CLITests).
import Kit
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
        for name in listDirectory(path) { unlink(path + "/" + name) }
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
        let start = monotonicSeconds()
        let r = RuleSetLoader.load(sources: [("big.rules", src)], catalog: TestCatalog.catalog)
        let elapsed = monotonicSeconds() - start
        #expect(r.configuration?.rules.count == 10_000)
        // The budget (100 ms, release build) is measured in BENCHMARKS; a debug build gets generous room.
        #expect(elapsed < 10, "took \(elapsed) s")
    }
}

@Suite struct RuleTestRunnerTests {
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
        let (results, diagnostics, _) = RuleTestRunner.run(file: t, catalog: TestCatalog.catalog)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(results.map(\.name) == ["from a recorded report"])
        #expect(results.first?.failures == [])
    }
}
