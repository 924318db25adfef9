// Diagnostics: the value type and the text, journal, JSON and GitHub printers (the catalog of codes is DiagnosticCode.swift).
import Alerting
import Reports

/// One problem found in a configuration or rules file, kept structured until a printer renders it.
public struct Diagnostic: Sendable, Equatable {
    /// How serious a diagnostic is. Errors make a rule set unusable; warnings do not.
    public enum Severity: String, Sendable, Equatable, Comparable {
        case note, warning, error
        public static func < (a: Severity, b: Severity) -> Bool {
            let order: [Severity] = [.note, .warning, .error]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    /// A secondary message, optionally pointing at another place (e.g. the first declaration).
    public struct Note: Sendable, Equatable {
        public var message: String
        public var location: SourceLocation?
        public init(_ message: String, at location: SourceLocation? = nil) {
            self.message = message
            self.location = location
        }
    }

    /// A suggested edit: replace `length` characters at `location` by `replacement`.
    public struct FixIt: Sendable, Equatable {
        public var message: String
        public var location: SourceLocation
        public var length: Int
        public var replacement: String
        public init(_ message: String, location: SourceLocation, length: Int, replacement: String) {
            self.message = message
            self.location = location
            self.length = length
            self.replacement = replacement
        }
    }

    public var severity: Severity
    /// What it is, from the catalog (DiagnosticCode.swift).
    public var code: DiagnosticCode
    /// Stable identifier (`unknown-field`, `file-binary`, …): scripts and docs key on it, not on the message.
    public var id: String { code.id }
    public var message: String
    public var location: SourceLocation
    /// Characters to underline from `location` (at least 1).
    public var length: Int
    public var notes: [Note]
    public var fixIt: FixIt?

    /// `severity` overrides the code's own (`empty-rule-set` is an error under `--strict`).
    public init(_ code: DiagnosticCode, _ message: String, at location: SourceLocation, severity: Severity? = nil,
                length: Int = 1, notes: [Note] = [], fixIt: FixIt? = nil)
    {
        self.severity = severity ?? code.severity
        self.code = code
        self.message = message
        self.location = location
        self.length = max(1, length)
        self.notes = notes
        self.fixIt = fixIt
    }

    /// True for problems reading the files themselves (missing, unreadable): `check-rules` exits 2 for them.
    public var isIOError: Bool { code == .ioError }
}

/// Prints diagnostics for people (text), for tools (JSON) and for GitHub Actions annotations.
public enum DiagnosticPrinter {
    /// `file:line:col: error: message`, the source line, a caret under the spot, then notes and the fix-it.
    /// `sources` maps file names to their text so the line can be quoted; colour only when asked (a TTY).
    /// ``text(_:sources:color:)`` with each line prefixed by the syslog priority of its diagnostic (`<3>` error,
    /// `<4>` warning, `<5>` note): journald makes one entry per line and reads the prefix as its priority.
    public static func journal(_ diags: [Diagnostic], sources: [String: String]) -> String {
        var out = ""
        for d in diags {
            let prefix = d.severity == .error ? "<3>" : d.severity == .warning ? "<4>" : "<5>"
            for line in text([d], sources: sources, color: false).split(separator: "\n") { out += prefix + line + "\n" }
        }
        return out
    }

    public static func text(_ diags: [Diagnostic], sources: [String: String], color: Bool) -> String {
        var lineCache: [String: [Substring]] = [:]
        func line(_ file: String, _ n: Int) -> Substring? {
            if lineCache[file] == nil, let text = sources[file] {
                // "\r\n" is one Character in Swift: split on both so CRLF files quote their lines too.
                lineCache[file] = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            }
            guard let lines = lineCache[file], n >= 1, n <= lines.count else { return nil }
            return lines[n - 1]
        }
        let bold = color ? "\u{1B}[1m" : "", reset = color ? "\u{1B}[0m" : "", caret = color ? "\u{1B}[1;32m" : ""
        func paint(_ s: Diagnostic.Severity) -> String {
            guard color else { return "" }
            switch s {
            case .error: return "\u{1B}[1;31m"
            case .warning: return "\u{1B}[1;35m"
            case .note: return "\u{1B}[1;36m"
            }
        }
        var out = ""
        for d in diags {
            out += bold + d.location.description + ": " + reset + paint(d.severity) + d.severity.rawValue + ":" + reset
            out += " " + bold + d.message + reset + "\n"
            if let src = line(d.location.file, d.location.line) {
                let shown = src.replacingTabs()
                out += "    " + shown + "\n"
                // Columns count characters; a caret line of spaces lines up under them.
                let col = max(1, d.location.column)
                let width = max(1, min(d.length, max(1, shown.count - col + 1)))
                out += "    " + String(repeating: " ", count: col - 1) + caret
                out += "^" + String(repeating: "~", count: width - 1) + reset + "\n"
            }
            for n in d.notes {
                let at = n.location.map { $0.description + ": " } ?? ""
                out += "    " + at + paint(.note) + "note:" + reset + " " + n.message + "\n"
            }
            if let f = d.fixIt {
                out += "    " + paint(.note) + "fix-it:" + reset + " " + f.message + "\n"
            }
        }
        return out
    }

