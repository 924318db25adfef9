// The checker: names against the catalog, types, units, references and contradictions; compiles rules.
import Reports

/// Expression types the checker infers.
enum ExprType: Equatable {
    case number, string, bool
    /// Already reported: don't cascade more errors from it.
    case invalid

    var word: String {
        switch self {
        case .number: return "a number"
        case .string: return "a string"
        case .bool: return "true/false"
        case .invalid: return "invalid"
        }
    }
}

struct Checker {
    let catalog: Catalog
    var diagnostics: [Diagnostic] = []
    /// The file of the statements being checked: spans carry no file name, diagnostics get it from here.
    var currentFile = ""
    /// Workers, functions and fields by name, built on the first rule (the catalog's lookups are linear scans).
    var index: CatalogIndex?
    /// Per-rule buffers, kept from rule to rule so each rule does not allocate them again.
    var spareLets: [LetSlot] = []
    var spareValueFields: [String] = []
    var spareTemplateBytes: [UInt8] = []

    init(catalog: Catalog) { self.catalog = catalog }

    mutating func error(_ id: String, _ message: String, _ span: Span, notes: [Diagnostic.Note] = [], fixIt: Diagnostic.FixIt? = nil) {
        diagnostics.append(Diagnostic(.error, id, message, at: loc(span), length: span.length, notes: notes, fixIt: fixIt))
    }

    mutating func warning(_ id: String, _ message: String, _ span: Span, notes: [Diagnostic.Note] = [], fixIt: Diagnostic.FixIt? = nil) {
        diagnostics.append(Diagnostic(.warning, id, message, at: loc(span), length: span.length, notes: notes, fixIt: fixIt))
    }

    func loc(_ span: Span) -> SourceLocation { span.location(in: currentFile) }

    func suggest(_ word: String, _ candidates: [String], _ span: Span) -> (String, Diagnostic.FixIt?) {
        guard let c = closest(word, in: candidates.sorted()) else { return ("", nil) }
        return ("; did you mean `\(c)`?", Diagnostic.FixIt("replace with `\(c)`", location: loc(span), length: span.length, replacement: c))
    }

    // MARK: the whole rule set

    /// Checks every file together. The rules' syntax trees are dropped from `asts` as each rule is compiled, so their
    /// memory is reused for the compiled rules instead of the two coexisting (fresh pages cost more than the check).
    mutating func check(_ asts: inout [AST]) -> Configuration {
        var config = Configuration()
        config.files = asts.map(\.file)
        var channelSeen: [String: SourceLocation] = [:]
        var settingSeen: [String: SourceLocation] = [:]

        // Channels first: rules in any file may route to channels declared in any other.
        for ast in asts {
            currentFile = ast.file
            for case .channel(let c) in ast.statements {
                if let first = channelSeen[c.name] {
                    error("duplicate-channel", "channel `\(c.name)` is declared twice", c.nameSpan,
                          notes: [Diagnostic.Note("first declared here", at: first)])
                    continue
                }
                channelSeen[c.name] = loc(c.nameSpan)
                if let decl = checkChannel(c) { config.channels.append(decl) }
            }
        }
        if !config.channels.contains(where: { $0.name == "log" }) {
            config.channels.append(ChannelDeclaration(name: "log", kind: "log", options: [],
                                                      location: SourceLocation(file: ChannelDeclaration.builtinFile, line: 0, column: 0)))
        }
        // Names of every declared channel, even one whose options have errors: don't cascade into "unknown channel".
        let channelNames = Set(config.channels.map(\.name)).union(channelSeen.keys)

        for ast in asts {
            currentFile = ast.file
            for case .set(let s) in ast.statements {
                if let first = settingSeen[s.name] {
                    warning("setting-overridden", "`set \(s.name)` overrides an earlier value", s.nameSpan,
                            notes: [Diagnostic.Note("earlier value set here", at: first)])
                }
                settingSeen[s.name] = loc(s.nameSpan)
                if let v = checkSetting(s, channels: channelNames) { config.settings[s.name] = v }
            }
            for case .mute(let m) in ast.statements {
                if let w = checkMute(m) { config.mutes.append(w) }
            }
        }
        if case .list(let l)? = config.settings["default_channels"] {
            config.defaultChannels = l.compactMap(\.stringValue)
        } else if case .string(let s)? = config.settings["default_channels"] {
            config.defaultChannels = [s]
        }

        var ruleSeen: [String: SourceLocation] = [:]
        // Large rule sets: grow the rule array once, not by doubling (each move frees a large block, which makes
        // malloc consolidate its free lists).
        var ruleCount = 0
        for ast in asts { for case .rule in ast.statements { ruleCount += 1 } }
        config.rules.reserveCapacity(ruleCount)
        ruleSeen.reserveCapacity(ruleCount)
        for a in asts.indices {
            currentFile = asts[a].file
            for k in asts[a].statements.indices {
                guard case .rule(let r) = asts[a].statements[k] else { continue }
                asts[a].statements[k] = .mute(.daily("", r.nameSpan))
                if let first = ruleSeen[r.name] {
                    error("duplicate-rule", "rule `\(r.name)` is declared twice", r.nameSpan,
                          notes: [Diagnostic.Note("first declared here", at: first)])
                    continue
                }
                ruleSeen[r.name] = loc(r.nameSpan)
                if let rule = checkRule(r, channels: channelNames, defaults: config.defaultChannels) { config.rules.append(rule) }
            }
        }
        return config
    }

    // MARK: values, settings, channels

    func configValue(_ v: ValueNode) -> ConfigValue {
        switch v {
        case .string(let s, _): return .string(s)
        case .number(let n, let u, _): return u == .duration ? .duration(n) : .number(n)
        case .word(let w, _): return w == "true" ? .bool(true) : w == "false" ? .bool(false) : .string(w)
        case .list(let items, _): return .list(items.map(configValue))
        case .file(let p, _): return .file(p)
        case .block(let entries, _): return .block(entries.map { ($0.0, configValue($0.2)) })
        }
    }

    enum Expect { case duration, number, string, bool, stringList, stringOrList, stringOrFile, file, block, oneOf([String]) }

