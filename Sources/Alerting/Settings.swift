// The one table of daemon settings (`set NAME VALUE`) and channel options: name, type, default, unit, help and the
// checks beyond the type. The checker's type checks and fix-its, the daemon's and Notify's defaults and the docs'
// tables (SettingsTableTests compares docs/rules.md, docs/notifications.md and shd.rules(5) with it) all come from here.

/// What a setting or channel option takes. The checker reports anything else as `bad-value` (or
/// `expected-duration` for a number without a unit, with a fix-it adding `s`).
public enum ValueType: Sendable, Equatable {
    case duration, number, string, bool, stringList, stringOrList, stringOrFile
    /// `file "path"` (a secret: written inline, it is a warning).
    case file
    /// `{ "Name" "value" … }`
    case block
    case oneOf([String])

    /// How the checker's messages and the docs name it.
    public var want: String {
        switch self {
        case .duration: return "a duration (e.g. `30s`)"
        case .number: return "a number"
        case .string: return "a string"
        case .bool: return "true or false"
        case .stringList: return "a list of strings (e.g. `[\"a\", \"b\"]`)"
        case .stringOrList: return "a string or a list of strings"
        case .stringOrFile: return "a string or `file \"path\"`"
        case .file: return "`file \"path\"`"
        case .block: return "a block `{ \"Name\" \"value\" … }`"
        case .oneOf(let w): return "one of " + w.joined(separator: ", ")
        }
    }
}

/// One setting or channel option: everything about it in one declaration.
public struct ConfigKey: Sendable {
    /// What the checker verifies beyond the type.
    public enum Check: Sendable, Equatable {
        case none
        /// Every string names a worker of the catalog (`workers`).
        case workers
        /// Every string names a declared channel (`default_channels`).
        case channels
        /// `interval.<worker>`: the name's suffix is a worker of the catalog.
        case workerSuffix
        /// An http(s) URL; `secret`: written inline, it is a warning (a Slack URL is the credential).
        case url(secret: Bool)
        /// smtp://host:port or smtps://host:port.
        case smtpServer
        /// A list with at least the program's path.
        case command
        /// A probe's `address`: host:port, [v6]:port or a Unix socket (`ProbeAddress`).
        case probeAddress
        /// A probe's URL with one of these schemes.
        case probeURL([String])
        /// `expect_status`: statuses, classes (`2xx`) and ranges (`parseStatusRange`).
        case statusSet
        /// A regex of the rule language (`Pattern.regex`).
        case regex
        /// An absolute path (globs allowed), or a list of them (a watch's `path`, `pidfile`).
        case absolutePath
        /// A systemd service or scope (`normalizedUnitName`).
        case unitName
        /// A process's command name as the kernel keeps it: at most 15 bytes, no `/`.
        case commName
        /// `HOST:PORT` or a Unix socket path (`ListenAddress`).
        case listenAddress
        /// A number from `min` to `max`; `whole`: no fraction; `orZero`: 0 too (off). `text` says it for people and
        /// the docs ("4KiB to 1TiB").
        case range(min: Double, max: Double, whole: Bool, orZero: Bool, text: String)
    }

    public var name: String
    public var type: ValueType
    /// The value used when none is written; nil when there is none or it is not a constant (see `defaultText`).
    public var defaultValue: ConfigValue?
    /// The default in words when it is not a constant value ("all workers", "the kernel's").
    public var defaultText: String?
    /// What a number or duration counts, for the docs ("per minute", "rows").
    public var unit: String?
    /// A channel option the kind cannot do without.
    public var required: Bool
    /// The option that may stand in for a required one (`url` or `urls`): exactly one of the two is given.
    public var alternative: String?
    /// One line for people (the docs; `missing-channel-option` quotes a required option's).
    public var help: String
    public var check: Check

    public init(_ name: String, _ type: ValueType, default value: ConfigValue? = nil, defaultText: String? = nil,
                unit: String? = nil, required: Bool = false, alternative: String? = nil, check: Check = .none, _ help: String)
    {
        self.name = name
        self.alternative = alternative
        self.type = type
        self.defaultValue = value
        self.defaultText = defaultText
        self.unit = unit
        self.required = required
        self.help = help
        self.check = check
    }

    /// Whether a number is within the key's `.range` (always, for a key without one).
    public func accepts(_ n: Double) -> Bool {
        guard case .range(let lo, let hi, let whole, let orZero, _) = check else { return true }
        if orZero && n == 0 { return true }
        return n >= lo && n <= hi && (!whole || n == n.rounded())
    }