    /// A JSON array of `{severity, id, message, file, line, column, length, notes[], fix_it}`.
    public static func json(_ diags: [Diagnostic]) -> String {
        JSONValue.array(diags.map(jsonValue)).encoded(pretty: true) + "\n"
    }

    /// One diagnostic as a JSON object (the element type of ``json(_:)``).
    public static func jsonValue(_ d: Diagnostic) -> JSONValue {
        var o = JSONObject()
        o.append("severity", .string(d.severity.rawValue))
        o.append("id", .string(d.id))
        o.append("message", .string(d.message))
        o.append("file", .string(d.location.file))
        o.append("line", .int(Int64(d.location.line)))
        o.append("column", .int(Int64(d.location.column)))
        o.append("length", .int(Int64(d.length)))
        o.append("notes", .array(d.notes.map { n in
            var no = JSONObject()
            no.append("message", .string(n.message))
            if let l = n.location {
                no.append("file", .string(l.file))
                no.append("line", .int(Int64(l.line)))
                no.append("column", .int(Int64(l.column)))
            }
            return .object(no)
        }))
        if let f = d.fixIt {
            var fo = JSONObject()
            fo.append("message", .string(f.message))
            fo.append("line", .int(Int64(f.location.line)))
            fo.append("column", .int(Int64(f.location.column)))
            fo.append("length", .int(Int64(f.length)))
            fo.append("replacement", .string(f.replacement))
            o.append("fix_it", .object(fo))
        } else {
            o.append("fix_it", .null)
        }
        return .object(o)
    }

    /// GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=ID::message`.
    public static func github(_ diags: [Diagnostic]) -> String {
        var out = ""
        for d in diags {
            let kind = d.severity == .error ? "error" : d.severity == .warning ? "warning" : "notice"
            var msg = d.message
            for n in d.notes { msg += "\n" + n.message }
            if let f = d.fixIt { msg += "\nfix-it: " + f.message }
            out += "::\(kind) file=\(escapeProperty(d.location.file)),line=\(d.location.line),col=\(d.location.column)"
            out += ",title=\(escapeProperty(d.id))::\(escapeData(msg))\n"
        }
        return out
    }

    private static func escapeData(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "%": o += "%25"
            case "\r": o += "%0D"
            case "\n": o += "%0A"
            default: o.append(c)
            }
        }
        return o
    }

    private static func escapeProperty(_ s: String) -> String {
        var o = ""
        for c in escapeData(s) {
            switch c {
            case ":": o += "%3A"
            case ",": o += "%2C"
            default: o.append(c)
            }
        }
        return o
    }
}

extension Substring {
    /// Tabs become one space each so the caret line (which counts characters) stays aligned.
    fileprivate func replacingTabs() -> String {
        var s = ""
        // A CRLF file's lines end in "\r\n" (one Character): print the line without it.
        for c in self where c != "\r" && c != "\r\n" { s.append(c == "\t" ? " " : c) }
        return s
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.utf8), y = Array(b.utf8)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    var cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        cur[0] = i
        for j in 1...y.count {
            cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[y.count]
}

/// The closest candidate within a distance that scales with the word's length, or nil.
func closest(_ word: String, in candidates: [String]) -> String? {
    var best: (String, Int)?
    let limit = Swift.max(1, Swift.min(3, word.count / 3 + 1))
    for c in candidates {
        let d = editDistance(word, c)
        if d <= limit, best == nil || d < best!.1 { best = (c, d) }
    }
    if let best { return best.0 }
    // `avail` → `avail_bytes`: a unique candidate that starts with the word.
    let prefixed = candidates.filter { $0.hasPrefix(word) && word.count >= 3 }
    return prefixed.count == 1 ? prefixed[0] : nil
}
