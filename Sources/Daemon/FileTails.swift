// Text files as an event source (`rule X on file "PATH"`): the I/O around Rules/TextTail.swift. One inotify instance
// watches each followed folder (creates, renames, deletes: globs expand, rotations are seen) and each open file
// (writes); only new bytes are read (pread from the offset). A file renamed away is read on until it is quiet, then
// closed; a truncated one is read again from the start; a deleted one is finished and closed. Each file's identity
// and offset are saved with the alert state, so a restart resumes where the last commit stood.
#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Kit
import Reports
import Rules

/// One inotify record's header (`struct inotify_event` without its name): the watch and what happened.
struct InotifyRecord: Equatable {
    var wd: Int32
    var mask: UInt32

    /// The records of one read(2) of an inotify descriptor (`wd`, `mask`, `cookie`, `len`, then `len` bytes of name),
    /// in host byte order. A record cut short ends the list.
    static func parse(_ bytes: [UInt8]) -> [InotifyRecord] {
        var out: [InotifyRecord] = []
        var i = 0
        bytes.withUnsafeBytes { raw in
            while i + 16 <= raw.count {
                let wd = raw.loadUnaligned(fromByteOffset: i, as: Int32.self)
                let mask = raw.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)
                let len = Int(raw.loadUnaligned(fromByteOffset: i + 12, as: UInt32.self))
                guard len <= raw.count - i - 16 else { break }
                out.append(InotifyRecord(wd: wd, mask: mask))
                i += 16 + len
            }
        }
        return out
    }
}

/// The tails of every file the `file` rules name, on the daemon's loop.
final class FileTails {
    /// One open file: the path whose lines it gives (kept while it drains under another name), what was read of it.
    final class Tail {
        let identity: FileIdentity
        var path: String
        /// -1 once closed.
        var fd: Int32
        var wd: Int32 = -1
        /// Bytes read (the next pread starts here).
        var offset: UInt64
        var splitter: LineSplitter
        /// Rotated away (renamed, or another file at its path): read on until quiet for ``FileTails/drainGrace``.
        var draining = false
        var lastGrowth: Double

        init(identity: FileIdentity, path: String, fd: Int32, offset: UInt64, splitter: LineSplitter, now: Double) {
            self.identity = identity
            self.path = path
            self.fd = fd
            self.offset = offset
            self.splitter = splitter
            lastGrowth = now
        }

        /// What a restart resumes at: the bytes of whole lines handed out (a held partial line is read again).
        var consumed: UInt64 { offset - UInt64(splitter.pendingBytes) }
    }

