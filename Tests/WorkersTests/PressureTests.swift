// pressure worker: the PSI parser on real kernel text, the three functions on machine-a, PSI absent → no data.
import Testing
import Reports
import TestSupport
@testable import Workers

@Suite struct PressureParserTests {
    @Test(arguments: [
        // This machine (Linux 6.18), /proc/pressure/cpu.
        ("some avg10=0.85 avg60=0.60 avg300=0.48 total=3535200\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
         ["some", "full"], 0.85, 3535200 as UInt64),
        // A 5.4 kernel's cpu file: `some` only (the `full` line came with 5.13).
        ("some avg10=12.03 avg60=9.87 avg300=4.51 total=8104519213\n", ["some"], 12.03, 8104519213),
        // A memory file under pressure (Documentation/accounting/psi.rst layout).
        ("some avg10=0.22 avg60=0.17 avg300=1.11 total=58761459\nfull avg10=0.23 avg60=0.16 avg300=1.08 total=58464525\n",
         ["some", "full"], 0.22, 58761459),
        // A future kernel adding a window and a line kind: both skipped.
        ("some avg10=1.00 avg60=2.00 avg300=3.00 avg900=4.00 total=5\nstall count=3\n", ["some"], 1.0, 5),
    ])
    func parsesRealText(text: String, kinds: [String], someAvg10: Double, someTotal: UInt64) throws {
        let lines = try parsePressure(Array(text.utf8))
        #expect(lines.map(\.kind) == kinds)
        #expect(lines[0].avg10 == someAvg10)
        #expect(lines[0].totalMicroseconds == someTotal)
    }

    @Test(arguments: [
        "", "\u{0}\u{1}", "some avg10=0.85\n", "some avg10=x avg60=0.60 avg300=0.48 total=1\n",
        "some avg10=0.85 avg60=0.60 avg300=0.48 total=-1\n", "some avg10=0.85 avg60=0.60 avg300=0.48 tot",
        "nothing here\n",
    ])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parsePressure(Array(text.utf8)) }
    }
}

@Suite struct PressureFunctionTests {
    @Test func machineATwice() throws {
        let functions: [any MetricFunction] = [CPUPressureFunction(), MemoryPressureFunction(), IOPressureFunction()]
        for f in functions {
            let a = try f.collect(CW.context(CW.machineA, monotonic: 1))
            let b = try f.collect(CW.context(CW.machineA, monotonic: 2))
            #expect(a == b)
            #expect(a.map { $0["kind"]?.string } == ["some", "full"])
            for row in a {
                for k in ["avg10", "avg60", "avg300"] {
                    let v = try #require(row[k]?.number)
                    #expect(v >= 0 && v <= 100)
                }
            }
            #expect(CW.schemaMismatches(a, type(of: f).schema).isEmpty)
        }
        let cpu = try CPUPressureFunction().collect(CW.context(CW.machineA, monotonic: 1))
        #expect(cpu[0]["avg10"] == .double(8.45))
        #expect(cpu[0]["total_seconds"] == .double(10.362828))
    }

    @Test func missingPSIIsNoDataNotAnError() throws {
        // A proc tree without a pressure directory, as on a kernel built without CONFIG_PSI.
        let dir = try CW.makeTree([("proc/loadavg", "0.21 0.37 0.39 1/719 19737\n")])
        defer { CW.removeTree(dir) }
        let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
        let report = PressureWorker.make().collect(roots: roots, options: WorkerOptions())
        #expect(report.functionReports.map(\.name) == ["cpu", "memory", "io"])
        for fr in report.functionReports {
            #expect(fr.error == nil)
            #expect(fr.data.isEmpty)
        }
    }

    @Test func garbageFileIsAnError() throws {
        let dir = try CW.makeTree([("proc/pressure/io", "some avg10=0.00\n")])
        defer { CW.removeTree(dir) }
        let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
        let report = PressureWorker.make().collect(roots: roots, options: WorkerOptions())
        #expect(report.function("io")?.error?.hasPrefix("pressure: malformed line") == true)
        // A kernel with PSI has all three files: cpu missing beside io is an error naming it.
        #expect(report.function("cpu")?.error == dir + "/proc/pressure/cpu: No such file or directory")
    }
}