    mutating func checkValue(_ v: ValueNode, _ expect: Expect, _ what: String) {
        func isString(_ v: ValueNode) -> Bool { if case .string = v { return true } else { return false } }
        switch (expect, v) {
        case (.duration, .number(_, .duration, _)), (.number, .number(_, .none, _)), (.number, .number(_, .bytes, _)),
             (.string, .string), (.stringOrList, .string), (.stringOrFile, .string), (.stringOrFile, .file), (.file, .file),
             (.block, .block):
            return
        case (.bool, .word(let w, _)) where w == "true" || w == "false": return
        case (.duration, .number(let n, .none, let span)):
            error("expected-duration", "\(what) needs a duration with a unit, e.g. `\(formatNumber(n))s`", span,
                  fixIt: Diagnostic.FixIt("add a unit", location: loc(span), length: span.length, replacement: formatNumber(n) + "s"))
        case (.stringList, .list(let items, _)), (.stringOrList, .list(let items, _)):
            for i in items where !isString(i) { error("expected-string", "\(what) must be a list of strings", i.span) }
        case (.oneOf(let words), .word(let w, let span)), (.oneOf(let words), .string(let w, let span)):
            if !words.contains(w) {
                let (hint, fix) = suggest(w, words, span)
                error("bad-value", "\(what) must be one of \(words.joined(separator: ", "))\(hint)", span, fixIt: fix)
            }
        case (.file, .string(_, let span)):
            warning("secret-inline", "\(what) is a secret: keep it in a 0600 file and write `file \"/etc/shd/secrets/…\"`", span)
        default:
            let want: String
            switch expect {
            case .duration: want = "a duration (e.g. `30s`)"
            case .number: want = "a number"
            case .string: want = "a string"
            case .bool: want = "true or false"
            case .stringList: want = "a list of strings (e.g. `[\"a\", \"b\"]`)"
            case .stringOrList: want = "a string or a list of strings"
            case .stringOrFile: want = "a string or `file \"path\"`"
            case .file: want = "`file \"path\"`"
            case .block: want = "a block `{ \"Name\" \"value\" … }`"
            case .oneOf(let w): want = "one of " + w.joined(separator: ", ")
            }
            error("bad-value", "\(what) must be \(want)", v.span)
        }
    }

    mutating func checkSetting(_ s: SetStatement, channels: Set<String>) -> ConfigValue? {
        guard KnownSettings.isKnown(s.name) else {
            let (hint, fix) = suggest(s.name, KnownSettings.all.map(\.name), s.nameSpan)
            error("unknown-setting", "unknown setting `\(s.name)`\(hint)", s.nameSpan, fixIt: fix)
            return nil
        }
        let n0 = diagnostics.count
        let what = "`\(s.name)`"
        switch s.name {
        case "interval": checkValue(s.value, .duration, what)
        case "workers":
            checkValue(s.value, .stringList, what)
            if case .list(let items, _) = s.value {
                for case .string(let w, let span) in items where catalog.worker(w) == nil {
                    let (hint, fix) = suggest(w, catalog.workers.map(\.name), span)
                    error("unknown-worker", "unknown worker `\(w)`\(hint)", span, fixIt: fix)
                }
            }
        case "log_level": checkValue(s.value, .oneOf(["error", "warning", "notice", "info", "debug"]), what)
        case "default_channels":
            checkValue(s.value, .stringOrList, what)
            var names: [(String, Span)] = []
            if case .string(let n, let span) = s.value { names = [(n, span)] }
            if case .list(let items, _) = s.value { for case .string(let n, let span) in items { names.append((n, span)) } }
            for (n, span) in names where !channels.contains(n) {
                let (hint, fix) = suggest(n, Array(channels), span)
                error("unknown-channel", "unknown channel `\(n)` in default_channels\(hint)", span, fixIt: fix)
            }
        case "exclude_fstypes", "exclude_mounts": checkValue(s.value, .stringList, what)
        case "top_processes": checkValue(s.value, .number, what)
        case "tcp_states": checkValue(s.value, .bool, what)
        case "report_interval": checkValue(s.value, .duration, what)
        default:
            if s.name.hasPrefix("interval.") {
                let w = String(s.name.dropFirst("interval.".count))
                if catalog.worker(w) == nil {
                    let (hint, _) = suggest(w, catalog.workers.map(\.name), s.nameSpan)
                    error("unknown-worker", "unknown worker `\(w)` in `\(s.name)`\(hint)", s.nameSpan)
                }
                checkValue(s.value, .duration, what)
            } else {
                checkValue(s.value, .string, what)
            }
        }
        if case .number(let n, .duration, let span) = s.value, n <= 0 {
            error("bad-value", "\(what) must be a positive duration", span)
        }
        return diagnostics.count == n0 || !diagnostics[n0...].contains { $0.severity == .error } ? configValue(s.value) : nil
    }

    mutating func checkChannel(_ c: ChannelStatement) -> ChannelDeclaration? {
        guard let allowed = ChannelKinds.options(for: c.kind) else {
            let (hint, fix) = suggest(c.kind, Array(ChannelKinds.kinds.keys), c.kindSpan)
            error("unknown-channel-kind", "unknown channel kind `\(c.kind)`\(hint)", c.kindSpan,
                  notes: [Diagnostic.Note("kinds: " + ChannelKinds.kinds.keys.sorted().joined(separator: ", "))], fixIt: fix)
            return nil
        }
        let n0 = diagnostics.count
        var seen: Set<String> = []
        for (key, span, value) in c.options {
            guard allowed.contains(where: { $0.name == key }) else {
                let (hint, fix) = suggest(key, allowed.map(\.name), span)
                error("unknown-channel-option", "channel kind `\(c.kind)` has no option `\(key)`\(hint)", span,
                      notes: [Diagnostic.Note("options: " + allowed.map(\.name).joined(separator: ", "))], fixIt: fix)
                continue
            }
            if !seen.insert(key).inserted { warning("duplicate-option", "option `\(key)` is given twice; the last one wins", span) }
            let what = "option `\(key)`"
            switch key {
            case "timeout", "ttl", "resend_interval": checkValue(value, .duration, what)
            case "rate_limit": checkValue(value, .number, what)
            case "min_severity": checkValue(value, .oneOf(["warn", "crit"]), what)
            case "send_resolved", "include_report": checkValue(value, .bool, what)
            case "headers": checkValue(value, .block, what)
            case "to": checkValue(value, .stringOrList, what)
            case "password", "hmac_secret": checkValue(value, .file, what)
            case "tls": checkValue(value, .oneOf(["required", "none"]), what)
            case "command":
                checkValue(value, .stringList, what)
                if case .list(let items, let span) = value, items.isEmpty { error("bad-value", "`command` needs at least the program path", span) }
            case "url":
                checkValue(value, .stringOrFile, what)
                if case .string(let u, let span) = value {
                    if c.kind == "slack" {
                        warning("secret-inline", "a Slack webhook URL is a secret: keep it in a 0600 file and write `url file \"…\"`", span)
                    }
                    if !(u.hasPrefix("http://") || u.hasPrefix("https://")) {
                        error("bad-value", "`url` must start with http:// or https://", span)
                    }
                }
            case "server":
                checkValue(value, .string, what)
                if case .string(let u, let span) = value, !(u.hasPrefix("smtp://") || u.hasPrefix("smtps://")) {
                    error("bad-value", "`server` must be smtp://host:port (STARTTLS) or smtps://host:port (implicit TLS)", span)
                }
            default: checkValue(value, .string, what)
            }
        }
        for o in allowed where o.required && !seen.contains(o.name) {
            error("missing-channel-option", "channel `\(c.name)` (\(c.kind)) needs option `\(o.name)`: \(o.help)", c.nameSpan)
        }
        if diagnostics[n0...].contains(where: { $0.severity == .error }) { return nil }
        return ChannelDeclaration(name: c.name, kind: c.kind, options: c.options.map { ($0.0, configValue($0.2)) },
                                  location: loc(c.nameSpan))
    }

