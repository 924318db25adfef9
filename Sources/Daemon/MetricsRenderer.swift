// The Prometheus text exposition of a daemon report, written as bytes: what `/metrics` and the textfile say.
import Reports
import Workers

/// Writes the exposition of a report into a byte buffer. What does not change between scrapes (each field's
/// metric name and its HELP/TYPE lines) is worked out once per field and kept (BENCHMARKS.md §14).
/// Output: see `PrometheusText.render`.
public final class MetricsRenderer {
    struct Metric {
        let name: [UInt8]
        /// The `# HELP` and `# TYPE` lines.
        let header: [UInt8]
    }

    let catalog: Catalog
    /// By "worker\0function\0field".
    private var metrics: [String: Metric] = [:]
    /// Sanitised label names, by row key.
    private var labelNames: [String: [UInt8]] = [:]

    public init(catalog: Catalog) { self.catalog = catalog }

    private func metric(worker: String, function: String, field: String, schema: FunctionSchema?) -> Metric {
        let key = worker + "\0" + function + "\0" + field
        if let m = metrics[key] { return m }
        let f = schema?.field(field)
        let name = PrometheusText.metricName(worker: worker, function: function, field: field, counter: f?.kind == .counter)
        let path = "\(worker).\(function).\(field)"
        var help = f?.help ?? path
        // A renamed metric says which report field (the name rules use) it carries.
        let plain = "shd_" + PrometheusText.sanitize(worker) + "_" + PrometheusText.sanitize(function) + "_" + PrometheusText.sanitize(field)
        if f != nil, name != plain { help += " (report field \(path))" }
        let header = "# HELP " + name + " " + PrometheusText.escape(help, quotes: false) + "\n"
            + "# TYPE " + name + " " + (f?.kind == .counter ? "counter" : "gauge") + "\n"
        let m = Metric(name: Array(name.utf8), header: Array(header.utf8))
        metrics[key] = m
        return m
    }

    private func labelName(_ k: String) -> [UInt8] {
        if let n = labelNames[k] { return n }
        let n = Array(PrometheusText.sanitize(k).utf8)
        labelNames[k] = n
        return n
    }

    /// A numeric or bool value as the exposition writes it (the other kinds are labels or skipped: `isNumeric`).
    @inline(__always)
    static func writeValue(_ v: JSONValue, into out: inout [UInt8]) {
        switch v {
        case .int(let i): JSONValue.writeInt(Int64(i), into: &out)
        case .double(let d):
            if d.isFinite { JSONValue.writeDouble(d, into: &out) } else { out.append(contentsOf: (d.isNaN ? "NaN" : (d > 0 ? "+Inf" : "-Inf")).utf8) }
        case .bool(let b): out.append(b ? UInt8(ascii: "1") : UInt8(ascii: "0"))
        default: break
        }
    }

    static func isNumeric(_ v: JSONValue) -> Bool {
        switch v {
        case .int, .double, .bool: return true
        default: return false
        }
    }

    /// A label value with backslash, double quote and line feed escaped (bytes: none of them occurs inside a
    /// multi-byte UTF-8 sequence). `PrometheusText.escape` is the same for a String.
    static func writeEscaped(_ s: String, into out: inout [UInt8]) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            default: out.append(b)
            }
        }
    }

    public func render(_ report: DaemonReport, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + 65536)
        // Per function: the rows' label texts (`{k="v",…}` or empty) one after another in `labels`, row i's at
        // labelRanges[i]; then each metric in the order its first sample appears, its samples in row order.
        var labels: [UInt8] = []
        var labelRanges: [Range<Int>] = []
        var order: [(field: String, metric: Metric)] = []
        for w in report.workerReports {
            for f in w.functionReports {
                let schema = catalog.function(worker: w.name, function: f.name)
                labels.removeAll(keepingCapacity: true)
                labelRanges.removeAll(keepingCapacity: true)
                order.removeAll(keepingCapacity: true)
                for row in f.data {
                    let start = labels.count
                    var first = true
                    for (k, v) in row {
                        if case .string(let s) = v {
                            labels.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
                            first = false
                            labels.append(contentsOf: labelName(k))
                            labels.append(UInt8(ascii: "="))
                            labels.append(UInt8(ascii: "\""))
                            Self.writeEscaped(s, into: &labels)
                            labels.append(UInt8(ascii: "\""))
                        } else if Self.isNumeric(v), !order.contains(where: { $0.field == k }) {
                            order.append((k, metric(worker: w.name, function: f.name, field: k, schema: schema)))
                        }
                    }
                    if !first { labels.append(UInt8(ascii: "}")) }
                    labelRanges.append(start..<labels.count)
                }
                var written: [[UInt8]] = []
                for (i, entry) in order.enumerated() {
                    let name = entry.metric.name
                    if written.contains(name) { continue }
                    written.append(name)
                    out.append(contentsOf: entry.metric.header)
                    // The fields exported under this name (normally just this one): one metric, headed by the first.
                    let fields = order[i...].filter { $0.metric.name == name }.map(\.field)
                    for (r, row) in f.data.enumerated() {
                        // A field may be a label in some rows: only its numeric values are samples.
                        for (k, v) in row where fields.contains(k) && Self.isNumeric(v) {
                            out.append(contentsOf: name)
                            out.append(contentsOf: labels[labelRanges[r]])
                            out.append(UInt8(ascii: " "))
                            Self.writeValue(v, into: &out)
                            out.append(0x0A)
                        }
                    }
                }
            }
        }
        out.append(contentsOf: "# HELP shd_function_up 1 when the function's last collection succeeded\n# TYPE shd_function_up gauge\n".utf8)
        for w in report.workerReports {
            for f in w.functionReports {
                Self.writeFunctionSample("shd_function_up", worker: w.name, function: f.name, into: &out)
                out.append(f.error == nil ? UInt8(ascii: "1") : UInt8(ascii: "0"))
                out.append(0x0A)
            }
        }
        out.append(contentsOf: "# HELP shd_report_timestamp_seconds Time of the report\n# TYPE shd_report_timestamp_seconds gauge\n".utf8)
        out.append(contentsOf: "shd_report_timestamp_seconds ".utf8)
        JSONValue.writeDouble(report.datetime.seconds, into: &out)
        out.append(0x0A)
    }

    /// `NAME{worker="W",function="F"} `, the value to follow.
    static func writeFunctionSample(_ name: StaticString, worker: String, function: String, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(contentsOf: "{worker=\"".utf8)
        writeEscaped(worker, into: &out)
        out.append(contentsOf: "\",function=\"".utf8)
        writeEscaped(function, into: &out)
        out.append(contentsOf: "\"} ".utf8)
    }

    /// `shd_function_collected_timestamp_seconds{worker,function}`: when each function was last collected (a scrape
    /// serves what the schedule collected; the textfile, written after each full collection, has no need of it).
    public func renderCollected(_ report: DaemonReport, into out: inout [UInt8]) {
        out.append(contentsOf: "# HELP shd_function_collected_timestamp_seconds When the function was last collected\n# TYPE shd_function_collected_timestamp_seconds gauge\n".utf8)
        for w in report.workerReports {
            for f in w.functionReports {
                Self.writeFunctionSample("shd_function_collected_timestamp_seconds", worker: w.name, function: f.name, into: &out)
                JSONValue.writeDouble(f.datetime.seconds, into: &out)
                out.append(0x0A)
            }
        }
    }
}
