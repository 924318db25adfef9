// disk.filesystems and disk.io: mountinfo, diskstats and statvfs-sidecar parsers, the statvfs deadline, fixture runs.
import Testing
import Kit
import Reports
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Helpers for the disk, network, processes and hardware tests.
enum HostTesting {
    /// A fixture machine's roots.
    static func roots(_ name: String) -> SourceRoots {
        let base = TestPaths.fixture(name)
        return SourceRoots(proc: base + "/proc", sys: base + "/sys", etc: base + "/etc")
    }

    static func context(_ roots: SourceRoots, options: WorkerOptions = WorkerOptions(), monotonic: Double = 1000) -> CollectContext {
        CollectContext(roots: roots, options: options, now: Timestamp(microseconds: 1_795_594_815_000_000), monotonic: monotonic)
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}

@Suite struct MountInfoParserTests {
    @Test(arguments: [
        // No optional field, one, two; an escaped space; a new kernel's extra optional field tag.
        ("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n", "/", "ext4", "/dev/vda", false),
        ("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n", "/mnt2", "ext3", "/dev/root", false),
        ("64 61 9:1 /backups /srv/backup\\040copies ro,noatime shared:32 master:3 - xfs /dev/md1 rw,attr2\n",
         "/srv/backup copies", "xfs", "/dev/md1", false),  // a read-only view of a writable filesystem
        ("70 28 0:60 / /mnt/a\\011tab\\134back rw shared:40 propagate_from:2 unbindable - nfs4 srv:/x\\040y rw\n",
         "/mnt/a\ttab\\back", "nfs4", "srv:/x y", false),
        ("71 28 0:61 / /ro rw - ext4 /dev/sdz1 ro,relatime\n", "/ro", "ext4", "/dev/sdz1", true),
    ])
    func parsesLines(text: String, mount: String, fstype: String, source: String, readOnly: Bool) throws {
        let m = try #require(try parseMountInfo(HostTesting.bytes(text)).first)
        #expect(m.mountPoint == mount)
        #expect(m.fstype == fstype)
        #expect(m.source == source)
        #expect(m.readOnly == readOnly)
    }

    @Test(arguments: [
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1\n",   // no separator: truncated
        "36 35 98:0 / / rw - ext4\n",                     // separator but no source
        "x y z a b c - d e f\n",                          // ids not numbers
        "garbage\n",
    ])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseMountInfo(HostTesting.bytes(text)) }
    }

    @Test(arguments: [("a\\040b", "a b"), ("\\134", "\\"), ("end\\04", "end\\04"), ("\\999", "\\999"), ("plain", "plain")])
    func decodesOctalEscapes(raw: String, decoded: String) {
        #expect(decodeOctalEscapes(HostTesting.bytes(raw)[...]) == decoded)
    }

    @Test(arguments: [
        ("/", "ext4", false), ("/", "overlay", false), ("/home", "ext4", false), ("/run/user/1000", "tmpfs", true),
        ("/devices", "ext4", false), ("/dev", "devtmpfs", true), ("/proc/sys/fs/binfmt_misc", "autofs", true),
        ("/var/lib/docker/overlay2/x/merged", "xfs", true), ("/srv", "squashfs", true),
    ])
    func excludesNoise(mount: String, fstype: String, excluded: Bool) {
        let m = MountEntry(mountID: 1, parentID: 0, mountPoint: mount, options: [], fstype: fstype, source: "x", superOptions: [])
        #expect(isExcludedMount(m, WorkerOptions()) == excluded)
    }

    @Test func parsesStatfsSidecar() throws {
        let t = try parseStatfsSidecar(HostTesting.bytes("# comment\n/ 4096 10 4 3 100 60 rw\n/a\\040b 1024 1 1 1 0 0 ro\n/nfs hang\n"))
        #expect(t["/"] == .stats(FilesystemStats(blockSize: 4096, blocks: 10, blocksFree: 4, blocksAvailable: 3, files: 100,
                                                 filesFree: 60, readOnly: false)))
        guard case .stats(let s) = t["/a b"] else { Issue.record("no /a b"); return }
        #expect(s.readOnly)
        #expect(t["/nfs"] == .stuck)
        #expect(throws: CollectError.self) { try parseStatfsSidecar(HostTesting.bytes("/ 4096 ten\n")) }
    }
}

