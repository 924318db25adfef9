// cpu worker: the /proc/stat and cpuinfo parsers, utilisation deltas, and every cpu function on machine-a and live.
// Over 400 lines: /proc/stat and cpuinfo parser tables from real kernels, and the utilisation deltas.
import Testing
import Reports
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Shared by the cpu, memory, pressure and system tests: fixture roots, contexts, the schema check.
enum CoreWorkerTesting {
    static let machineA: SourceRoots = {
        let base = TestPaths.fixture("machine-a")
        return SourceRoots(proc: base + "/proc", sys: base + "/sys", etc: base + "/etc")
    }()

    static let live = SourceRoots()

    static func context(_ roots: SourceRoots, monotonic: Double) -> CollectContext {
        CollectContext(roots: roots, options: WorkerOptions(), now: Timestamp(microseconds: 1_795_600_000_000_000),
                       monotonic: monotonic)
    }

    /// Every key of every row is declared in the schema with a matching JSON kind; returns the mismatches.
    static func schemaMismatches(_ rows: [Row], _ schema: FunctionSchema) -> [String] {
        var out: [String] = []
        for row in rows {
            for (key, value) in row {
                guard let f = schema.field(key) else { out.append("\(schema.name): undeclared field \(key)"); continue }
                let ok: Bool
                switch (f.kind, value) {
                case (.label, .string), (.bool, .bool), (.number, .int), (.number, .double), (.counter, .int),
                     (.counter, .double): ok = true
                default: ok = false
                }
                if !ok { out.append("\(schema.name).\(key): declared \(f.kind), got \(value)") }
            }
        }
        return out
    }

    /// Field names follow the house rules: snake_case, counters carry `total`.
    static func namingMismatches(_ schema: FunctionSchema) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        for f in schema.fields {
            if !seen.insert(f.name).inserted { out.append("\(schema.name).\(f.name) declared twice") }
            if f.name.contains(where: { !($0.isLowercase || $0.isNumber || $0 == "_") }) {
                out.append("\(schema.name).\(f.name) is not snake_case")
            }
            if f.kind == .counter && !f.name.contains("total") { out.append("\(schema.name).\(f.name) counter without total") }
        }
        return out
    }

    /// A fresh directory under /tmp holding `files` (relative path → content); the caller removes it.
    static func makeTree(_ files: [(String, String)]) throws -> String {
        var template = Array("/tmp/shd-wa-test-XXXXXX".utf8CString)
        let dir = try #require(template.withUnsafeMutableBufferPointer { p -> String? in
            guard let r = mkdtemp(p.baseAddress!) else { return nil }
            return String(cString: r)
        })
        for (rel, text) in files {
            let path = dir + "/" + rel
            var prefix = ""
            for part in path.split(separator: "/").dropLast() {
                prefix += "/" + part
                mkdir(prefix, 0o755)
            }
            let f = try #require(fopen(path, "w"))
            fputs(text, f)
            fclose(f)
        }
        return dir
    }

    static func removeTree(_ dir: String) {
        guard dir.hasPrefix("/tmp/shd-wa-test-") else { return }
        _ = system("rm -rf '\(dir)'")
    }

    static func number(_ row: Row, _ key: String) -> Double? { row[key]?.number }
}

typealias CW = CoreWorkerTesting

@Suite struct ProcStatParserTests {
    /// This machine (Linux 6.18), trimmed `intr` line.
    static let linux618 = """
        cpu  3525 0 1821 64605 399 0 21 10 0 0
        cpu0 1388 0 698 33076 15 0 6 4 0 0
        cpu1 2137 0 1122 31528 383 0 14 6 0 0
        intr 113442 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 16 0 0 0 0 70 43 0 18 1 26879
        ctxt 219480
        btime 1795594233
        processes 4173
        procs_running 3
        procs_blocked 0
        softirq 71086 0 8738 3 382 26878 0 2 19076 0 16007

        """

