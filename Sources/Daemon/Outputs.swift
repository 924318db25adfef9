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
    static let alertHeader = Array("# HELP shd_alert Alert instances that are pending or firing (as Prometheus' ALERTS)\n# TYPE shd_alert gauge\n".utf8)
    static let reservedAlertLabels: Set<String> = ["alertname", "alertstate", "severity"]

    /// Alert instances that are pending or firing, one sample each, as Prometheus' own `ALERTS` series:
    /// `shd_alert{alertname, alertstate, severity, <instance labels>} 1`.
    public static func alerts(_ states: [(rule: String, labels: [String: String], state: String, severity: String)]) -> String {
        var out = alertHeader
        for a in states { writeAlert(rule: a.rule, labels: a.labels, state: a.state, severity: a.severity, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// One `shd_alert` sample (after `alertHeader`); an instance label named like one of the three fixed ones is left out.
    static func writeAlert(rule: String, labels: [String: String], state: String, severity: String, into out: inout [UInt8]) {
        out.append(contentsOf: "shd_alert{alertname=\"".utf8)
        MetricsRenderer.writeEscaped(rule, into: &out)
        out.append(contentsOf: "\",alertstate=\"".utf8)
        MetricsRenderer.writeEscaped(state, into: &out)
        out.append(contentsOf: "\",severity=\"".utf8)
        MetricsRenderer.writeEscaped(severity, into: &out)
        out.append(UInt8(ascii: "\""))
        for k in labels.keys.sorted() {
            let name = sanitize(k)
            if reservedAlertLabels.contains(name) { continue }
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: "=\"".utf8)
            MetricsRenderer.writeEscaped(labels[k]!, into: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: "} 1\n".utf8)
    }

    /// One gauge or counter without labels, with its HELP and TYPE.
    public static func sample(_ name: String, _ help: String, counter: Bool = false, _ value: Double) -> String {
        var out: [UInt8] = []
        writeSample(name, help, counter: counter, value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `sample`'s text, appended: a whole number without a decimal point.
    static func writeSample(_ name: String, _ help: String, counter: Bool = false, _ value: Double, into out: inout [UInt8]) {
        writeHeader(name, help, counter: counter, into: &out)
        out.append(contentsOf: name.utf8)
        out.append(UInt8(ascii: " "))
        if value == value.rounded(), abs(value) < 1e15 { JSONValue.writeInt(Int64(value), into: &out) } else { out.append(contentsOf: JSONValue.formatDouble(value).utf8) }
        out.append(0x0A)
    }

    /// The `# HELP` and `# TYPE` lines of a metric.
    static func writeHeader(_ name: String, _ help: String, counter: Bool, into out: inout [UInt8]) {
        out.append(contentsOf: "# HELP ".utf8)
        out.append(contentsOf: name.utf8)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: escape(help, quotes: false).utf8)
        out.append(contentsOf: "\n# TYPE ".utf8)
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: (counter ? " counter\n" : " gauge\n").utf8)
    }

    /// The same samples in the OpenMetrics text format (what a scraper asking for `application/openmetrics-text`
    /// gets): a counter family is named without its `_total` suffix, which stays on the samples, and `# EOF` ends it.
    public static func openMetrics(_ text: String) -> String {
        String(decoding: openMetrics(Array(text.utf8)), as: UTF8.self)
    }

    /// `openMetrics` on bytes, as `/metrics` serves it (no String in between).
    public static func openMetrics(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 16)
        let n = text.count
        func lineEnd(_ from: Int) -> Int {
            var e = from
            while e < n, text[e] != 0x0A { e += 1 }
            return e
        }
        func matches(_ p: [UInt8], at i: Int, before end: Int) -> Bool {
            guard end - i >= p.count else { return false }
            for k in 0..<p.count where text[i + k] != p[k] { return false }
            return true
        }
        let help = Array("# HELP ".utf8), type = Array("# TYPE ".utf8), counter = Array(" counter".utf8), total = Array("_total".utf8)
        var i = 0
        while i < n {
            let e = lineEnd(i)
            if matches(help, at: i, before: e), e < n {
                let nameStart = i + help.count
                var nameEnd = nameStart
                while nameEnd < e, text[nameEnd] != UInt8(ascii: " ") { nameEnd += 1 }
                let name = text[nameStart..<nameEnd]
                let t = e + 1, te = lineEnd(t)
                // The next line is exactly "# TYPE <name> counter" and the name ends in _total.
                if te - t == type.count + name.count + counter.count, matches(type, at: t, before: te),
                   text[(t + type.count)..<(t + type.count + name.count)].elementsEqual(name),
                   matches(counter, at: t + type.count + name.count, before: te),
                   name.count > total.count, name.suffix(total.count).elementsEqual(total) {
                    let family = name.dropLast(total.count)
                    out.append(contentsOf: help)
                    out.append(contentsOf: family)
                    out.append(contentsOf: text[nameEnd..<e])
                    out.append(0x0A)
                    out.append(contentsOf: type)
                    out.append(contentsOf: family)
                    out.append(contentsOf: counter)
                    out.append(0x0A)
                    i = te + 1
                    continue
                }
            }
            if e > i {
                out.append(contentsOf: text[i..<e])
                out.append(0x0A)
            }
            i = e + 1
        }
        out.append(contentsOf: "# EOF\n".utf8)
        return out
    }
}