@Suite struct DiskStatsParserTests {
    static let line14 = "   8       0 sda 446216 784926 9550688 4382310 424847 312726 5922052 19310380 0 3376340 23705160\n"
    static let line18 = "   8       0 sda 446216 784926 9550688 4382310 424847 312726 5922052 19310380 0 3376340 23705160 12 0 96 4\n"
    static let line20 = " 254       0 vda 49196 7112 4946010 24478 5593 11921 931040 3416 0 10420 28049 840 0 193880 107 842 46\n"
    static let line21 = " 254       0 vda 49196 7112 4946010 24478 5593 11921 931040 3416 0 10420 28049 840 0 193880 107 842 46 99\n"

    @Test(arguments: [(line14, 14), (line18, 18), (line20, 20), (line21, 20)])
    func parsesEveryLayout(text: String, layout: Int) throws {
        let d = try #require(try parseDiskStats(HostTesting.bytes(text)).first)
        #expect(d.reads == (layout == 14 || layout == 18 ? 446216 : 49196))
        #expect(d.discards == (layout == 14 ? nil : (layout == 18 ? 12 : 840)))
        #expect(d.flushes == (layout == 20 ? 842 : nil))
        #expect(d.flushMilliseconds == (layout == 20 ? 46 : nil))
        #expect(d.sectorsDiscarded == (layout == 14 ? nil : (layout == 18 ? 96 : 193880)))
    }

    @Test(arguments: [
        "   8       0 sda 446216 784926 9550688 4382310\n",                   // truncated (old 2.6 partition layout)
        "   8       0 sda 446216 784926 9550688 4382310 424847 312726 5922052 x 0 3376340 23705160\n",
        "eight zero sda 1 2 3 4 5 6 7 8 9 10 11\n",
    ])
    func rejectsTruncatedOrGarbage(text: String) {
        #expect(throws: CollectError.self) { try parseDiskStats(HostTesting.bytes(text)) }
    }

    @Test func ratesFromTwoSamples() throws {
        let a = try #require(try parseDiskStats(HostTesting.bytes(" 8 0 sda 100 0 2000 100 50 0 1000 400 0 500 600\n")).first)
        let b = try #require(try parseDiskStats(HostTesting.bytes(" 8 0 sda 200 0 4000 300 150 0 3000 800 1 1500 900\n")).first)
        let r = DiskIOFunction.row(b, partition: false, previous: a, elapsed: 2)
        #expect(r["reads_per_second"] == .double(50))
        #expect(r["writes_per_second"] == .double(50))
        #expect(r["read_bytes_per_second"] == .double(2000 * 512 / 2))
        #expect(r["busy_percent"] == .double(50))
        // (200 ms reading + 400 ms writing) / 200 ops = 3 ms.
        #expect(r["await_seconds"] == .double(0.003))
        #expect(r["read_await_seconds"] == .double(0.002))
        #expect(r["write_await_seconds"] == .double(0.004))
        #expect(r["in_flight"] == .int(1))
        let first = DiskIOFunction.row(b, partition: false, previous: nil, elapsed: 0)
        #expect(first["reads_per_second"] == nil)
        #expect(first["read_bytes_total"] == .int(4000 * 512))
    }
}

/// A statvfs that never returns for the mount points in `hang`.
struct HangingStatfs: StatfsSource {
    let hang: Set<String>
    func statfs(_ mountPoint: String) -> StatfsOutcome {
        if hang.contains(mountPoint) {
            while true { sleep(3600) }
        }
        return .stats(FilesystemStats(blockSize: 4096, blocks: 100, blocksFree: 50, blocksAvailable: 40, files: 10,
                                      filesFree: 5, readOnly: false))
    }
}

@Suite struct StatfsDeadlineTests {
    @Test(arguments: [["/ok", "/hung"], ["/hung", "/ok"]])
    func hungMountIsStuckWithinTheDeadline(order: [String]) {
        let p = StatfsProber(source: HangingStatfs(hang: ["/hung"]))
        let t0 = monotonicSeconds()
        let r = p.probe(order, timeout: 0.3)
        let took = monotonicSeconds() - t0
        #expect(took < 1.5, "probe took \(took) s")
        #expect(r["/hung"] == .stuck)
        // A mount queued behind the hung one still gets its own thread and answers.
        guard case .stats = r["/ok"] else { Issue.record("/ok: \(String(describing: r["/ok"]))"); return }
    }

