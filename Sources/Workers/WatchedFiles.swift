// files.watched: the paths declared with `watch NAME file|directory { path … }`: existence, type, size, age, mode,
// owner, links, an optional SHA-256 and a count of changes. The daemon follows the paths' folders with inotify and
// collects at once on a change; the worker's own interval is the safety net (network filesystems, hard links
// written elsewhere) and moves `age_seconds` on.
import CLinux
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// One declared file or directory watch, decoded by the daemon from `watch NAME file|directory { … }`.
public struct FileWatchSpec: Sendable, Equatable {
    public enum Kind: String, Sendable { case file, directory }
    public var name: String
    public var kind: Kind
    /// Absolute paths as declared (globs allowed), read under `root_fs` when set.
    public var paths: [String]
    public var checksum: Bool
    /// Files larger than this get no checksum.
    public var maxChecksum: Int64
    /// Directories: the entries counted (an fnmatch glob), nil for all.
    public var match: String?

    public init(name: String, kind: Kind, paths: [String], checksum: Bool = false, maxChecksum: Int64 = 64 << 20, match: String? = nil) {
        self.name = name
        self.kind = kind
        self.paths = paths
        self.checksum = checksum
        self.maxChecksum = maxChecksum
        self.match = match
    }
}

/// What a path looked like at a reading: a difference from the previous one is a change.
struct FileSignature: Equatable {
    var dev: UInt64 = 0
    var inode: UInt64 = 0
    var mode: UInt32 = 0
    var links: UInt64 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var size: Int64 = 0
    var mtime: (Int, Int) = (0, 0)
    var ctime: (Int, Int) = (0, 0)
    /// Directories: the newest entry and its mtime (a backup rewritten in place changes no folder time).
    var newest: String?
    var newestMtime: (Int, Int) = (0, 0)
    var sha256: String?

    static func == (a: FileSignature, b: FileSignature) -> Bool {
        a.dev == b.dev && a.inode == b.inode && a.mode == b.mode && a.links == b.links && a.uid == b.uid && a.gid == b.gid
            && a.size == b.size && a.mtime == b.mtime && a.ctime == b.ctime && a.newest == b.newest && a.newestMtime == b.newestMtime
            && a.sha256 == b.sha256
    }

    /// The part a checksum depends on: another one means the content may have changed.
    var contentKey: [Int64] {
        [Int64(bitPattern: dev), Int64(bitPattern: inode), size, Int64(mtime.0), Int64(mtime.1), Int64(ctime.0), Int64(ctime.1)]
    }
}

/// What a watch knows about one of its paths between collections.
final class WatchedPathState {
    /// nil before the first reading; `exists false` is a signature too (`.none` inside).
    var last: FileSignature??
    var changes: Int64 = 0
    /// The last checksum computed (kept while the file is missing) and how often a new one differed from it.
    var lastSha256: String?
    var checksumChanges: Int64 = 0
    var sha256: String?
    var shaKey: [Int64]?
    var shaError = ""
    /// A directory's entries, listed again when the folder itself changed or this is older than 5 minutes.
    var listing: (key: [Int64], at: Double, entries: Int, newest: String?, newestMtime: (Int, Int))?
}

