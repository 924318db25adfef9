// The catalog of workers, functions and fields, declared by the workers and read by the rule checker.

/// What kind of value a field holds.
public enum FieldKind: String, Sendable, Equatable {
    /// A string that identifies or describes the row (mount, interface, cpu). Becomes an alert label.
    case label
    /// A number that can be compared and computed with.
    case number
    /// A monotonically increasing counter (suffix `_total`): use `rate()` or `delta()` on it.
    case counter
    /// true/false.
    case bool
}

/// One field a function puts in its rows.
public struct FieldSchema: Sendable, Equatable {
    public var name: String
    public var kind: FieldKind
    /// Unit for humans and the textfile exporter: "bytes", "percent", "seconds", "celsius", "" …
    public var unit: String
    public var help: String

    public init(_ name: String, _ kind: FieldKind, unit: String = "", help: String) {
        self.name = name
        self.kind = kind
        self.unit = unit
        self.help = help
    }
}

/// The fields of one function.
public struct FunctionSchema: Sendable, Equatable {
    public var name: String
    public var help: String
    public var fields: [FieldSchema]
    /// The labels that tell its rows apart when other labels change with the state they report (an interface's
    /// `name`, not its `operstate`): a rule without `by` on such a function gets a warning (`identity-changes`).
    /// Empty: every label is part of what a row is.
    public var key: [String]

    public init(name: String, help: String, fields: [FieldSchema], key: [String] = []) {
        self.name = name
        self.help = help
        self.fields = fields
        self.key = key
    }

    public func field(_ name: String) -> FieldSchema? { fields.first { $0.name == name } }
}

/// The functions of one worker.
public struct WorkerSchema: Sendable, Equatable {
    public var name: String
    public var functions: [FunctionSchema]

    public init(name: String, functions: [FunctionSchema]) {
        self.name = name
        self.functions = functions
    }

    public func function(_ name: String) -> FunctionSchema? { functions.first { $0.name == name } }
}

/// Every worker, function and field shd knows. Built from the workers' own declarations.
public struct Catalog: Sendable, Equatable {
    public var workers: [WorkerSchema]

    public init(workers: [WorkerSchema]) { self.workers = workers }

    public func worker(_ name: String) -> WorkerSchema? { workers.first { $0.name == name } }
    public func function(worker: String, function: String) -> FunctionSchema? {
        self.worker(worker)?.function(function)
    }
}
