// `shd report`: one daemon report from two samples a short interval apart, or the daemon's latest.
import Probes
import Reports
import Rules
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// Options of `shd report`.
public struct ReportOptions: Sendable {
    public var pretty = false
    public var workers: [String] = []
    public var roots = SourceRoots()
    public var workerOptions = WorkerOptions()
    /// Seconds between the two samples rates and percentages are computed from.
    public var sampleInterval: Double = 0.25
    /// Print STATE_DIR/report.json written by a running daemon instead of collecting.
    public var latest = false
    public var stateDir = "/var/lib/shd"
    /// Fixed datetime for every report (golden tests); nil = the clock.
    public var fixedTime: Timestamp?
    /// Benchmark mode: collect this many cycles back to back and print CPU time per cycle and
    /// peak RSS to stderr (see BENCHMARKS.md).
    public var cycles: Int = 0
    /// `--config` / `--rules`: the configuration whose declarations (watches, probes) the report includes; nil: none.
    public var declarations: RunFlags?
    public init() {}
}

public enum ReportCommand {
    /// Runs `shd report`; returns the exit status.
    public static func run(_ o: ReportOptions) -> Int32 {
        if o.latest {
            let path = o.stateDir + "/report.json"
            do {
                let bytes = try readOnce(path, cap: 64 << 20)
                let v = try JSONValue.parse(bytes: bytes)
                writeStdout(v.encoded(pretty: o.pretty) + "\n")
                return 0
            } catch let e as ReadError {
                writeStderr("shd: \(e.description) (is shd run writing to --state-dir \(o.stateDir)?)\n")
                return 1
            } catch {
                writeStderr("shd: \(path): \(error)\n")
                return 1
            }
        }
        let workers: [Worker]
        do { workers = try makeWorkers(named: o.workers) } catch {
            writeStderr("shd: \(error)\n")
            return 2
        }
        let snapshot = Snapshot(workers: workers, roots: o.roots, options: o.workerOptions)
        if let flags = o.declarations {
            if let failed = declare(flags, into: snapshot, workers: o.workers) { return failed }
        }
        // The link table the daemon keeps from rtnetlink (the live system only, as `shd run`), so the report has the
        // link state of shd's own network namespace (sysfs shows that of whoever mounted it) and a cycle reads what
        // the daemon's reads: /proc/net/dev, not three sysfs files per interface. Its messages are applied before
        // each collection, as the daemon's loop does when the socket is ready.
        let links: [LinkMonitor] = KernelEvents.disabled ? [] : workers.flatMap {
            $0.functions.compactMap { ($0 as? InterfacesFunction)?.openEventSource(o.roots) }
        }
        func collect(_ now: Timestamp) {
            for l in links { _ = l.drain() }
            snapshot.collectAll(now: now)
        }
        collect(o.fixedTime ?? .now())
        if o.cycles > 0 {
            let before = cpuSeconds()
            for _ in 0..<o.cycles { collect(o.fixedTime ?? .now()) }
            let per = (cpuSeconds() - before) / Double(o.cycles)
            var ru = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
            writeStderr("cycles=\(o.cycles) cpu_ms_per_cycle=\(JSONValue.formatDouble((per * 1e6).rounded() / 1e3)) peak_rss_kb=\(ru.ru_maxrss)\n")
        }
        sleepSeconds(o.sampleInterval)
        let now = o.fixedTime ?? .now()
        collect(now)
        writeStdout(snapshot.report(now: now).json.encoded(pretty: o.pretty) + "\n")
        return 0
    }
}

extension ReportCommand {
    /// The watches and probes the configuration found with `flags` declares, in `snapshot` as the daemon has them:
    /// process watches configure `processes.watched`, file and directory watches add the files worker, probes the
    /// probes worker, each probe run once now (on a loop of its own, each within its timeout). Returns an exit status
    /// when the configuration does not load.
    static func declare(_ flags: RunFlags, into snapshot: Snapshot, workers named: [String]) -> Int32? {
        let settings = DaemonSettings.locate(flags)
        let loaded = RuleSetLoader.load(paths: settings.rulePaths, catalog: WorkerRegistry.catalog)
        guard let config = loaded.configuration, !loaded.hasErrors else {
            writeStderr(render(loaded) + "\n")
            return 1
        }
        let wanted = { (worker: String) in named.isEmpty || named.contains(worker) }
        let processes = processWatchSpecs(config)
        if !processes.isEmpty, let f = snapshot.workers.first(where: { $0.name == "processes" })?.functions.lazy
            .compactMap({ $0 as? WatchedProcessesFunction }).first {
            f.configure(processes)
        }
        let files = fileWatchSpecs(config)
        if !files.isEmpty, wanted("files") {
            if !snapshot.workers.contains(where: { $0.name == "files" }), let w = WorkerRegistry.make("files") { snapshot.add(w) }
            snapshot.workers.first { $0.name == "files" }?.functions.lazy.compactMap { $0 as? WatchedFilesFunction }.first?.configure(files)
        }
        if !config.probes.isEmpty, wanted("probes") {
            if !snapshot.workers.contains(where: { $0.name == "probes" }), let w = WorkerRegistry.make("probes") { snapshot.add(w) }
            runProbesOnce(config.probes)
        }
        return nil
    }

    /// Runs every probe once and waits for its rows (each run ends within the probe's timeout).
    static func runProbesOnce(_ probes: [ProbeDeclaration]) {
        let loop: EventLoop
        do { loop = try EventLoop() } catch {
            writeStderr("shd: probes not run: \(error)\n")
            return
        }
        var waiting = Set(probes.map(\.name))
        ProbeBoard.shared.retain(probes.map(\.name))
        let runner = ProbeRunner(host: loop, publish: { function, probe, rows in
            ProbeBoard.shared.publish(function: function, probe: probe, rows: rows)
            waiting.remove(probe)
        }, log: { writeStderr("shd: \($0)\n") })
        for e in runner.update(probes) { writeStderr("shd: probes: \(e)\n") }
        let longest = probes.compactMap { try? ProbePlan($0).timeout }.max() ?? 10
        loop.run(until: { waiting.isEmpty }, timeout: longest + 2)
        runner.stop()
    }
}

/// User + system CPU seconds of this process.
func cpuSeconds() -> Double {
    var ru = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
    return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
}

/// Sleeps, resuming after signals, for commands (never inside a function or the loop).
func sleepSeconds(_ s: Double) {
    guard s > 0 else { return }
    var req = timespec(tv_sec: Int(s), tv_nsec: Int((s - Double(Int(s))) * 1e9))
    var rem = timespec()
    while nanosleep(&req, &rem) != 0 && errno == EINTR { req = rem }
}