    @Test func hungMountIsNotProbedAgain() {
        let p = StatfsProber(source: HangingStatfs(hang: ["/hung"]))
        _ = p.probe(["/hung", "/ok"], timeout: 0.2)
        for _ in 0..<5 {
            let t0 = monotonicSeconds()
            let r = p.probe(["/hung", "/ok"], timeout: 0.2)
            // /ok answers at once and /hung is known to be in flight: no waiting for the deadline.
            #expect(monotonicSeconds() - t0 < 0.15)
            #expect(r["/hung"] == .stuck)
        }
        // One thread parked in the hung call, one serving the rest: no pile-up per tick.
        #expect(p.threadCount <= 2)
    }

    @Test func liveStatfsOfRoot() {
        guard case .stats(let s) = LiveStatfs().statfs("/") else { Issue.record("statvfs(/) failed"); return }
        #expect(s.blocks > 0 && s.blockSize > 0)
        #expect(LiveStatfs().statfs("/no/such/mount") == .failed(ENOENT))
    }
}

@Suite struct DiskFunctionTests {
    @Test func filesystemsOnMachineB() throws {
        let rows = try FilesystemsFunction().collect(HostTesting.context(HostTesting.roots("machine-b")))
        let mounts = rows.compactMap { $0["mount"]?.string }
        // "/srv/backup copies" is a bind mount of a folder of /srv/data's filesystem: not a second disk.
        #expect(mounts == ["/", "/boot/efi", "/srv/data", "/var/lib/postgresql", "/mnt/archive"])
        let root = try #require(rows.first { $0["mount"] == "/" })
        #expect(root["device"] == "/dev/md0")
        #expect(root["size_bytes"] == .int(24375824 * 4096))
        // df: used / (used + avail) = 15363493 / (15363493 + 7766177).
        #expect(root["used_percent"] == .double(66.42))
        #expect(root["inodes_used"] == .int(6094848 - 5501227))
        #expect(root["stuck"] == false)
        let efi = try #require(rows.first { $0["mount"] == "/boot/efi" })
        #expect(efi["inodes_total"] == .int(0))
        #expect(efi["inodes_used_percent"] == nil)
        let nfs = try #require(rows.first { $0["mount"] == "/mnt/archive" })
        #expect(nfs["stuck"] == true)
        #expect(nfs["size_bytes"] == nil)
        #expect(nfs["fstype"] == "nfs4")
    }

    /// What systemd's ProtectSystem=strict and ReadWritePaths= make of a host's mounts, and btrfs subvolumes.
    @Test func bindMountsAndReadOnlyViewsAreNotSecondDisks() throws {
        let text = """
            27 1 254:0 / / ro,relatime - ext4 /dev/vda rw,discard
            30 27 254:0 /var/lib/shd /var/lib/shd rw,relatime - ext4 /dev/vda rw,discard
            31 27 254:0 /tmp/systemd-private-x/tmp /tmp rw,relatime - ext4 /dev/vda rw,discard
            40 27 0:45 /@home /home ro,relatime - btrfs /dev/sdb2 rw,subvol=/@home
            41 27 0:45 /@srv /srv rw,relatime - btrfs /dev/sdb2 rw,subvol=/@srv
            42 41 0:45 /@srv/www /var/www rw,relatime - btrfs /dev/sdb2 rw,subvol=/@srv
            50 27 8:17 / /data ro,relatime - xfs /dev/sdb1 ro
            """
        let kept = FilesystemsFunction.withoutBindMounts(try parseMountInfo(HostTesting.bytes(text)))
        #expect(kept.map(\.mountPoint) == ["/", "/home", "/srv", "/data"])
        #expect(kept.map(\.readOnly) == [false, false, false, true])
    }

    @Test func filesystemsWithAHangingSourceReturnInTime() throws {
        var options = WorkerOptions()
        options.statfsTimeoutSeconds = 0.3
        let f = FilesystemsFunction(statfs: HangingStatfs(hang: ["/srv/data"]))
        let t0 = monotonicSeconds()
        let rows = try f.collect(HostTesting.context(HostTesting.roots("machine-b"), options: options))
        #expect(monotonicSeconds() - t0 < 1.5)
        #expect(rows.first { $0["mount"] == "/srv/data" }?["stuck"] == true)
        #expect(rows.first { $0["mount"] == "/" }?["stuck"] == false)
    }

