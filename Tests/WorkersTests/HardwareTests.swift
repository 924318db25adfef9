// hardware.*: sysfs number and mdstat parsers, sensors on machine-b, "no data" on a bare tree; schema conformance of disk/network/processes/hardware rows.
import Testing
import Reports
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SensorParserTests {
    @Test(arguments: [("45000\n", 45000 as Int64), ("-273150\n", -273150), (" 0 \n", 0), ("65261850", 65261850)])
    func parsesSysfsIntegers(text: String, value: Int64) throws {
        #expect(try parseSysfsInteger(HostTesting.bytes(text)) == value)
    }

    @Test(arguments: ["", "\n", "abc\n", "45.0\n", "45000 1\n"])
    func rejectsGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseSysfsInteger(HostTesting.bytes(text)) }
    }

    @Test(arguments: [("temp2", "temp10", true), ("temp10", "temp2", false), ("hwmon9", "hwmon10", true),
                      ("thermal_zone2", "thermal_zone10", true), ("fan1", "temp1", true), ("temp1", "temp1", false)])
    func ordersNaturally(a: String, b: String, less: Bool) {
        #expect(naturalLess(a, b) == less)
    }
}

@Suite struct MdStatParserTests {
    static let machineB = """
        Personalities : [raid1] [linear] [multipath] [raid0] [raid6] [raid5] [raid4] [raid10]
        md1 : active raid5 sdg1[4] sdf1[3](F) sde1[2] sdd1[1] sdc1[0]
              5859781632 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/3] [UUU_]
              [====>................]  recovery = 22.4% (437593600/1953260544) finish=168.5min speed=149924K/sec
              bitmap: 4/15 pages [16KB], 65536KB chunk

        md0 : active raid1 sdb2[1] sda2[0]
              97499136 blocks super 1.2 [2/2] [UU]
              bitmap: 1/1 pages [4KB], 65536KB chunk

        unused devices: <none>

        """

    @Test func parsesCleanAndRecovering() throws {
        let a = try parseMdStat(HostTesting.bytes(Self.machineB))
        #expect(a.map(\.name) == ["md1", "md0"])
        #expect(a[0].level == "raid5" && a[0].state == "recovering" && a[0].degraded)
        #expect(a[0].devicesTotal == 4 && a[0].devicesActive == 3 && a[0].failedMembers == 1 && a[0].members == 5)
        #expect(a[0].syncPercent == 22.4)
        #expect(a[0].syncRemainingSeconds == 168.5 * 60)
        #expect(a[1].level == "raid1" && a[1].state == "clean" && !a[1].degraded && a[1].syncPercent == nil)
    }

    @Test(arguments: [
        // Degraded, nothing running.
        ("md2 : active raid1 sda3[0]\n      1048512 blocks [2/1] [U_]\n", "degraded", nil as Double?, false),
        // Resync waiting for another array on the same disks.
        ("md3 : active raid1 sdb1[1] sda1[0]\n      1048512 blocks [2/2] [UU]\n        resync=DELAYED\n", "resyncing", nil, false),
        // Old kernels: "resync=12.3%" without spaces.
        ("md4 : active raid1 sdb1[1] sda1[0]\n      1048512 blocks [2/2] [UU]\n      [==>......]  resync=12.3% finish=3.0min\n", "resyncing", 12.3, false),
        ("md5 : active (auto-read-only) raid1 sda6[0] sdb6[1]\n      4200952 blocks super 1.0 [2/2] [UU]\n", "clean", nil, true),
        ("md127 : inactive sdb[0](S)\n      976631512 blocks super 1.2\n", "inactive", nil, false),
        ("md6 : active raid6 sda[0] sdb[1] sdc[2] sdd[3]\n      10 blocks level 6 [4/4] [UUUU]\n      [>....]  check =  0.5% (1/200) finish=99.0min speed=1K/sec\n      some-new-line: 42\n",
         "checking", 0.5, false),
    ])
    func states(text: String, state: String, percent: Double?, readOnly: Bool) throws {
        let a = try #require(try parseMdStat(HostTesting.bytes(text)).first)
        #expect(a.state == state)
        #expect(a.syncPercent == percent)
        #expect(a.readOnly == readOnly)
    }

    @Test func inactiveArrayCountsSpares() throws {
        let a = try #require(try parseMdStat(HostTesting.bytes("md127 : inactive sdb[0](S) sdc[1](S)\n")).first)
        let r = RaidFunction.row(a)
        #expect(r["devices_spare"] == .int(2) && r["devices_total"] == .int(0) && r["level"] == "")
    }

    @Test(arguments: ["md0 :\n", "md0 : \n"])
    func rejectsTruncated(text: String) {
        #expect(throws: CollectError.self) { try parseMdStat(HostTesting.bytes(text)) }
    }
}