    mutating func checkMute(_ m: MuteNode) -> MuteWindow? {
        switch m {
        case .daily(let text, let span):
            func minutes(_ s: Substring) -> Int? {
                let p = s.split(separator: ":", omittingEmptySubsequences: false)
                guard p.count == 2, p[0].count == 2, p[1].count == 2, let h = Int(p[0]), let mi = Int(p[1]),
                      (0...24).contains(h), (0..<60).contains(mi), h * 60 + mi <= 1440 else { return nil }
                return h * 60 + mi
            }
            let parts = text.split(separator: "-")
            guard parts.count == 2, let s = minutes(parts[0]), let e = minutes(parts[1]), s != e else {
                error("bad-mute", "a daily mute window is written \"HH:MM-HH:MM\" in local time (e.g. \"02:00-04:00\")", span)
                return nil
            }
            return .daily(startMinute: s, endMinute: e)
        case .range(let from, let fromSpan, let until, let untilSpan):
            let f = Timestamp(rfc3339: from), u = Timestamp(rfc3339: until)
            if f == nil { error("bad-mute", "`from` must be an RFC 3339 time like \"2026-12-24T18:00:00+01:00\"", fromSpan) }
            if u == nil { error("bad-mute", "`until` must be an RFC 3339 time like \"2026-12-27T08:00:00+01:00\"", untilSpan) }
            guard let f, let u else { return nil }
            if u <= f {
                error("bad-mute", "the mute ends before it starts", untilSpan)
                return nil
            }
            return .range(from: f, until: u)
        }
    }

    // MARK: rules

    /// A field of the rule's function: its position in the schema and its kind.
    struct FieldRef {
        var index: Int
        var kind: FieldKind
    }

    /// The catalog by name: worker → (its position, function → position), and the fields of each function.
    struct CatalogIndex {
        var workers: [String: (index: Int, functions: [String: Int])] = [:]
        var fields: [[[String: FieldRef]]] = []

        init(_ catalog: Catalog) {
            for (wi, w) in catalog.workers.enumerated() {
                var functions: [String: Int] = [:]
                var fieldMaps: [[String: FieldRef]] = []
                for (fi, f) in w.functions.enumerated() {
                    // The first of two equal names wins, as `FunctionSchema.field(_:)` (a linear scan) would.
                    if functions[f.name] == nil { functions[f.name] = fi }
                    var m: [String: FieldRef] = [:]
                    m.reserveCapacity(f.fields.count)
                    for (k, field) in f.fields.enumerated() where m[field.name] == nil { m[field.name] = FieldRef(index: k, kind: field.kind) }
                    fieldMaps.append(m)
                }
                if workers[w.name] == nil { workers[w.name] = (wi, functions) }
                fields.append(fieldMaps)
            }
        }
    }

    /// One `let` of the rule being checked.
    struct LetSlot {
        var name: String
        var node: ExprNode
        var span: Span
        var compiled: CExpr?
        var type: ExprType = .invalid
        /// 0 unvisited, 1 in progress (a cycle if seen again), 2 done.
        var state: UInt8 = 0
        /// Its value needs history (rate, windows): not allowed in `where`, which runs before sampling.
        var usesSeries = false
    }

    /// Per-rule compilation state.
    struct Scope {
        var schema: FunctionSchema?
        /// The schema's fields by name.
        var fields: [String: FieldRef] = [:]
        var lets: [LetSlot] = []
        var series: [SeriesSpec] = []
        var valueFields: [String] = []
        /// Inside rate()/delta(): a counter there is used as intended.
        var inCounterFunction = 0
        var sawCounter = false
        var letDepth = 0
        /// How many lets have `usesSeries` set.
        var letsUsingSeries = 0
        /// References made so far to lets that have `usesSeries` set.
        var seriesLetRefs = 0
        var inFilter = false

        /// The slot of `let name`, if the rule has one (rules have a handful of lets at most: a linear scan).
        func letIndex(_ name: String) -> Int? {
            var i = 0
            while i < lets.count {
                if lets[i].name == name { return i }
                i += 1
            }
            return nil
        }
        var letNames: [String] { lets.map(\.name) }
        func field(_ name: String) -> FieldRef? { fields.isEmpty ? nil : fields[name] }
    }

