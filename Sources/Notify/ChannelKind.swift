// What a channel kind is (one type: its options, its message, its request, what an answer means) and the one table of kinds.
import Kit
import Alerting
import Reports

/// Every channel kind Notify can deliver to. Adding a kind is writing one type that conforms to `ChannelKind`
/// and listing it here; the Dispatcher (spool, queue, backoff, rate limit, shutdown) knows none by name.
/// The checker's table of each kind's options is `ChannelKinds.kinds` in Alerting (the module below Notify and Rules);
/// `ChannelRegistryTests` keeps the two lists of names equal.
enum ChannelRegistry {
    static let kinds: [any ChannelKind.Type] = [
        LogChannel.self, WebhookChannel.self, SlackChannel.self, SMTPChannel.self, AlertmanagerChannel.self, ExecChannel.self,
    ]

    static func kind(named name: String) -> (any ChannelKind.Type)? { kinds.first { $0.name == name } }

    /// The channel every configuration has unless it declares one of that name: `log`, of kind log, the default
    /// route (`set default_channels`).
    static let builtIn = ChannelDeclaration(name: "log", kind: LogChannel.name, options: [],
                                            location: SourceLocation(file: "<built-in>", line: 0, column: 0))
}

/// One channel kind: decodes its own options, builds one attempt for a message, and says what the answer means.
protocol ChannelKind: Sendable {
    /// The name written in `channel NAME KIND { … }`.
    static var name: String { get }
    /// How many spool entries of one enqueue call may travel in one message.
    static var maxBatch: Int { get }
    /// Delivers through libcurl, which is loaded only when a configured channel needs it.
    static var usesCurl: Bool { get }
    /// False for a kind that delivers at enqueue time (`deliverNow`) and keeps no spool entry.
    static var spools: Bool { get }

    /// Reads this kind's own options (the common ones are read by `ChannelConfig`). Secrets found on the way are
    /// recorded in `options.secrets` so log lines can be scrubbed.
    init(decoding options: ChannelOptions) throws(NotifyError)

    /// What log lines say about the destination: host (and port) only, or the program for exec.
    var target: String { get }

    /// For a kind that does not spool: the log line written for an event at enqueue time.
    func deliverNow(_ event: AlertEvent, host: String, channel: String) -> (LogLevel, String)?

    /// The one attempt that carries `alerts` (at most `maxBatch`, oldest first).
    func request(_ alerts: [OutgoingAlert], _ message: MessageContext, _ config: ChannelConfig) -> ChannelRequest

    /// What the answer to an attempt means: delivered, retry (with the server's Retry-After) or drop.
    func classify(_ answer: AttemptAnswer, _ config: ChannelConfig) -> Verdict

    /// How often the currently firing alerts are posted again outside the spool (Alertmanager forgets an alert it
    /// is not told about); nil: never.
    var resendInterval: Double? { get }

    /// The re-send of `firing` (`resendInterval`); not spooled, the next one replaces a lost one.
    func resend(_ firing: [AlertEvent], host: String, _ config: ChannelConfig) -> TransferRequest?

    /// The delivery targets one declaration expands into, each a kind value of its own with a key that names it
    /// (stable across restarts and reorderings: Alertmanager keys a peer by host:port); nil (the default): one
    /// target, the channel itself. Every event routed to the channel is spooled once per target, and each target
    /// has its own queue, retries, backoff and re-sends, so one that is down holds up none of the others.
    /// `resolved`: the addresses of the host names `lookups` asked for, those that have been looked up so far.
    func targets(resolved: [String: [String]]) -> [(key: String, kind: any ChannelKind)]?

    /// Host names whose addresses `targets(resolved:)` needs, each looked up again every `every` seconds (the
    /// Dispatcher's PeerResolver, off the loop); the default: none.
    var lookups: [(host: String, every: Double)] { get }
}

extension ChannelKind {
    static var maxBatch: Int { 100 }
    static var usesCurl: Bool { true }
    static var spools: Bool { true }
    func deliverNow(_ event: AlertEvent, host: String, channel: String) -> (LogLevel, String)? { nil }
    var resendInterval: Double? { nil }
    func resend(_ firing: [AlertEvent], host: String, _ config: ChannelConfig) -> TransferRequest? { nil }
    func targets(resolved: [String: [String]]) -> [(key: String, kind: any ChannelKind)]? { nil }
    var lookups: [(host: String, every: Double)] { [] }

    /// HTTP: 2xx delivered; 408, 429 and 5xx retried after the server's Retry-After (header, or Slack's
    /// `{"retry_after":30}` body) or the backoff; other statuses dropped; no answer retried.
    func classify(_ answer: AttemptAnswer, _ config: ChannelConfig) -> Verdict {
        guard case .transfer(let r) = answer else { return .permanent(code: nil, detail: "not a transfer") }
        guard r.completed else { return .retry(code: nil, detail: config.failureText(r), after: nil) }
        switch r.status {
        case 200..<300:
            return .delivered
        case 408, 429, 500..<600:
            var after = r.retryAfter
            // Slack's Web API also says it in the body: {"ok":false,"retry_after":30}.
            if after == nil, let v = try? JSONValue.parse(bytes: r.body), let s = v["retry_after"]?.number, s > 0 { after = s }
            return .retry(code: r.status, detail: config.failureText(r), after: after)
        default:
            return .permanent(code: r.status, detail: config.failureText(r))
        }
    }
}

/// What a kind needs to build a message besides its own options.
struct MessageContext {
    var channel: String
    var host: String
    /// Where the daemon writes report.json (named in Slack messages and e-mails).
    var reportPath: String
    /// The daemon report spooled with the message's first alert.
    var report: JSONValue?
}

