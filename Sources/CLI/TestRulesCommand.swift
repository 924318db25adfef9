// `shd test-rules [--junit FILE] FILE|DIR…`: runs rule tests and prints one line per test.
import Kit
import Reports
import Rules
#if canImport(Glibc)
import Glibc
#endif

/// The `test-rules` command: runs every test of the given files and folders (their *.test files).
public enum TestRulesCommand {
    /// Runs the tests; returns the exit status (0 all pass, 1 a test failed, 2 load errors or an unwritable JUnit file).
    public static func run(paths: [String], junit: String?, catalog: Catalog, write: (String) -> Void) -> Int32 {
        var files: [String] = []
        for p in paths {
            var st = stat()
            if stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                guard let names = try? readDirectory(p).filter({ $0.hasSuffix(".test") }) else { continue }
                files += names.sorted().map { p + (p.hasSuffix("/") ? "" : "/") + $0 }
            } else {
                files.append(p)
            }
        }
        var all: [RuleTestResult] = []
        var loadFailed = false
        for f in files {
            let (results, diags, sources) = RuleTestRunner.run(file: f, catalog: catalog)
            if diags.contains(where: { $0.severity == .error }) {
                loadFailed = true
                write(DiagnosticPrinter.text(diags, sources: sources, color: false))
                write("ERROR \(f): cannot run its tests\n")
                continue
            }
            for r in results {
                write((r.passed ? "ok    " : "FAIL  ") + "\(f): \(r.name)\n")
                for m in r.failures { write("      " + m + "\n") }
            }
            all += results
        }
        let failed = all.filter { !$0.passed }.count
        write("\(all.count) test\(all.count == 1 ? "" : "s"), \(failed) failed\n")
        if let junit {
            let xml = RuleTestRunner.junit(all)
            let fd = open(junit, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 {
                write("shd test-rules: cannot write \(junit): \(String(cString: strerror(errno)))\n")
                return 2
            }
            let bytes = Array(xml.utf8)
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                off += n
            }
            close(fd)
        }
        if loadFailed { return 2 }
        return failed > 0 ? 1 : 0
    }
}