    mutating func checkRule(_ r: RuleStatement, channels: Set<String>, defaults: [String]) -> AlertRule? {
        let n0 = diagnostics.count
        var scope = Scope()
        swap(&scope.lets, &spareLets)
        swap(&scope.valueFields, &spareValueFields)
        defer {
            scope.lets.removeAll(keepingCapacity: true)
            scope.valueFields.removeAll(keepingCapacity: true)
            swap(&scope.lets, &spareLets)
            swap(&scope.valueFields, &spareValueFields)
        }
        if index == nil { index = CatalogIndex(catalog) }
        if let (wi, functions) = index!.workers[r.worker] {
            let w = catalog.workers[wi]
            if let fi = functions[r.function] {
                scope.schema = w.functions[fi]
                scope.fields = index!.fields[wi][fi]
            } else {
                let (hint, fix) = suggest(r.function, w.functions.map(\.name), r.functionSpan)
                error("unknown-function", "worker `\(r.worker)` has no function `\(r.function)`\(hint)", r.functionSpan,
                      notes: [Diagnostic.Note("functions of \(r.worker): " + w.functions.map(\.name).joined(separator: ", "))], fixIt: fix)
            }
        } else {
            let (hint, fix) = suggest(r.worker, catalog.workers.map(\.name), r.workerSpan)
            error("unknown-worker", "unknown worker `\(r.worker)`\(hint)", r.workerSpan,
                  notes: [Diagnostic.Note("workers: " + catalog.workers.map(\.name).joined(separator: ", "))], fixIt: fix)
        }
        let knownSource = scope.schema != nil

        // Lets first, so conditions may use them wherever they are written.
        for case .letBinding(let name, let span, let value) in r.items {
            if let first = scope.letIndex(name) {
                error("duplicate-let", "`let \(name)` is defined twice in rule `\(r.name)`", span,
                      notes: [Diagnostic.Note("first defined here", at: loc(scope.lets[first].span))])
                continue
            }
            if scope.field(name) != nil {
                error("let-shadows-field", "`let \(name)` hides the field `\(name)` of \(r.worker).\(r.function); pick another name", span)
                continue
            }
            if ["rule", "severity", "worker", "function"].contains(name) {
                error("let-shadows-field", "`\(name)` is reserved for templates; pick another name", span)
                continue
            }
            scope.lets.append(LetSlot(name: name, node: value, span: span))
        }
        for i in scope.lets.indices where scope.lets[i].state == 0 { _ = compileLet(i, &scope, knownSource) }

        var identityLabels: [String]?
        if !r.by.isEmpty {
            var names: [String] = []
            for (n, span) in r.by {
                if let schema = scope.schema {
                    let labels = schema.fields.filter { $0.kind == .label }.map(\.name)
                    if !labels.contains(n) {
                        let (hint, fix) = suggest(n, labels, span)
                        error("unknown-field", "`by` takes label fields of \(r.worker).\(r.function); `\(n)` is not one\(hint)", span,
                              notes: hint.isEmpty ? [Diagnostic.Note("labels: " + labels.joined(separator: ", "))] : [], fixIt: fix)
                        continue
                    }
                }
                if !names.contains(n) { names.append(n) }
            }
            identityLabels = names
        }
        var filter: CExpr?
        if let f = r.filter {
            scope.inFilter = true
            let (c, t) = compile(f, &scope, knownSource)
            scope.inFilter = false
            if t != .bool && t != .invalid { error("expected-condition", "`where` needs a condition (true/false), not \(t.word)", f.span) }
            filter = c
        }

        var conditions: [CompiledCondition] = []
        conditions.reserveCapacity(2)
        var warnNode: ConditionNode?
        var critNode: ConditionNode?
        var repeatSeconds: Double?
        var notify: [String] = []
        var summary: Template?
        var description: Template?
        var missing = MissingPolicy.default
        var mutes: [MuteWindow] = []
        for item in r.items {
            switch item {
            case .condition(let c):
                let sev: Severity = c.severity == "crit" ? .crit : .warn
                if let first = sev == .crit ? critNode : warnNode {
                    error("duplicate-condition", "rule `\(r.name)` already has a `\(c.severity)` condition; combine them with `or`", c.span,
                          notes: [Diagnostic.Note("the first one", at: loc(first.span))])
                    continue
                }
                if sev == .crit { critNode = c } else { warnNode = c }
                if let cc = compileCondition(c, sev, &scope, knownSource) { conditions.append(cc) }
            case .letBinding: break
            case .repeatEvery(let d, let span):
                if d <= 0 { error("bad-value", "`repeat` must be a positive duration", span) }
                if repeatSeconds != nil { warning("duplicate-option", "`repeat` is given twice; the last one wins", span) }
                repeatSeconds = d
            case .notify(let names):
                for (n, span) in names {
                    if !channels.contains(n) {
                        let (hint, fix) = suggest(n, Array(channels), span)
                        error("unknown-channel", "unknown channel `\(n)`\(hint)", span,
                              notes: [Diagnostic.Note("declare it with `channel \(n) KIND { … }`; `log` is built in")], fixIt: fix)
                    } else if !notify.contains(n) {
                        notify.append(n)
                    }
                }
            case .summary(let s, let span): summary = checkTemplate(s, span, &scope)
            case .description(let s, let span): description = checkTemplate(s, span, &scope)
            case .onMissing(let policy, let policySpan, let after, let afterSpan):
                guard let action = MissingPolicy.Action(rawValue: policy) else {
                    let (hint, fix) = suggest(policy, ["keep", "resolve", "alert"], policySpan)
                    error("bad-value", "`on_missing` is `keep`, `resolve` or `alert`\(hint)", policySpan, fixIt: fix)
                    continue
                }
                missing.action = action
                if let after, let afterSpan {
                    if after < 1 || after != after.rounded() || after > 1_000_000 {
                        error("bad-value", "`after` must be a whole number of evaluations, at least 1", afterSpan)
                    } else {
                        missing.after = Int(after)
                    }
                }
            case .mute(let m):
                if let w = checkMute(m) { mutes.append(w) }
            }
        }
        if warnNode == nil && critNode == nil {
            error("no-condition", "rule `\(r.name)` has no `warn` or `crit` condition, so it can never fire", r.nameSpan)
        }
        if let w = warnNode, let c = critNode { checkThresholdOrder(warn: w, crit: c) }

        if diagnostics[n0...].contains(where: { $0.severity == .error }) { return nil }
        conditions.sort { $0.severity < $1.severity }
        var valueFields: [String] = []
        valueFields.reserveCapacity(scope.valueFields.count)
        for f in scope.valueFields where !valueFields.contains(f) { valueFields.append(f) }
        return AlertRule(name: r.name, worker: r.worker, function: r.function, location: loc(r.nameSpan),
                         definition: r.definition, repeatSeconds: repeatSeconds, channels: notify.isEmpty ? defaults : notify,
                         missing: missing, mutes: mutes, identityLabels: identityLabels, filter: filter, conditions: conditions,
                         letNames: scope.letNames,
                         lets: scope.lets.map { $0.compiled ?? .constant(.number(.nan)) }, series: scope.series,
                         summary: summary, description: description, valueFields: valueFields)
    }

