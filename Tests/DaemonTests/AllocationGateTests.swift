// The allocation gate (as swift-nio's): heap allocations per steady-state tick and per evaluation, counted
// by bench/malloc-count.c preloaded into shd-bench, must not rise above the committed thresholds.
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The committed ceilings (BENCHMARKS.md, "Allocations per tick"), for the build the tests run (debug):
/// the shipped rules on machine-a, where the data does not change between ticks. Measured floor at the
/// commit that set them: tick 11,520, evaluation 939 with 21 shipped rules; 1,022 once the shipped set grew to
/// 38 rules (kernel, journal and probes rules; debug; the same on every run: the counts are deterministic on a
/// fixture tree); 1,069 at 44 rules, 1,094 with the 5 rules of rules.d/watch.rules (machine-a declares no watch: each
/// rule costs its function lookup, and the function slot array grew). The ceilings are 5 % above. Raise them only
/// with a reason in the commit.
let allocationCeilings = (tick: 12_100, evaluation: 1_149)

@Suite(.serialized) struct AllocationGateTests {
    @Test(.enabled(if: runShell("command -v cc >/dev/null 2>&1") == 0, "no C compiler (cc) to build bench/malloc-count.c"))
    func steadyStateTickAndEvaluationStayUnderTheirCeilings() throws {
        let dir = makeTempDirectory("shd-allocs")
        defer { _ = runShell("rm -rf '\(dir)'") }
        let lib = dir + "/libmalloc-count.so"
        try #require(runShell("cc -shared -fPIC -O2 -o '\(lib)' '\(TestPaths.packageRoot)/bench/malloc-count.c'") == 0)
        let bench = String(shdBinary.dropLast(3)) + "shd-bench"
        try #require(access(bench, X_OK) == 0, "no \(bench): build it (swift build)")
        let tree = TestPaths.fixture("machine-a")
        let p = try ChildProcess([bench, "allocations", "--rules", TestPaths.packageRoot + "/rules.d",
                                  "--proc-root", tree + "/proc", "--sys-root", tree + "/sys", "--etc-root", tree + "/etc",
                                  "--ticks", "50", "--warmup", "20"],
                                 environment: ChildProcess.inheritedEnvironment().merging(["LD_PRELOAD": lib]) { $1 },
                                 outputDirectory: dir)
        #expect(p.wait(timeout: 120) == 0, "\(p.stderr)")
        var counts: [String: Int] = [:]
        for line in p.stdout.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2, let n = Int(f[1]) { counts[String(f[0])] = n }
        }
        let tick = try #require(counts["tick"], "no tick count in: \(p.stdout)")
        let evaluation = try #require(counts["evaluation"], "no evaluation count in: \(p.stdout)")
        // A counter that counts nothing would pass any ceiling: a tick reads files and builds rows.
        #expect(tick > 0 && evaluation > 0)
        #expect(tick <= allocationCeilings.tick, "allocations per steady-state tick rose to \(tick) (ceiling \(allocationCeilings.tick))")
        #expect(evaluation <= allocationCeilings.evaluation,
                "allocations per evaluation rose to \(evaluation) (ceiling \(allocationCeilings.evaluation))")
    }
}
