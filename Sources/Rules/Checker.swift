// The checker's core: its state, how it reports, and the pass over the whole rule set (channels, settings, rules).
// The jobs are beside it, one file each: CheckSettings (settings, channels, mutes), CompileRules (rules), CheckExpressions
// (expression types), CheckLints (contradictions between conditions), CheckTemplates (summary templates).
import Alerting
import Reports

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
    /// `set flap_*`: the flapping policy of rules without `flapping`.
    var flapDefault = FlapPolicy(transitions: Int(KnownSettings.flapTransitions.defaultNumber),
                                 window: KnownSettings.flapWindow.defaultSeconds, stable: KnownSettings.flapStable.defaultSeconds)
    /// `inhibited by` lines, checked once every rule is known: (file, the rule's index in the configuration, node).
    var inhibitions: [(file: String, rule: Int, node: InhibitNode)] = []
    /// The labels each compiled rule's instances can have (`by`, else its function's label fields; nil: unknown).
    var ruleLabels: [[String]?] = []

    init(catalog: Catalog) { self.catalog = catalog }

    /// Reports `code` (its id and severity come from the catalog, DiagnosticCode.swift) at `span`.
    mutating func diagnose(_ code: DiagnosticCode, _ message: String, _ span: Span, notes: [Diagnostic.Note] = [],
                           fixIt: Diagnostic.FixIt? = nil)
    {
        diagnostics.append(Diagnostic(code, message, at: loc(span), length: span.length, notes: notes, fixIt: fixIt))
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
                    diagnose(.duplicateChannel, "channel `\(c.name)` is declared twice", c.nameSpan,
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
        var probeSeen: [String: SourceLocation] = [:]
        for ast in asts {
            currentFile = ast.file
            for case .probe(let p) in ast.statements {
                if let first = probeSeen[p.name] {
                    diagnose(.duplicateProbe, "probe `\(p.name)` is declared twice", p.nameSpan,
                          notes: [Diagnostic.Note("first declared here", at: first)])
                    continue
                }
                probeSeen[p.name] = loc(p.nameSpan)
                if let decl = checkProbe(p) { config.probes.append(decl) }
            }
        }
        var watchSeen: [String: SourceLocation] = [:]
        for ast in asts {
            currentFile = ast.file
            for case .watch(let w) in ast.statements {
                if let first = watchSeen[w.name] {
                    diagnose(.duplicateWatch, "watch `\(w.name)` is declared twice", w.nameSpan,
                          notes: [Diagnostic.Note("first declared here", at: first)])
                    continue
                }
                watchSeen[w.name] = loc(w.nameSpan)
                if let decl = checkWatch(w) { config.watches.append(decl) }
            }
        }
        // Names of every declared channel, even one whose options have errors: don't cascade into "unknown channel".
        let channelNames = Set(config.channels.map(\.name)).union(channelSeen.keys)

        for ast in asts {
            currentFile = ast.file
            for case .set(let s) in ast.statements {
                if let first = settingSeen[s.name] {
                    diagnose(.settingOverridden, "`set \(s.name)` overrides an earlier value", s.nameSpan,
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

        if case .number(let n)? = config.settings[KnownSettings.flapTransitions.name] { flapDefault.transitions = Int(n) }
        if case .duration(let d)? = config.settings[KnownSettings.flapWindow.name] { flapDefault.window = d }
        if case .duration(let d)? = config.settings[KnownSettings.flapStable.name] { flapDefault.stable = d }

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
                    diagnose(.duplicateRule, "rule `\(r.name)` is declared twice", r.nameSpan,
                          notes: [Diagnostic.Note("first declared here", at: first)])
                    continue
                }
                ruleSeen[r.name] = loc(r.nameSpan)
                if let rule = checkRule(r, channels: channelNames, defaults: config.defaultChannels) {
                    for case .inhibitedBy(let node) in r.items { inhibitions.append((currentFile, config.rules.count, node)) }
                    config.rules.append(rule)
                }
            }
        }
        checkInhibitions(&config, declared: Set(ruleSeen.keys))
        return config
    }
}