    mutating func compileLet(_ i: Int, _ scope: inout Scope, _ known: Bool) -> ExprType {
        if scope.lets[i].state == 2 { return scope.lets[i].type }
        if scope.lets[i].state == 1 {
            error("let-cycle", "`let` refers to itself through a cycle", scope.lets[i].span)
            scope.lets[i].state = 2
            return .invalid
        }
        // A chain of lets is compiled (and evaluated) recursively: bound it like expression nesting.
        guard scope.letDepth < 64 else {
            error("too-deep", "`let` values refer to each other more than 64 levels deep", scope.lets[i].span)
            scope.lets[i].state = 2
            return .invalid
        }
        scope.lets[i].state = 1
        scope.letDepth += 1
        let seriesBefore = scope.series.count
        let usesBefore = scope.letsUsingSeries
        let refsBefore = scope.seriesLetRefs
        let (c, t) = compile(scope.lets[i].node, &scope, known)
        if scope.series.count != seriesBefore || scope.letsUsingSeries != usesBefore || scope.seriesLetRefs != refsBefore {
            scope.lets[i].usesSeries = true
            scope.letsUsingSeries += 1
        }
        scope.letDepth -= 1
        scope.lets[i].compiled = c
        scope.lets[i].type = t
        scope.lets[i].state = 2
        return t
    }

    mutating func compileCondition(_ c: ConditionNode, _ sev: Severity, _ scope: inout Scope, _ known: Bool) -> CompiledCondition? {
        let (trigger, t) = compile(c.expr, &scope, known)
        if t != .bool && t != .invalid {
            error("expected-condition", "`\(c.severity)` needs a condition (a comparison), not \(t.word)", c.expr.span,
                  notes: [Diagnostic.Note("for example `\(c.severity) \(c.expr.text) > 90`")])
        }
        if case .constant = fold(trigger) {
            warning("constant-condition", "this condition does not depend on the data: it is always \(constantText(fold(trigger)))", c.expr.span)
        }
        var clear: CExpr?
        if let cl = c.clear {
            var clearNode: ExprNode
            switch cl {
            case .expr(let e): clearNode = e
            case .shorthand(let op, let opSpan, let rhs):
                guard case .binary(let top, let lhs, _, _) = c.expr, case .compare = Checker.binaryOp(top) else {
                    error("clear-shorthand", "`clear \(op) …` needs a trigger that is one comparison (like `x > 90`); write the full condition: `clear x \(op) …`", opSpan)
                    return nil
                }
                clearNode = .binary(op, lhs, rhs, opSpan)
            }
            let (cc, ct) = compile(clearNode, &scope, known)
            if ct != .bool && ct != .invalid { error("expected-condition", "`clear` needs a condition, not \(ct.word)", clearNode.span) }
            if case .constant(.bool(false)) = fold(cc) {
                error("clear-never", "this clear condition is never true: the alert could never resolve", clearNode.span)
            }
            checkClear(trigger: c.expr, clear: clearNode)
            clear = cc
        }
        return CompiledCondition(severity: sev, trigger: trigger, clear: clear, forSeconds: c.forDuration?.0 ?? 0)
    }

    func fold(_ e: CExpr) -> CExpr {
        switch e {
        case .compare(let op, let l, let r):
            if case .constant(.number(let a)) = fold(l), case .constant(.number(let b)) = fold(r) {
                return .constant(Evaluator.compare(op, .number(a), .number(b)).map { Value.bool($0) } ?? .bool(false))
            }
            return e
        case .and(let l, let r):
            if case .constant(.bool(let a)) = fold(l), case .constant(.bool(let b)) = fold(r) { return .constant(.bool(a && b)) }
            if case .constant(.bool(false)) = fold(l) { return .constant(.bool(false)) }
            if case .constant(.bool(false)) = fold(r) { return .constant(.bool(false)) }
            return e
        case .or(let l, let r):
            if case .constant(.bool(let a)) = fold(l), case .constant(.bool(let b)) = fold(r) { return .constant(.bool(a || b)) }
            return e
        case .not(let x):
            if case .constant(.bool(let a)) = fold(x) { return .constant(.bool(!a)) }
            return e
        case .arith(let op, let l, let r):
            if case .constant(.number(let a)) = fold(l), case .constant(.number(let b)) = fold(r) {
                return .constant(.number(Evaluator.arith(op, a, b) ?? .nan))
            }
            return e
        case .neg(let x):
            if case .constant(.number(let a)) = fold(x) { return .constant(.number(-a)) }
            return e
        default: return e
        }
    }

    func constantText(_ e: CExpr) -> String {
        if case .constant(.bool(let b)) = e { return b ? "true" : "false" }
        return "the same"
    }

    /// `x > A` / `x > B`: the left sides, the operator and the numeric threshold, when the condition has that shape.
    typealias Shape = (lhs: ExprNode, op: String, value: Double, span: Span, opSpan: Span)

    func thresholdShape(_ e: ExprNode) -> Shape? {
        guard case .binary(let op, let l, let r, let opSpan) = e else { return nil }
        switch Checker.binaryOp(op) {
        case .compare(.lt), .compare(.le), .compare(.gt), .compare(.ge): break
        default: return nil
        }
        if case .number(let v, _, let span) = r { return (l, op, v, span, opSpan) }
        if case .unary("-", .number(let v, _, let span), _) = r { return (l, op, -v, span, opSpan) }
        return nil
    }

    /// Whether two left-hand sides read the same (`ExprNode.text`), without building the text of plain names.
    func sameText(_ a: ExprNode, _ b: ExprNode) -> Bool {
        if case .name(let x, _) = a, case .name(let y, _) = b { return x == y }
        return a.text == b.text
    }

    mutating func checkThresholdOrder(warn: ConditionNode, crit: ConditionNode) {
        guard let w = thresholdShape(warn.expr), let c = thresholdShape(crit.expr), sameText(w.lhs, c.lhs),
              w.op.first == c.op.first else { return }
        let upward = w.op.hasPrefix(">")
        if upward ? c.value < w.value : c.value > w.value {
            error("crit-below-warn",
                  "crit threshold \(formatNumber(c.value)) is \(upward ? "below" : "above") the warn threshold \(formatNumber(w.value)) for `\(w.op)`: crit would fire before warn",
                  c.span, notes: [Diagnostic.Note("the warn threshold", at: loc(w.span))])
        }
    }

    /// Replaces `> 90` by `< 85`: the opposite direction, at the trigger's threshold.
    func clearFix(_ t: Shape, _ c: Shape) -> Diagnostic.FixIt? {
        guard c.opSpan.line == c.span.line else { return nil }
        let flipped = t.op.hasPrefix(">") ? "<" : ">"
        let length = c.span.column + c.span.length - c.opSpan.column
        let replacement = flipped + " " + formatNumber(t.value)
        return Diagnostic.FixIt("replace with `\(replacement)`", location: loc(c.opSpan), length: length, replacement: replacement)
    }