    /// The `.range` in words ("4KiB to 1TiB"), nil without one.
    public var rangeText: String? {
        guard case .range(_, _, _, _, let text) = check else { return nil }
        return text
    }

    /// The default of a duration, in seconds (a table entry without one is a programming error).
    public var defaultSeconds: Double {
        guard case .duration(let d)? = defaultValue else { preconditionFailure("\(name) has no default duration") }
        return d
    }
    public var defaultNumber: Double {
        guard case .number(let d)? = defaultValue else { preconditionFailure("\(name) has no default number") }
        return d
    }
    public var defaultBool: Bool {
        guard case .bool(let b)? = defaultValue else { preconditionFailure("\(name) has no default bool") }
        return b
    }
    public var defaultString: String {
        guard case .string(let s)? = defaultValue else { preconditionFailure("\(name) has no default string") }
        return s
    }
}

/// The daemon settings `set NAME VALUE` may change. The checker rejects other names.
public enum KnownSettings {
    public static let interval = ConfigKey("interval", .duration, default: .duration(10),
                                           "default collection interval for every worker")
    public static let reportInterval = ConfigKey("report_interval", .duration, default: .duration(30),
        "how often functions that no rule reads are collected (what `/metrics` serves of them) and `report.json` is rewritten (also on every alert change; every tick when `textfile_dir` is set)")
    /// `interval.processes`, …: matched by prefix (`KnownSettings.key(named:)`).
    public static let workerInterval = ConfigKey("interval.<worker>", .duration, defaultText: "`interval`", check: .workerSuffix,
        "collection interval of one worker, e.g. `set interval.processes 30s`; without `interval.processes`, the processes worker (it reads every `/proc/PID/stat`) runs at most every 10 s")
    public static let workers = ConfigKey("workers", .stringList, defaultText: "all", check: .workers, "list of workers to run")
    public static let stateDir = ConfigKey("state_dir", .string, default: .string("/var/lib/shd"),
                                           "folder for state.json, report.json and the spool")
    public static let textfileDir = ConfigKey("textfile_dir", .string, defaultText: "none",
                                              "folder for shd.prom, for node_exporter's textfile collector")
    public static let procRoot = ConfigKey("proc_root", .string, default: .string("/proc"), "where /proc is")
    public static let sysRoot = ConfigKey("sys_root", .string, default: .string("/sys"), "where /sys is")
    public static let rootFS = ConfigKey("root_fs", .string, defaultText: "none",
                                         "the host's root filesystem as mounted into a container (e.g. `/host`)")
    public static let logLevel = ConfigKey("log_level", .oneOf(["error", "warning", "notice", "info", "debug"]),
                                           default: .string("info"), "the least severe log line written")
    public static let pidfile = ConfigKey("pidfile", .string, default: .string("/run/shd.pid"), "pid file for `--daemonize`")
    public static let defaultChannels = ConfigKey("default_channels", .stringOrList, default: .list([.string("log")]),
        check: .channels, "channels for rules without `notify` (declared ones, or `log`)")
    public static let hostname = ConfigKey("hostname", .string, defaultText: "the kernel's", "host name put in reports and alerts")
    public static let excludeFstypes = ConfigKey("exclude_fstypes", .stringList, defaultText: "none",
                                                 "extra filesystem types to ignore")
    public static let excludeMounts = ConfigKey("exclude_mounts", .stringList, defaultText: "none",
                                                "extra mount point prefixes to ignore")
    public static let excludeUnits = ConfigKey("exclude_units", .stringList,
        defaultText: "`[\"run-*.scope\", \"session-*.scope\", \"user@*.service\", \"user-runtime-dir@*.service\"]`",
        "globs of systemd units `systemd.units` and `systemd.timers` leave out; replaces the default list (`[]` reports every unit)")
    public static let topProcesses = ConfigKey("top_processes", .number, default: .number(10), unit: "rows",
        check: .range(min: 0, max: 10_000, whole: true, orZero: false, text: "0 to 10000"), "rows in `processes.top`")
    public static let tcpStates = ConfigKey("tcp_states", .bool, default: .bool(false),
        "count TCP connections by state in `network.sockets` (off in the daemon: reading /proc/net/tcp makes the kernel walk its whole connection table, ~4 ms a tick; `shd report` counts them)")
    public static let controlSocket = ConfigKey("control_socket", .string, default: .string("/run/shd/control"),
        "the control socket `shd status`, `explain`, `reload`, `silence`, `ack` and `history` talk to (`\"\"`: none); clients need `--socket` for another path")
    public static let controlGroup = ConfigKey("control_group", .string, default: .string("shd-admin"),
        "the group whose members may use the control socket besides root (socket mode 0660); a group that does not exist leaves it to root and shd's user (0600)")
    public static let httpListen = ConfigKey("http_listen", .string, defaultText: "none", check: .listenAddress,
        "where the optional HTTP endpoint (the status page `/`, `/metrics`, `/api/v1/status`, …) listens: `127.0.0.1:9465`, `[::1]:9465` or a Unix socket path; none: no endpoint")
    public static let httpAuthFile = ConfigKey("http_auth_file", .string, defaultText: "none",
        "a file readable by its owner and group only, holding one token; requests then need `Authorization: Bearer TOKEN` or basic authentication with TOKEN as the password; none: anyone who can reach `http_listen`")
    public static let httpTLSCertFile = ConfigKey("http_tls_cert_file", .string, defaultText: "none",
        "PEM certificate (chain) for HTTPS on `http_listen`, with `http_tls_key_file`; none: plain HTTP")
    public static let httpTLSKeyFile = ConfigKey("http_tls_key_file", .string, defaultText: "none",
        "PEM private key for `http_tls_cert_file`, readable by its owner and group only")

