// What each tick writes: report.json for `shd report --latest`, and a Prometheus textfile.
import Reports
import Workers

public enum PrometheusText {
    /// Renders every numeric and bool field of every row as `shd_<worker>_<function>_<field>{labels} value`
    /// (named by `metricName`),
    /// labelled by the row's string fields, with HELP/TYPE from the catalog. Function errors become
    /// `shd_function_up{worker,function} 0`.
    public static func render(_ report: DaemonReport, catalog: Catalog) -> String {
        var out: [UInt8] = []
        MetricsRenderer(catalog: catalog).render(report, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Prometheus type words: a metric name holding one as a word reads as that type (promtool refuses it).
    static let typeWords: Set<Substring> = ["counter", "gauge", "histogram", "summary"]

    /// The exported name of a report field, `shd_<worker>_<function>_<field>` made to follow Prometheus's naming
    /// rules (what `promtool check metrics` checks); the report and the rules keep the field's own name:
    /// - a counter ends in `_total`, moved there from inside the name (`total_seconds` → `seconds_total`);
    /// - a gauge does not end in `_total` (`inodes_total` → `inodes`);
    /// - a type word is left out (`processes.summary.zombie` → `shd_processes_zombie`).
    public static func metricName(worker: String, function: String, field: String, counter: Bool) -> String {
        let words = [worker, function, field].flatMap { sanitize($0).split(separator: "_") }
        var kept = words.filter { !typeWords.contains($0) }
        if counter {
            if let i = kept.firstIndex(of: "total") { kept.remove(at: i) }
            kept.append("total")
        } else if kept.count > 1, kept.last == "total" {
            kept.removeLast()
        }
        if kept.isEmpty { kept = ["value"] }
        return "shd_" + kept.joined(separator: "_")
    }

    static func sanitize(_ s: String) -> String {
        var out = ""
        for (i, c) in s.unicodeScalars.enumerated() {
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || (i > 0 && c >= "0" && c <= "9")
            out.unicodeScalars.append(ok ? c : "_")
        }
        return out
    }

    /// Label values escape backslash, double quote and newline; HELP text only backslash and newline.
    static func escape(_ s: String, quotes: Bool = true) -> String {
        // By scalar, as MetricsRenderer.writeEscaped goes by byte: a "\r\n" Character still gets its \n escaped.
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

extension PrometheusText {
    /// Alert instances that are pending or firing, one sample each, as Prometheus' own `ALERTS` series:
    /// `shd_alert{alertname, alertstate, severity, <instance labels>} 1`.
    public static func alerts(_ states: [(rule: String, labels: [String: String], state: String, severity: String)]) -> String {
        var out = "# HELP shd_alert Alert instances that are pending or firing (as Prometheus' ALERTS)\n# TYPE shd_alert gauge\n"
        for a in states {
            var labels = [("alertname", a.rule), ("alertstate", a.state), ("severity", a.severity)]
            for k in a.labels.keys.sorted() where !["alertname", "alertstate", "severity"].contains(sanitize(k)) {
                labels.append((k, a.labels[k]!))
            }
            out += "shd_alert{" + labels.map { sanitize($0.0) + "=\"" + escape($0.1) + "\"" }.joined(separator: ",") + "} 1\n"
        }
        return out
    }

    /// One gauge or counter without labels, with its HELP and TYPE.
    public static func sample(_ name: String, _ help: String, counter: Bool = false, _ value: Double) -> String {
        let text = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : JSONValue.formatDouble(value)
        return "# HELP \(name) \(escape(help, quotes: false))\n# TYPE \(name) \(counter ? "counter" : "gauge")\n\(name) \(text)\n"
    }

    /// The same samples in the OpenMetrics text format (what a scraper asking for `application/openmetrics-text`
    /// gets): a counter family is named without its `_total` suffix, which stays on the samples, and `# EOF` ends it.
    public static func openMetrics(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.hasPrefix("# HELP "), i + 1 < lines.count {
                let name = line.dropFirst(7).prefix { $0 != " " }
                let type = lines[i + 1]
                if type == "# TYPE \(name) counter", name.hasSuffix("_total") {
                    let family = name.dropLast(6)
                    out += "# HELP \(family)" + line.dropFirst(7 + name.count) + "\n# TYPE \(family) counter\n"
                    i += 2
                    continue
                }
            }
            if !line.isEmpty { out += line + "\n" }
            i += 1
        }
        return out + "# EOF\n"
    }
}
