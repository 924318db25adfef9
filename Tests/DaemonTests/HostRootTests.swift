// Live or fixture is a property of the source roots: `shd report` on /proc/, on symlinks to /proc
// and /, and with --root-fs (the container deployment), checked against statvfs.
import Testing
import Reports
import TestSupport
import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SourceRootsTests {
    @Test(arguments: ["/proc", "/proc/", "/proc//", "/proc/self/.."])
    func aProcfsIsLiveHoweverItIsSpelt(path: String) {
        let r = SourceRoots(proc: path)
        #expect(r.live, "\(path)")
        #expect(r.fixtureStatvfs == nil && r.fixtureAdjtimex == nil)
        #expect(r.mountInfoPath == path + "/self/mountinfo")
    }

    @Test func aFixtureTreeIsNotLiveAndNamesItsSidecars() {
        let root = TestPaths.fixture("machine-a")
        var r = SourceRoots(proc: root + "/proc/", sys: root + "/sys")
        #expect(!r.live)
        #expect(r.fixtureStatvfs == root + "/statvfs" && r.fixtureAdjtimex == root + "/adjtimex")
        r.fixtureAdjtimex = "/elsewhere/adjtimex"
        #expect(r.fixtureAdjtimex == "/elsewhere/adjtimex" && r.fixtureStatvfs == root + "/statvfs")
        // Decided again when proc changes, not by comparing paths.
        r.proc = "/proc"
        #expect(r.live && r.fixtureAdjtimex == nil)
    }

    @Test func aHostRootReadsPid1sMountTable() {
        let r = SourceRoots(proc: "/proc", rootFS: "/host")
        #expect(r.mountInfoPath == "/proc/1/mountinfo")
        // On a fixture tree a host root means nothing: the tree's own table.
        #expect(SourceRoots(proc: TestPaths.fixture("machine-a") + "/proc", rootFS: "/host").mountInfoPath.hasSuffix("/proc/self/mountinfo"))
    }

    @Test func liveStatfsThroughARootPrefixesTheMountPoint() {
        guard case .stats(let direct) = LiveStatfs().statfs("/"), case .stats(let through) = LiveStatfs(root: "/").statfs("/"),
              case .stats(let slash) = LiveStatfs(root: "//").statfs("/")
        else { Issue.record("statvfs(/) failed"); return }
        #expect(direct.blocks == through.blocks && direct.blockSize == through.blockSize && slash.blocks == direct.blocks)
        #expect(LiveStatfs(root: "/no/such/host").statfs("/") == .failed(ENOENT))
    }
}

@Suite struct HostRootReportTests {
    /// `shd report` of the disk and system workers with these arguments.
    static func report(_ args: [String]) throws -> DaemonReport {
        let tmp = makeTempDirectory()
        let p = try ChildProcess([shdBinary, "report", "--worker", "disk", "--worker", "system", "--sample-interval", "0"] + args,
                                 outputDirectory: tmp)
        #expect(p.wait(timeout: 60) == 0, "stderr: \(p.stderr)")
        return try DaemonReport(json: JSONValue.parse(p.stdout))
    }

    /// Every filesystem row has the sizes statvfs gives for its mount point now: size exactly, free
    /// space within 1 GiB (the build beside the test writes files).
    static func expectLiveSizes(_ r: DaemonReport, _ what: String) throws {
        let fs = try #require(r.function(worker: "disk", function: "filesystems"), "\(what)")
        #expect(fs.error == nil, "\(what): \(fs.error ?? "")")
        #expect(fs.data.contains { $0["mount"] == "/" }, "\(what): no / row")
        for row in fs.data {
            let mount = try #require(row["mount"]?.string)
            guard case .stats(let s) = LiveStatfs().statfs(mount) else { Issue.record("\(what): statvfs(\(mount)) failed"); continue }
            #expect(row["size_bytes"] == .int(Int64(s.blocks * s.blockSize)), "\(what): \(mount)")
            let avail = try #require(row["avail_bytes"]?.number, "\(what): \(mount) has no avail_bytes")
            #expect(Swift.abs(avail - Double(s.blocksAvailable * s.blockSize)) < Double(1 << 30), "\(what): \(mount)")
            #expect(row["used_percent"] != nil, "\(what): \(mount)")
        }
        let time = try #require(r.function(worker: "system", function: "time"))
        #expect(time.error == nil && time.data.count == 1, "\(what): system.time \(time.data) \(time.error ?? "")")
    }

