// Workers and functions: the collection model shared by every worker.
import Kit
import CLinux
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// Where the kernel's files are: a live procfs (this machine's, or a host's mounted into a
/// container as `/host/proc`), or a fixture tree copied from a machine.
///
/// Live or fixture is decided once, whenever `proc` is set, by what the proc root is: a procfs
/// mount (however it is spelt: `/proc/`, a symlink, `/host/proc`) is live; anything else is a
/// fixture tree. Functions ask `live`, never compare paths. The inputs only a fixture has (the
/// recorded statvfs figures and adjtimex state, which are syscalls on a live system) are named
/// by `fixtureStatvfs` and `fixtureAdjtimex`.
public struct SourceRoots: Sendable, Equatable {
    public var proc: String {
        didSet { live = Self.isProcfs(proc) }
    }
    public var sys: String
    /// Root for /etc files such as os-release (fixtures set it next to proc and sys).
    public var etc: String
    /// The host's root filesystem as shd sees it (`/host` in a container started with
    /// `-v /:/host:ro,rslave`); nil for shd's own. When set (live only), the mount table is the
    /// one of pid 1 of the proc root's pid namespace (`<proc>/1/mountinfo`: the host's, not the
    /// container's) and statvfs runs on `rootFS + mount point`.
    public var rootFS: String?
    /// The proc root is a procfs: the syscalls (statvfs, adjtimex, sock_diag) describe the same
    /// machine as its files.
    public private(set) var live: Bool
    /// Fixture trees only: the statvfs sidecar (`FixtureStatfs`) and the `adjtimex --print`
    /// record. Unless set, the files named `statvfs` and `adjtimex` beside the proc directory.
    public var fixtureStatvfs: String? {
        get { live ? nil : statvfsOverride ?? Self.sibling(of: proc, "statvfs") }
        set { statvfsOverride = newValue }
    }
    public var fixtureAdjtimex: String? {
        get { live ? nil : adjtimexOverride ?? Self.sibling(of: proc, "adjtimex") }
        set { adjtimexOverride = newValue }
    }
    private var statvfsOverride: String?
    private var adjtimexOverride: String?

    public init(proc: String = "/proc", sys: String = "/sys", etc: String = "/etc", rootFS: String? = nil) {
        self.proc = proc
        self.sys = sys
        self.etc = etc
        self.rootFS = rootFS
        self.live = Self.isProcfs(proc)
    }

    /// Where the mount table is read: the host's through pid 1 when a host root is given.
    public var mountInfoPath: String { live && rootFS != nil ? proc + "/1/mountinfo" : proc + "/self/mountinfo" }

    /// True when `path` is (or resolves to) a directory on procfs.
    static func isProcfs(_ path: String) -> Bool {
        // O_PATH | O_DIRECTORY: no read permission needed; the values are the same on every Linux architecture.
        let fd = open(path, 0o10000000 | 0o200000 | O_CLOEXEC)
        if fd < 0 { return false }
        defer { close(fd) }
        return shd_is_procfs(fd) == 1
    }

    /// `<parent of proc>/name`.
    static func sibling(of proc: String, _ name: String) -> String {
        var base = proc
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        let parent = base.lastIndex(of: "/").map { String(base[..<$0]) } ?? "."
        return parent + "/" + name
    }
}

/// Options that change what workers report. Defaults suit a typical server.
public struct WorkerOptions: Sendable, Equatable {
    /// Filesystem types never reported (pseudo and container filesystems).
    public var excludedFilesystemTypes: Set<String> = [
        "proc", "sysfs", "cgroup", "cgroup2", "devtmpfs", "devpts", "tmpfs", "overlay", "squashfs", "autofs",
        "mqueue", "hugetlbfs", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl",
        "binfmt_misc", "rpc_pipefs", "nsfs", "efivarfs", "ramfs", "fuse.lxcfs", "fuse.gvfsd-fuse", "selinuxfs",
        "nfsd", "rootfs",
    ]
    /// Mount point prefixes never reported.
    public var excludedMountPrefixes: [String] = [
        "/dev", "/proc", "/sys", "/run", "/var/lib/docker", "/var/lib/containers", "/var/lib/kubelet", "/snap",
    ]
    /// How long a statvfs may take before the mount is reported as stuck.
    public var statfsTimeoutSeconds: Double = 2
    /// How many processes `processes.top` reports, by CPU and by RSS each.
    public var topProcesses: Int = 10
    /// Whether `network.sockets` counts TCP connections by state from /proc/net/tcp and tcp6. Reading
    /// those makes the kernel walk its whole connection hash table (~4 ms per file on a machine with
    /// 262144 buckets, however few connections there are); off, `network.sockets` keeps the cheap
    /// sockstat figures and `network.listening` asks sock_diag for listeners only.
    public var tcpStateCounts: Bool = true
    /// Globs (fnmatch) of units `systemd.units` and `systemd.timers` leave out: transient scopes and per-user
    /// managers by default (`set exclude_units` replaces the list).
    public var excludedUnits: [String] = defaultExcludedUnits

    public init() {}
}

/// What a function gets each tick.
public struct CollectContext: Sendable {
    public var roots: SourceRoots
    public var options: WorkerOptions
    /// Wall-clock time of this tick.
    public var now: Timestamp
    /// Monotonic seconds of this tick, for rates between ticks.
    public var monotonic: Double
    /// The same for every worker collected in one tick (the tick's monotonic start): a source several
    /// workers read (`ProcStatReader`) is read once per tick.
    public var tick: Double