/// A program to run for one attempt (exec).
struct ProgramRequest {
    var argv: [String]
    var environment: [String]
    var stdin: [UInt8]
    var timeout: Double
}

/// One attempt as a kind builds it.
enum ChannelRequest {
    /// An HTTP POST or an SMTP upload through libcurl.
    case transfer(TransferRequest)
    /// A child process.
    case program(ProgramRequest)
    /// Nothing to send: the message is delivered.
    case none
}

/// How an attempt ended, for `ChannelKind.classify`.
enum AttemptAnswer {
    case transfer(TransferResult)
    case program(ExecResult)
}

/// What an attempt's answer means to the queue.
enum Verdict {
    case delivered
    /// Try again after `after` seconds (a server's Retry-After) or the backoff.
    case retry(code: Int?, detail: String, after: Double?)
    /// Drop it: retrying will not help.
    case permanent(code: Int?, detail: String)
}

/// A channel declaration's options as a kind reads them: typed accessors whose errors name the channel, the
/// option and what was expected, and the secrets met on the way.
final class ChannelOptions {
    let declaration: ChannelDeclaration
    /// Strings that must never reach a log line (secret values and URLs).
    var secrets: [String] = []
    /// The options looked at so far (tests compare them with the checker's table).
    private(set) var read: Set<String> = []

    init(_ declaration: ChannelDeclaration) { self.declaration = declaration }

    var location: SourceLocation { declaration.location }
    subscript(key: ConfigKey) -> ConfigValue? {
        read.insert(key.name)
        return declaration[key.name]
    }

    func bad(_ option: ConfigKey, _ expected: String) -> NotifyError {
        NotifyError(.badOption(channel: declaration.name, option: option.name, expected: expected), at: location)
    }

    func missing(_ option: ConfigKey) -> NotifyError {
        NotifyError(.missingOption(channel: declaration.name, option: option.name), at: location)
    }

    func duration(_ key: ConfigKey) throws(NotifyError) -> Double? {
        guard let v = self[key] else { return nil }
        guard let d = v.numberValue, d > 0 else { throw bad(key, "a positive duration") }
        return d
    }

    func bool(_ key: ConfigKey) throws(NotifyError) -> Bool? {
        guard let v = self[key] else { return nil }
        guard case .bool(let b) = v else { throw bad(key, "true or false") }
        return b
    }

    /// A plain string, or the content of a `file "…"` secret (recorded for log scrubbing).
    func text(_ key: ConfigKey, secret: Bool = false) throws(NotifyError) -> String? {
        switch self[key] {
        case nil: return nil
        case .string(let s)?:
            if secret && !s.isEmpty { secrets.append(s) }
            return s
        case .file(let path)?:
            let s = try ChannelConfig.readSecret(path, at: location)
            secrets.append(s)
            return s
        default: throw bad(key, "a string or file \"…\"")
        }
    }

    func required(_ key: ConfigKey, secret: Bool = false) throws(NotifyError) -> String {
        guard let s = try text(key, secret: secret), !s.isEmpty else { throw missing(key) }
        return s
    }

    /// A URL, treated as a secret: Slack's and many webhook URLs carry the token in the path.
    func url(_ key: ConfigKey) throws(NotifyError) -> String {
        let u = try required(key, secret: true)
        secrets += ChannelConfig.tokensOf(u)
        return u
    }

    /// A non-empty list of distinct http(s) URLs (`urls [ … ]`), each treated as a secret like `url`'s.
    func urlList(_ key: ConfigKey) throws(NotifyError) -> [String]? {
        guard let v = self[key] else { return nil }
        guard case .list(let items) = v, !items.isEmpty else { throw bad(key, "a list of http(s) URLs") }
        var out: [String] = []
        for item in items {
            guard let u = item.stringValue, u.hasPrefix("http://") || u.hasPrefix("https://") else {
                throw bad(key, "a list of http(s) URLs")
            }
            guard !out.contains(u) else { throw bad(key, "a list of distinct URLs (\(ChannelConfig.hostOf(u)) is there twice)") }
            out.append(u)
            secrets.append(u)
            secrets += ChannelConfig.tokensOf(u)
        }
        return out
    }

    /// `headers { "Name" "value" … }`, values plain or from secret files.
    func headers(_ key: ConfigKey) throws(NotifyError) -> [(String, String)] {
        guard let v = self[key] else { return [] }
        guard case .block(let pairs) = v else { throw bad(key, "a block of \"Name\" \"value\" pairs") }
        var out: [(String, String)] = []
        for (name, value) in pairs {
            switch value {
            case .string(let s): out.append((name, s))
            case .file(let path):
                let s = try ChannelConfig.readSecret(path, at: location)
                secrets.append(s)
                out.append((name, s))
            default: throw bad(key, "a block of \"Name\" \"value\" pairs")
            }
        }
        return out
    }
}

/// An HTTP POST of a JSON body with shd's headers, a channel's own and, with a key, the HMAC signature.
func jsonPost(url: String, body: [UInt8], ids: [String], headers extra: [(String, String)], hmacKey: [UInt8]? = nil,
              _ config: ChannelConfig) -> TransferRequest {
    var headers = ["Content-Type: application/json", "User-Agent: shd/1"]
    if !ids.isEmpty { headers.append("X-Shd-Notification-Id: \(Payloads.messageID(ids))") }
    for (k, v) in extra { headers.append("\(k): \(v)") }
    if let key = hmacKey {
        headers.append("X-Shd-Signature: sha256=" + SHA256.hex(SHA256.hmac(key: key, message: body)))
    }
    return TransferRequest(proto: .http, url: url, headers: headers, body: body, timeout: config.timeout, caFile: config.caFile)
}
