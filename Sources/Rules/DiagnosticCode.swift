// The diagnostic catalog: every problem the loader, lexer, parser, checker and rule-test runner report, with its
// printed id (stable: `--format json|github` and docs/rules.md key on it) and severity. Several codes may share an
// id (`bad-value` covers most value checks); DiagnosticCatalogTests keeps docs/rules.md's table equal to this list.
import Alerting
public enum DiagnosticCode: Sendable, Equatable, Hashable, CaseIterable {
    // Files
    case ioError, fileBinary, fileEncoding, fileTooLarge
    // Lexical
    case unexpectedCharacter, unterminatedString, badEscape, badNumber, unknownUnit
    // Syntax
    case expectedStatement, expectedToken, expectedName, expectedValue, expectedString, expectedExpression
    case expectedDuration, expectedNumber, chainedComparison, tooDeep
    // Settings and option values
    case unknownSetting, settingOverridden
    /// `bad-value`: a value of the wrong type for its setting or option.
    case valueWrongType
    /// `bad-value`: a word outside the option's choices (`log_level`, `min_severity`, `tls`).
    case valueNotOneOf
    /// `bad-value`: a setting's duration of 0 or less.
    case durationNotPositive
    /// `bad-value`: an exec channel's empty `command`.
    case commandEmpty
    /// `bad-value`: a `url` that is not http(s).
    case urlScheme
    /// `bad-value`: an empty or repeating `urls` list, or `url` and `urls` together.
    case urlList
    /// `bad-value`: an smtp `server` that is not smtp:// or smtps://.
    case smtpServerScheme
    /// `bad-value`: an `http_listen` that is neither HOST:PORT nor an absolute Unix socket path.
    case listenAddress
    /// `bad-value`: `repeat` of 0 or less.
    case repeatNotPositive
    /// `bad-value`: an `on_missing` policy other than keep, resolve or alert.
    case onMissingPolicy
    /// `bad-value`: `on_missing … after N` that is not a whole number ≥ 1.
    case missingAfterCount
    /// `bad-value`: `for N of M` with N < 1, M < N, M > 64, or beside `for DURATION`.
    case evaluationCount
    /// `bad-value`: `flapping` with fewer than 2 transitions, or a window or stable time of 0.
    case flappingValue
    /// `bad-value`: a setting's number outside its range (`history_max_size`, `flap_transitions`, `top_processes`).
    case valueOutOfRange
    // Channels
    case unknownChannelKind, unknownChannelOption, missingChannelOption, duplicateChannel, duplicateOption, secretInline
    // Probes
    case unknownProbeKind, unknownProbeOption, missingProbeOption, duplicateProbe
    /// `bad-value`: a probe's `address`, URL scheme or `expect_status` it cannot use.
    case probeValue
    /// A header that looks like a credential sent over plain-text HTTP.
    case secretPlaintext
    // Watches
    case unknownWatchKind, unknownWatchOption, missingWatchOption, duplicateWatch
    /// `bad-value`: a watch's path that is not absolute, a unit or command name that cannot be one, two selectors.
    case watchValue
    // Names against the catalog and the language
    case unknownWorker, unknownFunction, unknownField, unknownChannel, unknownFunctionCall, wrongArguments
    // Rule structure
    case duplicateRule, duplicateCondition, duplicateLet, letShadowsField, letCycle, noCondition
    // Types and values
    case typeMismatch, expectedCondition, divisionByZero, historyInWhere, badRegex, badTemplate, badMute
    // Probably not what was meant
    case unitMismatch, rawCounter, rateOfGauge, constantCondition
    /// `identity-changes`: a rule without `by` on a function whose rows carry labels that change with the state they
    /// report (FunctionSchema.key): each change would end the alert and start another.
    case identityChanges
    // Contradictions
    case critBelowWarn, clearNever, clearShorthand, clearOverlaps
    // Inhibition (`inhibited by`)
    case unknownInhibitor, selfInhibition, inhibitNeverMatches, inhibitMatchesAll
    // Commands
    case emptyRuleSet, badTest
    // Event rules (`rule X on journal …`)
    /// `unknown-event-source`: `on NAME` without a dot names no event source.
    case unknownEventSource
    /// `event-rule`: a statement or option that row rules have and event rules don't (or the reverse: `quiet`).
    case eventRuleItem
    /// `bad-window`: a count()/rate() or `quiet` window that is not a positive duration of at most a day (a week for quiet).
    case eventWindow
    /// `bad-capture`: a named group whose value could not become a label (under `or`/`not`, or in a row rule).
    case badCapture
    /// `no-such-file`: `shd check-rules` found no file at a `file` rule's path (the daemon waits for it).
    case noSuchFile