/// `files.watched`: one row per path of the declared file and directory watches.
public final class WatchedFilesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "watched",
        help: "Declared file and directory watches (`watch NAME file|directory`): one row per path (each match of a glob)", fields: [
        FieldSchema("watch", .label, help: "the watch's name"),
        FieldSchema("path", .label, help: "the path (a glob's match, or the glob itself when nothing matches)"),
        FieldSchema("exists", .bool, help: "the path exists (a symlink counts when its target does)"),
        FieldSchema("type", .label, help: "file, directory, fifo, socket, block_device or char_device (of the target of a symlink)"),
        FieldSchema("size_bytes", .number, unit: "bytes", help: "its size"),
        FieldSchema("age_seconds", .number, unit: "seconds", help: "time since it was last modified (mtime)"),
        FieldSchema("mode", .label, help: "permission bits in octal, `0644` (with setuid, setgid and sticky bits: `4755`)"),
        FieldSchema("uid", .number, help: "owner's user id"),
        FieldSchema("gid", .number, help: "group id"),
        FieldSchema("user", .label, help: "owner by name from passwd, else the number"),
        FieldSchema("group", .label, help: "group by name from group, else the number"),
        FieldSchema("links", .number, help: "hard links"),
        FieldSchema("sha256", .label, help: "SHA-256 of the content, with `checksum true` (regular files up to `max_checksum`)"),
        FieldSchema("entries", .number, help: "directories: entries (matching `match`), not counting . and .."),
        FieldSchema("newest", .label, help: "directories: the most recently modified entry"),
        FieldSchema("newest_age_seconds", .number, unit: "seconds", help: "directories: time since that entry was modified"),
        FieldSchema("changes_total", .counter, help: "times the path changed (appeared, vanished, content, size, times, mode, owner, links, checksum; a directory's entries) since shd started watching"),
        FieldSchema("checksum_changes_total", .counter, help: "with `checksum true`: times its SHA-256 differed from the one before (the content changed) since shd started watching"),
        FieldSchema("error", .label, help: "why the path or its checksum could not be read (empty otherwise)"),
    ], key: ["watch", "path"])

    private var specs: [FileWatchSpec] = []
    private var states: [String: WatchedPathState] = [:]
    private var users = UserNames()
    private var groups = UserNames(file: "group")
    /// Directory listings are made again at the next collection (inotify saw the folder change).
    private var relistAll = false
    /// Collections so far: the daemon syncs its inotify folders after a collection, not after every evaluation.
    public private(set) var collections = 0

    public init() {}

    public var isActive: Bool { !specs.isEmpty }

    /// Replaces the watches (at start and on every reload); a watch that keeps its name keeps its paths' counters
    /// (the next collection forgets the paths it no longer has).
    public func configure(_ specs: [FileWatchSpec]) {
        self.specs = specs
        let names = Set(specs.map { $0.name + "\n" })
        states = states.filter { k, _ in names.contains(where: { k.hasPrefix($0) }) }
    }

    /// inotify saw a change in a watched folder: directory listings are made again at the next collection.
    public func foldersChanged() { relistAll = true }

    /// The folders whose changes can change a row (for inotify, under `root_fs` when set): each path's folder, a
    /// directory watch's directory, a symlink target's folder, and each folder a glob walks through. A folder that
    /// does not exist yet is represented by its nearest existing ancestor, so its creation is seen too.
    public func folders(_ roots: SourceRoots) -> [String] {
        var out: Set<String> = []
        func existing(_ p: String) -> String {
            var d = p
            while d != "/" && !isFolder(d) { d = parentFolder(d) }
            return d
        }
        for s in specs {
            for p in s.paths {
                let host = hostPath(p, roots)
                if isGlob(p) {
                    let (matches, walked) = expandGlob(p, roots)
                    out.formUnion(walked)
                    for m in matches { out.insert(parentFolder(m.host)); if s.kind == .directory && isFolder(m.host) { out.insert(m.host) } }
                } else {
                    out.insert(existing(parentFolder(host)))
                    if s.kind == .directory && isFolder(host) { out.insert(host) }
                    if let real = realPath(host), real != host { out.insert(existing(parentFolder(real))) }
                }
            }
        }
        return out.sorted()
    }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        collections &+= 1
        var rows: [Row] = []
        var failures = SourceFailures()
        var seen: Set<String> = []
        let relist = relistAll
        relistAll = false
        for s in specs {
            for p in s.paths {
                let targets: [(shown: String, host: String)]
                if isGlob(p) {
                    let matches = expandGlob(p, ctx.roots).matches
                    targets = matches.isEmpty ? [(p, hostPath(p, ctx.roots))] : matches
                } else {
                    targets = [(p, hostPath(p, ctx.roots))]
                }
                for t in targets {
                    let key = s.name + "\n" + t.shown
                    guard seen.insert(key).inserted else { continue }
                    let state = states[key] ?? WatchedPathState()
                    states[key] = state
                    do {
                        rows.append(try row(s, t.shown, t.host, state, ctx, relist: relist))
                    } catch {
                        failures.note(error)
                        rows.append(["watch": .string(s.name), "path": .string(t.shown), "error": .string("\(error)")])
                    }
                }
            }
        }
        // Matches of a glob that are gone: their state goes with them (a file that comes back starts afresh).
        if states.count > seen.count { states = states.filter { seen.contains($0.key) } }
        return try failures.finish(rows)
    }

    private func row(_ s: FileWatchSpec, _ shown: String, _ host: String, _ state: WatchedPathState, _ ctx: CollectContext,
                     relist: Bool) throws(ReadError) -> Row {
        var r: Row = ["watch": .string(s.name), "path": .string(shown)]
        var st = stat()
        var sig: FileSignature?
        if stat(host, &st) != 0 {
            let e = shd_errno()
            let err = ReadError(path: shown, errno: e)
            // A dangling symlink is a path whose target does not exist; anything else (EACCES on a folder) is unknown.
            guard err.isMissing else { throw err }
            r.append("exists", .bool(false))
        } else {
            var g = FileSignature()
            g.dev = UInt64(st.st_dev)
            g.inode = UInt64(st.st_ino)
            g.mode = UInt32(st.st_mode)
            g.links = UInt64(st.st_nlink)
            g.uid = st.st_uid
            g.gid = st.st_gid
            g.size = Int64(st.st_size)
            g.mtime = (st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
            g.ctime = (st.st_ctim.tv_sec, st.st_ctim.tv_nsec)
            let now = ctx.now.seconds
            let type = fileTypeName(st.st_mode)
            r.append("exists", .bool(true))
            r.append("type", .string(type))
            r.append("size_bytes", .int(g.size))
            r.append("age_seconds", .double(rounded(now - seconds(g.mtime), 1)))
            r.append("mode", .string(octalMode(st.st_mode)))
            r.append("uid", .int(Int64(g.uid)))
            r.append("gid", .int(Int64(g.gid)))
            r.append("user", .string(users.name(g.uid, etc: ctx.roots.etc, now: ctx.monotonic)))
            r.append("group", .string(groups.name(g.gid, etc: ctx.roots.etc, now: ctx.monotonic)))
            r.append("links", .int(Int64(clamping: g.links)))
            var error = ""
            if s.checksum && type == "file" {
                if g.size > s.maxChecksum {
                    state.sha256 = nil
                    state.shaKey = nil
                    error = "\(g.size) bytes, more than max_checksum (\(s.maxChecksum)): no sha256"
                } else {
                    if state.shaKey != g.contentKey {
                        (state.sha256, state.shaError) = checksum(host, shown, limit: s.maxChecksum)
                        state.shaKey = g.contentKey
                    }
                    error = state.shaError
                }
                g.sha256 = state.sha256
                if let h = state.sha256 {
                    r.append("sha256", .string(h))
                    if let old = state.lastSha256, old != h { state.checksumChanges = saturatingSum(state.checksumChanges, 1) }
                    state.lastSha256 = h
                }
            }
            if s.kind == .directory && type == "directory" {
                let key = g.contentKey
                if relist || state.listing?.key != key || ctx.monotonic - (state.listing?.at ?? -1e12) >= 300 {
                    state.listing = list(host, match: s.match, key: key, at: ctx.monotonic)
                }
                if let l = state.listing {
                    r.append("entries", .int(Int64(l.entries)))
                    if let n = l.newest {
                        r.append("newest", .string(n))
                        r.append("newest_age_seconds", .double(rounded(now - seconds(l.newestMtime), 1)))
                    }
                    g.newest = l.newest
                    g.newestMtime = l.newestMtime
                }
            }
            sig = g
            if !error.isEmpty { r.append("error", .string(error)) }
        }
        if let last = state.last, last != sig { state.changes = saturatingSum(state.changes, 1) }
        state.last = .some(sig)
        r.append("changes_total", .int(state.changes))
        if s.checksum { r.append("checksum_changes_total", .int(state.checksumChanges)) }
        if r["error"] == nil { r.append("error", .string("")) }
        return r
    }

    /// SHA-256 of a regular file read in 64 KiB chunks, at most `limit` bytes (a file that grew past it since the
    /// stat gets none); the error text when it cannot be read.
    private func checksum(_ host: String, _ shown: String, limit: Int64) -> (String?, String) {
        let fd = open(host, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        if fd < 0 { return (nil, "\(ReadError(path: shown, errno: shd_errno()))") }
        defer { close(fd) }
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 65536)
        var total: Int64 = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if shd_errno() == EINTR { continue }
                return (nil, "\(ReadError(path: shown, errno: shd_errno()))")
            }
            if n == 0 { break }
            total += Int64(n)
            if total > limit { return (nil, "more than max_checksum (\(limit)) bytes: no sha256") }
            chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return (SHA256.hex(hasher.finalize()), "")
    }

    /// A directory's entries matching `match` (all but `.` and `..` without one), and the most recently modified.
    /// At most 100,000 entries are looked at.
    private func list(_ dir: String, match: String?, key: [Int64], at: Double)
        -> (key: [Int64], at: Double, entries: Int, newest: String?, newestMtime: (Int, Int))
    {
        var count = 0
        var newest: String?
        var newestMtime = (Int.min, 0)
        for name in listDirectory(dir).prefix(100_000) {
            if let match, fnmatch(match, name, FNM_PERIOD) != 0 { continue }
            count += 1
            var st = stat()
            guard stat(dir + "/" + name, &st) == 0 else { continue }
            let m = (st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
            if m > newestMtime || (m == newestMtime && (newest.map { name < $0 } ?? true)) {
                newestMtime = m
                newest = name
            }
        }
        return (key, at, count, newest, newest == nil ? (0, 0) : newestMtime)
    }
}