@Suite struct HardwareFunctionTests {
    @Test func temperaturesOnMachineB() throws {
        let rows = try TemperaturesFunction().collect(HostTesting.context(HostTesting.roots("machine-b")))
        #expect(rows.count == 1 + 5 + 3 + 2 + 2)
        let pkg = try #require(rows.first { $0["sensor"] == "Package id 0" })
        #expect(pkg["chip"] == "coretemp" && pkg["device"] == "hwmon1" && pkg["source"] == "hwmon")
        #expect(pkg["celsius"] == .double(58) && pkg["crit_celsius"] == .double(100) && pkg["max_celsius"] == .double(84))
        let nvme = try #require(rows.first { $0["chip"] == "nvme" && $0["sensor"] == "Composite" })
        #expect(nvme["celsius"] == .double(41.85) && nvme["crit_celsius"] == .double(84.85))
        let zone = try #require(rows.first { $0["device"] == "thermal_zone0" })
        #expect(zone["source"] == "thermal" && zone["chip"] == "acpitz" && zone["crit_celsius"] == .double(119))
        #expect(rows.first { $0["device"] == "thermal_zone1" }?["crit_celsius"] == nil)
        #expect(rows.first { $0["chip"] == "acpitz" && $0["source"] == "hwmon" }?["sensor"] == "temp1")
    }

    @Test func fansOnMachineB() throws {
        let rows = try FansFunction().collect(HostTesting.context(HostTesting.roots("machine-b")))
        #expect(rows == [
            ["device": "hwmon3", "chip": "nct6775", "sensor": "CPU Fan", "rpm": 1054, "min_rpm": 300],
            ["device": "hwmon3", "chip": "nct6775", "sensor": "Chassis Fan 1", "rpm": 882, "min_rpm": 300],
            ["device": "hwmon3", "chip": "nct6775", "sensor": "Chassis Fan 2", "rpm": 0, "min_rpm": 0],
        ])
    }

    @Test func edacAndRaidOnMachineB() throws {
        let ctx = HostTesting.context(HostTesting.roots("machine-b"))
        #expect(try EdacFunction().collect(ctx) == [
            ["controller": "mc0", "name": "IE31200", "correctable_errors_total": 3, "uncorrectable_errors_total": 0],
        ])
        let raid = try RaidFunction().collect(ctx)
        #expect(raid.map { $0["state"]?.string ?? "" } == ["recovering", "clean"])
        #expect(raid[0]["devices_failed"] == .int(1) && raid[0]["devices_active"] == .int(3) && raid[0]["sync_percent"] == .double(22.4))
        #expect(raid[1]["degraded"] == false && raid[1]["devices_total"] == .int(2))
    }

    @Test func olderDriversKeepAttributesUnderDevice() throws {
        let t = ScratchTree()
        t.write("sys/class/hwmon/hwmon0/device/name", "w83627ehf\n")
        t.write("sys/class/hwmon/hwmon0/device/temp1_input", "38500\n")
        t.write("sys/class/hwmon/hwmon0/device/fan2_input", "1318\n")
        t.write("sys/class/hwmon/hwmon0/device/fan2_min", "0\n")
        let ctx = HostTesting.context(t.roots)
        #expect(try TemperaturesFunction().collect(ctx) == [
            ["source": "hwmon", "device": "hwmon0", "chip": "w83627ehf", "sensor": "temp1", "celsius": 38.5],
        ])
        #expect(try FansFunction().collect(ctx).first?["rpm"] == .int(1318))
    }

    @Test func sensorsThatDisappearAreDroppedWithoutError() throws {
        let t = ScratchTree()
        t.write("sys/class/hwmon/hwmon0/name", "nvme\n")
        t.write("sys/class/hwmon/hwmon0/temp1_input", "40850\n")
        t.write("sys/class/hwmon/hwmon1/name", "drivetemp\n")
        t.write("sys/class/hwmon/hwmon1/temp1_input", "31000\n")
        let f = TemperaturesFunction()
        #expect(try f.collect(HostTesting.context(t.roots, monotonic: 1)).count == 2)
        // USB drive unplugged. (On sysfs the kept fd then fails with ENODEV and the set is rebuilt at
        // once; a deleted regular file stays readable, so this tree shows the periodic rediscovery.)
        _ = system("rm -rf '\(t.path)/sys/class/hwmon/hwmon1'")
        let later = 1 + SensorSet.rediscoverSeconds
        #expect(try f.collect(HostTesting.context(t.roots, monotonic: later)).map { $0["chip"]?.string ?? "" } == ["nvme"])
        t.write("sys/class/hwmon/hwmon2/name", "drivetemp\n")
        t.write("sys/class/hwmon/hwmon2/temp1_input", "30000\n")
        #expect(try f.collect(HostTesting.context(t.roots, monotonic: later + 1)).count == 1)
        #expect(try f.collect(HostTesting.context(t.roots, monotonic: 2 * later)).count == 2)
    }

    @Test func absentFeaturesAreNoData() throws {
        let t = ScratchTree()
        t.mkdirs("proc")
        t.mkdirs("sys")
        let ctx = HostTesting.context(t.roots)
        let w = try #require(WorkerRegistry.make("hardware"))
        let report = w.collect(roots: t.roots, options: WorkerOptions())
        #expect(report.functionReports.allSatisfy { $0.error == nil && $0.data.isEmpty })
        #expect(try RaidFunction().collect(ctx).isEmpty)
    }

    @Test func thisMachineHasNoErrors() throws {
        let w = try #require(WorkerRegistry.make("hardware"))
        let report = w.collect(roots: SourceRoots(), options: WorkerOptions())
        #expect(report.functionReports.allSatisfy { $0.error == nil })
    }
}