    mutating func checkClear(trigger: ExprNode, clear: ExprNode) {
        guard let t = thresholdShape(trigger), let c = thresholdShape(clear), sameText(t.lhs, c.lhs) else { return }
        let up = t.op.hasPrefix(">")
        if t.op.first == c.op.first {
            error("clear-never",
                  "clear condition `\(c.op) \(formatNumber(c.value))` points the same way as the trigger `\(t.op) \(formatNumber(t.value))`: it holds while the alert is breached, so the alert could not clear when the value recovers",
                  c.span, fixIt: clearFix(t, c))
        } else if up ? c.value > t.value : c.value < t.value {
            warning("clear-overlaps",
                    "clear threshold \(formatNumber(c.value)) is \(up ? "above" : "below") the trigger threshold \(formatNumber(t.value)): between them the alert would flap",
                    c.span)
        }
    }

    // MARK: expressions

    /// Unit of a simple expression, for mismatched-unit warnings.
    func unit(of e: ExprNode, _ scope: Scope) -> String? {
        switch e {
        case .name(let n, _):
            guard let f = scope.field(n), let schema = scope.schema else { return nil }
            let u = schema.fields[f.index].unit
            return u.isEmpty ? nil : u
        case .number(_, let u, _):
            switch u {
            case .duration: return "seconds"
            case .bytes: return "bytes"
            case .percent: return "percent"
            default: return nil
            }
        default: return nil
        }
    }

    mutating func compile(_ e: ExprNode, _ scope: inout Scope, _ known: Bool) -> (CExpr, ExprType) {
        switch e {
        case .number(let v, _, _): return (.constant(.number(v)), .number)
        case .string(let s, _): return (.constant(.string(s)), .string)
        case .bool(let b, _): return (.constant(.bool(b)), .bool)
        case .name(let n, let span):
            if let i = scope.letIndex(n) {
                let t = compileLet(i, &scope, known)
                // A let that refers to a let needing history needs it too, whichever was compiled first.
                if scope.lets[i].usesSeries { scope.seriesLetRefs += 1 }
                if scope.inFilter && scope.lets[i].usesSeries {
                    error("history-in-where", "`where` picks rows by their current values; `\(n)` needs history (rate, delta or a window): use it in `warn`/`crit`", span)
                }
                return (.letRef(i), t)
            }
            guard known, let schema = scope.schema else { return (.field(n, hint: -1), .invalid) }
            guard let f = scope.field(n) else {
                let candidates = schema.fields.map(\.name) + scope.letNames
                let (hint, fix) = suggest(n, candidates, span)
                error("unknown-field", "unknown field `\(n)` in \(schemaPath(scope))\(hint)", span,
                      notes: hint.isEmpty ? [Diagnostic.Note("fields: " + schema.fields.map(\.name).joined(separator: ", "))] : [], fixIt: fix)
                return (.field(n, hint: -1), .invalid)
            }
            switch f.kind {
            case .label: return (.field(n, hint: f.index), .string)
            case .bool: return (.field(n, hint: f.index), .bool)
            case .number:
                scope.valueFields.append(n)
                return (.field(n, hint: f.index), .number)
            case .counter:
                scope.valueFields.append(n)
                if scope.inCounterFunction > 0 { scope.sawCounter = true } else {
                    warning("raw-counter", "`\(n)` is a counter that only grows; compare its `rate(\(n))` or `delta(\(n))`", span,
                            fixIt: Diagnostic.FixIt("use rate()", location: loc(span), length: span.length, replacement: "rate(\(n))"))
                }
                return (.field(n, hint: f.index), .number)
            }
        case .unary(let op, let x, let span):
            let (c, t) = compile(x, &scope, known)
            if op == "not" {
                if t != .bool && t != .invalid { error("type-mismatch", "`not` needs true/false, not \(t.word)", span) }
                return (.not(c), .bool)
            }
            if t != .number && t != .invalid { error("type-mismatch", "`-` needs a number, not \(t.word)", span) }
            return (.neg(c), .number)
        case .binary(let op, let l, let r, let span):
            return compileBinary(op, l, r, span, &scope, known)
        case .call(let name, let span, let args):
            return compileCall(name, span, args, &scope, known)
        }
    }

    func schemaPath(_ scope: Scope) -> String { scope.schema.map { $0.name } ?? "" }

    mutating func compileBinary(_ op: String, _ l: ExprNode, _ r: ExprNode, _ span: Span, _ scope: inout Scope, _ known: Bool) -> (CExpr, ExprType) {
        let kind = Checker.binaryOp(op)
        if kind == .glob || kind == .notGlob || kind == .regex {
            let (lc, lt) = compile(l, &scope, known)
            if lt != .string && lt != .invalid { error("type-mismatch", "`\(op)` matches strings; the left side is \(lt.word)", l.span) }
            guard case .string(let pat, let pspan) = r else {
                error("expected-string", "the pattern after `\(op)` must be a quoted string", r.span)
                return (.constant(.bool(false)), .invalid)
            }
            if kind == .regex {
                do throws(Pattern.SyntaxError) {
                    return (.match(lc, try Pattern.regex(pat), negated: false), .bool)
                } catch {
                    var at = loc(pspan)
                    at.column += 1 + error.offset
                    diagnostics.append(Diagnostic(.error, "bad-regex", "invalid regular expression: \(error.message)", at: at))
                    return (.constant(.bool(false)), .invalid)
                }
            }
            return (.match(lc, Pattern.glob(pat), negated: kind == .notGlob), .bool)
        }
        let (lc, lt) = compile(l, &scope, known)
        let (rc, rt) = compile(r, &scope, known)
        switch kind {
        case .and, .or:
            if lt != .bool && lt != .invalid { error("type-mismatch", "`\(op)` joins conditions; this side is \(lt.word)", l.span) }
            if rt != .bool && rt != .invalid { error("type-mismatch", "`\(op)` joins conditions; this side is \(rt.word)", r.span) }
            return (kind == .and ? .and(lc, rc) : .or(lc, rc), .bool)
        case .add, .sub, .mul, .div:
            if lt != .number && lt != .invalid { error("type-mismatch", "`\(op)` needs numbers; this side is \(lt.word)", l.span) }
            if rt != .number && rt != .invalid { error("type-mismatch", "`\(op)` needs numbers; this side is \(rt.word)", r.span) }
            if kind == .div, case .number(0, _, let zs) = r { error("division-by-zero", "division by zero", zs) }
            let a: ArithOp = kind == .add ? .add : kind == .sub ? .sub : kind == .mul ? .mul : .div
            return (.arith(a, lc, rc), .number)
        default:
            guard case .compare(let cmp) = kind else { preconditionFailure("unknown operator \(op)") }
            if lt != .invalid && rt != .invalid && lt != rt {
                let hint = lt == .string || rt == .string ? " (string fields are labels: compare them with == \"…\", ~ \"glob\" or =~ \"regex\")" : ""
                error("type-mismatch", "cannot compare \(lt.word) with \(rt.word) using `\(op)`\(hint)", span)
            } else if (lt == .string || lt == .bool) && cmp != .eq && cmp != .ne {
                error("type-mismatch", "`\(op)` orders numbers; \(lt.word) can only be compared with == or !=", span)
            }
            if let lu = unit(of: l, scope), let ru = unit(of: r, scope), lu != ru {
                warning("unit-mismatch", "compares \(lu) with \(ru)", span)
            }
            return (.compare(cmp, lc, rc), .bool)
        }
    }

