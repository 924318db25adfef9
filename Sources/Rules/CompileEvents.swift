// Event rules in the checker: the source after `on`, named captures, count()/rate() windows, `quiet`, and the
// journal matches the library can filter with. Everything else (filters, templates, routing) is the row rules' code.
import Alerting
import Reports

extension Checker {
    /// `on journal`: the source's fields (and the statistics templates may use) become the rule's schema.
    mutating func resolveEventSource(_ r: RuleStatement, _ scope: inout Scope) {
        scope.isEvent = true
        guard let source = EventSources.named(r.worker) else {
            let (hint, fix) = suggest(r.worker, EventSources.all.map(\.name), r.workerSpan)
            var notes = [Diagnostic.Note("event sources: " + EventSources.all.map(\.name).joined(separator: ", "))]
            if catalog.worker(r.worker) != nil {
                notes.append(Diagnostic.Note("`\(r.worker)` is a worker: a row rule names one of its functions, `on \(r.worker).FUNCTION`"))
            }
            diagnose(.unknownEventSource, "unknown event source `\(r.worker)`\(hint)", r.workerSpan, notes: notes, fixIt: fix)
            return
        }
        if let arg = r.sourceArgument, source.argument == nil {
            diagnose(.eventRuleItem, "the `\(source.name)` source takes no argument", arg.1)
        } else if r.sourceArgument == nil, let what = source.argument {
            diagnose(.eventRuleItem, "the `\(source.name)` source needs \(what) after its name", r.workerSpan)
        } else if source.name == "file", let arg = r.sourceArgument, FilePathPattern(arg.0) == nil {
            diagnose(.eventRuleItem, "`\(arg.0)` is not a file path shd can follow: write an absolute path, with wildcards only in the file name (`/var/log/app/*.log`)", arg.1)
        }
        var schema = source.schema
        schema.fields += EventSources.statistics
        scope.schema = schema
        for (k, f) in schema.fields.enumerated() where scope.fields[f.name] == nil { scope.fields[f.name] = FieldRef(index: k, kind: f.kind) }
    }

    /// Patterns with named groups in the filter. Their groups become labels, so they must decide alone whether an
    /// entry passes: links of the top-level `and` chain, not negated, not under `or` or `not`.
    mutating func eventCaptures(_ filter: CExpr, isEvent: Bool, span: Span) -> [(field: String, pattern: Pattern)] {
        var out: [(field: String, pattern: Pattern)] = []
        var names: Set<String> = []
        func chain(_ e: CExpr) {
            switch e {
            case .and(let a, let b): chain(a); chain(b)
            case .match(.field(let f, _), let p, negated: false) where !p.groupNames.isEmpty:
                out.append((f, p))
            default: nested(e)
            }
        }
        func nested(_ e: CExpr) {
            switch e {
            case .match(_, let p, _) where !p.groupNames.isEmpty:
                diagnose(.badCapture, "the named groups of /\(p.source)/ cannot become labels here: a capturing match must be one of the conditions joined by `and`, not negated or under `or`/`not`", span)
            case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .arith(_, let a, let b): nested(a); nested(b)
            case .not(let a), .neg(let a), .abs(let a): nested(a)
            default: break
            }
        }
        chain(filter)
        if !isEvent {
            if let first = out.first {
                diagnose(.badCapture, "named groups (in /\(first.pattern.source)/) become labels only in event rules (`rule X on journal …`); use `(…)` or `(?:…)` here", span)
            }
            return []
        }
        for c in out {
            for n in c.pattern.groupNames {
                if !names.insert(n).inserted {
                    diagnose(.badCapture, "the group name `\(n)` is captured twice in the filter", span)
                } else if EventSources.statistics.contains(where: { $0.name == n }) || ["rule", "severity", "worker", "function"].contains(n) {
                    diagnose(.badCapture, "the group name `\(n)` is reserved (a template name); pick another", span)
                }
            }
        }
        return out
    }

    /// `for` and `clear` have no meaning for entries: a window says how many, `quiet` when it is over.
    mutating func checkEventCondition(_ c: ConditionNode) {
        if let f = c.forDuration {
            diagnose(.eventRuleItem, "event rules count entries over a window instead of `for`: write `\(c.severity) count(\(formatDuration(f.0))) >= N`", f.1)
        }
        if c.clear != nil {
            diagnose(.eventRuleItem, "an event alert resolves after its `quiet` period (`quiet 30m`), not with `clear`", c.span)
        }
    }

