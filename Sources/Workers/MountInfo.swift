// /proc/self/mountinfo parsing, mount filtering, and statvfs behind an injectable source with a deadline.
import Kit
import CLinux
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// One line of mountinfo.
public struct MountEntry: Equatable, Sendable {
    public var mountID: Int64
    public var parentID: Int64
    /// Mount point, with the kernel's octal escapes (`\040` …) decoded.
    public var mountPoint: String
    /// Per-mount options (`rw,relatime`).
    public var options: [String]
    public var fstype: String
    /// Mount source (`/dev/sda1`, `server:/export`, `tmpfs`).
    public var source: String
    public var superOptions: [String]
    /// `major:minor` of the filesystem (the same for every mount of one filesystem).
    public var deviceNumber: String = ""
    /// The folder of the filesystem this mount shows (`/` unless it is a bind mount or a subvolume).
    public var root: String = "/"

    /// Read-only when the filesystem itself is (`ro` in the super options: mounted so, or remounted
    /// after errors). A read-only *mount* of a writable filesystem is not: systemd's
    /// ProtectSystem=strict gives the service read-only views of every filesystem, and the disk is
    /// no less writable for that.
    public var readOnly: Bool { superOptions.contains("ro") }
}

/// `/proc/self/mountinfo` (Documentation/filesystems/proc.rst, 3.5):
/// ```
/// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
/// (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
/// ```
/// mount ID, parent ID, major:minor, root, mount point, mount options, zero or more optional
/// fields (`shared:N`, `master:N`, …) ended by a single `-`, fs type, source, super options.
/// Paths escape space, tab, newline and backslash as `\040 \011 \012 \134`.
public func parseMountInfo(_ bytes: [UInt8]) throws(CollectError) -> [MountEntry] {
    var out: [MountEntry] = []
    var lineNo = 0
    var failure: CollectError?
    forEachLine(bytes) { line in
        lineNo += 1
        if failure != nil || trimmed(line).isEmpty { return }
        let f = fields(line)
        guard f.count >= 10, let id = parseInt64(f[0]), let parent = parseInt64(f[1]),
              let sep = f[6...].firstIndex(where: { equals($0, "-") }), sep + 2 < f.count
        else {
            failure = CollectError("mountinfo: malformed line \(lineNo): '\(string(line))'")
            return
        }
        out.append(MountEntry(
            mountID: id, parentID: parent, mountPoint: decodeOctalEscapes(f[4]),
            options: f[5].split(separator: UInt8(ascii: ",")).map(string),
            fstype: decodeOctalEscapes(f[sep + 1]), source: decodeOctalEscapes(f[sep + 2]),
            superOptions: sep + 3 < f.count ? f[sep + 3].split(separator: UInt8(ascii: ",")).map(string) : [],
            deviceNumber: string(f[2]), root: decodeOctalEscapes(f[3])))
    }
    if let failure { throw failure }
    return out
}

/// Decodes the kernel's `\ooo` escapes (fs/proc_namespace.c `mangle`); anything else is kept as is.
public func decodeOctalEscapes(_ s: ArraySlice<UInt8>) -> String {
    guard s.contains(UInt8(ascii: "\\")) else { return string(s) }
    var out: [UInt8] = []
    out.reserveCapacity(s.count)
    var i = s.startIndex
    while i < s.endIndex {
        let c = s[i]
        if c == UInt8(ascii: "\\"), i + 3 < s.endIndex {
            let d = s[(i + 1)..<(i + 4)]
            if d.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) {
                let v = d.reduce(0) { $0 * 8 + Int($1 - 0x30) }
                if v <= 255 {
                    out.append(UInt8(v))
                    i += 4
                    continue
                }
            }
        }
        out.append(c)
        i += 1
    }
    return String(decoding: out, as: UTF8.self)
}

/// True when a mount is noise by type or by mount point prefix (whole path components). `/` never is.
public func isExcludedMount(_ m: MountEntry, _ options: WorkerOptions) -> Bool {
    if m.mountPoint == "/" { return false }
    if options.excludedFilesystemTypes.contains(m.fstype) { return true }
    for p in options.excludedMountPrefixes {
        let prefix = p.hasSuffix("/") && p.count > 1 ? String(p.dropLast()) : p
        if prefix == "/" { continue }
        if m.mountPoint == prefix || m.mountPoint.hasPrefix(prefix + "/") { return true }
    }
    return false
}

/// The figures statvfs(3) gives for one filesystem.
public struct FilesystemStats: Equatable, Sendable {
    /// Fragment size: the unit of the block counts (`f_frsize`, or `f_bsize` when zero).
    public var blockSize: UInt64
    public var blocks: UInt64
    public var blocksFree: UInt64
    public var blocksAvailable: UInt64
    public var files: UInt64
    public var filesFree: UInt64
    public var readOnly: Bool

