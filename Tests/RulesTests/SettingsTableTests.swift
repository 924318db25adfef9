// The settings and channel-option tables of docs/rules.md, docs/notifications.md and shd.rules(5) are the
// rendering of `KnownSettings` / `ChannelKinds` (the one table): a setting added there fails here until the docs
// carry it. On a failure the expected text is printed, ready to paste.
import Alerting
import TestSupport
import Testing
import Workers
@testable import Rules

@Suite struct SettingsTableTests {
    static func doc(_ path: String) -> String { readText(TestPaths.packageRoot + "/" + path) }

    /// The lines from the one that starts with `first` up to the first blank line (or `end`).
    static func block(_ text: String, from first: String, to end: String? = nil) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let i = lines.firstIndex(where: { $0.hasPrefix(first) }) else { return "" }
        var out: [Substring] = []
        for l in lines[i...] {
            if let end, l.hasPrefix(end) { break }
            if end == nil && l.isEmpty { break }
            out.append(l)
        }
        return out.joined(separator: "\n")
    }

    /// `10s`, `1m`, `24h` as the docs write durations.
    static func duration(_ s: Double) -> String {
        let n = Int(s)
        if n % 3600 == 0 { return "\(n / 3600)h" }
        if n % 60 == 0 { return "\(n / 60)m" }
        return "\(n)s"
    }

    static func value(_ v: ConfigValue) -> String {
        switch v {
        case .duration(let d): return duration(d)
        case .number(let n): return formatNumber(n)
        case .bool(let b): return b ? "true" : "false"
        case .string(let s), .file(let s): return "\"\(s)\""
        case .list(let l): return "[" + l.map(value).joined(separator: ", ") + "]"
        case .block: return "{ … }"
        }
    }

    static func defaultText(_ k: ConfigKey) -> String { k.defaultValue.map(value) ?? k.defaultText ?? "" }

    /// A constant default in backticks; words as they are.
    static func markdownDefault(_ k: ConfigKey) -> String { k.defaultValue.map { "`\(value($0))`" } ?? k.defaultText ?? "" }

    static func typeWord(_ t: ValueType) -> String {
        switch t {
        case .duration: return "duration"
        case .number: return "number"
        case .string: return "string"
        case .bool: return "`true`/`false`"
        case .stringList: return "list of strings"
        case .stringOrList: return "string or list of strings"
        case .stringOrFile: return "string or `file \"…\"`"
        case .file: return "`file \"…\"`"
        case .block: return "`{ \"Name\" \"value\" … }`"
        case .oneOf(let w): return w.map { "`\($0)`" }.joined(separator: ", ")
        }
    }

    /// The type, and the range a number must be in: `number (4KiB to 1TiB)`.
    static func valueWord(_ k: ConfigKey) -> String { typeWord(k.type) + (k.rangeText.map { " (\($0))" } ?? "") }

    static func docName(_ k: ConfigKey) -> String { k.name == "interval.<worker>" ? "interval.WORKER" : k.name }

    static func settingsMarkdown() -> String {
        var rows = ["| setting | value | default | meaning |", "|---|---|---|---|"]
        for k in KnownSettings.all {
            rows.append("| `\(docName(k))` | \(valueWord(k)) | \(markdownDefault(k)) | \(k.help) |")
        }
        return rows.joined(separator: "\n")
    }

    static func channelKindsMarkdown() -> String {
        var rows = ["| kind | required | other options |", "|---|---|---|"]
        for kind in ChannelKinds.kinds.keys.sorted() {
            let own = ChannelKinds.kinds[kind]!
            // Two options that stand in for each other are one requirement: `url` or `urls`.
            let req = own.filter { k in k.required && !own.contains { $0.name == k.alternative && $0.name < k.name } }
                .map { k in "`\(k.name)`" + (k.alternative.map { " or `\($0)`" } ?? "") }.joined(separator: ", ")
            let other = own.filter { !$0.required }.map { "`\($0.name)`" }.joined(separator: ", ")
            rows.append("| `\(kind)` | \(req) | \(other) |")
        }
        return rows.joined(separator: "\n")
    }

    static func channelOptionsMarkdown(_ keys: [ConfigKey]) -> String {
        var rows = ["| option | value | default | meaning |", "|---|---|---|---|"]
        for k in keys {
            let required = "required" + (k.alternative.map { " (or `\($0)`)" } ?? "")
            rows.append("| `\(k.name)` | \(typeWord(k.type)) | \(k.required ? required : markdownDefault(k)) | \(k.help) |")
        }
        return rows.joined(separator: "\n")
    }

    /// The lines of the `## NAME` section of a markdown text, up to the next `## ` heading.
    static func section(_ text: String, _ name: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let i = lines.firstIndex(where: { $0 == "## " + name }) else { return "" }
        let rest = lines[(i + 1)...]
        let end = rest.firstIndex { $0.hasPrefix("## ") } ?? rest.endIndex
        return rest[..<end].joined(separator: "\n")
    }

    /// Markdown to man: no backticks or bold marks.
    static func roff(_ s: String) -> String {
        s.replacingOccurrences("`", "").replacingOccurrences("**", "").replacingOccurrences("\\", "\\\\")
            .replacingOccurrences("-", "\\-")
    }

    static func settingsMan() -> String {
        var out = [".\\\" settings: rendered from KnownSettings (SettingsTableTests)"]
        for k in KnownSettings.all {
            out.append(".TP")
            out.append(".B " + roff(docName(k)))
            let d = defaultText(k)
            out.append(roff(valueWord(k) + (d.isEmpty ? "" : ", default " + d) + ": " + k.help))
        }
        out.append(".\\\" end of settings")
        return out.joined(separator: "\n")
    }

    @Test func rulesMdSettingsTableIsTheTable() {
        let shown = Self.block(Self.doc("docs/rules.md"), from: "| setting |")
        #expect(shown == Self.settingsMarkdown(), "docs/rules.md settings table should read:\n\(Self.settingsMarkdown())")
    }

    @Test func rulesMdChannelKindsTableIsTheTable() {
        let shown = Self.block(Self.doc("docs/rules.md"), from: "| kind | required |")
        #expect(shown == Self.channelKindsMarkdown(), "docs/rules.md channel kinds table should read:\n\(Self.channelKindsMarkdown())")
    }

    @Test func notificationsMdCommonOptionsAreTheTable() {
        let shown = Self.block(Self.doc("docs/notifications.md"), from: "| option | value | default |")
        let want = Self.channelOptionsMarkdown(ChannelKinds.common)
        #expect(shown == want, "docs/notifications.md options table should read:\n\(want)")
    }

    /// Each kind's section of docs/notifications.md lists its own options as the table declares them.
    @Test(arguments: ChannelKinds.kinds.keys.sorted().filter { !ChannelKinds.kinds[$0]!.isEmpty })
    func notificationsMdKindOptionsAreTheTable(kind: String) {
        let shown = Self.block(Self.section(Self.doc("docs/notifications.md"), kind), from: "| option | value | default |")
        let want = Self.channelOptionsMarkdown(ChannelKinds.kinds[kind]!)
        #expect(shown == want, "docs/notifications.md, ## \(kind): its options table should read:\n\(want)")
    }

    @Test func manPageSettingsAreTheTable() {
        let shown = Self.block(Self.doc("docs/man/shd.rules.5"), from: ".\\\" settings:", to: ".\\\" end of settings")
        let want = Self.settingsMan()
        #expect(shown + "\n.\\\" end of settings" == want, "shd.rules.5 settings list should read:\n\(want)")
    }

    /// Defaults that live in modules below Rules (Workers) agree with the table.
    @Test func workerDefaultsAreTheTable() {
        #expect(SourceRoots().proc == KnownSettings.procRoot.defaultString)
        #expect(SourceRoots().sys == KnownSettings.sysRoot.defaultString)
        #expect(Double(WorkerOptions().topProcesses) == KnownSettings.topProcesses.defaultNumber)
    }

    @Test func everyKindsRequiredOptionHasNoDefault() {
        for (kind, options) in ChannelKinds.kinds {
            for o in options where o.required { #expect(o.defaultValue == nil && o.defaultText == nil, "\(kind).\(o.name)") }
        }
    }
}