    public init(roots: SourceRoots, options: WorkerOptions, now: Timestamp, monotonic: Double, tick: Double? = nil) {
        self.roots = roots
        self.options = options
        self.now = now
        self.monotonic = monotonic
        self.tick = tick ?? monotonic
    }
}

/// A failure a function reports in its own function report; the worker goes on.
public struct CollectError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The rows a function could build although some of its sources failed: boot time from /proc/stat
/// still stands when /proc/uptime is missing. The function report carries both the rows and the
/// error, so the report and the textfile keep what was read while `system.errors` (and the shipped
/// `shd_function_failing` rule) say what was not.
public struct PartialCollection: Error, CustomStringConvertible {
    public var rows: [Row]
    public var errors: [String]

    public init(rows: [Row], errors: [String]) {
        self.rows = rows
        self.errors = errors
    }

    public var description: String { errors.joined(separator: "; ") }
}

/// The failures of a function's separate sources within one collect.
struct SourceFailures {
    private(set) var messages: [String] = []

    mutating func note(_ error: any Error) { messages.append("\(error)") }

    /// Runs `read`; a failure is noted and gives nil, so the rest of the function goes on.
    mutating func attempt<T>(_ read: () throws -> T) -> T? {
        do {
            return try read()
        } catch {
            note(error)
            return nil
        }
    }

    /// `rows` when nothing failed; otherwise throws them with the failures as a `PartialCollection`.
    func finish(_ rows: [Row]) throws(PartialCollection) -> [Row] {
        if messages.isEmpty { return rows }
        throw PartialCollection(rows: rows, errors: messages)
    }
}

/// One kind of reading. A function instance lives as long as the daemon, so it can keep
/// open files and the previous sample it needs for rates.
///
/// - Important: `collect` must not sleep or block on anything but kernel files; rates come from
///   the previous call's sample. A missing kernel *feature* (no PSI, no md driver, no sensors)
///   returns `[]` (no data), never throws; a missing or unreadable *file* that the function needs
///   throws an error naming it (`ReadError`), or, when other sources still give rows,
///   `PartialCollection`. No value read from the kernel may trap (see `saturatingProduct`).
public protocol MetricFunction: AnyObject {
    /// The function's name and fields; the rule checker and the textfile exporter read it.
    static var schema: FunctionSchema { get }
    func collect(_ context: CollectContext) throws -> [Row]
    /// False while a function whose rows come from declarations has none (`processes.watched` without a
    /// `watch … process`): the worker neither collects nor reports it, so such a configuration reports as before.
    var isActive: Bool { get }
}

extension MetricFunction {
    public var name: String { Self.schema.name }
    public var isActive: Bool { true }
}

/// A domain (cpu, disk, …) with its functions.
public final class Worker {
    public let name: String
    public let functions: [any MetricFunction]
    /// Events that change the functions' rows between ticks (the systemd manager's signals); the daemon starts it
    /// on its loop. nil for workers that only read files at each tick.
    public let source: (any WorkerEventSource)?

    public init(name: String, functions: [any MetricFunction], source: (any WorkerEventSource)? = nil) {
        self.name = name
        self.functions = functions
        self.source = source
    }

    public var schema: WorkerSchema {
        WorkerSchema(name: name, functions: functions.map { type(of: $0).schema })
    }

    /// Runs every function; a failing function reports its error and the others go on.
    ///
    /// - Parameters:
    ///   - only: names of the functions to collect now; the others keep their report from `previous`
    ///     (with its own, older datetime). nil collects every function.
    ///   - previous: the worker's last report, for the functions not collected now.
    ///   - tick: the tick's identity, shared by the workers collected together (`CollectContext.tick`).
    public func collect(roots: SourceRoots, options: WorkerOptions, now: Timestamp = .now(),
                        only: Set<String>? = nil, previous: WorkerReport? = nil, tick: Double? = nil) -> WorkerReport {
        let ctx = CollectContext(roots: roots, options: options, now: now, monotonic: monotonicSeconds(), tick: tick)
        var reports: [FunctionReport] = []
        reports.reserveCapacity(functions.count)
        for f in functions where f.isActive {
            if let only, !only.contains(f.name), let old = previous?.function(f.name) {
                reports.append(old)
                continue
            }
            let start = monotonicSeconds()
            do {
                let rows = try f.collect(ctx)
                reports.append(FunctionReport(name: f.name, datetime: now, data: rows,
                                              durationSeconds: monotonicSeconds() - start))
            } catch let partial as PartialCollection {
                reports.append(FunctionReport(name: f.name, datetime: now, data: partial.rows, error: partial.description,
                                              durationSeconds: monotonicSeconds() - start))
            } catch {
                reports.append(FunctionReport(name: f.name, datetime: now, data: [], error: "\(error)",
                                              durationSeconds: monotonicSeconds() - start))
            }
        }
        return WorkerReport(name: name, datetime: now, functionReports: reports)
    }
}

/// Rounds to `places` decimals so reports stay readable (percentages, rates).
@inlinable
public func rounded(_ v: Double, _ places: Int = 2) -> Double {
    var m = 1.0
    for _ in 0..<places { m *= 10 }
    let scaled = v * m
    // Near Double's limit the scaled value overflows; such a value has no decimals to round anyway.
    return scaled.isFinite ? scaled.rounded() / m : v
}