    @Test func excludedPrefixesAreConfigurable() throws {
        var options = WorkerOptions()
        options.excludedMountPrefixes.append("/srv")
        let rows = try FilesystemsFunction().collect(HostTesting.context(HostTesting.roots("machine-b"), options: options))
        #expect(!rows.contains { ($0["mount"]?.string ?? "").hasPrefix("/srv") })
        #expect(rows.contains { $0["mount"] == "/" })
    }

    @Test func filesystemsOnThisMachine() throws {
        let rows = try FilesystemsFunction().collect(HostTesting.context(SourceRoots()))
        let root = try #require(rows.first { $0["mount"] == "/" })
        #expect((root["size_bytes"]?.number ?? 0) > 0)
        let pct = try #require(root["used_percent"]?.number)
        #expect(pct >= 0 && pct <= 100)
    }

    @Test func ioOnMachineB() throws {
        let f = DiskIOFunction()
        let roots = HostTesting.roots("machine-b")
        let first = try f.collect(HostTesting.context(roots, monotonic: 100))
        let devices = first.compactMap { $0["device"]?.string }
        #expect(devices.contains("sda") && devices.contains("nvme0n1p1") && devices.contains("md1"))
        #expect(!devices.contains { $0.hasPrefix("loop") || $0.hasPrefix("ram") || $0 == "sr0" })
        #expect(first.first { $0["device"] == "sda1" }?["partition"] == true)
        #expect(first.first { $0["device"] == "sda" }?["partition"] == false)
        #expect(first.first { $0["device"] == "sda" }?["flushes_total"] == .int(1203311))
        #expect(first.allSatisfy { $0["busy_percent"] == nil })
        let second = try f.collect(HostTesting.context(roots, monotonic: 101))
        #expect(second.allSatisfy { $0["busy_percent"] == .double(0) && $0["reads_per_second"] == .double(0) })
    }
}

/// The mount table kept between ticks: re-read only when procfs says it changed.
@Suite struct MountTableCacheTests {
    /// A statvfs that answers for any mount, read-only or not.
    struct FixedStatfs: StatfsSource {
        let readOnly: Bool
        func statfs(_ mountPoint: String) -> StatfsOutcome {
            .stats(FilesystemStats(blockSize: 4096, blocks: 100, blocksFree: 50, blocksAvailable: 40, files: 10,
                                   filesFree: 5, readOnly: readOnly))
        }
    }

    @Test func liveMountTableIsReadOncePerChange() throws {
        let f = FilesystemsFunction()
        let first = try f.collect(HostTesting.context(SourceRoots()))
        let second = try f.collect(HostTesting.context(SourceRoots()))
        #expect(first.map { $0["mount"] } == second.map { $0["mount"] })
        #expect(first.contains { $0["mount"] == "/" })
        // Unless a mount or unmount happened in between (poll() would say so), the second tick reused the list.
        #expect(f.mountTableReads == 1)
    }

    @Test func fixtureMountTableIsReadEveryTick() throws {
        // A fixture is a regular file: poll() cannot report changes, so every tick reads it.
        let f = FilesystemsFunction()
        for _ in 0..<3 { _ = try f.collect(HostTesting.context(HostTesting.roots("machine-b"))) }
        #expect(f.mountTableReads == 3)
    }

    @Test func statvfsReadOnlyDisagreeingWithKeptOptionsRereadsTheTable() throws {
        // On this machine's real mount table, a statvfs that says every filesystem is read-only (as
        // after errors=remount-ro, which changes no mount) contradicts the kept `rw` of any writable
        // mount: each tick re-reads. One that says every filesystem is writable contradicts any
        // read-only one. Which of the two applies depends on the mounts this machine has.
        let mounts = FilesystemsFunction.reported(try parseMountInfo(readOnce("/proc/self/mountinfo")), WorkerOptions())
        let anyWritable = mounts.contains { !($0.options.contains("ro") || $0.readOnly) }
        let anyReadOnly = mounts.contains { $0.options.contains("ro") || $0.readOnly }
        let f = FilesystemsFunction(statfs: FixedStatfs(readOnly: true))
        for _ in 0..<3 { _ = try f.collect(HostTesting.context(SourceRoots())) }
        #expect(f.mountTableReads == (anyWritable ? 3 : 1))
        let g = FilesystemsFunction(statfs: FixedStatfs(readOnly: false))
        for _ in 0..<3 { _ = try g.collect(HostTesting.context(SourceRoots())) }
        #expect(g.mountTableReads == (anyReadOnly ? 3 : 1))
        // The rows' read_only stays the filesystem's (super options), whatever statvfs says.
        let rows = try f.collect(HostTesting.context(SourceRoots()))
        for m in mounts {
            #expect(rows.first { $0["mount"] == .string(m.mountPoint) }?["read_only"] == .bool(m.readOnly))
        }
    }