    public static let sendResolvedSilenced = ConfigKey("send_resolved_silenced", .bool, default: .bool(true),
        "send the resolved notice of an alert that resolves while a runtime silence (`shd silence add`) covers it (its start was sent before the silence)")
    public static let historyMaxSize = ConfigKey("history_max_size", .number, default: .number(4_194_304), unit: "bytes",
        check: .range(min: 4096, max: 1_099_511_627_776, whole: false, orZero: false, text: "4KiB to 1TiB"),
        "the alert log `STATE_DIR/history.jsonl` is rotated to `history.jsonl.1` when a write would take it past this size (two files are kept)")

    public static let flapTransitions = ConfigKey("flap_transitions", .number, default: .number(8), unit: "transitions",
        check: .range(min: 2, max: 1000, whole: true, orZero: true, text: "0, or 2 to 1000"),
        "an alert instance that starts or ends this many times within `flap_window` is flapping: channels hear it once, and it is held firing until stable (0: never; a rule's `flapping` overrides)")
    public static let flapWindow = ConfigKey("flap_window", .duration, default: .duration(3600), "the window `flap_transitions` are counted in")
    public static let flapStable = ConfigKey("flap_stable", .duration, default: .duration(1800),
        "a flapping alert is held firing until its condition has not changed for this long")

    public static let all: [ConfigKey] = [
        interval, reportInterval, workerInterval, workers, stateDir, textfileDir, procRoot, sysRoot, rootFS, logLevel,
        pidfile, defaultChannels, hostname, excludeFstypes, excludeMounts, excludeUnits, topProcesses, tcpStates, sendResolvedSilenced,
        historyMaxSize, controlSocket, controlGroup, flapTransitions, flapWindow, flapStable,
        httpListen, httpAuthFile, httpTLSCertFile, httpTLSKeyFile,
    ]

    /// The declaration of `name` (`interval.WORKER` included), or nil for an unknown setting.
    public static func key(named name: String) -> ConfigKey? {
        if let k = all.first(where: { $0.name == name }) { return k }
        return name.hasPrefix("interval.") && name.count > "interval.".count ? workerInterval : nil
    }

    public static func isKnown(_ name: String) -> Bool { key(named: name) != nil }
}

/// The options each channel kind accepts. The checker rejects others; Notify builds channels from them.
public enum ChannelKinds {
    public typealias Option = ConfigKey

    // Options every kind accepts.
    public static let timeout = ConfigKey("timeout", .duration, default: .duration(10),
        "one attempt's deadline (connect + send + answer; for exec, the child's run time)")
    public static let ttl = ConfigKey("ttl", .duration, default: .duration(24 * 3600),
        "a notification not delivered after this long is dropped with an error in the log")
    public static let rateLimit = ConfigKey("rate_limit", .number, default: .number(30), unit: "per minute",
        "messages per minute; the excess **waits** for the window, nothing is dropped")
    public static let minSeverity = ConfigKey("min_severity", .oneOf(["warn", "crit"]), defaultText: "(all)",
        "`\"crit\"` sends only critical alerts")
    public static let sendResolved = ConfigKey("send_resolved", .bool, default: .bool(true),
        "`false` sends no message when an alert clears")

