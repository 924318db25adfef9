// The three report shapes of the original daemon: function, worker and daemon reports.

/// One row of a function's data: string fields are labels, numeric fields are values.
public typealias Row = JSONObject

/// `{name, datetime, data[]}` — one reading of one function. `error` is set when the function failed.
public struct FunctionReport: Equatable, Sendable {
    public var name: String
    public var datetime: Timestamp
    public var data: [Row]
    /// Set when the function failed; `data` is then empty or partial.
    public var error: String?
    /// Wall time the function took, for shd's own accounting.
    public var durationSeconds: Double?

    public init(name: String, datetime: Timestamp, data: [Row], error: String? = nil, durationSeconds: Double? = nil) {
        self.name = name
        self.datetime = datetime
        self.data = data
        self.error = error
        self.durationSeconds = durationSeconds
    }

    public var json: JSONValue {
        var o = JSONObject()
        o.append("name", .string(name))
        o.append("datetime", .string(datetime.rfc3339))
        o.append("data", .array(data.map { .object($0) }))
        if let error { o.append("error", .string(error)) }
        if let durationSeconds { o.append("duration_seconds", .double(durationSeconds)) }
        return .object(o)
    }

    public init(json: JSONValue) throws(ReportDecodingError) {
        guard let o = json.object else { throw ReportDecodingError("function report is not an object") }
        guard let name = o["name"]?.string else { throw ReportDecodingError("function report without a string 'name'") }
        guard let dt = o["datetime"]?.string, let t = Timestamp(rfc3339: dt) else {
            throw ReportDecodingError("function report '\(name)' without an RFC 3339 'datetime'")
        }
        guard let data = o["data"]?.array else { throw ReportDecodingError("function report '\(name)' without a 'data' array") }
        var rows: [Row] = []
        for r in data {
            guard let ro = r.object else { throw ReportDecodingError("function report '\(name)' has a data row that is not an object") }
            rows.append(ro)
        }
        self.init(name: name, datetime: t, data: rows, error: o["error"]?.string, durationSeconds: o["duration_seconds"]?.number)
    }
}

/// `{name, datetime, function_reports[]}` — one tick of one worker.
public struct WorkerReport: Equatable, Sendable {
    public var name: String
    public var datetime: Timestamp
    public var functionReports: [FunctionReport]

    public init(name: String, datetime: Timestamp, functionReports: [FunctionReport]) {
        self.name = name
        self.datetime = datetime
        self.functionReports = functionReports
    }

    public func function(_ name: String) -> FunctionReport? { functionReports.first { $0.name == name } }

    public var json: JSONValue {
        var o = JSONObject()
        o.append("name", .string(name))
        o.append("datetime", .string(datetime.rfc3339))
        o.append("function_reports", .array(functionReports.map(\.json)))
        return .object(o)
    }

    public init(json: JSONValue) throws(ReportDecodingError) {
        guard let o = json.object, let name = o["name"]?.string else { throw ReportDecodingError("worker report without a string 'name'") }
        guard let dt = o["datetime"]?.string, let t = Timestamp(rfc3339: dt) else {
            throw ReportDecodingError("worker report '\(name)' without an RFC 3339 'datetime'")
        }
        guard let fr = o["function_reports"]?.array else { throw ReportDecodingError("worker report '\(name)' without 'function_reports'") }
        var list: [FunctionReport] = []
        for f in fr { list.append(try FunctionReport(json: f)) }
        self.init(name: name, datetime: t, functionReports: list)
    }
}

/// `{name: "Daemon report", datetime, worker_reports[]}` — the latest report of every worker.
public struct DaemonReport: Equatable, Sendable {
    public static let reportName = "Daemon report"
    public var datetime: Timestamp
    public var host: String?
    public var workerReports: [WorkerReport]

    public init(datetime: Timestamp, host: String? = nil, workerReports: [WorkerReport]) {
        self.datetime = datetime
        self.host = host
        self.workerReports = workerReports
    }

    public func worker(_ name: String) -> WorkerReport? { workerReports.first { $0.name == name } }

    /// The function report `worker.function`, if present.
    public func function(worker: String, function: String) -> FunctionReport? {
        workerReports.first { $0.name == worker }?.function(function)
    }

    public var json: JSONValue {
        var o = JSONObject()
        o.append("name", .string(DaemonReport.reportName))
        o.append("datetime", .string(datetime.rfc3339))
        if let host { o.append("host", .string(host)) }
        o.append("worker_reports", .array(workerReports.map(\.json)))
        return .object(o)
    }

    public init(json: JSONValue) throws(ReportDecodingError) {
        guard let o = json.object else { throw ReportDecodingError("daemon report is not an object") }
        guard o["name"]?.string == DaemonReport.reportName else { throw ReportDecodingError("'name' is not \"Daemon report\"") }
        guard let dt = o["datetime"]?.string, let t = Timestamp(rfc3339: dt) else {
            throw ReportDecodingError("daemon report without an RFC 3339 'datetime'")
        }
        guard let wr = o["worker_reports"]?.array else { throw ReportDecodingError("daemon report without 'worker_reports'") }
        var list: [WorkerReport] = []
        for w in wr { list.append(try WorkerReport(json: w)) }
        self.init(datetime: t, host: o["host"]?.string, workerReports: list)
    }
}

/// A report JSON that does not have the expected shape.
public struct ReportDecodingError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