    /// How long a file renamed away is still read after its last write (a writer that has not reopened its log yet).
    static let drainGrace = 5.0
    /// Bytes read from one file per loop turn; the rest in the next turn, so one busy file does not stall the loop.
    static let readBudget = 1 << 20
    static let directoryMask = UInt32(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)
    static let fileMask = UInt32(IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

    let loop: EventLoop
    let log: Logger
    let inotify: Int32
    /// Hands the lines read to the engine (through the source's rate limit).
    let deliver: ([EventEntry]) -> Void
    private(set) var patterns: [(pattern: FilePathPattern, rules: [String])] = []
    /// The open files: followed at a matching path, or rotated away and still read (`draining`).
    private(set) var tails: [Tail] = []
    private var folderWatch: [String: Int32] = [:]
    private var folderOf: [Int32: String] = [:]
    private var tailOf: [Int32: Tail] = [:]
    /// What the state saved with the last commit before a restart said (read by the first `configure` only).
    private var saved: [Saved]
    private var savedPatterns: [FilePathPattern]
    /// The saved state as it was, what ``state()`` gives until the first `configure` has opened the files.
    private let savedState: JSONValue?
    private var configured = false
    /// The last problem logged per path or folder (a retry each tick logs a change only); `retry`: look again each tick.
    private var problems: [String: (message: String, retry: Bool)] = [:]
    private var rescanDue: Set<String> = []
    private var readDue: [Tail] = []
    private var processScheduled = false
    private var pending: [EventEntry] = []
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    private(set) var linesRead = 0

    init(loop: EventLoop, log: Logger, saved state: JSONValue?, deliver: @escaping ([EventEntry]) -> Void) throws(SystemError) {
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd < 0 { throw SystemError("inotify_init1") }
        inotify = fd
        self.loop = loop
        self.log = log
        self.deliver = deliver
        let (files, pats) = FileTails.decode(state)
        savedState = state
        saved = files
        savedPatterns = pats.compactMap(FilePathPattern.init)
        loop.watch(fd: fd, interest: .read) { [unowned self] _ in self.readEvents() }
    }

    /// Closes every file and the inotify descriptor.
    func close() {
        for t in tails where t.fd >= 0 { Glibc.close(t.fd) }
        tails = []
        tailOf = [:]
        loop.unwatch(fd: inotify)
        Glibc.close(inotify)
    }

    var active: [Tail] { tails.filter { !$0.draining } }

    /// What `shd status` shows of each followed path (`sources` in docs/control.md): the rules that read it, the files
    /// read and to which byte, and the problem last logged for it or its folder (nil when there is none).
    func statuses() -> [JSONValue] {
        patterns.map { p in
            let dir = p.pattern.directory
            let files = tails.filter { parentDirectory($0.path) == dir && p.pattern.matches(name: baseName($0.path)) }
                .sorted { ($0.path, $0.draining ? 1 : 0) < ($1.path, $1.draining ? 1 : 0) }
            let problem = problems[p.pattern.path] ?? problems[dir]
                ?? problems.filter { parentDirectory($0.key) == dir && p.pattern.matches(name: baseName($0.key)) }.min { $0.key < $1.key }?.value
            var o = JSONObject()
            o.append("source", "file")
            o.append("path", .string(p.pattern.path))
            o.append("rules", .array(p.rules.map { .string($0) }))
            o.append("files", .array(files.map { t in
                .object(JSONObject([("path", .string(t.path)), ("offset", .int(Int64(clamping: t.offset))), ("draining", .bool(t.draining))]))
            }))
            o.append("problem", problem.map { .string($0.message) } ?? .null)
            return .object(o)
        }
    }

    // MARK: State

    /// `{"patterns": [PATH…], "files": [{"path", "device", "inode", "offset"}…]}`: what a restart resumes from.
    func state() -> JSONValue {
        if !configured, let s = savedState { return s }
        var o = JSONObject()
        o.append("patterns", .array(patterns.map { .string($0.pattern.path) }))
        o.append("files", .array(tails.map { t in
            var f = JSONObject()
            f.append("path", .string(t.path))
            f.append("device", .int(Int64(bitPattern: t.identity.device)))
            f.append("inode", .int(Int64(bitPattern: t.identity.inode)))
            f.append("offset", .int(Int64(clamping: t.consumed)))
            if t.draining { f.append("draining", true) }
            return .object(f)
        }))
        return .object(o)
    }

    /// A file as the state saved it: the followed path, its identity, the offset of its last whole line, and whether
    /// it had been rotated away already.
    struct Saved {
        var path: String
        var identity: FileIdentity
        var offset: UInt64
        var draining = false
    }

    static func decode(_ v: JSONValue?) -> ([Saved], [String]) {
        guard let v else { return ([], []) }
        var files: [Saved] = []
        for f in v["files"]?.array ?? [] {
            guard let p = f["path"]?.string, let d = f["device"]?.int64, let i = f["inode"]?.int64, let o = f["offset"]?.int64, o >= 0 else { continue }
            files.append(Saved(path: p, identity: FileIdentity(device: UInt64(bitPattern: d), inode: UInt64(bitPattern: i)), offset: UInt64(o),
                               draining: f["draining"]?.bool ?? false))
        }
        return (files, (v["patterns"]?.array ?? []).compactMap(\.string))
    }

    // MARK: Configuration

    /// Follows `paths` (each with the rules that read it): folders watched, files opened, the others closed. The
    /// first call resumes from the saved state; later ones (reloads) start the files they did not follow at their end.
    func configure(_ paths: [(path: String, rules: [String])]) {
        patterns = paths.compactMap { p in FilePathPattern(p.path).map { ($0, p.rules) } }
        let folders = Set(patterns.map(\.pattern.directory))
        for (dir, wd) in folderWatch where !folders.contains(dir) {
            inotify_rm_watch(inotify, wd)
            folderWatch[dir] = nil
            folderOf[wd] = nil
        }
        for t in tails where !isFollowed(t.path) { closeTail(t, finish: false) }
        for key in problems.keys where !folders.contains(key) && !isFollowed(key) && !patterns.contains(where: { $0.pattern.path == key }) { problems[key] = nil }
        if !configured { resumeRotatedAway() }
        for dir in folders.sorted() { scan(dir, initial: true) }
        saved = []
        configured = true
        for p in patterns where folderWatch[p.pattern.directory] != nil
            && !active.contains(where: { parentDirectory($0.path) == p.pattern.directory && p.pattern.matches(name: baseName($0.path)) })
        {
            report(p.pattern.path, "rule \(p.rules.joined(separator: ", ")): no file matches \(p.pattern.path) yet; it is read from its first line when it appears (its folder is watched)",
                   warning: true)
        }
        flush()
    }

    func isFollowed(_ path: String) -> Bool {
        let dir = parentDirectory(path), name = baseName(path)
        return patterns.contains { $0.pattern.directory == dir && $0.pattern.matches(name: name) }
    }

    /// Saved files that no followed name holds any more (rotated while shd was down: `app.log` is `app.log.1` now),
    /// found by identity in their folder and read from the saved offset: the lines written before the rotation are
    /// not lost. Files still at a followed name are resumed by `scan`.
    private func resumeRotatedAway() {
        var listed: [String: [String]] = [:]
        for s in saved where isFollowed(s.path) && !tails.contains(where: { $0.identity == s.identity }) {
            let dir = parentDirectory(s.path)
            if listed[dir] == nil { listed[dir] = listDirectory(dir).sorted() }
            var seen = false
            for name in listed[dir]! {
                let file = (dir == "/" ? "" : dir) + "/" + name
                var st = stat()
                guard stat(file, &st) == 0, identity(st) == s.identity else { continue }
                seen = true
                guard !isFollowed(file), (st.st_mode & S_IFMT) == S_IFREG, UInt64(st.st_size) >= s.offset,
                      let t = open(file, as: s.path, at: .resume(s.offset)) else { break }
                t.draining = true
                tails.append(t)
                if s.draining {
                    log.info("\(s.path): reading on in the file rotated away before the restart (\(name)) until it is quiet")
                } else {
                    log.notice("\(s.path) was rotated while shd was stopped; reading the rest of the old file (\(name)) from where it stood")
                }
                read(t)
                break
            }
            if !seen {
                // Moved to another folder (logrotate's olddir), compressed or deleted while shd was stopped: what was
                // written to it after the saved offset cannot be read. Said, not passed over.
                log.warning("\(s.path) was rotated while shd was stopped and its old file is no longer in \(dir) (logrotate olddir, "
                    + "compress or a delete?): lines written to it after byte \(s.offset) were not read")
            }
        }
    }

    // MARK: Events

    private func readEvents() {
        var any = false
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(inotify, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            for r in InotifyRecord.parse(Array(buffer[0..<n])) {
                any = true
                if r.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    // Events were lost: look at everything again.
                    for d in folderWatch.keys { rescanDue.insert(d) }
                    readDue += tails
                } else if let dir = folderOf[r.wd] {
                    if r.mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
                        folderOf[r.wd] = nil
                        if folderWatch[dir] == r.wd { folderWatch[dir] = nil }
                    }
                    rescanDue.insert(dir)
                } else if let t = tailOf[r.wd] {
                    if r.mask & UInt32(IN_IGNORED) != 0 {
                        tailOf[r.wd] = nil
                        t.wd = -1
                    }
                    if r.mask & UInt32(IN_MODIFY) != 0 { readDue.append(t) }
                    if r.mask & UInt32(IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) != 0 { rescanDue.insert(parentDirectory(t.path)) }
                }
            }
        }
        if any { scheduleProcess() }
    }

    private func scheduleProcess() {
        guard !processScheduled else { return }
        processScheduled = true
        loop.runSoon { [unowned self] in
            self.processScheduled = false
            self.process()
        }
    }

    /// One loop turn's work: folders that changed first (rotations decided, new files opened), then writes.
    private func process() {
        let dirs = rescanDue.sorted()
        rescanDue = []
        for d in dirs { scan(d, initial: false) }
        let due = readDue
        readDue = []
        var seen = Set<ObjectIdentifier>()
        for t in due where t.fd >= 0 && seen.insert(ObjectIdentifier(t)).inserted { read(t) }
        flush()
    }

    /// Each tick: files grown or truncated without an event (events lost, a file moved to another folder); folders
    /// that could not be watched and files that could not be opened tried again; drained files closed once quiet.
    func tick() {
        let now = monotonicSeconds()
        var dirs = Set(patterns.map(\.pattern.directory).filter { folderWatch[$0] == nil })
        for (key, p) in problems where p.retry && folderWatch[parentDirectory(key)] != nil { dirs.insert(parentDirectory(key)) }
        for d in dirs.sorted() { scan(d, initial: false) }
        for t in tails where t.fd >= 0 {
            var st = stat()
            guard fstat(t.fd, &st) == 0 else { continue }
            if UInt64(st.st_size) != t.offset { read(t) }
            if t.draining && (st.st_nlink == 0 || now - t.lastGrowth >= FileTails.drainGrace) { closeTail(t, finish: true) }
        }
        flush()
    }

    // MARK: Folders and files

    /// Looks at `dir`: the open files' rotations decided (TailChange), files that are now at a followed name opened.
    /// `initial` (configure): files start from the saved state at the first one, at their end at a reload; other
    /// scans (events, ticks) start a file that appears at its first line.
    private func scan(_ dir: String, initial: Bool) {
        // The open files first: what was written to a file before it was rotated away is read before its successor.
        for t in active where parentDirectory(t.path) == dir { check(t) }
        if folderWatch[dir] == nil {
            let wd = inotify_add_watch(inotify, dir, FileTails.directoryMask)
            guard wd >= 0 else {
                let rules = patterns.filter { $0.pattern.directory == dir }.flatMap(\.rules)
                report(dir, "rule \(rules.joined(separator: ", ")): cannot watch the folder \(dir) (\(errnoText(errno))); its files are not read until it can be (tried again every tick)")
                return
            }
            resolved(dir, "the folder \(dir) can be watched now")
            folderWatch[dir] = wd
            folderOf[wd] = dir
        }
        let dirPatterns = patterns.filter { $0.pattern.directory == dir }.map(\.pattern)
        for name in listDirectory(dir).sorted() where dirPatterns.contains(where: { $0.matches(name: name) }) {
            let path = (dir == "/" ? "" : dir) + "/" + name
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            let id = identity(st)
            if let t = tails.first(where: { $0.identity == id }) {
                // The same file under another followed name (`*.log*`: `app.log` renamed `app.log.1`): it goes on
                // from where it was, under its new name, unless it still holds its old one.
                if t.draining || !holds(t) {
                    t.path = path
                    t.draining = false
                }
                continue
            }
            if active.contains(where: { $0.path == path }) { continue }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                report(path, "\(path) is not a regular file; shd follows only regular files")
                continue
            }
            let start: TailStart
            if initial && !configured {
                let s = saved.first { $0.identity == id } ?? saved.first { $0.path == path }
                start = TailStart.decide(identity: id, size: UInt64(st.st_size), saved: s.map { ($0.identity, $0.offset) },
                                         known: savedPatterns.contains { $0.directory == dir && $0.matches(name: name) })
            } else {
                start = initial ? .end : .beginning
            }
            guard let t = open(path, as: path, at: start) else { continue }
            tails.append(t)
            for p in dirPatterns where p.matches(name: name) { problems[p.path] = nil }
            switch start {
            case .resume(let o): log.info("\(path): resuming at byte \(o) (saved with the alert state)")
            case .beginning: log.notice("\(path): reading from its first line" + (initial ? " (it appeared or was rotated while shd was stopped)" : " (it appeared)"))
            case .end: log.info("\(path): following from its end")
            }
            read(t)
        }
    }

    /// Whether the tail's path still names its file.
    private func holds(_ t: Tail) -> Bool {
        var st = stat()
        return stat(t.path, &st) == 0 && identity(st) == t.identity
    }

    /// What happened to an open file (TailChange.decide) and what is done about it.
    private func check(_ t: Tail) {
        var st = stat()
        guard t.fd >= 0, fstat(t.fd, &st) == 0 else { return }
        var now = stat()
        let atPath = stat(t.path, &now) == 0 ? identity(now) : nil
        switch TailChange.decide(open: t.identity, size: UInt64(st.st_size), links: UInt64(st.st_nlink), offset: t.offset, atPath: atPath) {
        case .same:
            if UInt64(st.st_size) > t.offset { read(t) }
        case .truncated:
            read(t)
        case .replaced:
            read(t)
            t.draining = true
            log.info("\(t.path) was rotated (another file is at its path): the rest of the old file is read, then the new one from its first line")
        case .gone(let linked):
            read(t)
            if linked {
                t.draining = true
                log.info("\(t.path) was renamed away: the old file is read until it is quiet, and the path from its first line when it appears")
            } else {
                closeTail(t, finish: true)
                log.notice("\(t.path) was deleted; it is read from its first line when it is created again")
            }
        }
    }

    /// Opens `file` for the followed path `path`, with a watch for its writes; nil (reported) on failure.
    private func open(_ file: String, as path: String, at start: TailStart) -> Tail? {
        let fd = Glibc.open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let e = errno
            let hint = e == EACCES && geteuid() != 0 ? "; shd runs as an unprivileged user: a log of group adm needs SupplementaryGroups=adm in a drop-in (systemctl edit shd)" : ""
            if e != ENOENT { report(path, "cannot read \(file): \(errnoText(e))\(hint) (tried again every tick)", retry: true) }
            return nil
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            report(path, "\(file) is not a regular file; shd follows only regular files")
            return nil
        }
        resolved(path, "\(file) can be read now")
        let size = UInt64(st.st_size)
        var offset: UInt64 = 0
        var splitter = LineSplitter()
        switch start {
        case .resume(let o): offset = min(o, size)
        case .beginning: offset = 0
        case .end:
            offset = size
            // A last line without its newline began before shd looked: its end is not a line of its own.
            var last: UInt8 = 0x0A
            if size > 0 { _ = pread(fd, &last, 1, off_t(clamping: size - 1)) }
            splitter = LineSplitter(skippingToNewline: last != 0x0A)
        }
        let t = Tail(identity: identity(st), path: path, fd: fd, offset: offset, splitter: splitter, now: monotonicSeconds())
        let wd = inotify_add_watch(inotify, file, FileTails.fileMask)
        if wd >= 0 {
            t.wd = wd
            tailOf[wd] = t
        }
        return t
    }

    /// Closes a file (`finish`: its held partial line is its last line).
    private func closeTail(_ t: Tail, finish: Bool) {
        guard t.fd >= 0 else { return }
        if finish, let line = t.splitter.finish() { pending.append(EventSources.fileEntry(line: line, path: t.path, time: .now())) }
        if t.wd >= 0, tailOf[t.wd] === t {
            tailOf[t.wd] = nil
            inotify_rm_watch(inotify, t.wd)
        }
        Glibc.close(t.fd)
        t.fd = -1
        t.wd = -1
        tails.removeAll { $0 === t }
    }

    /// New bytes of `t` (at most ``readBudget`` this turn) split into lines; a truncated file is read again from 0.
    private func read(_ t: Tail) {
        var st = stat()
        guard t.fd >= 0, fstat(t.fd, &st) == 0 else { return }
        if UInt64(st.st_size) < t.offset {
            if let line = t.splitter.finish() { pending.append(EventSources.fileEntry(line: line, path: t.path, time: .now())) }
            log.info("\(t.path) was truncated (copytruncate, or `>`): reading it again from its first line")
            t.offset = 0
        }
        var budget = FileTails.readBudget
        let now = Timestamp.now()
        let path = t.path
        while budget > 0 {
            let n = buffer.withUnsafeMutableBytes { pread(t.fd, $0.baseAddress, min($0.count, budget), off_t(clamping: t.offset)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            t.offset += UInt64(n)
            budget -= n
            t.lastGrowth = monotonicSeconds()
            t.splitter.feed(buffer[0..<n]) { pending.append(EventSources.fileEntry(line: $0, path: path, time: now)) }
        }
        if budget < FileTails.readBudget, LogLevel.debug <= log.level {
            log.debug("\(path)" + (t.draining ? " (the file rotated away)" : "") + ": read to byte \(t.offset)" + (t.splitter.pendingBytes > 0 ? " (\(t.splitter.pendingBytes) bytes of a line not ended yet)" : ""))
        }
        if budget <= 0 {
            readDue.append(t)
            scheduleProcess()
        }
    }

    private func flush() {
        guard !pending.isEmpty else { return }
        let entries = pending
        pending = []
        linesRead += entries.count
        deliver(entries)
    }

    // MARK: Problems

    /// Logs a problem with a path or folder once (again only when it changes).
    private func report(_ key: String, _ message: String, warning: Bool = false, retry: Bool = false) {
        guard problems[key]?.message != message else { return }
        problems[key] = (message, retry)
        if warning { log.warning(message) } else { log.error(message) }
    }

    private func resolved(_ key: String, _ message: String) {
        guard let was = problems.removeValue(forKey: key), was.retry || !was.message.contains("no file matches") else { return }
        log.notice(message)
    }

    private func identity(_ st: stat) -> FileIdentity { FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) }
}

func baseName(_ path: String) -> String {
    guard let i = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: i)...])
}
