// `shd report`: one daemon report from two samples a short interval apart, or the daemon's latest.
import Reports
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
        snapshot.collectAll(now: o.fixedTime ?? .now())
        if o.cycles > 0 {
            let before = cpuSeconds()
            for _ in 0..<o.cycles { snapshot.collectAll(now: o.fixedTime ?? .now()) }
            let per = (cpuSeconds() - before) / Double(o.cycles)
            var ru = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
            writeStderr("cycles=\(o.cycles) cpu_ms_per_cycle=\(JSONValue.formatDouble((per * 1e6).rounded() / 1e3)) peak_rss_kb=\(ru.ru_maxrss)\n")
        }
        sleepSeconds(o.sampleInterval)
        let now = o.fixedTime ?? .now()
        snapshot.collectAll(now: now)
        writeStdout(snapshot.report(now: now).json.encoded(pretty: o.pretty) + "\n")
        return 0
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