    mutating func compileCall(_ name: String, _ span: Span, _ args: [ExprNode], _ scope: inout Scope, _ known: Bool) -> (CExpr, ExprType) {
        let functions = Checker.functions
        func arity(_ n: Int, _ usage: String) -> Bool {
            if args.count != n {
                error("wrong-arguments", "`\(name)` takes \(n) argument\(n == 1 ? "" : "s"): \(usage)", span)
                return false
            }
            return true
        }
        func window(_ e: ExprNode) -> Double? {
            if case .number(let v, .duration, _) = e, v > 0 { return v }
            error("expected-duration", "the window of `\(name)` must be a positive duration like `5m` or `window 1h`", e.span)
            return nil
        }
        func numeric(_ e: ExprNode, _ scope: inout Scope) -> CExpr {
            let (c, t) = compile(e, &scope, known)
            if t != .number && t != .invalid { error("type-mismatch", "`\(name)` needs a number, not \(t.word)", e.span) }
            return c
        }
        if scope.inFilter && functions.contains(name) && name != "abs" {
            error("history-in-where", "`where` picks rows by their current values; `\(name)()` needs history: use it in `warn`/`crit`", span)
        }
        switch name {
        case "rate", "delta":
            guard arity(1, "\(name)(counter)") else { return (.constant(.number(0)), .invalid) }
            scope.inCounterFunction += 1
            let saw = scope.sawCounter
            scope.sawCounter = false
            let c = numeric(args[0], &scope)
            scope.inCounterFunction -= 1
            if !scope.sawCounter && known {
                warning("rate-of-gauge", "`\(name)()` of a value that is not a counter (`_total` field): it measures how fast a gauge moves", args[0].span)
            }
            scope.sawCounter = saw
            scope.series.append(SeriesSpec(input: c, kind: name == "rate" ? .rate : .delta, window: 0, limit: nil))
            return (.series(scope.series.count - 1), .number)
        case "avg", "min", "max", "sum", "count", "increase":
            guard arity(2, "\(name)(value, 5m)") else { return (.constant(.number(0)), .invalid) }
            // A counter's window minimum, maximum or increase is meaningful; its average or sum is not.
            let counterOK = name == "min" || name == "max" || name == "increase"
            if counterOK { scope.inCounterFunction += 1 }
            let saw = scope.sawCounter
            scope.sawCounter = false
            let c = numeric(args[0], &scope)
            if counterOK { scope.inCounterFunction -= 1 }
            if name == "increase" && !scope.sawCounter && known {
                warning("rate-of-gauge", "`increase()` of a value that is not a counter (`_total` field)", args[0].span)
            }
            scope.sawCounter = saw
            guard let w = window(args[1]) else { return (.constant(.number(0)), .invalid) }
            scope.series.append(SeriesSpec(input: c, kind: SeriesKind(rawValue: name)!, window: w, limit: nil))
            return (.series(scope.series.count - 1), .number)
        case "predict_zero":
            guard arity(2, "predict_zero(value, window 1h)") else { return (.constant(.number(0)), .invalid) }
            let c = numeric(args[0], &scope)
            guard let w = window(args[1]) else { return (.constant(.number(0)), .invalid) }
            scope.series.append(SeriesSpec(input: c, kind: .timeTo, window: w, limit: .constant(.number(0))))
            return (.series(scope.series.count - 1), .number)
        case "time_to":
            guard arity(3, "time_to(value, limit, window 1h)") else { return (.constant(.number(0)), .invalid) }
            let c = numeric(args[0], &scope)
            let lim = numeric(args[1], &scope)
            guard let w = window(args[2]) else { return (.constant(.number(0)), .invalid) }
            scope.series.append(SeriesSpec(input: c, kind: .timeTo, window: w, limit: lim))
            return (.series(scope.series.count - 1), .number)
        case "abs":
            guard arity(1, "abs(value)") else { return (.constant(.number(0)), .invalid) }
            return (.abs(numeric(args[0], &scope)), .number)
        default:
            let (hint, fix) = suggest(name, functions, span)
            error("unknown-function-call", "unknown function `\(name)()`\(hint)", span,
                  notes: hint.isEmpty ? [Diagnostic.Note("functions: " + functions.joined(separator: ", "))] : [], fixIt: fix)
            return (.constant(.number(0)), .invalid)
        }
    }

    // MARK: templates

    /// The operator of a binary node. The parser writes them from a fixed set of one- to three-byte spellings:
    /// classified on bytes, not by comparing strings one after the other.
    enum BinaryOp: Equatable {
        case and, or, add, sub, mul, div
        /// `~`, `!~`, `=~`
        case glob, notGlob, regex
        /// `<`, `<=`, `>`, `>=`, `==`, `!=`: the trigger operators a `clear < N` shorthand can reuse the left side of.
        case compare(CompareOp)
        case other
    }