/// Every key of every row is declared in its function's schema, with a value of the declared kind.
@Suite struct HostWorkerSchemaTests {
    static func kindMatches(_ v: JSONValue, _ kind: FieldKind) -> Bool {
        switch (v, kind) {
        case (.string, .label): return true
        case (.int, .number), (.double, .number), (.int, .counter), (.double, .counter): return true
        case (.bool, .bool): return true
        default: return false
        }
    }

    @Test(arguments: ["disk", "network", "processes", "hardware"], ["machine-b", "machine-a", "live"])
    func rowsMatchSchema(worker: String, tree: String) throws {
        let w = try #require(WorkerRegistry.make(worker))
        let roots = tree == "live" ? SourceRoots() : HostTesting.roots(tree)
        // Two collections, so the rate fields appear too.
        _ = w.collect(roots: roots, options: WorkerOptions())
        let report = w.collect(roots: roots, options: WorkerOptions())
        for fr in report.functionReports {
            #expect(fr.error == nil, "\(worker).\(fr.name) on \(tree): \(fr.error ?? "")")
            let schema = try #require(w.schema.function(fr.name))
            for row in fr.data {
                for (key, value) in row {
                    guard let field = schema.field(key) else {
                        Issue.record("\(worker).\(fr.name): field \(key) not declared")
                        continue
                    }
                    #expect(Self.kindMatches(value, field.kind), "\(worker).\(fr.name).\(key) = \(value) is not \(field.kind)")
                }
            }
        }
        let names = w.schema.functions.map(\.name)
        #expect(Set(names).count == names.count)
        for f in w.schema.functions {
            let fields = f.fields.map(\.name)
            #expect(Set(fields).count == fields.count, "\(worker).\(f.name) declares a field twice")
        }
    }
}

/// Every parser of these workers, fed every prefix of a real file and seeded random bytes, returns or
/// throws CollectError: it never traps (index out of range, overflow) on what a kernel or a disk gives.
@Suite struct HostParserRobustnessTests {
    static let parsers: [(file: String, parse: @Sendable ([UInt8]) throws -> Void)] = [
        ("proc/self/mountinfo", { _ = try parseMountInfo($0) }),
        ("proc/diskstats", { _ = try parseDiskStats($0) }),
        ("proc/net/dev", { _ = try parseNetDev($0) }),
        ("proc/net/sockstat", { _ = try parseSockstat($0) }),
        ("proc/net/tcp6", { _ = try parseSocketTable($0) }),
        ("proc/net/udp", { var c: [UInt8: Int] = [:]; try countSocketStates($0, into: &c) }),
        ("proc/mdstat", { _ = try parseMdStat($0) }),
        ("proc/2450/stat", { _ = try parseProcessStat($0[...]) }),
        ("proc/1288/status", { _ = try parseProcessStatus($0) }),
        ("proc/sys/fs/file-nr", { _ = try parseFileNr($0) }),
        ("statvfs", { _ = try parseStatfsSidecar($0) }),
        ("sys/class/hwmon/hwmon2/temp1_min", { _ = try parseSysfsInteger($0) }),
    ]

    @Test(arguments: 0..<parsers.count)
    func survivesTruncationAndNoise(index: Int) throws {
        let (file, parse) = Self.parsers[index]
        let full = try readOnce(TestPaths.fixture("machine-b") + "/" + file)
        #expect(!full.isEmpty)
        for n in 0...full.count {
            do { try parse(Array(full[0..<n])) } catch is CollectError {} catch { Issue.record("\(file): \(error)") }
        }
        var seed: UInt64 = 0x9E3779B97F4A7C15 &* UInt64(index + 1)
        for _ in 0..<300 {
            var b = full
            for _ in 0..<8 {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                let pos = Int(seed >> 33) % max(1, b.count)
                let choices: [UInt8] = [0x00, 0x0A, 0x20, 0x28, 0x29, 0x2D, 0x3A, 0x5B, 0x5D, 0x5C, 0x2F, 0x25, 0xFF, 0x39]
                b[pos] = choices[Int(seed >> 17) % choices.count]
            }
            do { try parse(b) } catch is CollectError {} catch { Issue.record("\(file): \(error)") }
        }
    }
}