    public init(blockSize: UInt64, blocks: UInt64, blocksFree: UInt64, blocksAvailable: UInt64,
                files: UInt64, filesFree: UInt64, readOnly: Bool) {
        self.blockSize = blockSize
        self.blocks = blocks
        self.blocksFree = blocksFree
        self.blocksAvailable = blocksAvailable
        self.files = files
        self.filesFree = filesFree
        self.readOnly = readOnly
    }
}

/// What probing one mount gave.
public enum StatfsOutcome: Equatable, Sendable {
    case stats(FilesystemStats)
    /// statvfs failed with this errno (EACCES, ENOENT when the mount vanished, …).
    case failed(Int32)
    /// The call did not return before the deadline (or, for a fixture, is recorded as hung).
    case stuck
}

/// Where filesystem figures come from.
///
/// - Important: `statfs` may block for as long as the kernel does (a dead NFS server): callers
///   never run it on the collecting thread but through `StatfsProber`, which enforces a deadline.
public protocol StatfsSource: Sendable {
    func statfs(_ mountPoint: String) -> StatfsOutcome
}

/// The real statvfs(3), of the mount point itself or, with `root` (a host's root filesystem
/// mounted into a container), of `root + mount point`.
public struct LiveStatfs: StatfsSource {
    public let root: String?
    public init(root: String? = nil) {
        var r = root
        while let x = r, x.hasSuffix("/") { r = String(x.dropLast()) }
        self.root = r.flatMap { $0.isEmpty ? nil : $0 }
    }
    public func statfs(_ mountPoint: String) -> StatfsOutcome {
        let mountPoint = root.map { $0 + mountPoint } ?? mountPoint
        // Swift cannot call statvfs(): the function is shadowed by the struct of the same name, so
        // take an O_PATH handle (no permission needed on the directory) and ask fstatvfs().
        // O_PATH is hidden behind _GNU_SOURCE; its value is the same on every Linux architecture.
        let oPath: Int32 = 0o10000000
        let fd = open(mountPoint, oPath | O_CLOEXEC)
        if fd < 0 { return .failed(shd_errno()) }
        defer { close(fd) }
        var b = Glibc.statvfs()
        if fstatvfs(fd, &b) != 0 { return .failed(shd_errno()) }
        let unit = b.f_frsize != 0 ? UInt64(b.f_frsize) : UInt64(b.f_bsize)
        return .stats(FilesystemStats(
            blockSize: unit, blocks: UInt64(b.f_blocks), blocksFree: UInt64(b.f_bfree),
            blocksAvailable: UInt64(b.f_bavail), files: UInt64(b.f_files), filesFree: UInt64(b.f_ffree),
            readOnly: (UInt64(b.f_flag) & UInt64(ST_RDONLY)) != 0))
    }
}

/// statvfs figures recorded next to a fixture tree, in a file named `statvfs` beside `proc`:
/// ```
/// # mount f_bsize f_blocks f_bfree f_bavail f_files f_ffree flags
/// / 4096 25769804 10307922 9000000 6553600 6000000 rw
/// /mnt/nfs\040share hang
/// ```
/// Mount points use mountinfo's escapes. `flags` is `rw` or `ro`. A line `MOUNT hang` stands for a
/// statvfs that never returns (reported as stuck without blocking a thread, so golden runs stay fast
/// and deterministic). A mount with no line fails with ENOENT.
public struct FixtureStatfs: StatfsSource {
    public let table: [String: StatfsOutcome]

    public init(table: [String: StatfsOutcome]) { self.table = table }

    /// Reads the sidecar; a missing file gives an empty table (every mount fails with ENOENT).
    public init(path: String) {
        let bytes = (try? readOnce(path, cap: 1 << 20)) ?? []
        self.table = (try? parseStatfsSidecar(bytes)) ?? [:]
    }

    public func statfs(_ mountPoint: String) -> StatfsOutcome { table[mountPoint] ?? .failed(ENOENT) }
}