private func seconds(_ t: (Int, Int)) -> Double { Double(t.0) + Double(t.1) / 1e9 }

/// The `type` of a stat mode.
public func fileTypeName(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: return "file"
    case S_IFDIR: return "directory"
    case S_IFIFO: return "fifo"
    case S_IFSOCK: return "socket"
    case S_IFBLK: return "block_device"
    case S_IFCHR: return "char_device"
    case S_IFLNK: return "symlink"
    default: return "other"
    }
}

/// Permission bits as `ls -l` users write them in chmod: four octal digits, `0644`, `4755`.
public func octalMode(_ mode: mode_t) -> String {
    let bits = UInt32(mode) & 0o7777
    let s = String(bits, radix: 8)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
}

/// A path with `*`, `?` or `[` in it.
func isGlob(_ path: String) -> Bool { path.contains("*") || path.contains("?") || path.contains("[") }

/// The matches of a glob (sorted, as declared and as read), and the folders walked to find them. Each segment with a
/// wildcard is matched with fnmatch(3) against the names of a folder, not starting with `.` unless the segment does.
func expandGlob(_ pattern: String, _ roots: SourceRoots) -> (matches: [(shown: String, host: String)], walked: [String]) {
    var current = [""]
    var walked: [String] = []
    for seg in pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init) {
        if isGlob(seg) {
            var next: [String] = []
            for dir in current {
                let hostDir = hostPath(dir.isEmpty ? "/" : dir, roots)
                walked.append(hostDir)
                for name in listDirectory(hostDir).sorted() where fnmatch(seg, name, FNM_PERIOD) == 0 {
                    next.append(dir + "/" + name)
                }
                if next.count > 10_000 { break }
            }
            current = next
        } else {
            current = current.map { $0 + "/" + seg }
        }
        if current.isEmpty { break }
    }
    let matches = current.filter { access(hostPath($0, roots), F_OK) == 0 }.map { ($0, hostPath($0, roots)) }
    return (matches, walked)
}

/// The path with every symlink resolved, or nil when it does not exist.
func realPath(_ path: String) -> String? {
    guard let p = realpath(path, nil) else { return nil }
    defer { free(p) }
    return String(cString: p)
}

/// The files worker: declared file and directory watches. In the catalog, but made by the daemon only once a
/// configuration declares one.
enum FilesWorker {
    static func make() -> Worker { Worker(name: "files", functions: [WatchedFilesFunction()]) }
}
