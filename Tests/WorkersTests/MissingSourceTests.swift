// Every function with each of its files removed in turn: an error naming the file, the documented partial row, or no data.
import Testing
import Reports
import TestSupport
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A copy of a fixture tree in a fresh /tmp directory, for tests that damage it.
struct DamagedTree {
    let dir: String
    var roots: SourceRoots { SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc") }

    init(copyOf fixture: String) throws {
        dir = makeTempDirectory("shd-damaged")
        try #require(runShell("cp -a '\(TestPaths.fixture(fixture))/.' '\(dir)/'") == 0)
    }

    /// Removes files or folders, relative to the tree.
    func remove(_ paths: [String]) throws {
        for p in paths { try #require(runShell("rm -rf '\(dir)/\(p)'") == 0) }
    }

    /// Replaces a file's content.
    func write(_ path: String, _ text: String) throws {
        let f = try #require(fopen(dir + "/" + path, "w"))
        fputs(text, f)
        fclose(f)
    }

    func destroy() {
        guard dir.hasPrefix("/tmp/shd-damaged-") else { return }
        runShell("rm -rf '\(dir)'")
    }

    /// One collect of `worker.function` as the daemon runs it (partial results included).
    func collect(_ worker: String, _ function: String, options: WorkerOptions = WorkerOptions()) throws -> FunctionReport {
        let w = try #require(worker == "system" ? SystemWorker.make(accounting: SelfAccounting()) : WorkerRegistry.make(worker))
        let report = w.collect(roots: roots, options: options, now: Timestamp(microseconds: 1_795_600_000_000_000), only: [function])
        return try #require(report.function(function))
    }
}

/// What a function reports with some of its files gone.
enum MissingOutcome: Sendable {
    /// Nothing stands without the file: an error naming it and no rows.
    case fails
    /// The other sources still give rows: an error naming the file, rows with `kept` and without `lost`.
    case partial(kept: [String], lost: [String])
    /// The kernel lacks the feature (documented per function): no error, and no rows unless `rows`.
    case noData
    /// A fallback source covers it: no error, rows carry `kept` and not `lost`.
    case covered(kept: [String], lost: [String])
}

struct MissingCase: Sendable, CustomStringConvertible {
    var function: String
    var remove: [String]
    var outcome: MissingOutcome
    /// The path the error must name (default: the first removed one).
    var names: String?
    var description: String { "\(function) without \(remove.joined(separator: ", "))" }
}

@Suite struct MissingSourceTests {
    /// machine-b has every source shd reads (md, hwmon, thermal, EDAC, IPv6), so each can go in turn.
    static let cases: [MissingCase] = [
        MissingCase(function: "cpu.times", remove: ["proc/stat"], outcome: .fails),
        MissingCase(function: "cpu.utilisation", remove: ["proc/stat"], outcome: .fails),
        MissingCase(function: "cpu.stats", remove: ["proc/stat"], outcome: .fails),
        MissingCase(function: "load.averages", remove: ["proc/loadavg"], outcome: .fails),
        // The CPU count falls back to the cpuN lines of /proc/stat (kernels before 2.6.26).
        MissingCase(function: "load.averages", remove: ["sys/devices/system/cpu/online"],
                    outcome: .covered(kept: ["load1", "load1_per_core", "cpus"], lost: [])),
        MissingCase(function: "load.averages", remove: ["sys/devices/system/cpu/online", "proc/stat"],
                    outcome: .partial(kept: ["load1", "load15", "runnable_tasks"], lost: ["load1_per_core", "cpus"])),
        MissingCase(function: "memory.usage", remove: ["proc/meminfo"], outcome: .fails),
        MissingCase(function: "memory.vm", remove: ["proc/vmstat"], outcome: .fails),
        MissingCase(function: "pressure.cpu", remove: ["proc/pressure/cpu"], outcome: .fails),
        MissingCase(function: "pressure.memory", remove: ["proc/pressure/memory"], outcome: .fails),
        MissingCase(function: "pressure.io", remove: ["proc/pressure/io"], outcome: .fails),
        // No /proc/pressure at all: a kernel before 4.20 or CONFIG_PSI=n.
        MissingCase(function: "pressure.cpu", remove: ["proc/pressure"], outcome: .noData),
        MissingCase(function: "pressure.io", remove: ["proc/pressure"], outcome: .noData),
        MissingCase(function: "disk.filesystems", remove: ["proc/self/mountinfo"], outcome: .fails),
        MissingCase(function: "disk.io", remove: ["proc/diskstats"], outcome: .fails),
        // Whether a device is a partition comes from sysfs: without it, the field is left out.
        MissingCase(function: "disk.io", remove: ["sys/class/block/sdb1"],
                    outcome: .partial(kept: ["reads_total", "partition"], lost: [])),
        MissingCase(function: "network.interfaces", remove: ["proc/net/dev"], outcome: .fails),
        // Every interface has operstate and mtu: without its sysfs directory the counters stay.
        MissingCase(function: "network.interfaces", remove: ["sys/class/net/eth1"],
                    outcome: .partial(kept: ["rx_bytes_total", "operstate"], lost: []), names: "sys/class/net/eth1/operstate"),
        MissingCase(function: "network.interfaces", remove: ["sys/class/net/eth0/mtu"],
                    outcome: .partial(kept: ["rx_bytes_total", "mtu"], lost: [])),
        MissingCase(function: "network.sockets", remove: ["proc/net/sockstat"],
                    outcome: .partial(kept: ["tcp6_inuse", "tcp_established"], lost: ["tcp_inuse", "sockets_used"])),
        MissingCase(function: "network.sockets", remove: ["proc/net/sockstat6"],
                    outcome: .partial(kept: ["tcp_inuse", "tcp_established"], lost: ["tcp6_inuse"])),
        // State counts of one family alone would pass for the host's: both tables or none.
        MissingCase(function: "network.sockets", remove: ["proc/net/tcp"],
                    outcome: .partial(kept: ["tcp_inuse", "tcp6_inuse"], lost: ["tcp_established", "tcp_listen"])),
        MissingCase(function: "network.sockets", remove: ["proc/net/tcp6"],
                    outcome: .partial(kept: ["tcp_inuse", "tcp6_inuse"], lost: ["tcp_established"])),
        // A kernel without IPv6 has none of the three IPv6 files.
        MissingCase(function: "network.sockets", remove: ["proc/net/sockstat6", "proc/net/tcp6", "proc/net/udp6"],
                    outcome: .covered(kept: ["tcp_inuse", "tcp_established"], lost: ["tcp6_inuse", "udp6_inuse"])),
        MissingCase(function: "network.listening", remove: ["proc/net/tcp"], outcome: .partial(kept: ["proto"], lost: [])),
        MissingCase(function: "network.listening", remove: ["proc/net/tcp6"], outcome: .partial(kept: ["proto"], lost: [])),
        MissingCase(function: "network.listening", remove: ["proc/net/udp"], outcome: .partial(kept: ["proto"], lost: [])),
        MissingCase(function: "network.listening", remove: ["proc/net/udp6"], outcome: .partial(kept: ["proto"], lost: [])),
        MissingCase(function: "processes.summary", remove: ["proc/sys/fs/file-nr"],
                    outcome: .partial(kept: ["processes", "threads", "zombie"], lost: ["fds_used", "fds_max"])),
        MissingCase(function: "hardware.edac", remove: ["sys/devices/system/edac/mc/mc0/ce_count"], outcome: .fails),
        MissingCase(function: "hardware.edac", remove: ["sys/devices/system/edac/mc/mc0/ue_count"], outcome: .fails),
        // No EDAC driver, no md driver, no sensors: features the kernel does not have.
        MissingCase(function: "hardware.edac", remove: ["sys/devices/system/edac"], outcome: .noData),
        MissingCase(function: "hardware.raid", remove: ["proc/mdstat"], outcome: .noData),
        MissingCase(function: "hardware.temperatures", remove: ["sys/class/hwmon", "sys/class/thermal"], outcome: .noData),
        MissingCase(function: "hardware.fans", remove: ["sys/class/hwmon"], outcome: .noData),
        // system.info: each source stands alone (boot time from /proc/stat without /proc/uptime).
        MissingCase(function: "system.info", remove: ["proc/uptime"],
                    outcome: .partial(kept: ["hostname", "kernel", "boot_time", "boot_time_seconds"], lost: ["uptime_seconds"])),
        MissingCase(function: "system.info", remove: ["proc/stat"],
                    outcome: .partial(kept: ["hostname", "uptime_seconds"], lost: ["boot_time", "boot_time_seconds"])),
        MissingCase(function: "system.info", remove: ["proc/sys/kernel/hostname"],
                    outcome: .partial(kept: ["kernel", "boot_time", "uptime_seconds"], lost: ["hostname"])),
        MissingCase(function: "system.info", remove: ["proc/sys/kernel/osrelease"],
                    outcome: .partial(kept: ["hostname", "boot_time"], lost: ["kernel"])),
        // os-release is informational (os-release(5): a minimal image may lack it): no os fields.
        MissingCase(function: "system.info", remove: ["etc/os-release"],
                    outcome: .covered(kept: ["hostname", "boot_time", "uptime_seconds"], lost: ["os", "os_id"])),
        MissingCase(function: "system.self", remove: ["proc/self/status"],
                    outcome: .partial(kept: ["cpu_seconds_total"], lost: ["rss_bytes", "threads"])),
        MissingCase(function: "system.self", remove: ["proc/self/stat"],
                    outcome: .partial(kept: ["rss_bytes", "threads"], lost: ["cpu_seconds_total"])),
    ]

    @Test(arguments: cases)
    func functionWithoutAFile(_ c: MissingCase) throws {
        let tree = try DamagedTree(copyOf: "machine-b")
        defer { tree.destroy() }
        let parts = c.function.split(separator: ".").map(String.init)
        // The intact tree first: the function really reads the file (and works without damage).
        let intact = try tree.collect(parts[0], parts[1])
        #expect(intact.error == nil, "\(c): intact tree: \(intact.error ?? "")")
        try tree.remove(c.remove)
        let r = try tree.collect(parts[0], parts[1])
        let named = tree.dir + "/" + (c.names ?? c.remove[0])
        func has(_ field: String) -> Bool { r.data.contains { $0[field] != nil } }
        switch c.outcome {
        case .fails:
            #expect(r.error?.contains(named) == true, "\(c): error \(r.error ?? "nil") does not name \(named)")
            #expect(r.data.isEmpty, "\(c): rows \(r.data)")
        case .partial(let kept, let lost):
            #expect(r.error?.contains(named) == true, "\(c): error \(r.error ?? "nil") does not name \(named)")
            #expect(!r.data.isEmpty, "\(c): no rows kept")
            for k in kept { #expect(has(k), "\(c): \(k) lost") }
            for l in lost { #expect(!has(l), "\(c): \(l) reported without its source") }
            #expect(r.data.count <= intact.data.count)
        case .noData:
            #expect(r.error == nil, "\(c): \(r.error ?? "")")
            #expect(r.data.isEmpty, "\(c): rows \(r.data)")
        case .covered(let kept, let lost):
            #expect(r.error == nil, "\(c): \(r.error ?? "")")
            for k in kept { #expect(has(k), "\(c): \(k) lost") }
            for l in lost { #expect(!has(l), "\(c): \(l) reported without its source") }
        }
    }

    @Test func listeningKeepsTheFamiliesThatStand() throws {
        let tree = try DamagedTree(copyOf: "machine-b")
        defer { tree.destroy() }
        let before = Set(try tree.collect("network", "listening").data.compactMap { $0["proto"]?.string })
        #expect(before == ["tcp", "tcp6", "udp", "udp6"])
        try tree.remove(["proc/net/udp"])
        let r = try tree.collect("network", "listening")
        #expect(Set(r.data.compactMap { $0["proto"]?.string }) == ["tcp", "tcp6", "udp6"])
    }

    /// A partition sysfs does not know is not reported as a whole disk: its row has no `partition`.
    @Test func diskIOWithoutAClassBlockEntryLeavesPartitionOut() throws {
        let tree = try DamagedTree(copyOf: "machine-b")
        defer { tree.destroy() }
        try tree.remove(["sys/class/block/sdb1"])
        let r = try tree.collect("disk", "io")
        #expect(r.error == tree.dir + "/sys/class/block/sdb1: No such file or directory")
        let rows = Dictionary(uniqueKeysWithValues: r.data.compactMap { row in row["device"]?.string.map { ($0, row) } })
        #expect(rows["sdb1"]?["partition"] == nil && rows["sdb1"]?["reads_total"] != nil)
        #expect(rows["sdb2"]?["partition"] == .bool(true) && rows["sdb"]?["partition"] == .bool(false))
    }

    /// A proc root that cannot be listed is an error for every function of the walk, not zero processes.
    @Test(arguments: ["summary", "top", "zombies"])
    func processesWithoutAProcRoot(_ function: String) throws {
        let tree = try DamagedTree(copyOf: "machine-b")
        defer { tree.destroy() }
        try tree.remove(["proc"])
        let r = try tree.collect("processes", function)
        #expect(r.error == tree.dir + "/proc: No such file or directory")
        #expect(r.data.isEmpty)
    }

    /// Every function of every worker on a tree with nothing in it: each one either names a missing
    /// file or reports no data for a feature; none reports rows of zeros as if all were well.
    @Test func emptyTreeIsNeverAllQuiet() throws {
        let tree = try DamagedTree(copyOf: "machine-b")
        defer { tree.destroy() }
        try tree.remove(["proc", "sys", "etc", "adjtimex", "statvfs"])
        // Features the kernel may lack (documented per function): no data and no error.
        let noData: Set<String> = ["pressure.cpu", "pressure.memory", "pressure.io",
                                   "hardware.temperatures", "hardware.fans", "hardware.sensor_alarms", "hardware.edac", "hardware.raid",
                                   "system.time", "system.errors",
                                   // A fixture tree is another machine: this host's systemd is not its.
                                   "systemd.units", "systemd.timers",
                                   // Reads no file: what `shd run`'s loop watches (docs/rules.md: no data outside it).
                                   "system.sources"]
        for name in WorkerRegistry.names {
            let w = try #require(name == "system" ? SystemWorker.make(accounting: SelfAccounting()) : WorkerRegistry.make(name))
            for fr in w.collect(roots: tree.roots, options: WorkerOptions()).functionReports {
                let id = name + "." + fr.name
                if noData.contains(id) {
                    #expect(fr.error == nil && fr.data.isEmpty, "\(id): \(fr.error ?? "") \(fr.data)")
                } else {
                    #expect(fr.error?.contains(tree.dir) == true, "\(id) reports \(fr.data) without an error naming a file")
                }
            }
        }
    }
}