/// Parses the fixture `statvfs` sidecar described at `FixtureStatfs`.
public func parseStatfsSidecar(_ bytes: [UInt8]) throws(CollectError) -> [String: StatfsOutcome] {
    var out: [String: StatfsOutcome] = [:]
    var failure: CollectError?
    forEachLine(bytes) { line in
        let t = trimmed(line)
        if failure != nil || t.isEmpty || t.first == UInt8(ascii: "#") { return }
        let f = fields(t)
        let mount = decodeOctalEscapes(f[0])
        if f.count == 2, equals(f[1], "hang") {
            out[mount] = .stuck
            return
        }
        guard f.count >= 8, let bs = parseUInt64(f[1]), let blocks = parseUInt64(f[2]), let bfree = parseUInt64(f[3]),
              let bavail = parseUInt64(f[4]), let files = parseUInt64(f[5]), let ffree = parseUInt64(f[6])
        else {
            failure = CollectError("statvfs sidecar: malformed line '\(string(t))'")
            return
        }
        out[mount] = .stats(FilesystemStats(blockSize: bs, blocks: blocks, blocksFree: bfree, blocksAvailable: bavail,
                                            files: files, filesFree: ffree, readOnly: equals(f[7], "ro")))
    }
    if let failure { throw failure }
    return out
}

/// Runs statvfs calls on helper threads with a deadline, so a hung mount never stalls collection.
///
/// A small pool of threads takes mounts from a queue; the caller waits on a condition variable
/// until every mount answered or the deadline passed. When a call is slow, another thread is added
/// (up to `maxThreads`) so one hung mount does not hold up the others queued behind it. A mount
/// whose call is still in flight from an earlier tick is reported stuck at once and not probed
/// again, so a dead server costs one parked thread, not one per tick.
public final class StatfsProber: @unchecked Sendable {
    public let source: any StatfsSource
    public let maxThreads: Int
    /// How long a call may run before the caller adds a thread for the queue behind it.
    let slowCallSeconds = 0.02

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let work: UnsafeMutablePointer<pthread_cond_t>
    private let done: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `mutex`.
    private var queue: [String] = []
    private var inFlight: Set<String> = []
    private var results: [String: StatfsOutcome] = [:]
    private var threads = 0
    private var idle = 0

    public init(source: any StatfsSource, maxThreads: Int = 8) {
        self.source = source
        self.maxThreads = max(1, maxThreads)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        work = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_cond_init(work, &attr)
        pthread_cond_init(done, &attr)
        pthread_condattr_destroy(&attr)
    }

    /// Threads started so far (parked hung ones included); for tests.
    public var threadCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return threads
    }

    /// Probes every mount point, returning within about `timeout` seconds whatever happens.
    public func probe(_ mountPoints: [String], timeout: Double) -> [String: StatfsOutcome] {
        var out: [String: StatfsOutcome] = [:]
        var waiting: [String] = []
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        for m in mountPoints where out[m] == nil && !waiting.contains(m) {
            if inFlight.contains(m) {
                out[m] = .stuck
            } else {
                results[m] = nil
                queue.append(m)
                waiting.append(m)
            }
        }
        if waiting.isEmpty { return out }
        if idle == 0 && threads < maxThreads { spawnLocked() }
        pthread_cond_broadcast(work)
        let deadline = monotonicSeconds() + timeout
        while true {
            if waiting.allSatisfy({ results[$0] != nil }) { break }
            let now = monotonicSeconds()
            if now >= deadline { break }
            waitLocked(until: min(deadline, now + slowCallSeconds))
            if !queue.isEmpty && idle == 0 && threads < maxThreads { spawnLocked() }
        }
        for m in waiting {
            if let r = results.removeValue(forKey: m) {
                out[m] = r
            } else {
                // Still queued (all threads busy) or still running: either way it missed the deadline.
                queue.removeAll { $0 == m }
                out[m] = .stuck
            }
        }
        return out
    }

    private func waitLocked(until t: Double) {
        var ts = timespec()
        ts.tv_sec = Int(t)
        ts.tv_nsec = Int((t - Double(Int(t))) * 1e9)
        pthread_cond_timedwait(done, mutex, &ts)
    }

    private func spawnLocked() {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 256 * 1024)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var tid = pthread_t()
        let arg = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&tid, &attr, { arg in
            let prober = Unmanaged<StatfsProber>.fromOpaque(arg!).takeRetainedValue()
            prober.serve()
            return nil
        }, arg)
        pthread_attr_destroy(&attr)
        if rc == 0 {
            threads += 1
        } else {
            Unmanaged<StatfsProber>.fromOpaque(arg).release()
        }
    }

    /// A pool thread: take a mount, probe it without the lock, publish the outcome.
    private func serve() {
        pthread_mutex_lock(mutex)
        while true {
            while queue.isEmpty {
                idle += 1
                pthread_cond_wait(work, mutex)
                idle -= 1
            }
            let m = queue.removeFirst()
            inFlight.insert(m)
            pthread_mutex_unlock(mutex)
            let r = source.statfs(m)
            pthread_mutex_lock(mutex)
            inFlight.remove(m)
            results[m] = r
            pthread_cond_broadcast(done)
        }
    }
}