    static func binaryOp(_ op: String) -> BinaryOp {
        var it = op.utf8.makeIterator()
        guard let a = it.next() else { return .other }
        guard let b = it.next() else {
            switch a {
            case UInt8(ascii: "+"): return .add
            case UInt8(ascii: "-"): return .sub
            case UInt8(ascii: "*"): return .mul
            case UInt8(ascii: "/"): return .div
            case UInt8(ascii: "~"): return .glob
            case UInt8(ascii: "<"): return .compare(.lt)
            case UInt8(ascii: ">"): return .compare(.gt)
            default: return .other
            }
        }
        if let c = it.next() {
            return it.next() == nil && a == UInt8(ascii: "a") && b == UInt8(ascii: "n") && c == UInt8(ascii: "d") ? .and : .other
        }
        switch (a, b) {
        case (UInt8(ascii: "o"), UInt8(ascii: "r")): return .or
        case (UInt8(ascii: "!"), UInt8(ascii: "~")): return .notGlob
        case (UInt8(ascii: "="), UInt8(ascii: "~")): return .regex
        case (UInt8(ascii: "<"), UInt8(ascii: "=")): return .compare(.le)
        case (UInt8(ascii: ">"), UInt8(ascii: "=")): return .compare(.ge)
        case (UInt8(ascii: "="), UInt8(ascii: "=")): return .compare(.eq)
        case (UInt8(ascii: "!"), UInt8(ascii: "=")): return .compare(.ne)
        default: return .other
        }
    }
    static let functions = ["rate", "delta", "increase", "avg", "min", "max", "sum", "count", "predict_zero", "time_to", "abs"]
    static let templateFilters = ["bytes", "percent", "duration", "round"]
    static let templateSpecials = ["rule", "severity", "worker", "function"]

    mutating func checkTemplate(_ text: String, _ span: Span, _ scope: inout Scope) -> Template {
        // Bytes, not Characters: the only special characters are ASCII, and this runs for every summary.
        var text = text
        var lit = spareTemplateBytes
        spareTemplateBytes = []
        let template = text.withUTF8 { checkTemplate(bytes: $0, span, &scope, &lit) }
        lit.removeAll(keepingCapacity: true)
        spareTemplateBytes = lit
        return template
    }

    /// `lit` is an empty buffer for literal text (its storage is reused from template to template).
    mutating func checkTemplate(bytes b: UnsafeBufferPointer<UInt8>, _ span: Span, _ scope: inout Scope,
                                _ lit: inout [UInt8]) -> Template
    {
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), bar = UInt8(ascii: "|"), space = UInt8(ascii: " ")
        var parts: [Template.Part] = []
        // At most a text and a reference per `{`, and the text after the last one.
        var opens = 0
        for c in b where c == open { opens += 1 }
        parts.reserveCapacity(2 * opens + 1)
        var i = 0
        // Byte offsets inside the string map to columns after the opening quote (escapes make this approximate).
        func at(_ k: Int) -> Span {
            var col = 0
            for x in b[0..<min(k, b.count)] where x & 0xC0 != 0x80 { col += 1 }
            return Span(line: span.line, column: span.column + 1 + col, length: 1)
        }
        func flush() {
            if !lit.isEmpty { parts.append(.text(String(decoding: lit, as: UTF8.self))); lit.removeAll(keepingCapacity: true) }
        }
        func string(_ from: Int, _ to: Int) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[from..<to]), as: UTF8.self) }
        while i < b.count {
            // A run of plain text in one copy.
            var j = i
            while j < b.count && b[j] != open && b[j] != close { j += 1 }
            if j > i {
                lit.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<j]))
                i = j
                continue
            }
            let c = b[i]
            if c == open && i + 1 < b.count && b[i + 1] == open { lit.append(open); i += 2; continue }
            if c == close && i + 1 < b.count && b[i + 1] == close { lit.append(close); i += 2; continue }
            if c != open { lit.append(c); i += 1; continue }
            var end = i
            while end < b.count && b[end] != close { end += 1 }
            guard end < b.count else {
                error("bad-template", "`{` without a closing `}` in the template (write `{{` for a literal brace)", at(i))
                break
            }
            var ascii = true, split = false
            for k in (i + 1)..<end {
                if b[k] >= 0x80 { ascii = false }
                if b[k] == bar || b[k] == space { split = true }
            }
            var name: String
            var filter: String?
            var arg: Int?
            /// Byte offset of the filter's name, for the caret (spaces around `|` allowed).
            var filterAt: Int?
            if !split {
                // Most references are a bare name: no split, no trimming.
                name = string(i + 1, end)
            } else if ascii {
                // `name|filter:arg`, each side trimmed of spaces; the filter is what precedes the first `:`.
                var nameEnd = i + 1
                while nameEnd < end && b[nameEnd] != bar { nameEnd += 1 }
                func trimmed(_ from: Int, _ to: Int) -> (Int, Int) {
                    var f = from, t = to
                    while f < t && b[f] == space { f += 1 }
                    while t > f && b[t - 1] == space { t -= 1 }
                    return (f, t)
                }
                let (nf, nt) = trimmed(i + 1, nameEnd)
                name = string(nf, nt)
                if nameEnd < end {
                    let (ff, ft) = trimmed(nameEnd + 1, end)
                    var colon = ff
                    while colon < ft && b[colon] != UInt8(ascii: ":") { colon += 1 }
                    filter = string(ff, colon)
                    filterAt = ff
                    if colon < ft { arg = Int(string(colon + 1, ft)) }
                }
            } else {
                // Non-ASCII inside the braces: split on Characters, as written for people.
                let pieces = string(i + 1, end).split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
                    .map { $0.trimmingSpaces() }
                name = pieces.first ?? ""
                if pieces.count == 2 {
                    let fa = pieces[1].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                    filter = String(fa[0])
                    if fa.count == 2 { arg = Int(fa[1]) }
                }
            }
            if let f = filter, !Checker.templateFilters.contains(f) {
                let hint = closest(f, in: Checker.templateFilters)
                error("bad-template", "unknown template filter `\(f)`" + (hint.map { "; did you mean `\($0)`?" } ?? "")
                          + " (filters: bytes, percent, duration, round)", at(filterAt ?? (i + 1 + name.utf8.count + 1)))
            }
            if let schema = scope.schema, scope.field(name) == nil, scope.letIndex(name) == nil, !Checker.templateSpecials.contains(name) {
                let candidates = schema.fields.map(\.name) + scope.letNames + Checker.templateSpecials
                let hint = closest(name, in: candidates.sorted())
                error("unknown-field", "unknown name `\(name)` in the template" + (hint.map { "; did you mean `\($0)`?" } ?? ""),
                      at(i + 1).with(length: max(1, name.count)))
            }
            flush()
            parts.append(.ref(name: name, filter: filter, arg: arg))
            i = end + 1
        }
        flush()
        return Template(parts: parts)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        var s = self[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
