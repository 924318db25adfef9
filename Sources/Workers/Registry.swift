// The list of workers shd knows, and the catalog built from their own declarations.
import Reports

public enum WorkerRegistry {
    /// Every worker, in report order.
    public static let names = ["cpu", "load", "memory", "pressure", "disk", "network", "processes", "hardware", "system"]

    /// A fresh instance of the named worker, or nil for an unknown name.
    public static func make(_ name: String) -> Worker? {
        switch name {
        case "cpu": return CPUWorker.make()
        case "load": return LoadWorker.make()
        case "memory": return MemoryWorker.make()
        case "pressure": return PressureWorker.make()
        case "disk": return DiskWorker.make()
        case "network": return NetworkWorker.make()
        case "processes": return ProcessesWorker.make()
        case "hardware": return HardwareWorker.make()
        case "system": return SystemWorker.make()
        default: return nil
        }
    }

    public static func makeAll() -> [Worker] { names.compactMap(make) }

    /// The catalog of every worker, function and field, for the rule checker.
    public static let catalog = Catalog(workers: makeAll().map(\.schema))
}
