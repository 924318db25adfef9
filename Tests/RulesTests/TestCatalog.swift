// A catalog written inline for the unit tests, so they don't depend on the workers' current fields.
import Reports
@testable import Rules

enum TestCatalog {
    static let catalog = Catalog(workers: [
        WorkerSchema(name: "disk", functions: [
            FunctionSchema(name: "filesystems", help: "", fields: [
                FieldSchema("mount", .label, help: ""), FieldSchema("device", .label, help: ""),
                FieldSchema("fstype", .label, help: ""),
                FieldSchema("size_bytes", .number, unit: "bytes", help: ""), FieldSchema("used_bytes", .number, unit: "bytes", help: ""),
                FieldSchema("avail_bytes", .number, unit: "bytes", help: ""),
                FieldSchema("used_percent", .number, unit: "percent", help: ""),
                FieldSchema("inodes_used_percent", .number, unit: "percent", help: ""),
                FieldSchema("read_only", .bool, help: ""), FieldSchema("stuck", .bool, help: ""),
            ]),
        ]),
        WorkerSchema(name: "network", functions: [
            FunctionSchema(name: "interfaces", help: "", fields: [
                FieldSchema("name", .label, help: ""),
                FieldSchema("rx_errors_total", .counter, help: ""), FieldSchema("tx_errors_total", .counter, help: ""),
                FieldSchema("rx_bytes_per_second", .number, unit: "bytes", help: ""),
            ]),
        ]),
        WorkerSchema(name: "memory", functions: [
            FunctionSchema(name: "usage", help: "", fields: [
                FieldSchema("available_bytes", .number, unit: "bytes", help: ""),
                FieldSchema("total_bytes", .number, unit: "bytes", help: ""),
                FieldSchema("used_percent", .number, unit: "percent", help: ""),
                FieldSchema("swap_used_percent", .number, unit: "percent", help: ""),
            ]),
        ]),
    ])

    /// Loads one in-memory source and requires it to check clean.
    static func config(_ source: String, file: String = "test.rules") throws -> Configuration {
        let r = RuleSetLoader.load(sources: [(file, source)], catalog: catalog)
        guard let c = r.configuration else {
            throw CheckFailed(text: DiagnosticPrinter.text(r.diagnostics, sources: r.sources, color: false))
        }
        return c
    }

    struct CheckFailed: Error, CustomStringConvertible {
        var text: String
        var description: String { text }
    }

    static let t0 = Timestamp(rfc3339: "2026-01-05T00:00:00Z")!

    /// A daemon report holding one function's rows at `t0 + seconds`.
    static func report(_ worker: String, _ function: String, at seconds: Double, _ rows: [Row], error: String? = nil) -> DaemonReport {
        let t = t0.adding(seconds: seconds)
        return DaemonReport(datetime: t, workerReports: [
            WorkerReport(name: worker, datetime: t, functionReports: [FunctionReport(name: function, datetime: t, data: rows, error: error)]),
        ])
    }

    static func disk(_ mount: String, used: Double, avail: Double = 1e9, fstype: String = "ext4") -> Row {
        ["mount": .string(mount), "fstype": .string(fstype), "device": "/dev/sda1", "used_percent": .double(used),
         "avail_bytes": .double(avail), "size_bytes": .double(1e10), "read_only": false]
    }
}
