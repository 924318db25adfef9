// hardware.*: sysfs number and mdstat parsers, sensors on machine-b, "no data" on a bare tree; schema conformance of disk/network/processes/hardware rows.
// Over 400 lines: one suite per hardware source (hwmon, thermal, EDAC, md), each a table of real sysfs/mdstat text.
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

    /// /proc/mdstat text published by users of real machines (forum and mailing-list posts, the
    /// libstorage-ng and prometheus/procfs parser tests), with what the kernel says about each
    /// array: (text, array, degraded, devices_total, devices_active, failed, spare, state).
    static let published: [(String, String, Bool, Int64, Int64, Int64, Int64, String)] = [
        // A failed member whose slot a spare already rebuilt: the set is complete, nothing is missing.
        ("""
         Personalities : [raid1] [raid0] [raid6] [raid5] [raid4] [raid10] [multipath]
         md0 : active raid5 sdd[4](F) sdc[3] sdb[1] sda[0]
               33521664 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]

         unused devices: <none>
         """, "md0", false, 3, 3, 1, 0, "clean"),
        // Two failed and one spare beside a complete raid1 of 4, resync waiting.
        ("""
         md9 : active raid1 sdc2[2] sdd2[3] sdb2[1] sda2[0] sde[4](F) sdf[5](F) sdg[6](S)
               523968 blocks super 1.2 [4/4] [UUUU]
               resync=DELAYED
         """, "md9", false, 4, 4, 2, 1, "resyncing"),
        // raid1 with two idle spares (Debian, 0.90 superblock): clean.
        ("""
         Personalities : [raid1] [raid10]
         md1 : active raid10 sdb3[1] sdd3[3] sdc3[2]
               15631104 blocks 64K chunks 2 near-copies [4/3] [_UUU]

         md0 : active raid1 sda1[0] sdd1[2](S) sdc1[3](S) sdb1[1]
               96256 blocks [2/2] [UU]
         """, "md0", false, 2, 2, 0, 2, "clean"),
        // The raid10 of the same machine has lost a member: degraded without any (F) listed.
        ("""
         Personalities : [raid1] [raid10]
         md1 : active raid10 sdb3[1] sdd3[3] sdc3[2]
               15631104 blocks 64K chunks 2 near-copies [4/3] [_UUU]
         """, "md1", true, 4, 3, 0, 0, "degraded"),
        // Failed member still in its slot.
        ("""
         Personalities : [raid6] [raid5] [raid4]
         md0 : active raid5 sde[5](F) sdd[3] sdc[2] sdb[1] sda[0]
               1015808 blocks super 1.2 level 5, 512k chunk, algorithm 2 [5/4] [UUUU_]
         """, "md0", true, 5, 4, 1, 0, "degraded"),
        // A spare taking over from a failed one: recovery on a degraded raid1.
        ("""
         md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]
               195310144 blocks [2/1] [U_]
               [=>...................]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec
         """, "md6", true, 2, 1, 1, 1, "recovering"),
        // Every member failed (a controller died): [5/0].
        ("""
         Personalities : [linear] [raid0] [raid1] [raid10] [raid6] [raid5] [raid4] [multipath]
         md6 : active raid5 sdn1[3](F) sdt1[0](F) sds1[1](F) sdq1[2](F)
               23441547264 blocks super 1.2 level 5, 512k chunk, algorithm 2 [5/0] [_____]
         """, "md6", true, 5, 0, 4, 0, "degraded"),
        // Inactive arrays (Ubuntu's initramfs, a Knoppix rescue): every member listed, none without a role, none working.
        ("""
         Personalities : [linear] [multipath] [raid0] [raid1] [raid6] [raid5] [raid4] [raid10]
         md0 : active raid5 sde1[6] sdf1[5] sdc1[2] sda1[0] sdd1[3]
               7800320 blocks super 1.2 level 5, 512k chunk, algorithm 2 [6/5] [U_UUUU]


         md2 : inactive sdb3[1](S) sdc3[2](S) sdd3[3](S) sdf3[5](S) sde3[6](S) sda3[0](S)
               11653109760 blocks super 1.2


         md1 : inactive sdb2[1](S) sda2[0](S) sdd2[3](S) sdc2[2](S) sdf2[5](S) sde2[6](S)
               58589184 blocks super 1.2


         unused devices: <none>
         """, "md2", false, 6, 0, 0, 6, "inactive"),
        ("""
         Personalities : [raid6] [raid5] [raid4] [raid1] [linear]
         md0 : inactive sda1[0](S) sdh1[7](S) sdg1[6](S) sdf1[5](S) sde1[4](S) sdd1[3](S) sdc1[2](S) sdb1[1](S)
               70299648 blocks

         unused devices: <none>
         """, "md0", false, 8, 0, 0, 8, "inactive"),
        // An IMSM container: inactive, external metadata.
        ("""
         md126 : inactive sda[3](S) sdb[2](S) sdd[1](S) sde[0](S)
               14681 blocks super external:imsm
         """, "md126", false, 4, 0, 0, 4, "inactive"),
        // raid0 and linear print no [n/m]: their members are the set.
        ("""
         md12 : active raid0 sdc2[0] sdd2[1]
               3886394368 blocks super 1.2 512k chunks
         """, "md12", false, 2, 2, 0, 0, "clean"),
        ("""
         md120 : active linear sda1[1] sdb1[0]
                 2095104 blocks super 1.2 0k rounding
         """, "md120", false, 2, 2, 0, 0, "clean"),
        // A reshape growing a raid5 onto a spare.
        ("""
         md42 : active raid5 sda1[3](S) sdd1[0] sde1[1]
               1953381440 blocks super 1.2 level 5, 64k chunk, algorithm 2 [3/2] [UU_]
               [===========>.........]  reshape = 56.1% (1096879076/1953381440) finish=1868.1min speed=7640K/sec
               bitmap: 4/15 pages [16KB], 65536KB chunk
         """, "md42", true, 3, 2, 0, 1, "reshaping"),
        // A raid5 with a write journal (md_seq_show prints `(J)` after the journal's slot): the
        // journal is listed but is not one of the [n/m] devices.
        ("""
         Personalities : [raid6] [raid5] [raid4]
         md127 : active raid5 sdd1[3] sdc1[1] sdb1[0] nvme0n1p1[4](J)
               1953260544 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]
         """, "md127", false, 3, 3, 0, 0, "clean"),
    ]

    @Test(arguments: published)
    func degradedExactlyWhenTheKernelSaysDevicesAreMissing(_ c: (String, String, Bool, Int64, Int64, Int64, Int64, String)) throws {
        let (text, name, degraded, total, active, failed, spare, state) = c
        let a = try #require(try parseMdStat(HostTesting.bytes(text + "\n")).first { $0.name == name })
        let r = RaidFunction.row(a)
        #expect(a.degraded == degraded && r["degraded"] == .bool(degraded), "\(name)")
        #expect(r["devices_total"] == .int(total) && r["devices_active"] == .int(active), "\(name): \(r)")
        #expect(r["devices_failed"] == .int(failed) && r["devices_spare"] == .int(spare), "\(name): \(r)")
        #expect(r["state"] == .string(state), "\(name): \(r)")
    }

    @Test func journalIsNotCountedAsAMemberOfAStripeWithoutCounts() throws {
        let a = try #require(try parseMdStat(HostTesting.bytes("md5 : active raid0 sdb[1] sda[0] nvme0n1[2](J)\n      10 blocks 512k chunks\n")).first)
        #expect(a.journalMembers == 1 && a.counts == (2, 2))
    }

    @Test func sysfsDegradedCountsToo() throws {
        let t = ScratchTree()
        t.write("proc/mdstat", "md0 : active raid1 sdb1[1] sda1[0]\n      1048512 blocks [2/2] [UU]\n")
        t.write("sys/block/md0/md/degraded", "1\n")
        #expect(try RaidFunction().collect(HostTesting.context(t.roots)).first?["degraded"] == true)
        t.write("sys/block/md0/md/degraded", "0\n")
        t.write("proc/mdstat", "md0 : active raid1 sdc1[2](F) sdb1[1] sda1[0]\n      1048512 blocks [2/2] [UU]\n")
        #expect(try RaidFunction().collect(HostTesting.context(t.roots)).first?["degraded"] == false)
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
            ["device": "hwmon3", "chip": "nct6775", "sensor": "CPU Fan", "rpm": 1054, "min_rpm": 300, "below_min": false],
            ["device": "hwmon3", "chip": "nct6775", "sensor": "Chassis Fan 1", "rpm": 882, "min_rpm": 300, "below_min": false],
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

    @Test func fanBelowItsMinimum() throws {
        let t = ScratchTree()
        t.write("sys/class/hwmon/hwmon2/name", "it8728\n")
        t.write("sys/class/hwmon/hwmon2/fan1_input", "412\n")
        t.write("sys/class/hwmon/hwmon2/fan1_min", "600\n")
        t.write("sys/class/hwmon/hwmon2/fan2_input", "0\n")
        t.write("sys/class/hwmon/hwmon2/fan2_min", "0\n")
        let rows = try FansFunction().collect(HostTesting.context(t.roots))
        #expect(rows.map { $0["below_min"] } == [.bool(true), nil])
    }

    @Test func sensorAlarmsOnMachineB() throws {
        let all = try SensorAlarmsFunction().collect(HostTesting.context(HostTesting.roots("machine-b")))
        // coretemp's five temp*_crit_alarm, nvme's temp1_alarm, the Super-I/O chip's six: all clear.
        #expect(all.count == 12 && all.allSatisfy { $0["active"] == false })
        #expect(all.first?["chip"] == "coretemp" && all.first?["attribute"] == "temp1_crit_alarm" && all.first?["limit"] == "crit")
        let rows = all.filter { $0["device"] == "hwmon3" }
        #expect(rows.map { $0["attribute"]?.string ?? "" } == ["fan1_alarm", "fan2_alarm", "fan3_alarm", "intrusion0_alarm", "temp1_alarm", "temp2_alarm"])
        #expect(rows[0]["sensor"] == "CPU Fan" && rows[0]["kind"] == "fan" && rows[0]["limit"] == "")
        #expect(rows[3]["sensor"] == "intrusion0" && rows[3]["kind"] == "intrusion")
        #expect(rows[5]["sensor"] == "CPUTIN" && rows[5]["kind"] == "temp")
        #expect(CW.schemaMismatches(rows, SensorAlarmsFunction.schema).isEmpty)
    }

    /// Attribute names as drivers create them (it87: per-channel alarms; lm90: min/max/crit alarms;
    /// ina2xx: current and power; w83627ehf under `device/`).
    @Test func sensorAlarmsOfEveryKindAndOlderDrivers() throws {
        let t = ScratchTree()
        t.write("sys/class/hwmon/hwmon0/name", "lm90\n")
        t.write("sys/class/hwmon/hwmon0/temp1_input", "38000\n")
        t.write("sys/class/hwmon/hwmon0/temp2_crit_alarm", "1\n")
        t.write("sys/class/hwmon/hwmon0/temp2_max_alarm", "0\n")
        t.write("sys/class/hwmon/hwmon0/temp10_min_alarm", "0\n")
        t.write("sys/class/hwmon/hwmon1/name", "ina226\n")
        t.write("sys/class/hwmon/hwmon1/curr1_max_alarm", "0\n")
        t.write("sys/class/hwmon/hwmon1/power1_crit_alarm", "1\n")
        t.write("sys/class/hwmon/hwmon1/in0_lcrit_alarm", "0\n")
        t.write("sys/class/hwmon/hwmon1/in0_label", "VBUS\n")
        t.write("sys/class/hwmon/hwmon2/device/name", "w83627ehf\n")
        t.write("sys/class/hwmon/hwmon2/device/intrusion0_alarm", "1\n")
        t.write("sys/class/hwmon/hwmon2/device/in3_alarm", "garbage\n")
        let rows = try SensorAlarmsFunction().collect(HostTesting.context(t.roots))
        func r(_ a: String) -> Row? { rows.first { $0["attribute"]?.string == a } }
        #expect(rows.count == 7, "an unreadable alarm file is left out this tick: \(rows)")
        #expect(r("temp2_crit_alarm")?["active"] == true && r("temp2_crit_alarm")?["limit"] == "crit" && r("temp2_crit_alarm")?["sensor"] == "temp2")
        #expect(rows.first?["attribute"] == "temp2_crit_alarm" && rows[2]["attribute"] == "temp10_min_alarm", "natural order")
        #expect(r("power1_crit_alarm")?["kind"] == "power" && r("power1_crit_alarm")?["active"] == true)
        #expect(r("in0_lcrit_alarm")?["sensor"] == "VBUS" && r("in0_lcrit_alarm")?["kind"] == "in" && r("in0_lcrit_alarm")?["limit"] == "lcrit")
        #expect(r("intrusion0_alarm")?["chip"] == "w83627ehf" && r("intrusion0_alarm")?["active"] == true)
        #expect(r("intrusion0_alarm")?["kind"] == "intrusion" && r("intrusion0_alarm")?["device"] == "hwmon2")
    }

    @Test(arguments: [("temp2_crit_alarm", "temp2", "temp", "crit"), ("fan1_alarm", "fan1", "fan", ""),
                      ("intrusion0_alarm", "intrusion0", "intrusion", ""), ("in0_min_alarm", "in0", "in", "min"),
                      ("power1_cap_alarm", "power1", "power", "cap")])
    func alarmFileNames(file: String, channel: String, kind: String, limit: String) {
        let p = hwmonAlarmParts(file)
        #expect(p.channel == channel && p.kind == kind && p.limit == limit)
    }

    /// node_exporter's published mdstat (machine-c): degraded only where [n/m] says so, whatever
    /// spare and failed members are listed; the inactive container counts what it lists.
    @Test func raidWithSparesAndFailedMembersOnMachineC() throws {
        let rows = try RaidFunction().collect(HostTesting.context(HostTesting.roots("machine-c")))
        func r(_ a: String) throws -> Row { try #require(rows.first { $0["array"]?.string == a }, "\(a)") }
        #expect(rows.filter { $0["degraded"] == true }.map { $0["array"]?.string ?? "" } == ["md6", "md7"])
        #expect(try r("md9")["devices_failed"] == .int(2) && r("md9")["devices_spare"] == .int(1) && r("md9")["state"] == "resyncing")
        #expect(try r("md3")["devices_spare"] == .int(2) && r("md3")["state"] == "clean")
        #expect(try r("md219")["state"] == "inactive" && r("md219")["devices_total"] == .int(3) && r("md219")["devices_active"] == .int(0))
        #expect(try r("md11")["read_only"] == true && r("md11")["degraded"] == false)
    }

    @Test func sensorAlarmsOnMachineC() throws {
        let rows = try SensorAlarmsFunction().collect(HostTesting.context(HostTesting.roots("machine-c")))
        let raised = rows.filter { $0["active"] == true }.map { "\($0["chip"]?.string ?? "") \($0["attribute"]?.string ?? "")" }
        #expect(raised == ["nct6779 in1_alarm", "nct6779 intrusion0_alarm", "nct6779 intrusion1_alarm"])
        #expect(rows.first { $0["attribute"] == "intrusion0_alarm" }?["kind"] == "intrusion")
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
        ("proc/cpuinfo", { _ = try parseCPUInfoMHz($0) }),
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
