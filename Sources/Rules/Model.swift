// The checked, compiled form of a rule set: what the engine evaluates.
import Alerting
import Reports

/// A checked configuration: settings, channels and compiled rules from every file loaded.
public struct Configuration: Sendable {
    public var settings: [String: ConfigValue]
    /// Declared channels in source order, plus the built-in `log` channel unless the files declare one named `log`.
    public var channels: [ChannelDeclaration]
    public var rules: [AlertRule]
    /// The files read, in order.
    public var files: [String]
    /// Channels for rules without `notify`: `set default_channels`, else `["log"]`.
    public var defaultChannels: [String]
    /// File-level `mute` windows: they silence every rule.
    public var mutes: [MuteWindow]
    /// Declared probes in source order (`probe NAME KIND { … }`).
    public var probes: [ProbeDeclaration] = []
    /// Declared watches in source order (`watch NAME KIND { … }`).
    public var watches: [WatchDeclaration] = []

    public init(settings: [String: ConfigValue] = [:], channels: [ChannelDeclaration] = [], rules: [AlertRule] = [],
                files: [String] = [], defaultChannels: [String] = ["log"], mutes: [MuteWindow] = [])
    {
        self.settings = settings
        self.channels = channels
        self.rules = rules
        self.files = files
        self.defaultChannels = defaultChannels
        self.mutes = mutes
    }

    /// Channels the user declared (without the built-in `log`).
    public var declaredChannels: [ChannelDeclaration] { channels.filter { $0.location.file != ChannelDeclaration.builtinFile } }
}

extension ChannelDeclaration {
    /// The pseudo file name of built-in declarations.
    public static let builtinFile = "<builtin>"
}

/// What to do with an alert instance whose row is missing from its function's data.
public struct MissingPolicy: Sendable, Equatable {
    /// The policy chosen with `on_missing`.
    public enum Action: String, Sendable, Equatable {
        /// Keep the last state (a firing alert stays firing) until the row comes back.
        case keep
        /// Resolve (and forget) the instance after `after` evaluations without its row. The default.
        case resolve
        /// Fire (at warn) after `after` evaluations without the row: "this should exist".
        case alert
    }
    public var action: Action
    /// Consecutive evaluations with fresh data but without the row before acting.
    public var after: Int

    public static let `default` = MissingPolicy(action: .resolve, after: 3)
}

/// A silence: notifications are held back while it is active (states are still tracked).
public enum MuteWindow: Sendable, Equatable {
    /// Every day from `startMinute` to `endMinute` (minutes after local midnight, 0–1440; may wrap past midnight).
    case daily(startMinute: Int, endMinute: Int)
    /// From one instant until another.
    case range(from: Timestamp, until: Timestamp)

    /// Whether the silence covers `now` (daily windows use `now`'s own UTC offset as local time).
    public func isActive(at now: Timestamp) -> Bool {
        switch self {
        case .range(let from, let until): return now >= from && now < until
        case .daily(let s, let e):
            let local = now.microseconds / 1_000_000 + Int64(now.utcOffsetSeconds)
            var secOfDay = local % 86400
            if secOfDay < 0 { secOfDay += 86400 }
            let m = Int(secOfDay / 60)
            return s <= e ? (m >= s && m < e) : (m >= s || m < e)
        }
    }
}

/// A value during evaluation. `nil` (no value at all) means "no data".
enum Value: Sendable, Equatable {
    case number(Double)
    case string(String)
    case bool(Bool)
}

enum ArithOp: Sendable { case add, sub, mul, div }
enum CompareOp: String, Sendable { case lt = "<", le = "<=", gt = ">", ge = ">=", eq = "==", ne = "!=" }

/// A compiled expression: names are resolved to fields, `let` slots or history series.
/// Only the cases with operands are boxed: constants and field names are stored in their parent.
enum CExpr: Sendable {
    case constant(Value)
    /// A field of the row, and where the schema declares it: rows mostly list their fields in that order, so the
    /// evaluator looks there first and scans the row only when the name is elsewhere (-1: no schema position).
    /// A row's keys are unique (`JSONObject`'s setter replaces; `append` is for callers with unique keys), so the
    /// entry found at the hint is the one the scan would find.
    case field(String, hint: Int)
    case letRef(Int)
    case series(Int)
    indirect case neg(CExpr)
    indirect case not(CExpr)
    indirect case abs(CExpr)
    indirect case arith(ArithOp, CExpr, CExpr)
    indirect case compare(CompareOp, CExpr, CExpr)
    indirect case and(CExpr, CExpr)
    indirect case or(CExpr, CExpr)
    indirect case match(CExpr, Pattern, negated: Bool)
}

