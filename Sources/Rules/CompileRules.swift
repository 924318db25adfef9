// Rule compilation: the catalog by name, lets, conditions and the rule's items into an `AlertRule`.
import Alerting
import Reports

extension Checker {
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
        /// An event rule: `count(5m)`/`rate(5m)` count entries, and the statistics are template names.
        var isEvent = false

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
        if r.isEvent {
            resolveEventSource(r, &scope)
        } else if let (wi, functions) = index!.workers[r.worker] {
            let w = catalog.workers[wi]
            if let fi = functions[r.function] {
                scope.schema = w.functions[fi]
                scope.fields = index!.fields[wi][fi]
            } else {
                let (hint, fix) = suggest(r.function, w.functions.map(\.name), r.functionSpan)
                diagnose(.unknownFunction, "worker `\(r.worker)` has no function `\(r.function)`\(hint)", r.functionSpan,
                      notes: [Diagnostic.Note("functions of \(r.worker): " + w.functions.map(\.name).joined(separator: ", "))], fixIt: fix)
            }
        } else {
            let (hint, fix) = suggest(r.worker, catalog.workers.map(\.name), r.workerSpan)
            diagnose(.unknownWorker, "unknown worker `\(r.worker)`\(hint)", r.workerSpan,
                  notes: [Diagnostic.Note("workers: " + catalog.workers.map(\.name).joined(separator: ", "))], fixIt: fix)
        }
        let knownSource = scope.schema != nil