    /// The printed id.
    public var id: String {
        switch self {
        case .ioError: return "io-error"
        case .fileBinary: return "file-binary"
        case .fileEncoding: return "file-encoding"
        case .fileTooLarge: return "file-too-large"
        case .unexpectedCharacter: return "unexpected-character"
        case .unterminatedString: return "unterminated-string"
        case .badEscape: return "bad-escape"
        case .badNumber: return "bad-number"
        case .unknownUnit: return "unknown-unit"
        case .expectedStatement: return "expected-statement"
        case .expectedToken: return "expected-token"
        case .expectedName: return "expected-name"
        case .expectedValue: return "expected-value"
        case .expectedString: return "expected-string"
        case .expectedExpression: return "expected-expression"
        case .expectedDuration: return "expected-duration"
        case .expectedNumber: return "expected-number"
        case .chainedComparison: return "chained-comparison"
        case .tooDeep: return "too-deep"
        case .unknownSetting: return "unknown-setting"
        case .settingOverridden: return "setting-overridden"
        case .valueWrongType, .valueNotOneOf, .durationNotPositive, .commandEmpty, .urlScheme, .urlList, .smtpServerScheme, .listenAddress,
             .repeatNotPositive, .onMissingPolicy, .missingAfterCount, .probeValue, .watchValue, .evaluationCount, .flappingValue,
             .valueOutOfRange:
            return "bad-value"
        case .unknownChannelKind: return "unknown-channel-kind"
        case .unknownChannelOption: return "unknown-channel-option"
        case .missingChannelOption: return "missing-channel-option"
        case .duplicateChannel: return "duplicate-channel"
        case .duplicateOption: return "duplicate-option"
        case .secretInline: return "secret-inline"
        case .unknownProbeKind: return "unknown-probe-kind"
        case .unknownProbeOption: return "unknown-probe-option"
        case .missingProbeOption: return "missing-probe-option"
        case .duplicateProbe: return "duplicate-probe"
        case .secretPlaintext: return "secret-plaintext"
        case .unknownWatchKind: return "unknown-watch-kind"
        case .unknownWatchOption: return "unknown-watch-option"
        case .missingWatchOption: return "missing-watch-option"
        case .duplicateWatch: return "duplicate-watch"
        case .unknownWorker: return "unknown-worker"
        case .unknownFunction: return "unknown-function"
        case .unknownField: return "unknown-field"
        case .unknownChannel: return "unknown-channel"
        case .unknownFunctionCall: return "unknown-function-call"
        case .wrongArguments: return "wrong-arguments"
        case .duplicateRule: return "duplicate-rule"
        case .duplicateCondition: return "duplicate-condition"
        case .duplicateLet: return "duplicate-let"
        case .letShadowsField: return "let-shadows-field"
        case .letCycle: return "let-cycle"
        case .noCondition: return "no-condition"
        case .typeMismatch: return "type-mismatch"
        case .expectedCondition: return "expected-condition"
        case .divisionByZero: return "division-by-zero"
        case .historyInWhere: return "history-in-where"
        case .badRegex: return "bad-regex"
        case .badTemplate: return "bad-template"
        case .badMute: return "bad-mute"
        case .unitMismatch: return "unit-mismatch"
        case .rawCounter: return "raw-counter"
        case .rateOfGauge: return "rate-of-gauge"
        case .constantCondition: return "constant-condition"
        case .identityChanges: return "identity-changes"
        case .critBelowWarn: return "crit-below-warn"
        case .clearNever: return "clear-never"
        case .clearShorthand: return "clear-shorthand"
        case .clearOverlaps: return "clear-overlaps"
        case .unknownInhibitor: return "unknown-inhibitor"
        case .selfInhibition: return "self-inhibition"
        case .inhibitNeverMatches: return "inhibit-never-matches"
        case .inhibitMatchesAll: return "inhibit-matches-all"
        case .emptyRuleSet: return "empty-rule-set"
        case .badTest: return "bad-test"
        case .unknownEventSource: return "unknown-event-source"
        case .eventRuleItem: return "event-rule"
        case .eventWindow: return "bad-window"
        case .badCapture: return "bad-capture"
        case .noSuchFile: return "no-such-file"
        }
    }

    /// The severity it is reported with (`empty-rule-set` is an error under `--strict`).
    public var severity: Diagnostic.Severity {
        switch self {
        case .settingOverridden, .duplicateOption, .secretInline, .secretPlaintext, .unitMismatch, .rawCounter, .rateOfGauge,
             .constantCondition, .identityChanges, .clearOverlaps, .inhibitMatchesAll, .emptyRuleSet, .noSuchFile:
            return .warning
        default: return .error
        }
    }
}