/// What a history series computes from its samples.
enum SeriesKind: String, Sendable {
    case rate, delta, avg, min, max, sum, count
    /// Sum of the counter's rises over the window (a reset counts from zero, never as a drop).
    case increase
    /// Seconds until the value reaches `limit` on a least-squares line over the window (+inf if never).
    case timeTo = "time_to"
    /// Event rules: matching entries in the window (`count(5m)`), per second (`rate(5m)`), and seconds since the
    /// instance's last matching entry (the `quiet` test). The engine computes them from the instance's event track.
    case events, eventRate = "event_rate", sinceLast = "since_last"
}

/// The parts of an event rule (`rule X on journal …`) beyond what row rules have.
public struct EventRuleSpec: Sendable {
    /// The source after `on`, and its argument if it takes one.
    public var source: String
    public var argument: String?
    /// Where the argument is written (check-rules points there when no such file exists).
    public var argumentLocation: SourceLocation?
    /// The argument as a glob: the entries of the source it takes (`on file "/var/log/app/*.log"`: those of the files it
    /// names). Nil for a source without an argument.
    var argumentGlob: Pattern?
    /// Patterns with named groups in the filter's top-level `and` chain: after the filter passes, their groups
    /// become the instance's labels.
    var captures: [(field: String, pattern: Pattern)]
    /// An alert resolves after this long without a matching entry.
    public var quiet: Double
    /// The longest count()/rate() window: how much of the track is kept.
    var longest: Double
    /// What the journal library can filter before shd sees an entry: journal field → accepted values (fields ANDed,
    /// values ORed). Empty: every entry of the source can match (the rule's filter decides).
    public var journalMatches: [(field: String, values: [String])]
}

/// One history series a rule needs: the input sampled each fresh evaluation, kept for `window` seconds.
struct SeriesSpec: Sendable {
    var input: CExpr
    var kind: SeriesKind
    var window: Double
    var limit: CExpr?
}

/// A compiled `warn`/`crit` line.
struct CompiledCondition: Sendable {
    var severity: Severity
    var trigger: CExpr
    /// Hysteresis: while breached, the condition holds until this is true. nil: until the trigger is false.
    var clear: CExpr?
    var forSeconds: Double
    /// `for N of M`: fires when the trigger held in at least `countN` of the last `countM` fresh evaluations, ends
    /// when fewer do (or, with `clear`, when it is true). 0: a `for` duration (or none).
    var countN = 0
    var countM = 0
}

/// When an instance flaps: `transitions` starts and ends within `window` seconds make it flapping; it is then held
/// firing until its condition has not changed for `stable` seconds. `transitions` 0: never.
public struct FlapPolicy: Sendable, Equatable {
    public var transitions: Int
    public var window: Double
    public var stable: Double

    public static let off = FlapPolicy(transitions: 0, window: 0, stable: 0)
}

/// `inhibited by RULE on LABELS`: while an instance of `rule` fires with the same values of `labels` (none: any
/// instance), this rule's instance notifies nothing.
public struct Inhibition: Sendable, Equatable {
    public var rule: String
    public var labels: [String]
}

/// A templated string: literal text and `{name|filter:arg}` references.
struct Template: Sendable {
    enum Part: Sendable {
        case text(String)
        case ref(name: String, filter: String?, arg: Int?)
    }
    var parts: [Part]
}

/// One checked rule, ready to evaluate.
public struct AlertRule: Sendable {
    public var name: String
    public var worker: String
    public var function: String
    public var location: SourceLocation
    /// The rule's tokens: two rules with the same name and definition are the same rule across a reload.
    public var definition: String
    public var repeatSeconds: Double?
    /// Channels, already resolved against the default channels.
    public var channels: [String]
    public var missing: MissingPolicy
    public var mutes: [MuteWindow]
    /// `by …`: the labels that identify an instance; nil means every string field of the row.
    public var identityLabels: [String]?
    public var flap: FlapPolicy = .off
    public var inhibitors: [Inhibition] = []

    var filter: CExpr?
    /// Sorted by severity, warn first.
    var conditions: [CompiledCondition]
    var letNames: [String]
    var lets: [CExpr]
    var series: [SeriesSpec]
    var summary: Template?
    var description: Template?
    /// Numeric fields the rule reads: reported in alert values.
    var valueFields: [String]
    /// Set for an event rule: its source, captures, quiet period and library filter.
    public var event: EventRuleSpec?

    /// FNV-1a of the definition, stored in state.json to match rules on restore.
    public var identity: String { fnv1a(name + "\u{0}" + definition) }
}

/// 64-bit FNV-1a of the text as 16 hex digits: a short, stable fingerprint for state.json.
func fnv1a(_ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
