// Expression type checking: names, operators and history functions, compiled into `CExpr`.
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

extension Checker {
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
        case .regex(let s, let span):
            diagnose(.typeMismatch, "a `/regex/` goes after `~`, `=~` or `!~` (`message =~ /\(s)/`)", span)
            return (.constant(.string(s)), .invalid)
        case .bool(let b, _): return (.constant(.bool(b)), .bool)
        case .name(let n, let span):
            if let i = scope.letIndex(n) {
                let t = compileLet(i, &scope, known)
                // A let that refers to a let needing history needs it too, whichever was compiled first.
                if scope.lets[i].usesSeries { scope.seriesLetRefs += 1 }
                if scope.inFilter && scope.lets[i].usesSeries {
                    diagnose(.historyInWhere, "`where` picks rows by their current values; `\(n)` needs history (rate, delta or a window): use it in `warn`/`crit`", span)
                }
                return (.letRef(i), t)
            }
            guard known, let schema = scope.schema else { return (.field(n, hint: -1), .invalid) }
            guard let f = scope.field(n) else {
                let candidates = schema.fields.map(\.name) + scope.letNames
                let (hint, fix) = suggest(n, candidates, span)
                diagnose(.unknownField, "unknown field `\(n)` in \(schemaPath(scope))\(hint)", span,
                      notes: hint.isEmpty ? [Diagnostic.Note("fields: " + schema.fields.map(\.name).joined(separator: ", "))] : [], fixIt: fix)
                return (.field(n, hint: -1), .invalid)
            }
            if scope.isEvent && scope.inFilter && EventSources.statistics.contains(where: { $0.name == n }) {
                diagnose(.eventRuleItem, "`\(n)` is known once entries match: use it in templates, and `count(5m)` or `rate(5m)` in `warn`/`crit`", span)
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
                    diagnose(.rawCounter, "`\(n)` is a counter that only grows; compare its `rate(\(n))` or `delta(\(n))`", span,
                            fixIt: Diagnostic.FixIt("use rate()", location: loc(span), length: span.length, replacement: "rate(\(n))"))
                }
                return (.field(n, hint: f.index), .number)
            }
        case .unary(let op, let x, let span):
            let (c, t) = compile(x, &scope, known)
            if op == "not" {
                if t != .bool && t != .invalid { diagnose(.typeMismatch, "`not` needs true/false, not \(t.word)", span) }
                return (.not(c), .bool)
            }
            if t != .number && t != .invalid { diagnose(.typeMismatch, "`-` needs a number, not \(t.word)", span) }
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
            if lt != .string && lt != .invalid { diagnose(.typeMismatch, "`\(op)` matches strings; the left side is \(lt.word)", l.span) }
            if case .regex(let pat, let pspan) = r {
                // `/…/`: a regular expression found anywhere in the string, whichever match operator is written.
                do throws(Pattern.SyntaxError) {
                    return (.match(lc, try Pattern.regexSearch(pat), negated: kind == .notGlob), .bool)
                } catch {
                    var at = loc(pspan)
                    at.column += 1 + error.offset
                    diagnostics.append(Diagnostic(.badRegex, "invalid regular expression: \(error.message)", at: at))
                    return (.constant(.bool(false)), .invalid)
                }
            }
            guard case .string(let pat, let pspan) = r else {
                diagnose(.expectedString, "the pattern after `\(op)` must be a quoted string or a `/regex/`", r.span)
                return (.constant(.bool(false)), .invalid)
            }
            if kind == .regex {
                do throws(Pattern.SyntaxError) {
                    return (.match(lc, try Pattern.regex(pat), negated: false), .bool)
                } catch {
                    var at = loc(pspan)
                    at.column += 1 + error.offset
                    diagnostics.append(Diagnostic(.badRegex, "invalid regular expression: \(error.message)", at: at))
                    return (.constant(.bool(false)), .invalid)
                }
            }
            return (.match(lc, Pattern.glob(pat), negated: kind == .notGlob), .bool)
        }
        let (lc, lt) = compile(l, &scope, known)
        let (rc, rt) = compile(r, &scope, known)
        switch kind {
        case .and, .or:
            if lt != .bool && lt != .invalid { diagnose(.typeMismatch, "`\(op)` joins conditions; this side is \(lt.word)", l.span) }
            if rt != .bool && rt != .invalid { diagnose(.typeMismatch, "`\(op)` joins conditions; this side is \(rt.word)", r.span) }
            return (kind == .and ? .and(lc, rc) : .or(lc, rc), .bool)
        case .add, .sub, .mul, .div:
            if lt != .number && lt != .invalid { diagnose(.typeMismatch, "`\(op)` needs numbers; this side is \(lt.word)", l.span) }
            if rt != .number && rt != .invalid { diagnose(.typeMismatch, "`\(op)` needs numbers; this side is \(rt.word)", r.span) }
            if kind == .div, case .number(0, _, let zs) = r { diagnose(.divisionByZero, "division by zero", zs) }
            let a: ArithOp = kind == .add ? .add : kind == .sub ? .sub : kind == .mul ? .mul : .div
            return (.arith(a, lc, rc), .number)
        default:
            guard case .compare(let cmp) = kind else { preconditionFailure("unknown operator \(op)") }
            if lt != .invalid && rt != .invalid && lt != rt {
                let hint = lt == .string || rt == .string ? " (string fields are labels: compare them with == \"…\", ~ \"glob\" or =~ \"regex\")" : ""
                diagnose(.typeMismatch, "cannot compare \(lt.word) with \(rt.word) using `\(op)`\(hint)", span)
            } else if (lt == .string || lt == .bool) && cmp != .eq && cmp != .ne {
                diagnose(.typeMismatch, "`\(op)` orders numbers; \(lt.word) can only be compared with == or !=", span)
            }
            if let lu = unit(of: l, scope), let ru = unit(of: r, scope), lu != ru {
                diagnose(.unitMismatch, "compares \(lu) with \(ru)", span)
            }
            return (.compare(cmp, lc, rc), .bool)
        }
    }

    mutating func compileCall(_ name: String, _ span: Span, _ args: [ExprNode], _ scope: inout Scope, _ known: Bool) -> (CExpr, ExprType) {
        let functions = Checker.functions
        func arity(_ n: Int, _ usage: String) -> Bool {
            if args.count != n {
                diagnose(.wrongArguments, "`\(name)` takes \(n) argument\(n == 1 ? "" : "s"): \(usage)", span)
                return false
            }
            return true
        }
        func window(_ e: ExprNode) -> Double? {
            if case .number(let v, .duration, _) = e, v > 0 { return v }
            diagnose(.expectedDuration, "the window of `\(name)` must be a positive duration like `5m` or `window 1h`", e.span)
            return nil
        }
        func numeric(_ e: ExprNode, _ scope: inout Scope) -> CExpr {
            let (c, t) = compile(e, &scope, known)
            if t != .number && t != .invalid { diagnose(.typeMismatch, "`\(name)` needs a number, not \(t.word)", e.span) }
            return c
        }
        if scope.isEvent && (name == "count" || name == "rate" || (functions.contains(name) && name != "abs")) {
            return compileEventCall(name, span, args, &scope)
        }
        if scope.inFilter && functions.contains(name) && name != "abs" {
            diagnose(.historyInWhere, "`where` picks rows by their current values; `\(name)()` needs history: use it in `warn`/`crit`", span)
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
                diagnose(.rateOfGauge, "`\(name)()` of a value that is not a counter (`_total` field): it measures how fast a gauge moves", args[0].span)
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
                diagnose(.rateOfGauge, "`increase()` of a value that is not a counter (`_total` field)", args[0].span)
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
            diagnose(.unknownFunctionCall, "unknown function `\(name)()`\(hint)", span,
                  notes: hint.isEmpty ? [Diagnostic.Note("functions: " + functions.joined(separator: ", "))] : [], fixIt: fix)
            return (.constant(.number(0)), .invalid)
        }
    }

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
}