    /// `count(5m)`, `rate(5m)` (`window` optional): matching entries of the instance in the window, per second for rate.
    mutating func compileEventCall(_ name: String, _ span: Span, _ args: [ExprNode], _ scope: inout Scope) -> (CExpr, ExprType) {
        guard name == "count" || name == "rate" else {
            diagnose(.unknownFunctionCall, "event rules count entries: `count(5m)` or `rate(5m)`; `\(name)()` reads rows", span)
            return (.constant(.number(0)), .invalid)
        }
        if scope.inFilter {
            diagnose(.historyInWhere, "`where` picks entries one by one; `\(name)()` counts them: use it in `warn`/`crit`", span)
            return (.constant(.number(0)), .invalid)
        }
        guard args.count == 1 else {
            diagnose(.wrongArguments, "`\(name)` takes one window: `\(name)(5m)`", span)
            return (.constant(.number(0)), .invalid)
        }
        guard case .number(let w, .duration, let wspan) = args[0] else {
            diagnose(.eventWindow, "the window of `\(name)` must be a duration like `5m`", args[0].span)
            return (.constant(.number(0)), .invalid)
        }
        guard w >= 1, w <= 86400 else {
            diagnose(.eventWindow, "the window of `\(name)` must be between 1s and 1d (entries are counted in buckets of 1/120 of it)", wspan)
            return (.constant(.number(0)), .invalid)
        }
        scope.series.append(SeriesSpec(input: .constant(.number(0)), kind: name == "count" ? .events : .eventRate, window: w, limit: nil))
        return (.series(scope.series.count - 1), .number)
    }

    /// The quiet test becomes each condition's `clear`; the library matches come from the filter's equalities.
    mutating func finishEventRule(_ r: RuleStatement, filter: CExpr?, captures: [(field: String, pattern: Pattern)], quiet: Double?,
                                  conditions: inout [CompiledCondition], _ scope: inout Scope) -> EventRuleSpec
    {
        let windows = scope.series.filter { $0.kind == .events || $0.kind == .eventRate }.map(\.window)
        let longest = windows.max() ?? 0
        let q = quiet ?? max(longest, 60)
        scope.series.append(SeriesSpec(input: .constant(.number(0)), kind: .sinceLast, window: 0, limit: nil))
        let quietTest = CExpr.compare(.ge, .series(scope.series.count - 1), .constant(.number(q)))
        for i in conditions.indices { conditions[i].clear = quietTest }
        return EventRuleSpec(source: r.worker, argument: r.sourceArgument?.0, argumentLocation: r.sourceArgument.map { loc($0.1) },
                             argumentGlob: r.sourceArgument.map { Pattern.glob($0.0) }, captures: captures, quiet: q, longest: max(longest, 1),
                             journalMatches: r.worker == "journal" ? filter.map(Checker.journalMatches) ?? [] : [])
    }

    /// Field equalities of the filter's `and` chain, as journal matches: `transport == "kernel"` → `_TRANSPORT=kernel`,
    /// `priority <= 3` → `PRIORITY=0…3`. Only what the filter requires; the filter still runs on every entry.
    static func journalMatches(_ filter: CExpr) -> [(field: String, values: [String])] {
        var out: [(field: String, values: [String])] = []
        func add(_ field: String, _ values: [String]) {
            guard let j = EventSources.journalName(of: field) else { return }
            if let i = out.firstIndex(where: { $0.field == j }) {
                out[i].values = out[i].values.filter(values.contains)
            } else {
                out.append((j, values))
            }
        }
        func chain(_ e: CExpr) {
            switch e {
            case .and(let a, let b): chain(a); chain(b)
            case .compare(.eq, .field(let f, _), .constant(.string(let v))), .compare(.eq, .constant(.string(let v)), .field(let f, _)):
                add(f, [v])
            case .compare(let op, .field("priority", _), .constant(.number(let n))) where n == n.rounded():
                let levels = (0...7).filter { l in
                    let d = Double(l)
                    switch op {
                    case .lt: return d < n
                    case .le: return d <= n
                    case .eq: return d == n
                    case .gt: return d > n
                    case .ge: return d >= n
                    case .ne: return d != n
                    }
                }
                add("priority", levels.map(String.init))
            default: break
            }
        }
        chain(filter)
        return out
    }
}
