// The plain thresholds a rule's conditions need, for kernel-side triggers (PSI) that wake shd early.

/// `FIELD > VALUE` (or `>=`), a level a rule's condition cannot be true below, and the label
/// equalities of its `where` (`kind == "full"`).
public struct FieldThreshold: Equatable, Sendable {
    public var field: String
    public var value: Double
    public var labels: [String: String]

    public init(field: String, value: Double, labels: [String: String] = [:]) {
        self.field = field
        self.value = value
        self.labels = labels
    }
}

extension AlertRule {
    /// For each `warn`/`crit` line whose trigger needs a field above a constant (the comparison
    /// alone, or one side of an `and`), that threshold; lines that could be true without one (an
    /// `or`, a `let`, a series, a comparison of two fields) give none. The kernel may use them to
    /// wake shd when a field may have crossed; the rule's own condition still decides.
    public var risingThresholds: [FieldThreshold] {
        var labels: [String: String] = [:]
        if let f = filter { Self.equalities(f, into: &labels) }
        var out: [FieldThreshold] = []
        for c in conditions {
            var found: [(String, Double)] = []
            Self.necessary(c.trigger, into: &found)
            for (field, v) in found {
                let t = FieldThreshold(field: field, value: v, labels: labels)
                if !out.contains(t) { out.append(t) }
            }
        }
        return out
    }

    private static func equalities(_ e: CExpr, into labels: inout [String: String]) {
        switch e {
        case .and(let a, let b):
            equalities(a, into: &labels)
            equalities(b, into: &labels)
        case .compare(.eq, .field(let f, _), .constant(.string(let s))), .compare(.eq, .constant(.string(let s)), .field(let f, _)):
            labels[f] = s
        default: break
        }
    }

    private static func necessary(_ e: CExpr, into out: inout [(String, Double)]) {
        switch e {
        case .and(let a, let b):
            necessary(a, into: &out)
            necessary(b, into: &out)
        case .compare(.gt, .field(let f, _), .constant(.number(let v))), .compare(.ge, .field(let f, _), .constant(.number(let v))),
             .compare(.lt, .constant(.number(let v)), .field(let f, _)), .compare(.le, .constant(.number(let v)), .field(let f, _)):
            out.append((f, v))
        default: break
        }
    }
}