    /// Documentation/filesystems/proc.rst example (Linux 5.x, guest and guest_nice columns), 2 of 4 CPUs.
    static let kernelDocs = """
        cpu  237902850 368826709 106375398 1873517540 1135548 0 14507935 0 0 0
        cpu0 60045249 91891769 20050840 460131890 281922 0 9339612 0 0 0
        cpu1 59746288 91759249 20609887 468402180 274735 0 9330322 0 0 0
        intr 9317591165 0 0 0 0
        ctxt 22848221062
        btime 1605316999
        processes 746787147
        procs_running 2
        procs_blocked 0
        softirq 12121874454 100099120 3938138295 127375644 2795979 187870761 0 173808342 3072582055 52608 224184354

        """

    /// A 2.6.18 kernel (RHEL 5): 8 cpu columns, no guest; `page`/`swap` lines of older kernels are skipped.
    static let linux2618 = """
        cpu  79242 0 74306 842486413 756859 6140 67701 0
        cpu0 38959 0 38131 421163612 378524 3066 33775 0
        page 5741 1808
        swap 1 0
        intr 114930548 113199788 3 0 5 263 0 4
        ctxt 1990473
        btime 1062191376
        processes 2915
        procs_running 1
        procs_blocked 0
        a_line_from_a_future_kernel 1 2 3

        """

    @Test(arguments: [
        (linux618, 3, 35.25, 219480 as UInt64, 1795594233 as UInt64, 0 as UInt64),
        (kernelDocs, 3, 2379028.5, 22848221062, 1605316999, 0),
        (linux2618, 2, 792.42, 1990473, 1062191376, 0),
    ])
    func parsesRealText(text: String, lines: Int, userSeconds: Double, ctxt: UInt64, btime: UInt64, guestNice: UInt64) throws {
        let s = try parseProcStat(Array(text.utf8))
        #expect(s.cpus.count == lines)
        let total = try #require(s.total)
        #expect(Double(total.user) / 100 == userSeconds)
        #expect(total.guestNice == guestNice)
        #expect(s.contextSwitches == ctxt)
        #expect(s.bootTime == btime)
        #expect(s.perCPU.count == lines - 1)
        #expect(s.procsRunning != nil && s.forks != nil)
    }

    @Test func readsEveryCounter() throws {
        let s = try parseProcStat(Array(Self.linux618.utf8))
        #expect(s.interrupts == 113442)
        #expect(s.softirqs == 71086)
        #expect(s.forks == 4173)
        #expect(s.procsRunning == 3)
        #expect(s.procsBlocked == 0)
        #expect(s.cpus[2] == CPUTicks(name: "cpu1", user: 2137, system: 1122, idle: 31528, iowait: 383, softirq: 14, steal: 6))
        #expect(s.cpus[0].totalTicks == 3525 + 1821 + 64605 + 399 + 21 + 10)
    }

    @Test(arguments: [
        "", "\u{0}\u{1}\u{2}\u{3}", "ctxt 5\nbtime 7\n", "cpu  1 2 3\n", "cpu  a b c d\n",
        "cpu  1 2 3 4\nctxt x\n", "cpu  1 2 3 4 -5\n", "cpu  3525 0 1821 64605 399 0 21 10 0 0\ncpu0 1388 0 69",
        "cpu  99999999999999999999999 0 0 0\n",
    ])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseProcStat(Array(text.utf8)) }
    }
}

@Suite struct CPUInfoTopologyTests {
    @Test func countsCoresAndPackages() throws {
        // Two packages of two cores with hyper-threading (x86 layout; other keys trimmed).
        var text = ""
        for (i, (p, c)) in [(0, 0), (0, 1), (1, 0), (1, 1), (0, 0), (0, 1), (1, 0), (1, 1)].enumerated() {
            text += "processor\t: \(i)\nvendor_id\t: GenuineIntel\nphysical id\t: \(p)\nsiblings\t: 4\ncore id\t\t: \(c)\ncpu cores\t: 2\n\n"
        }
        let t = try #require(parseCPUInfoTopology(Array(text.utf8)))
        #expect(t == CPUTopology(physicalCores: 4, packages: 2))
    }

    @Test func armHasNoCoreIDs() {
        let arm = "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd evtstrm\nCPU implementer\t: 0x41\n\n"
        #expect(parseCPUInfoTopology(Array(arm.utf8)) == nil)
    }

