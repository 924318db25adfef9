// `shd check-rules [--format text|json|github|journal] [--strict] [--color|--no-color] [PATH…]`: validate a rule set.
#if canImport(Glibc)
import Glibc
#endif
import Alerting
import Kit
import Reports
import Rules

/// The `check-rules` command: loads the rule set and prints its diagnostics and a summary.
public enum CheckRulesCommand {
    /// The command's options and operands.
    public struct Options: Sendable, Equatable {
        public var format = "text"
        public var strict = false
        /// Colour the text output; nil: when standard output is a terminal.
        public var color: Bool?
        public var paths: [String] = []
        public init(format: String = "text", strict: Bool = false, color: Bool? = nil, paths: [String] = []) {
            self.format = format
            self.strict = strict
            self.color = color
            self.paths = paths
        }
    }
    /// Holds a loaded rule set that is deliberately never freed.
    private final class KeptUntilExit: Sendable {
        let result: LoadResult
        init(_ result: LoadResult) { self.result = result }
    }

    /// `check-rules` is a one-shot command: the `shd` process exits as soon as this returns. Freeing a large compiled
    /// rule set object by object costs time the exit does for nothing (~10 % of checking 10,000 rules), so a large
    /// one is leaked on purpose: one retain that is never released. Small sets (tests, typical configurations) are
    /// freed as usual.
    static func keepUntilExit(_ result: LoadResult, ruleCount: Int) {
        guard ruleCount >= 1000 else { return }
        _ = Unmanaged.passRetained(KeptUntilExit(result))
    }

    /// A warning for each `file` rule whose path names no file now: the rule is valid (the daemon waits for the file and
    /// says so in its log), but a typo in a path would otherwise read nothing, quietly.
    static func missingFiles(_ config: Configuration?) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for r in config?.rules ?? [] {
            guard let e = r.event, e.source == "file", let path = e.argument, let p = FilePathPattern(path) else { continue }
            let found = p.isGlob ? listDirectory(p.directory).contains { p.matches(name: $0) } : access(path, F_OK) == 0
            guard !found else { continue }
            let what = p.isGlob ? "no file matches `\(path)`" : "`\(path)` does not exist"
            var d = Diagnostic(.noSuchFile, what + " now: rule `\(r.name)` reads nothing until it appears (shd waits for it and logs that it does)",
                               at: e.argumentLocation ?? r.location, length: e.argumentLocation == nil ? 1 : path.utf8.count + 2)
            if access(p.directory, F_OK) != 0 { d.notes.append(Diagnostic.Note("the folder \(p.directory) does not exist either")) }
            out.append(d)
        }
        return out
    }

    /// Runs the command. `defaultPaths` are used when no PATH is given (missing ones are skipped).
    /// Returns the exit status: 0 clean, 1 errors, 2 I/O errors.
    public static func run(_ options: Options, catalog: Catalog, defaultPaths: [String], isTTY: Bool,
                           write: (String) -> Void) -> Int32
    {
        let format = options.format, strict = options.strict, color = options.color ?? isTTY, paths = options.paths
        let useDefaults = paths.isEmpty
        var result = RuleSetLoader.load(paths: useDefaults ? defaultPaths : paths, catalog: catalog, missingOK: useDefaults)
        let ruleCount = result.configuration?.rules.count ?? 0
        if !result.hasErrors && ruleCount == 0 {
            let file = result.configuration?.files.first ?? paths.first ?? defaultPaths.first ?? "<none>"
            result.diagnostics.append(Diagnostic(.emptyRuleSet, "the rule set has no rules: nothing will ever alert",
                                                 at: SourceLocation(file: file, line: 1, column: 1),
                                                 severity: strict ? .error : nil))
        }
        result.diagnostics += missingFiles(result.configuration)
        let errors = result.diagnostics.filter { $0.severity == .error }.count
        let warnings = result.diagnostics.filter { $0.severity == .warning }.count
        switch format {
        case "json":
            var o = JSONObject()
            o.append("ok", .bool(errors == 0 && !(strict && warnings > 0)))
            o.append("files", .int(Int64(result.configuration?.files.count ?? result.sources.count)))
            o.append("rules", .int(Int64(ruleCount)))
            o.append("channels", .int(Int64(result.configuration?.declaredChannels.count ?? 0)))
            o.append("errors", .int(Int64(errors)))
            o.append("warnings", .int(Int64(warnings)))
            o.append("diagnostics", .array(result.diagnostics.map(DiagnosticPrinter.jsonValue)))
            write(JSONValue.object(o).encoded(pretty: true) + "\n")
        case "github":
            write(DiagnosticPrinter.github(result.diagnostics))
        case "journal":
            write(DiagnosticPrinter.journal(result.diagnostics, sources: result.sources))
        default:
            write(DiagnosticPrinter.text(result.diagnostics, sources: result.sources, color: color))
        }
        keepUntilExit(result, ruleCount: ruleCount)
        if result.diagnostics.contains(where: { $0.isIOError }) { return 2 }
        if errors > 0 || (strict && warnings > 0) {
            if format == "text" || format == "journal" {
                write((format == "journal" ? "<3>" : "") + "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")\n")
            }
            return 1
        }
        if format == "text" || format == "journal", let c = result.configuration {
            let n = c.files.count, ch = c.declaredChannels.count
            var line = "\(n) file\(n == 1 ? "" : "s"), \(ruleCount) rule\(ruleCount == 1 ? "" : "s"), \(ch) channel\(ch == 1 ? "" : "s"): OK"
            if warnings > 0 { line += " (\(warnings) warning\(warnings == 1 ? "" : "s"))" }
            write((format == "journal" ? "<6>" : "") + line + "\n")
        }
        keepUntilExit(result, ruleCount: ruleCount)
        return 0
    }
}
