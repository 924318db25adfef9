// `shd check-rules [--format text|json|github] [--strict] [--color|--no-color] [PATH…]`: validate a rule set.
import Reports

/// The `check-rules` command as a library entry point: the CLI forwards its remaining arguments here.
public enum CheckRulesCommand {
    public static let usage = """
        usage: shd check-rules [--format text|json|github] [--strict] [--color|--no-color] [PATH…]
          Checks shd.conf and rules files (directories: their *.rules files) and reports every problem.
          Exit status: 0 clean, 1 errors (or warnings with --strict), 2 usage or I/O errors.

        """

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

    /// Runs the command. `defaultPaths` are used when no PATH is given (missing ones are skipped).
    /// Returns the exit status: 0 clean, 1 errors, 2 usage or I/O errors.
    public static func run(arguments: [String], catalog: Catalog, defaultPaths: [String], isTTY: Bool,
                           write: (String) -> Void) -> Int32
    {
        var format = "text"
        var strict = false
        var color = isTTY
        var paths: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            switch a {
            case "--format", "-f":
                guard i + 1 < arguments.count, ["text", "json", "github"].contains(arguments[i + 1]) else {
                    write("shd check-rules: --format needs text, json or github\n" + usage)
                    return 2
                }
                format = arguments[i + 1]
                i += 1
            case "--format=text", "--format=json", "--format=github": format = String(a.dropFirst("--format=".count))
            case "--strict": strict = true
            case "--color": color = true
            case "--no-color": color = false
            case "-h", "--help":
                write(usage)
                return 0
            case "--":
                paths += arguments[(i + 1)...]
                i = arguments.count
                continue
            default:
                if a.hasPrefix("-") && a.count > 1 {
                    write("shd check-rules: unknown option \(a)\n" + usage)
                    return 2
                }
                paths.append(a)
            }
            i += 1
        }
        let useDefaults = paths.isEmpty
        var result = RuleSetLoader.load(paths: useDefaults ? defaultPaths : paths, catalog: catalog, missingOK: useDefaults)
        let ruleCount = result.configuration?.rules.count ?? 0
        if !result.hasErrors && ruleCount == 0 {
            let file = result.configuration?.files.first ?? paths.first ?? defaultPaths.first ?? "<none>"
            result.diagnostics.append(Diagnostic(strict ? .error : .warning, "empty-rule-set",
                                                 "the rule set has no rules: nothing will ever alert",
                                                 at: SourceLocation(file: file, line: 1, column: 1)))
        }
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
        default:
            write(DiagnosticPrinter.text(result.diagnostics, sources: result.sources, color: color))
        }
        keepUntilExit(result, ruleCount: ruleCount)
        if result.diagnostics.contains(where: { $0.isIOError }) { return 2 }
        if errors > 0 || (strict && warnings > 0) {
            if format == "text" {
                write("\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")\n")
            }
            return 1
        }
        if format == "text", let c = result.configuration {
            let n = c.files.count, ch = c.declaredChannels.count
            var line = "\(n) file\(n == 1 ? "" : "s"), \(ruleCount) rule\(ruleCount == 1 ? "" : "s"), \(ch) channel\(ch == 1 ? "" : "s"): OK"
            if warnings > 0 { line += " (\(warnings) warning\(warnings == 1 ? "" : "s"))" }
            write(line + "\n")
        }
        keepUntilExit(result, ruleCount: ruleCount)
        return 0
    }
}