    @Test func localDisksAreAskedInlineUnlessTheirPathCrossesANetworkMount() throws {
        let all = try parseMountInfo(HostTesting.bytes("""
            28 1 9:0 / / rw,relatime shared:1 - ext4 /dev/md0 rw
            23 28 0:5 / /dev rw shared:2 - devtmpfs udev rw
            60 28 8:1 / /boot/efi rw,relatime shared:31 - vfat /dev/sda1 rw
            61 28 9:1 / /srv/data rw,noatime shared:32 - xfs /dev/md1 rw
            65 28 0:50 / /mnt/archive rw,relatime shared:35 - nfs4 server:/export rw
            70 65 8:17 / /mnt/archive/disk rw,relatime - ext4 /dev/sdb1 rw
            71 28 0:60 / /home/auto rw,relatime - autofs systemd-1 rw
            72 71 8:33 / /home/auto/user rw,relatime - ext4 /dev/sdc1 rw
            73 28 0:61 / /media/usb rw,relatime - fuseblk /dev/sdd1 rw
            74 28 0:62 / /srv/datastore rw - btrfs /dev/sde rw

            """))
        let inline = FilesystemsFunction.inlineMountPoints(all: all, reported: all)
        #expect(inline == ["/", "/boot/efi", "/srv/data", "/srv/datastore"])
    }
}

@Suite struct KernelFileTests {
    @Test func anErrorOtherThanStaleKeepsTheDescriptor() throws {
        // pread on a directory fails with EISDIR, as a sysfs attribute fails with EINVAL while a link
        // is down: the fd stays open for the next tick instead of an open and a close each time.
        let dir = makeTempDirectory("kernelfile")
        defer { rmdir(dir) }
        let f = KernelFile(dir)
        #expect(throws: ReadError.self) { try f.read() }
        let fd = f.descriptor
        #expect(fd >= 0)
        do { _ = try f.read() } catch { #expect(error.errno == EISDIR) }
        #expect(f.descriptor == fd)
    }

    @Test(arguments: [false, true]) func readsAWholeFileLargerThanOneBuffer(singleRecord: Bool) throws {
        let dir = makeTempDirectory("kernelfile")
        let path = dir + "/big"
        defer { unlink(path); rmdir(dir) }
        let text = (0..<2000).map { "line \($0)\n" }.joined()
        writeText(path, text)
        let f = KernelFile(path, singleRecord: singleRecord)
        #expect(try f.read() == Array(text.utf8))
        #expect(try f.read() == Array(text.utf8))
    }

    @Test func singleRecordProcFilesReadTheSameAsReadingToEOF() throws {
        for path in ["/proc/self/stat", "/proc/loadavg", "/proc/meminfo", "/proc/uptime"] {
            let kept = try KernelFile(path, singleRecord: true).read()
            let once = try readOnce(path)
            // Same shape (the values move): same number of lines and of fields on the first line.
            #expect(kept.split(separator: 0x0A).count == once.split(separator: 0x0A).count, "\(path)")
            #expect(kept.last == 0x0A, "\(path)")
        }
    }
}

@Suite struct StatfsFailureTests {
    /// A statvfs that fails (EACCES under the unit's User=shd below a 0700 folder) is a row without
    /// sizes that says why, not a silent one.
    @Test func aFailedStatvfsNamesItsErrno() {
        let m = MountEntry(mountID: 1, parentID: 0, mountPoint: "/srv/private/data", options: ["rw"], fstype: "ext4",
                           source: "/dev/sdb1", superOptions: ["rw"])
        let r = FilesystemsFunction.row(m, .failed(EACCES))
        #expect(r["statfs_errno"] == .int(Int64(EACCES)) && r["size_bytes"] == nil && r["stuck"] == false)
        let ok = FilesystemsFunction.row(m, .stats(FilesystemStats(blockSize: 4096, blocks: 10, blocksFree: 5, blocksAvailable: 4,
                                                                    files: 10, filesFree: 5, readOnly: false)))
        #expect(ok["statfs_errno"] == nil && ok["size_bytes"] == .int(40960))
    }
}
