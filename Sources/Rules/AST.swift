// The syntax tree of one rules/configuration file, as the parser builds it (before checking).
import Alerting

/// One parsed file. Spans in its nodes are in `file`.
public struct AST: Sendable {
    public var file: String
    public var statements: [Statement]
}

/// A top-level statement.
public enum Statement: Sendable {
    case set(SetStatement)
    case channel(ChannelStatement)
    case probe(ProbeStatement)
    case watch(WatchStatement)
    case rule(RuleStatement)
    /// A file-level `mute`: applies to every rule.
    case mute(MuteNode)
}

/// `set NAME VALUE`
public struct SetStatement: Sendable {
    public var name: String
    public var nameSpan: Span
    public var value: ValueNode
}

/// A value in `set` or a channel option.
public indirect enum ValueNode: Sendable {
    case string(String, Span)
    case number(Double, NumberUnit, Span)
    /// A bare word: `true`, `false`, `warn`…
    case word(String, Span)
    case list([ValueNode], Span)
    case file(String, Span)
    case block([(String, Span, ValueNode)], Span)

    public var span: Span {
        switch self {
        case .string(_, let s), .number(_, _, let s), .word(_, let s), .list(_, let s), .file(_, let s), .block(_, let s): return s
        }
    }
}

/// `channel NAME KIND { key value … }`
public struct ChannelStatement: Sendable {
    public var name: String
    public var nameSpan: Span
    public var kind: String
    public var kindSpan: Span
    public var options: [(String, Span, ValueNode)]
}

/// `probe NAME KIND { key value … }` (kinds and options: `ProbeKinds`).
public struct ProbeStatement: Sendable {
    public var name: String
    public var nameSpan: Span
    public var kind: String
    public var kindSpan: Span
    public var options: [(String, Span, ValueNode)]
}

/// `watch NAME KIND { key value … }` (kinds and options: `WatchKinds`).
public struct WatchStatement: Sendable {
    public var name: String
    public var nameSpan: Span
    public var kind: String
    public var kindSpan: Span
    public var options: [(String, Span, ValueNode)]
}

/// `rule NAME on WORKER.FUNCTION [by LABEL, …] [where EXPR] { items }`, or an event rule
/// `rule NAME on SOURCE ["ARG"] [by FIELD, …] [where EXPR] { items }` (`worker` holds the source, `function` is empty).
public struct RuleStatement: Sendable {
    public var name: String
    public var nameSpan: Span
    public var worker: String
    public var workerSpan: Span
    public var function: String
    public var functionSpan: Span
    /// `by a, b`: the labels that identify an alert instance (default: every string field of the row).
    public var by: [(String, Span)]
    public var filter: ExprNode?
    public var items: [RuleItem]
    /// The rule's tokens joined by single spaces: its identity across reloads (comments and layout don't count).
    public var definition: String
    /// An event rule: `on journal`, not `on WORKER.FUNCTION`.
    public var isEvent = false
    /// An event source's argument (`on file "/var/log/app.log"`), if written.
    public var sourceArgument: (String, Span)?
}

/// One statement inside a rule block.
public enum RuleItem: Sendable {
    indirect case condition(ConditionNode)
    case letBinding(name: String, span: Span, value: ExprNode)
    case repeatEvery(Double, Span)
    case notify([(String, Span)])
    case summary(String, Span)
    case description(String, Span)
    case onMissing(policy: String, policySpan: Span, after: Double?, afterSpan: Span?)
    case mute(MuteNode)
    /// `quiet DUR`: an event alert resolves after this long without a matching entry.
    case quiet(Double, Span)
    /// `flapping K in W stable S`, or `flapping off`.
    case flapping(FlapNode)
    /// `inhibited by RULE [on LABEL, …]`
    case inhibitedBy(InhibitNode)
}

/// `flapping K in W stable S` (each part optional after `flapping`, defaults from the settings) or `flapping off`.
public struct FlapNode: Sendable {
    public var span: Span
    public var off: Bool
    public var transitions: (Double, Span)?
    public var window: (Double, Span)?
    public var stable: (Double, Span)?
}

/// `inhibited by RULE [on LABEL, …]`: while a firing instance of RULE has the same values of the `on` labels, this
/// rule's instance notifies nothing.
public struct InhibitNode: Sendable {
    public var span: Span
    public var rule: String
    public var ruleSpan: Span
    public var on: [(String, Span)]
}

/// `warn|crit EXPR [for DUR | for N of M] [clear EXPR | clear OP EXPR]`
public struct ConditionNode: Sendable {
    public var severity: String
    public var span: Span
    public var expr: ExprNode
    public var forDuration: (Double, Span)?
    /// `for N of M`: the trigger held in at least N of the last M evaluations.
    public var forCount: (n: Double, m: Double, span: Span)?
    public var clear: ClearNode?
}

/// A hysteresis clear condition: a full expression, or `clear < 80` reusing the trigger's left side.
public enum ClearNode: Sendable {
    case expr(ExprNode)
    case shorthand(op: String, opSpan: Span, rhs: ExprNode)
}

/// `mute "HH:MM-HH:MM"` (daily, local time) or `mute from "RFC3339" until "RFC3339"`.
public enum MuteNode: Sendable {
    case daily(String, Span)
    case range(from: String, fromSpan: Span, until: String, untilSpan: Span)
}

/// An expression. Only the cases with operands are boxed: leaves (numbers, names) are stored in their parent.
public enum ExprNode: Sendable {
    case number(Double, NumberUnit, Span)
    case string(String, Span)
    /// `/…/`: a regular expression found anywhere in the string (only after `~`, `=~`, `!~`).
    case regex(String, Span)
    case bool(Bool, Span)
    case name(String, Span)
    /// `fn(args)`; `window 1h` arguments are parsed as the duration alone.
    indirect case call(String, Span, [ExprNode])
    indirect case unary(String, ExprNode, Span)
    indirect case binary(String, ExprNode, ExprNode, Span)

    public var span: Span {
        switch self {
        case .number(_, _, let s), .string(_, let s), .regex(_, let s), .bool(_, let s), .name(_, let s), .call(_, let s, _),
             .unary(_, _, let s), .binary(_, _, _, let s):
            return s
        }
    }

    /// Source-like text, for messages and for comparing two left-hand sides.
    public var text: String {
        switch self {
        case .number(let v, let u, _):
            let n = formatNumber(v)
            switch u {
            case .duration: return formatDuration(v)
            case .bytes: return n + "B"
            case .rate: return n + "/s"
            case .percent: return n + "%"
            case .none: return n
            }
        case .string(let s, _): return "\"" + s + "\""
        case .regex(let s, _): return "/" + s + "/"
        case .bool(let b, _): return b ? "true" : "false"
        case .name(let n, _): return n
        case .call(let f, _, let args): return f + "(" + args.map(\.text).joined(separator: ", ") + ")"
        case .unary(let op, let e, _): return op == "not" ? "not " + e.text : op + e.text
        case .binary(let op, let l, let r, _): return "(" + l.text + " " + op + " " + r.text + ")"
        }
    }
}
