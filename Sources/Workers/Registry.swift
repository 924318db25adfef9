// The one table of workers shd knows; names and the catalog come from the workers' own declarations.
import Reports

public enum WorkerRegistry {
    /// Every worker's constructor, in report order. A new worker is one line here: its name, functions and
    /// fields come from the `Worker` it makes.
    /// Workers made together get the same `SharedReaders` (a kernel file several of them read is open once).
    static let makers: [@Sendable (SharedReaders) -> Worker] = [
        { CPUWorker.make($0) }, { _ in LoadWorker.make() }, { _ in MemoryWorker.make() }, { _ in PressureWorker.make() },
        { _ in DiskWorker.make() }, { _ in NetworkWorker.make() }, { _ in ProcessesWorker.make() },
        { _ in HardwareWorker.make() }, { SystemWorker.make($0) }, { _ in SystemdWorker.make() },
    ]

    /// Workers whose rows come from declarations in the configuration (`probe`, `watch … file|directory`): in the catalog, but made by the
    /// daemon only once the configuration declares one, so reports without declarations stay as they were.
    /// (Closures, not the static methods themselves: a method reference is not inferred @Sendable, which a compile in
    /// the Swift 6 language mode, as fuzz/build.sh's, warns of.)
    static let declaredMakers: [@Sendable () -> Worker] = [{ ProbesWorker.make() }, { FilesWorker.make() }]

    /// The catalog of every worker, function and field, for the rule checker.
    public static let catalog = Catalog(workers: (makeAll() + declaredMakers.map { $0() }).map(\.schema))

    /// Every collected worker's name, in report order (the declared ones are not in it).
    public static let names: [String] = makeAll().map(\.name)

    /// A fresh instance of the named worker (a declared one too), or nil for an unknown name. Workers that run
    /// together should share one `shared`.
    public static func make(_ name: String, shared: SharedReaders = SharedReaders()) -> Worker? {
        if let i = names.firstIndex(of: name) { return makers[i](shared) }
        return declaredMakers.lazy.map { $0() }.first { $0.name == name }
    }

    public static func makeAll() -> [Worker] {
        let shared = SharedReaders()
        return makers.map { $0(shared) }
    }
}

/// The readers of kernel files that more than one worker reads, one instance per set of workers.
public final class SharedReaders {
    /// /proc/stat: the cpu worker's functions and system.info.
    public let procStat = ProcStatReader()
    public init() {}
}