        // Lets first, so conditions may use them wherever they are written.
        for case .letBinding(let name, let span, let value) in r.items {
            if let first = scope.letIndex(name) {
                diagnose(.duplicateLet, "`let \(name)` is defined twice in rule `\(r.name)`", span,
                      notes: [Diagnostic.Note("first defined here", at: loc(scope.lets[first].span))])
                continue
            }
            if scope.field(name) != nil {
                diagnose(.letShadowsField, "`let \(name)` hides the field `\(name)` of \(r.worker).\(r.function); pick another name", span)
                continue
            }
            if ["rule", "severity", "worker", "function"].contains(name) {
                diagnose(.letShadowsField, "`\(name)` is reserved for templates; pick another name", span)
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
                        diagnose(.unknownField, "`by` takes label fields of \(r.worker).\(r.function); `\(n)` is not one\(hint)", span,
                              notes: hint.isEmpty ? [Diagnostic.Note("labels: " + labels.joined(separator: ", "))] : [], fixIt: fix)
                        continue
                    }
                }
                if !names.contains(n) { names.append(n) }
            }
            identityLabels = names
        } else if !r.isEvent, let schema = scope.schema, !schema.key.isEmpty {
            let changing = schema.fields.filter { $0.kind == .label && !schema.key.contains($0.name) }.map(\.name)
            if !changing.isEmpty {
                let by = schema.key.joined(separator: ", ")
                diagnose(.identityChanges,
                         "rule `\(r.name)` has no `by`: its alerts are told apart by every label of \(r.worker).\(r.function), and "
                            + changing.map { "`\($0)`" }.joined(separator: ", ")
                            + (changing.count == 1 ? " changes with what it reports" : " change with what they report")
                            + " (a change would end the alert and start another); `by \(by)` keeps one alert per \(by)",
                         r.functionSpan, fixIt: Diagnostic.FixIt("add `by \(by)`", location: loc(r.functionSpan),
                                                                 length: r.functionSpan.length, replacement: "\(r.function) by \(by)"))
            }
        }
        var filter: CExpr?
        if let f = r.filter {
            scope.inFilter = true
            let (c, t) = compile(f, &scope, knownSource)
            scope.inFilter = false
            if t != .bool && t != .invalid { diagnose(.expectedCondition, "`where` needs a condition (true/false), not \(t.word)", f.span) }
            filter = c
        }

        var captures: [(field: String, pattern: Pattern)] = []
        if let f = filter { captures = eventCaptures(f, isEvent: r.isEvent, span: r.filter!.span) }
        // Named groups are labels of the instance: templates may name them.
        for c in captures { for n in c.pattern.groupNames where scope.fields[n] == nil { scope.fields[n] = FieldRef(index: -1, kind: .label) } }
        var quiet: (Double, Span)?

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
        var flap = flapDefault
        for item in r.items {
            switch item {
            case .condition(let c):
                let sev: Severity = c.severity == "crit" ? .crit : .warn
                if let first = sev == .crit ? critNode : warnNode {
                    diagnose(.duplicateCondition, "rule `\(r.name)` already has a `\(c.severity)` condition; combine them with `or`", c.span,
                          notes: [Diagnostic.Note("the first one", at: loc(first.span))])
                    continue
                }
                if sev == .crit { critNode = c } else { warnNode = c }
                if r.isEvent { checkEventCondition(c) }
                if let cc = compileCondition(c, sev, &scope, knownSource) { conditions.append(cc) }
            case .letBinding: break
            case .repeatEvery(let d, let span):
                if d <= 0 { diagnose(.repeatNotPositive, "`repeat` must be a positive duration", span) }
                if repeatSeconds != nil { diagnose(.duplicateOption, "`repeat` is given twice; the last one wins", span) }
                repeatSeconds = d
            case .notify(let names):
                for (n, span) in names {
                    if !channels.contains(n) {
                        let (hint, fix) = suggest(n, Array(channels), span)
                        diagnose(.unknownChannel, "unknown channel `\(n)`\(hint)", span,
                              notes: [Diagnostic.Note("declare it with `channel \(n) KIND { … }`; `log` is built in")], fixIt: fix)
                    } else if !notify.contains(n) {
                        notify.append(n)
                    }
                }
            case .summary(let s, let span): summary = checkTemplate(s, span, &scope)
            case .description(let s, let span): description = checkTemplate(s, span, &scope)
            case .quiet(let d, let span):
                if !r.isEvent {
                    diagnose(.eventRuleItem, "`quiet` is for event rules (`rule \(r.name) on journal …`); a row rule resolves when its condition stops holding", span)
                } else if d <= 0 || d > 7 * 86400 {
                    diagnose(.eventWindow, "`quiet` must be a positive duration of at most 7d", span)
                } else {
                    if quiet != nil { diagnose(.duplicateOption, "`quiet` is given twice; the last one wins", span) }
                    quiet = (d, span)
                }
            case .onMissing(let policy, let policySpan, let after, let afterSpan):
                if r.isEvent {
                    diagnose(.eventRuleItem, "event rules have no rows to go missing: an event alert resolves after its `quiet` period", policySpan)
                    continue
                }
                guard let action = MissingPolicy.Action(rawValue: policy) else {
                    let (hint, fix) = suggest(policy, ["keep", "resolve", "alert"], policySpan)
                    diagnose(.onMissingPolicy, "`on_missing` is `keep`, `resolve` or `alert`\(hint)", policySpan, fixIt: fix)
                    continue
                }
                missing.action = action
                if let after, let afterSpan {
                    if after < 1 || after != after.rounded() || after > 1_000_000 {
                        diagnose(.missingAfterCount, "`after` must be a whole number of evaluations, at least 1", afterSpan)
                    } else {
                        missing.after = Int(after)
                    }
                }
            case .mute(let m):
                if let w = checkMute(m) { mutes.append(w) }
            case .flapping(let f):
                if f.off {
                    flap = .off
                    continue
                }
                if let (n, span) = f.transitions {
                    if n < 2 || n != n.rounded() || n > 1000 {
                        diagnose(.flappingValue, "`flapping` needs a whole number of transitions from 2 to 1000", span)
                    } else {
                        flap.transitions = Int(n)
                    }
                } else if flap.transitions == 0 {
                    flap.transitions = Int(KnownSettings.flapTransitions.defaultNumber)
                }
                for (d, span) in [f.window, f.stable].compactMap({ $0 }) where d <= 0 {
                    diagnose(.flappingValue, "`flapping` durations must be positive", span)
                }
                if let w = f.window { flap.window = w.0 }
                if let s = f.stable { flap.stable = s.0 }
            case .inhibitedBy: break  // checked once every rule is known (checkInhibitions)
            }
        }
        if warnNode == nil && critNode == nil {
            diagnose(.noCondition, "rule `\(r.name)` has no `warn` or `crit` condition, so it can never fire", r.nameSpan)
        }
        if let w = warnNode, let c = critNode { checkThresholdOrder(warn: w, crit: c) }

        if diagnostics[n0...].contains(where: { $0.severity == .error }) { return nil }
        ruleLabels.append((identityLabels ?? scope.schema.map { $0.fields.filter { $0.kind == .label }.map(\.name) }).map { $0 + ["worker", "function"] })
        conditions.sort { $0.severity < $1.severity }
        var event: EventRuleSpec?
        if r.isEvent {
            event = finishEventRule(r, filter: filter, captures: captures, quiet: quiet?.0, conditions: &conditions, &scope)
            if !scope.valueFields.contains("count") { scope.valueFields.append("count") }
        }
        var valueFields: [String] = []
        valueFields.reserveCapacity(scope.valueFields.count)
        for f in scope.valueFields where !valueFields.contains(f) { valueFields.append(f) }
        // An event rule's alerts carry `worker=journal, function=events` (its source, and that it counts entries).
        return AlertRule(name: r.name, worker: r.worker, function: r.isEvent ? "events" : r.function, location: loc(r.nameSpan),
                         definition: r.definition, repeatSeconds: repeatSeconds, channels: notify.isEmpty ? defaults : notify,
                         missing: missing, mutes: mutes, identityLabels: identityLabels, flap: flap, filter: filter, conditions: conditions,
                         letNames: scope.letNames,
                         lets: scope.lets.map { $0.compiled ?? .constant(.number(.nan)) }, series: scope.series,
                         summary: summary, description: description, valueFields: valueFields, event: event)
    }

    mutating func compileLet(_ i: Int, _ scope: inout Scope, _ known: Bool) -> ExprType {
        if scope.lets[i].state == 2 { return scope.lets[i].type }
        if scope.lets[i].state == 1 {
            diagnose(.letCycle, "`let` refers to itself through a cycle", scope.lets[i].span)
            scope.lets[i].state = 2
            return .invalid
        }
        // A chain of lets is compiled (and evaluated) recursively: bound it like expression nesting.
        guard scope.letDepth < 64 else {
            diagnose(.tooDeep, "`let` values refer to each other more than 64 levels deep", scope.lets[i].span)
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
            diagnose(.expectedCondition, "`\(c.severity)` needs a condition (a comparison), not \(t.word)", c.expr.span,
                  notes: [Diagnostic.Note("for example `\(c.severity) \(c.expr.text) > 90`")])
        }
        if case .constant = fold(trigger) {
            diagnose(.constantCondition, "this condition does not depend on the data: it is always \(constantText(fold(trigger)))", c.expr.span)
        }
        var clear: CExpr?
        if let cl = c.clear {
            var clearNode: ExprNode
            switch cl {
            case .expr(let e): clearNode = e
            case .shorthand(let op, let opSpan, let rhs):
                guard case .binary(let top, let lhs, _, _) = c.expr, case .compare = Checker.binaryOp(top) else {
                    diagnose(.clearShorthand, "`clear \(op) …` needs a trigger that is one comparison (like `x > 90`); write the full condition: `clear x \(op) …`", opSpan)
                    return nil
                }
                clearNode = .binary(op, lhs, rhs, opSpan)
            }
            let (cc, ct) = compile(clearNode, &scope, known)
            if ct != .bool && ct != .invalid { diagnose(.expectedCondition, "`clear` needs a condition, not \(ct.word)", clearNode.span) }
            if case .constant(.bool(false)) = fold(cc) {
                diagnose(.clearNever, "this clear condition is never true: the alert could never resolve", clearNode.span)
            }
            checkClear(trigger: c.expr, clear: clearNode)
            clear = cc
        }
        var compiled = CompiledCondition(severity: sev, trigger: trigger, clear: clear, forSeconds: c.forDuration?.0 ?? 0)
        if let (n, m, span) = c.forCount {
            if c.forDuration != nil {
                diagnose(.evaluationCount, "`for N of M` and `for DURATION` cannot both be given; keep one", span)
            } else if n < 1 || m < n || m > 64 || n != n.rounded() || m != m.rounded() {
                diagnose(.evaluationCount, "`for N of M` needs whole numbers with 1 ≤ N ≤ M ≤ 64 (e.g. `for 3 of 5`)", span)
            } else {
                compiled.countN = Int(n)
                compiled.countM = Int(m)
            }
        }
        return compiled
    }

}