    @Test func machineAFromSysfs() {
        #expect(readCPUTopology(CW.machineA) == CPUTopology(physicalCores: 2, packages: 1))
    }
}

@Suite struct CPUUtilisationTests {
    @Test func deltaBetweenSamples() throws {
        let a = CPUTicks(name: "cpu0", user: 100, system: 50, idle: 800, iowait: 50)
        let b = CPUTicks(name: "cpu0", user: 160, system: 70, idle: 900, iowait: 70)
        let u = try #require(cpuUtilisation(b, since: a))
        let p = Dictionary(uniqueKeysWithValues: u.percent)
        #expect(u.ticks == 200)
        #expect(p["user"] == 30)
        #expect(p["system"] == 10)
        #expect(p["idle"] == 50)
        #expect(p["iowait"] == 10)
        #expect(u.busy == 40)
    }

    @Test func sinceBootWithoutPrevious() throws {
        let now = CPUTicks(name: "cpu", user: 25, idle: 75)
        #expect(try #require(cpuUtilisation(now, since: nil)).busy == 25)
        // No ticks elapsed: nothing to divide, and the caller keeps the earlier sample as the baseline.
        #expect(cpuUtilisation(now, since: now) == nil)
    }

    /// A field that goes backwards counts 0 for the interval; the other fields keep their interval
    /// values (before, one such field made the whole row fall back to since-boot averages).
    static let backwards: [(name: String, before: CPUTicks, after: CPUTicks, ticks: UInt64, busy: Double, user: Double)] = [
        // Documentation/filesystems/proc.rst: "iowait … can decrease in certain conditions".
        ("iowait back one jiffy", CPUTicks(name: "cpu0", user: 1000, idle: 8000, iowait: 500),
         CPUTicks(name: "cpu0", user: 1050, idle: 8150, iowait: 499), 200, 25, 25),
        ("idle back (CPU unplugged and back)", CPUTicks(name: "cpu1", user: 1000, system: 100, idle: 8000),
         CPUTicks(name: "cpu1", user: 1100, system: 200, idle: 10), 200, 100, 50),
        ("steal reset by the hypervisor", CPUTicks(name: "cpu", user: 10_000, idle: 10_000, steal: 900),
         CPUTicks(name: "cpu", user: 10_030, idle: 10_070, steal: 0), 100, 30, 30),
    ]

    @Test(arguments: backwards.indices) func counterGoingBackwardsCountsZero(_ i: Int) throws {
        let c = Self.backwards[i]
        let u = try #require(cpuUtilisation(c.after, since: c.before), "\(c.name)")
        let p = Dictionary(uniqueKeysWithValues: u.percent)
        #expect(u.ticks == c.ticks, "\(c.name)")
        #expect(u.busy == c.busy, "\(c.name)")
        #expect(p["user"] == c.user, "\(c.name)")
    }

    @Test func emptyCPUIsZeroNotNaN() throws {
        let u = try #require(cpuUtilisation(CPUTicks(name: "cpu9"), since: nil))
        #expect(u.busy == 0)
        #expect(u.percent.allSatisfy { $0.1 == 0 })
    }

    @Test func absurdTicksDoNotTrap() throws {
        let huge = CPUTicks(name: "cpu", user: .max, nice: .max, system: .max, idle: .max, iowait: .max, irq: .max,
                            softirq: .max, steal: .max, guest: .max, guestNice: .max)
        #expect(huge.totalTicks == .max)
        let u = try #require(cpuUtilisation(huge, since: nil))
        #expect(u.busy >= 0 && u.busy <= 100)
        let v = try #require(cpuUtilisation(huge, since: CPUTicks(name: "cpu")))
        #expect(v.percent.allSatisfy { $0.1 >= 0 && $0.1 <= 100 })
    }
}

@Suite struct CPUFunctionTests {
    @Test func timesOnMachineA() throws {
        let rows = try CPUTimesFunction().collect(CW.context(CW.machineA, monotonic: 10))
        #expect(rows.map { $0["cpu"]?.string } == ["total", "0", "1"])
        #expect(rows[0]["user_seconds_total"]?.number == 94.85)
        #expect(rows[1]["idle_seconds_total"]?.number == 523.65)
        #expect(CW.schemaMismatches(rows, CPUTimesFunction.schema).isEmpty)
    }