    // Options of some kinds.
    public static let headers = ConfigKey("headers", .block, "extra HTTP headers: a block of \"Name\" \"value\" pairs")
    public static let caFile = ConfigKey("ca_file", .string, "CA bundle to verify the server's certificate")
    public static let includeReport = ConfigKey("include_report", .bool, default: .bool(true), "attach the full daemon report")
    public static let tls = ConfigKey("tls", .oneOf(["required", "none"]), default: .string("required"),
                                      "`\"none\"` for a loopback relay without TLS")
    public static let subjectPrefix = ConfigKey("subject_prefix", .string, default: .string("[shd]"), "text before the subject")
    public static let resendInterval = ConfigKey("resend_interval", .duration, default: .duration(60), "re-send firing alerts this often")

    public static let common: [ConfigKey] = [timeout, ttl, rateLimit, minSeverity, sendResolved]

    // Each kind's own options, in the order the docs list them.
    public enum Log {
        public static let kind = "log"
        public static let options: [ConfigKey] = []
    }
    public enum Webhook {
        public static let kind = "webhook"
        public static let url = ConfigKey("url", .stringOrFile, required: true, check: .url(secret: false),
                                          "http(s) URL to POST the JSON payload to (string or file)")
        public static let hmacSecret = ConfigKey("hmac_secret", .file, "secret (file) for the X-Shd-Signature: sha256=… header over the body")
        public static let options: [ConfigKey] = [url, headers, hmacSecret, caFile, includeReport]
    }
    public enum Slack {
        public static let kind = "slack"
        public static let url = ConfigKey("url", .stringOrFile, required: true, check: .url(secret: true),
                                          "Slack incoming-webhook URL (use file: it is a secret)")
        public static let channel = ConfigKey("channel", .string, "override the webhook's channel")
        public static let username = ConfigKey("username", .string, "override the webhook's user name")
        public static let options: [ConfigKey] = [url, channel, username, caFile]
    }
    public enum SMTP {
        public static let kind = "smtp"
        public static let server = ConfigKey("server", .string, required: true, check: .smtpServer,
                                             "smtp://host:port (STARTTLS required) or smtps://host:port (implicit TLS)")
        public static let from = ConfigKey("from", .string, required: true, "envelope and header From address")
        public static let to = ConfigKey("to", .stringOrList, required: true, "one recipient or a list")
        public static let user = ConfigKey("user", .string, "AUTH user name")
        public static let password = ConfigKey("password", .file, "AUTH password (file)")
        public static let options: [ConfigKey] = [server, from, to, user, password, tls, caFile, subjectPrefix]
    }
    public enum Alertmanager {
        public static let kind = "alertmanager"
        public static let url = ConfigKey("url", .stringOrFile, required: true, alternative: "urls", check: .url(secret: false),
                                          "Alertmanager base URL; alerts are POSTed to URL/api/v2/alerts")
        public static let urls = ConfigKey("urls", .stringList, required: true, alternative: "url", check: .url(secret: false),
            "the base URLs of every peer of an Alertmanager cluster (HA): each alert goes to each peer, with its own queue and retries per peer")
        public static let generatorURL = ConfigKey("generator_url", .string, "generatorURL sent with each alert")
        public static let resolvePeers = ConfigKey("resolve_peers", .bool, default: .bool(false),
            "every address the URL's host name resolves to (DNS A/AAAA records, /etc/hosts) is a peer, looked up again every resolve_interval; requests keep the name (Host header, TLS)")
        public static let resolveInterval = ConfigKey("resolve_interval", .duration, default: .duration(30),
            check: .range(min: 1, max: 86_400, whole: false, orZero: false, text: "1s to 1d"), "how often `resolve_peers` looks the name up again")
        public static let options: [ConfigKey] = [url, urls, resendInterval, generatorURL, headers, caFile, resolvePeers, resolveInterval]
    }
    public enum Exec {
        public static let kind = "exec"
        public static let command = ConfigKey("command", .stringList, required: true, check: .command,
                                              "argv as a list: [\"/usr/local/bin/page\", \"--team\", \"ops\"] (no shell)")
        public static let options: [ConfigKey] = [command]
    }

    public static let kinds: [String: [ConfigKey]] = [
        Log.kind: Log.options,
        Webhook.kind: Webhook.options,
        Slack.kind: Slack.options,
        SMTP.kind: SMTP.options,
        Alertmanager.kind: Alertmanager.options,
        Exec.kind: Exec.options,
    ]

    /// Every option `kind` accepts (its own plus the common ones), or nil for an unknown kind.
    public static func options(for kind: String) -> [ConfigKey]? {
        guard let own = kinds[kind] else { return nil }
        return own + common
    }
}

extension ChannelDeclaration {
    /// The value written for `key`, the last one if it was given twice.
    public subscript(key: ConfigKey) -> ConfigValue? { self[key.name] }
}