extension Checker {
    /// `inhibited by RULE on LABELS`, once every rule is compiled: the rule exists and is another one, and each `on`
    /// label is one both rules' instances can have (else the inhibition never applies). Without `on`, any firing
    /// instance of RULE inhibits every instance: a warning, as a matcher that matches everything.
    mutating func checkInhibitions(_ config: inout Configuration, declared: Set<String>) {
        var index: [String: Int] = [:]
        for (i, r) in config.rules.enumerated() where index[r.name] == nil { index[r.name] = i }
        for (file, ri, node) in inhibitions {
            currentFile = file
            let target = config.rules[ri]
            guard node.rule != target.name else {
                diagnose(.selfInhibition, "rule `\(target.name)` cannot be inhibited by itself", node.ruleSpan)
                continue
            }
            guard let si = index[node.rule] else {
                // A rule with errors of its own is declared: that error is the one to fix.
                if !declared.contains(node.rule) {
                    let (hint, fix) = suggest(node.rule, config.rules.map(\.name), node.ruleSpan)
                    diagnose(.unknownInhibitor, "`inhibited by` names no rule `\(node.rule)`\(hint)", node.ruleSpan, fixIt: fix)
                }
                continue
            }
            var labels: [String] = []
            var ok = true
            for (label, span) in node.on {
                for (who, r) in [(node.rule, si), (target.name, ri)] {
                    guard let have = ruleLabels[r], !have.contains(label) else { continue }
                    diagnose(.inhibitNeverMatches, "rule `\(who)`'s alerts have no label `\(label)`, so this inhibition never applies",
                             span, notes: [Diagnostic.Note("labels of \(who): " + (have.isEmpty ? "none" : have.joined(separator: ", ")))])
                    ok = false
                }
                if !labels.contains(label) { labels.append(label) }
            }
            if node.on.isEmpty {
                diagnose(.inhibitMatchesAll, "any firing alert of `\(node.rule)` inhibits every alert of `\(target.name)`; "
                    + "add `on LABEL` to pair them (e.g. `on mount`)", node.span)
            }
            if ok { config.rules[ri].inhibitors.append(Inhibition(rule: node.rule, labels: labels)) }
        }
    }
}