    @Test func utilisationOnMachineATwice() throws {
        let f = CPUUtilisationFunction()
        let first = try f.collect(CW.context(CW.machineA, monotonic: 10))
        let second = try f.collect(CW.context(CW.machineA, monotonic: 11))
        // Identical samples: no tick elapsed, so the first interval's figures (here since boot) stand.
        #expect(first == second)
        for row in first {
            for (key, value) in row where key.hasSuffix("_percent") {
                let v = try #require(value.number)
                #expect(v >= 0 && v <= 100, "\(key) = \(v)")
            }
        }
        // total: busy = 100 - (101308 + 720) / 115734 ticks.
        #expect(first[0]["busy_percent"]?.number == 11.84)
        #expect(CW.schemaMismatches(first, CPUUtilisationFunction.schema).isEmpty)
    }

    @Test func statsOnMachineATwice() throws {
        let f = CPUStatsFunction()
        let first = try #require(try f.collect(CW.context(CW.machineA, monotonic: 10)).first)
        #expect(first["context_switches_per_second"] == nil, "no rate before a second sample")
        let second = try #require(try f.collect(CW.context(CW.machineA, monotonic: 12)).first)
        #expect(second["logical_cpus"] == .int(2))
        #expect(second["physical_cores"] == .int(2))
        #expect(second["context_switches_total"] == .int(443990))
        #expect(second["forks_total"] == .int(12254))
        for k in ["context_switches", "interrupts", "softirqs", "forks"] {
            #expect(second[k + "_per_second"]?.number == 0, "\(k) rate on identical samples")
        }
        // machine-a has no cpufreq: the frequency is cpuinfo's cpu MHz, without hardware limits.
        #expect(second["frequency_mhz"] == .double(2596.13) && second["frequency_max_mhz"] == nil)
        #expect(CW.schemaMismatches([first, second], CPUStatsFunction.schema).isEmpty)
    }