    @Test func aTrailingSlashIsStillTheLiveSystem() throws {
        try Self.expectLiveSizes(try Self.report(["--proc-root", "/proc/", "--sys-root", "/sys/"]), "--proc-root /proc/")
    }

    @Test func symlinksToProcAndSysAreStillTheLiveSystem() throws {
        let tmp = makeTempDirectory()
        #expect(symlink("/proc", tmp + "/hostproc") == 0 && symlink("/sys", tmp + "/hostsys") == 0)
        try Self.expectLiveSizes(try Self.report(["--proc-root", tmp + "/hostproc", "--sys-root", tmp + "/hostsys"]), "symlinked roots")
    }

    /// The node_exporter-style container deployment, with the host's root at a path of its own: here a
    /// symlink to this machine's /, so the mount table is pid 1's and statvfs runs through the link.
    @Test func aHostRootFilesystemIsMeasuredThroughItsMountPoint() throws {
        let tmp = makeTempDirectory()
        #expect(symlink("/", tmp + "/host") == 0 && symlink("/proc", tmp + "/host-proc") == 0)
        try Self.expectLiveSizes(try Self.report(["--proc-root", tmp + "/host-proc", "--sys-root", "/sys", "--root-fs", tmp + "/host"]),
                                 "--root-fs")
        try Self.expectLiveSizes(try Self.report(["--proc-root", "/proc", "--root-fs", "/"]), "--root-fs /")
    }

    /// The mount table is the host's (pid 1's), not shd's own: in a mount namespace of its own
    /// with an extra ext2 mounted, shd without --root-fs reports that mount, and with --root-fs it
    /// reports pid 1's table, which does not have it (as a container's own mounts stay out).
    @Test func withAHostRootTheMountTableIsPid1s() throws {
        let tools = ["/usr/bin/unshare", "/usr/sbin/mke2fs", "/usr/sbin/losetup"]
        guard getuid() == 0, tools.allSatisfy({ access($0, X_OK) == 0 }), access("/proc/1/mountinfo", R_OK) == 0 else {
            print("skipped: needs root, unshare, mke2fs and losetup to mount a loop ext2 in a private mount namespace")
            return
        }
        let tmp = makeTempDirectory()
        let image = tmp + "/fs.img", mnt = tmp + "/extra"
        #expect(mkdir(mnt, 0o755) == 0)
        let mk = try ChildProcess(["/bin/sh", "-c", "truncate -s 8M '\(image)' && /usr/sbin/mke2fs -q -F '\(image)'"], outputDirectory: tmp)
        try #require(mk.wait(timeout: 30) == 0, "mke2fs: \(mk.stderr)")
        func mounts(_ extra: String) throws -> [String]? {
            let script = "mount -o loop '\(image)' '\(mnt)' || exit 77; exec '\(shdBinary)' report --worker disk --sample-interval 0 \(extra)"
            let p = try ChildProcess(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script], outputDirectory: tmp)
            let rc = p.wait(timeout: 60)
            if rc == 77 { return nil }
            #expect(rc == 0, "stderr: \(p.stderr)")
            let r = try DaemonReport(json: JSONValue.parse(p.stdout))
            return r.function(worker: "disk", function: "filesystems")?.data.compactMap { $0["mount"]?.string }
        }
        guard let own = try mounts(""), let host = try mounts("--root-fs /") else {
            print("skipped: this kernel refused a loop mount in a private mount namespace")
            return
        }
        #expect(own.contains(mnt), "\(own)")
        #expect(!host.contains(mnt) && host.contains("/"), "\(host)")
    }

    @Test func aMissingHostRootIsAnErrorNotNoFilesystems() throws {
        let r = try Self.report(["--root-fs", "/no/such/host"])
        let fs = try #require(r.function(worker: "disk", function: "filesystems"))
        #expect(fs.error?.contains("/no/such/host") == true && fs.data.isEmpty, "\(fs.error ?? "no error")")
    }

    /// A fixture tree's time and sizes come from its sidecars, never from this machine's syscalls.
    @Test func aFixtureTreeStillUsesItsSidecars() throws {
        let root = TestPaths.fixture("machine-a")
        let r = try Self.report(["--proc-root", root + "/proc/", "--sys-root", root + "/sys", "--etc-root", root + "/etc"])
        #expect(r.function(worker: "system", function: "time")?.data.first?["synchronised"] == false)
        let fs = try #require(r.function(worker: "disk", function: "filesystems"))
        #expect(fs.data.first { $0["mount"] == "/" }?["size_bytes"] != nil)
    }
}
