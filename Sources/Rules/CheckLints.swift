// Lints over conditions: constant conditions, crit below warn, clear conditions that never hold or overlap.
import Reports

extension Checker {
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
            diagnose(.critBelowWarn,
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
            diagnose(.clearNever,
                  "clear condition `\(c.op) \(formatNumber(c.value))` points the same way as the trigger `\(t.op) \(formatNumber(t.value))`: it holds while the alert is breached, so the alert could not clear when the value recovers",
                  c.span, fixIt: clearFix(t, c))
        } else if up ? c.value > t.value : c.value < t.value {
            diagnose(.clearOverlaps,
                    "clear threshold \(formatNumber(c.value)) is \(up ? "above" : "below") the trigger threshold \(formatNumber(t.value)): between them the alert would flap",
                    c.span)
        }
    }

}
