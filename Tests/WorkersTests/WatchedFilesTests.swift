// files.watched on scratch trees (declared paths read under the tree as root_fs): metadata, checksums, the changes
// counter, FIFOs, symlinks, globs, directories and their newest entry, and what is an error and what is not.
import Kit
import Testing
import Reports
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite struct WatchedFilesTests {
    let t = ScratchTree()
    var roots: SourceRoots {
        var r = t.roots
        r.rootFS = t.path
        return r
    }
    /// The tick's wall clock: 2026-11-24T12:00:15Z (HostTesting.context).
    let now = Double(1_795_594_815)

    func function(_ specs: [FileWatchSpec]) -> WatchedFilesFunction {
        let f = WatchedFilesFunction()
        f.configure(specs)
        return f
    }

    func collect(_ f: WatchedFilesFunction, at tick: Double = 1) throws -> [Row] {
        try f.collect(HostTesting.context(roots, monotonic: tick))
    }

    func setMtime(_ relative: String, _ seconds: Double) {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: 0), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, t.path + "/" + relative, &times, 0)
    }

    func setup() {
        t.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        t.write("etc/group", "root:x:0:\nadm:x:4:\n")
    }

    @Test func aFilesMetadataChecksumAndChanges() throws {
        setup()
        t.write("srv/app.conf", "listen 80\n")
        chmod(t.path + "/srv/app.conf", 0o640)
        _ = chown(t.path + "/srv/app.conf", 0, 4)
        setMtime("srv/app.conf", now - 100)
        let f = function([FileWatchSpec(name: "conf", kind: .file, paths: ["/srv/app.conf"], checksum: true)])
        var r = try #require(try collect(f).first)
        #expect(r["watch"] == "conf" && r["path"] == "/srv/app.conf" && r["exists"] == .bool(true) && r["type"] == "file")
        #expect(r["size_bytes"] == .int(10) && r["age_seconds"] == .double(100) && r["mode"] == "0640")
        #expect(r["uid"] == .int(0) && r["user"] == "root" && r["gid"] == .int(4) && r["group"] == "adm" && r["links"] == .int(1))
        #expect(r["sha256"]?.string == SHA256.hex(SHA256.digest(Array("listen 80\n".utf8))))
        #expect(r["changes_total"] == .int(0) && r["error"] == "")
        // Nothing changed: nothing counted.
        #expect(try collect(f, at: 2).first?["changes_total"] == .int(0))
        // Content: a change, and a new checksum.
        t.write("srv/app.conf", "listen 8080\n")
        r = try #require(try collect(f, at: 3).first)
        #expect(r["changes_total"] == .int(1) && r["sha256"]?.string == SHA256.hex(SHA256.digest(Array("listen 8080\n".utf8))))
        #expect(r["checksum_changes_total"] == .int(1))
        // Permissions: a change.
        chmod(t.path + "/srv/app.conf", 0o666)
        r = try #require(try collect(f, at: 4).first)
        #expect(r["mode"] == "0666" && r["changes_total"] == .int(2))
        // Deleted: exists false, not an error; back again: two more changes.
        _ = unlink(t.path + "/srv/app.conf")
        r = try #require(try collect(f, at: 5).first)
        #expect(r["exists"] == .bool(false) && r["type"] == nil && r["sha256"] == nil && r["error"] == "" && r["changes_total"] == .int(3))
        t.write("srv/app.conf", "listen 80\n")
        r = try #require(try collect(f, at: 6).first)
        #expect(r["changes_total"] == .int(4))
        // Mode and times changed, content too (back to the first): the checksum counter counts content only.
        #expect(r["checksum_changes_total"] == .int(2))
        chmod(t.path + "/srv/app.conf", 0o600)
        r = try #require(try collect(f, at: 7).first)
        #expect(r["changes_total"] == .int(5) && r["checksum_changes_total"] == .int(2))
    }

    @Test func aFileOverMaxChecksumHasNoChecksumAndSaysWhy() throws {
        setup()
        t.write("var/big.img", String(repeating: "x", count: 2000))
        let f = function([FileWatchSpec(name: "big", kind: .file, paths: ["/var/big.img"], checksum: true, maxChecksum: 1000)])
        let r = try #require(try collect(f).first)
        #expect(r["sha256"] == nil && r["exists"] == .bool(true))
        #expect(r["error"]?.string?.contains("max_checksum") == true)
    }

    @Test func fifosSymlinksAndMissingFolders() throws {
        setup()
        t.mkdirs("run/app")
        #expect(mkfifo(t.path + "/run/app/control.fifo", 0o600) == 0)
        t.write("etc/real.conf", "x")
        _ = symlink(t.path + "/etc/real.conf", t.path + "/etc/link.conf")
        _ = symlink(t.path + "/etc/nowhere", t.path + "/etc/dangling.conf")
        let f = function([FileWatchSpec(name: "w", kind: .file, paths: ["/run/app/control.fifo", "/etc/link.conf", "/etc/dangling.conf",
                                                                      "/no/such/folder/file", "/etc/real.conf/sub"], checksum: true)])
        let rows = try collect(f)
        #expect(rows.map { $0["path"]?.string ?? "" } == ["/run/app/control.fifo", "/etc/link.conf", "/etc/dangling.conf", "/no/such/folder/file", "/etc/real.conf/sub"])
        // A FIFO exists and is not opened for a checksum (that would block).
        #expect(rows[0]["exists"] == .bool(true) && rows[0]["type"] == "fifo" && rows[0]["sha256"] == nil && rows[0]["mode"] == "0600")
        #expect(rows[1]["type"] == "file" && rows[1]["sha256"] != nil)
        for r in rows[2...] { #expect(r["exists"] == .bool(false) && r["error"] == "") }
        // The folders inotify follows: each path's (the nearest that exists), and a symlink target's.
        let folders = f.folders(roots)
        #expect(folders.contains(t.path + "/run/app") && folders.contains(t.path + "/etc"))
        #expect(folders.contains(t.path) && !folders.contains(t.path + "/no/such/folder"))
    }

    @Test func aPathShdCannotResolveIsAnErrorNotAMissingFile() throws {
        setup()
        _ = symlink(t.path + "/etc/b", t.path + "/etc/a")
        _ = symlink(t.path + "/etc/a", t.path + "/etc/b")
        t.write("etc/ok", "1")
        let f = function([FileWatchSpec(name: "w", kind: .file, paths: ["/etc/a", "/etc/ok"])])
        do {
            _ = try collect(f)
            Issue.record("expected a partial collection")
        } catch let p as PartialCollection {
            #expect(p.rows.count == 2)
            #expect(p.rows[0]["exists"] == nil && (p.rows[0]["error"]?.string ?? "").contains("/etc/a"))
            #expect(p.rows[1]["exists"] == .bool(true))
        }
    }

    @Test func globsGiveOneRowPerMatchOrOneMissingRow() throws {
        setup()
        t.write("etc/app/b.conf", "b")
        t.write("etc/app/a.conf", "a")
        t.write("etc/app/.hidden.conf", "h")
        t.write("etc/app/notes.txt", "n")
        let f = function([FileWatchSpec(name: "confs", kind: .file, paths: ["/etc/app/*.conf", "/etc/none/*.conf"])])
        let rows = try collect(f)
        #expect(rows.map { $0["path"]?.string ?? "" } == ["/etc/app/a.conf", "/etc/app/b.conf", "/etc/none/*.conf"])
        #expect(rows[2]["exists"] == .bool(false))
        #expect(f.folders(roots).contains(t.path + "/etc/app"))
        // A match that goes away is no longer a row.
        _ = unlink(t.path + "/etc/app/a.conf")
        #expect(try collect(f, at: 2).map { $0["path"]?.string ?? "" } == ["/etc/app/b.conf", "/etc/none/*.conf"])
    }

    @Test func aBackupFolderItsEntriesAndTheNewest() throws {
        setup()
        t.write("var/backups/db-1.dump", "1")
        t.write("var/backups/db-2.dump", "2")
        t.write("var/backups/README", "r")
        setMtime("var/backups/db-1.dump", now - 3 * 86400)
        setMtime("var/backups/db-2.dump", now - 2 * 86400)
        setMtime("var/backups/README", now - 60)
        let f = function([FileWatchSpec(name: "backups", kind: .directory, paths: ["/var/backups"], match: "*.dump")])
        var r = try #require(try collect(f).first)
        #expect(r["type"] == "directory" && r["entries"] == .int(2) && r["newest"] == "db-2.dump")
        #expect(r["newest_age_seconds"] == .double(2 * 86400) && r["changes_total"] == .int(0))
        #expect(f.folders(roots).contains(t.path + "/var/backups"))
        // Last night's backup arrives: one more entry, a new newest, a change.
        t.write("var/backups/db-3.dump", "3")
        setMtime("var/backups/db-3.dump", now - 3600)
        r = try #require(try collect(f, at: 2).first)
        #expect(r["entries"] == .int(3) && r["newest"] == "db-3.dump" && r["newest_age_seconds"] == .double(3600) && r["changes_total"] == .int(1))
        // A backup rewritten in place changes no folder time: inotify's event makes the listing fresh.
        setMtime("var/backups/db-1.dump", now - 10)
        f.foldersChanged()
        r = try #require(try collect(f, at: 3).first)
        #expect(r["newest"] == "db-1.dump" && r["changes_total"] == .int(2))
        // An empty folder has no newest entry.
        let empty = function([FileWatchSpec(name: "e", kind: .directory, paths: ["/var/backups"], match: "*.tar")])
        r = try #require(try collect(empty).first)
        #expect(r["entries"] == .int(0) && r["newest"] == nil && r["newest_age_seconds"] == nil)
    }

    @Test func aReloadKeepsTheCountersOfAWatchThatStays() throws {
        setup()
        t.write("etc/x", "1")
        let spec = FileWatchSpec(name: "x", kind: .file, paths: ["/etc/x"])
        let f = function([spec])
        _ = try collect(f)
        t.write("etc/x", "22")
        #expect(try collect(f, at: 2).first?["changes_total"] == .int(1))
        f.configure([spec, FileWatchSpec(name: "y", kind: .file, paths: ["/etc/y"])])
        let rows = try collect(f, at: 3)
        #expect(rows.count == 2 && rows[0]["changes_total"] == .int(1))
        f.configure([])
        #expect(!f.isActive)
    }

    @Test func withoutWatchesTheFilesWorkerIsNotCollectedButIsInTheCatalog() throws {
        #expect(WorkerRegistry.catalog.function(worker: "files", function: "watched") != nil)
        #expect(!WorkerRegistry.names.contains("files"))
        let w = try #require(WorkerRegistry.make("files"))
        #expect(w.collect(roots: roots, options: WorkerOptions()).functionReports.isEmpty)
    }

    @Test(arguments: [(0o644, "0644"), (0o4755, "4755"), (0o1777, "1777"), (0o600, "0600"), (0o7, "0007")])
    func modes(_ mode: Int, _ text: String) { #expect(octalMode(mode_t(mode) | S_IFREG) == text) }
}