    @Test func frequenciesFromCpufreq() throws {
        // Values as an Intel laptop's intel_pstate driver prints them (kHz).
        let dir = try CW.makeTree([
            ("sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2100000\n"),
            ("sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_min_freq", "400000\n"),
            ("sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "4700000\n"),
            ("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "powersave\n"),
            ("sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "900000\n"),
            ("sys/devices/system/cpu/cpu1/cpufreq/cpuinfo_min_freq", "400000\n"),
            ("sys/devices/system/cpu/cpu1/cpufreq/cpuinfo_max_freq", "4700000\n"),
            ("sys/devices/system/cpu/cpufreq/policy0/scaling_governor", "powersave\n"),
            ("proc/stat", ProcStatParserTests.linux618),
        ])
        defer { CW.removeTree(dir) }
        let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
        let reader = CPUFrequencyReader()
        let rows = try CPUFrequenciesFunction(frequencies: reader).collect(CW.context(roots, monotonic: 1))
        #expect(rows.count == 2)
        #expect(rows[0]["current_mhz"] == .double(2100))
        #expect(rows[0]["governor"] == .string("powersave"))
        #expect(rows[1]["governor"] == nil)
        #expect(rows[1]["max_mhz"] == .double(4700))
        #expect(CW.schemaMismatches(rows, CPUFrequenciesFunction.schema).isEmpty)
        let stats = try #require(try CPUStatsFunction(frequencies: reader).collect(CW.context(roots, monotonic: 1)).first)
        #expect(stats["frequency_mhz"] == .double(1500))
        #expect(stats["frequency_min_mhz"] == .double(400))
        #expect(stats["frequency_max_mhz"] == .double(4700))
    }

    /// machine-a is a Firecracker VM without cpufreq: the frequency is cpuinfo's `cpu MHz`, as psutil reads it.
    @Test func withoutCpufreqTheFrequencyIsCpuinfosMHz() throws {
        let reader = CPUFrequencyReader()
        let rows = try CPUFrequenciesFunction(frequencies: reader).collect(CW.context(CW.machineA, monotonic: 1))
        #expect(rows == [["cpu": "0", "current_mhz": 2596.13], ["cpu": "1", "current_mhz": 2596.13]])
        #expect(CW.schemaMismatches(rows, CPUFrequenciesFunction.schema).isEmpty)
        let stats = try #require(try CPUStatsFunction(frequencies: reader).collect(CW.context(CW.machineA, monotonic: 1)).first)
        #expect(stats["frequency_mhz"] == .double(2596.13) && stats["frequency_min_mhz"] == nil)
    }

    @Test(arguments: [
        // x86 (Linux 6.x, a two-socket Xeon): processor numbers need not be in order of sockets.
        ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\ncpu MHz\t\t: 1200.042\n\nprocessor\t: 14\ncpu MHz\t\t: 3300.000\n\n",
         [0, 14], [1200042, 3300000] as [UInt64]),
        // arm64 prints no cpu MHz: no data.
        ("processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n\n", [], []),
    ])
    func parsesCpuMHz(text: String, cpus: [Int], kHz: [UInt64]) throws {
        let r = try parseCPUInfoMHz(Array(text.utf8))
        #expect(r.map(\.cpu) == cpus && r.map(\.kHz) == kHz)
    }

    @Test func garbageCpuMHzIsAnErrorOfCpuFrequenciesOnly() throws {
        let dir = try CW.makeTree([("proc/cpuinfo", "processor\t: 0\ncpu MHz\t\t: fast\n"), ("proc/stat", ProcStatParserTests.linux618)])
        defer { CW.removeTree(dir) }
        let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
        let reader = CPUFrequencyReader()
        #expect(throws: CollectError.self) { try CPUFrequenciesFunction(frequencies: reader).collect(CW.context(roots, monotonic: 1)) }
        let stats = try #require(try CPUStatsFunction(frequencies: reader).collect(CW.context(roots, monotonic: 1)).first)
        #expect(stats["frequency_mhz"] == nil && stats["context_switches_total"] != nil)
    }

    @Test func liveMachineTwice() throws {
        let w = CPUWorker.make()
        _ = w.collect(roots: CW.live, options: WorkerOptions())
        let r = w.collect(roots: CW.live, options: WorkerOptions())
        for fr in r.functionReports {
            #expect(fr.error == nil, "\(fr.name): \(fr.error ?? "")")
        }
        let util = try #require(r.function("utilisation"))
        for row in util.data {
            for (key, value) in row where key.hasSuffix("_percent") {
                let v = try #require(value.number)
                #expect(v >= 0 && v <= 100, "\(key) = \(v)")
            }
        }
        let stats = try #require(r.function("stats")?.data.first)
        #expect((stats["context_switches_per_second"]?.number ?? -1) >= 0)
    }
}

@Suite struct CoreWorkerSchemaTests {
    static let workers = ["cpu", "memory", "pressure", "system"]

    /// Every row key is declared with its kind: the rule checker's catalog comes from these schemas.
    @Test(arguments: workers)
    func rowsMatchSchemas(worker: String) throws {
        for roots in [CW.machineA, CW.live] {
            let w = try #require(WorkerRegistry.make(worker))
            _ = w.collect(roots: roots, options: WorkerOptions())
            let report = w.collect(roots: roots, options: WorkerOptions())
            #expect(report.functionReports.count == w.functions.count)
            for (f, fr) in zip(w.functions, report.functionReports) {
                let schema = type(of: f).schema
                #expect(fr.error == nil, "\(worker).\(fr.name) on \(roots.proc): \(fr.error ?? "")")
                #expect(CW.schemaMismatches(fr.data, schema) == [], "\(roots.proc)")
                #expect(CW.namingMismatches(schema) == [])
            }
        }
    }

    @Test func catalogHasTheFunctions() {
        let c = WorkerRegistry.catalog
        for (w, f) in [("cpu", "times"), ("cpu", "utilisation"), ("cpu", "stats"), ("cpu", "frequencies"),
                       ("memory", "usage"), ("memory", "vm"), ("pressure", "cpu"), ("pressure", "memory"),
                       ("pressure", "io"), ("system", "info"), ("system", "time"), ("system", "self"),
                       ("system", "errors")] {
            #expect(c.function(worker: w, function: f) != nil, "\(w).\(f)")
        }
    }
}
