// The latest report of every worker, composed into the daemon report.
import Kit
import Reports
import Workers

/// Holds the workers and the latest `WorkerReport` of each; composes the `DaemonReport`.
public final class Snapshot {
    public private(set) var workers: [Worker]
    public let roots: SourceRoots
    public var options: WorkerOptions
    public var hostname: String?
    private var latest: [String: WorkerReport] = [:]

    public init(workers: [Worker], roots: SourceRoots, options: WorkerOptions, hostname: String? = nil) {
        self.workers = workers
        self.roots = roots
        self.options = options
        self.hostname = hostname
    }

    /// Adds a worker (the probes worker, when the first probe is declared); it reports from its first collection.
    public func add(_ worker: Worker) { workers.append(worker) }

    /// Collects one worker now and stores its report. With `only`, the other functions keep their
    /// previous reports (see `Worker.collect(only:previous:)`).
    /// `tick`: the same for the workers collected in one tick (see `CollectContext.tick`).
    @discardableResult
    public func collect(_ worker: Worker, now: Timestamp = .now(), only: Set<String>? = nil, tick: Double? = nil) -> WorkerReport {
        let r = worker.collect(roots: roots, options: options, now: now, only: only, previous: latest[worker.name], tick: tick)
        latest[worker.name] = r
        // Count only what was collected now, not the reports carried over.
        var fresh = r
        fresh.functionReports.removeAll { $0.datetime != now }
        SelfAccounting.shared.record(fresh)
        return r
    }

    /// Collects every worker.
    public func collectAll(now: Timestamp = .now()) {
        let tick = monotonicSeconds()
        for w in workers { collect(w, now: now, tick: tick) }
    }

    /// The daemon report: the latest report of every worker that has reported, in worker order.
    public func report(now: Timestamp = .now()) -> DaemonReport {
        DaemonReport(datetime: now, host: hostname, workerReports: workers.compactMap { latest[$0.name] })
    }
}

/// Resolves worker names (`--worker`, `set workers`) to fresh worker instances.
public func makeWorkers(named names: [String]) throws(UsageError) -> [Worker] {
    if names.isEmpty { return WorkerRegistry.makeAll() }
    var out: [Worker] = []
    let shared = SharedReaders()
    for n in names {
        guard let w = WorkerRegistry.make(n, shared: shared) else {
            throw UsageError("unknown worker '\(n)'; known workers: \(WorkerRegistry.names.joined(separator: ", "))")
        }
        if !out.contains(where: { $0.name == n }) { out.append(w) }
    }
    return out
}

/// A mistake in the command line or a setting: printed with exit status 2.
public struct UsageError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
