// The one table of workers shd knows; names and the catalog come from the workers' own declarations.
import Reports

public enum WorkerRegistry {
    /// Every worker's constructor, in report order. A new worker is one line here: its name, functions and
    /// fields come from the `Worker` it makes.
    static let makers: [@Sendable () -> Worker] = [
        CPUWorker.make, LoadWorker.make, MemoryWorker.make, PressureWorker.make, DiskWorker.make,
        NetworkWorker.make, ProcessesWorker.make, HardwareWorker.make, SystemWorker.make,
    ]

    /// The catalog of every worker, function and field, for the rule checker.
    public static let catalog = Catalog(workers: makeAll().map(\.schema))

    /// Every worker's name, in report order.
    public static let names: [String] = catalog.workers.map(\.name)

    /// A fresh instance of the named worker, or nil for an unknown name.
    public static func make(_ name: String) -> Worker? {
        names.firstIndex(of: name).map { makers[$0]() }
    }

    public static func makeAll() -> [Worker] { makers.map { $0() } }
}
