// The typed result of loading shd.conf and rules.d: settings, channel declarations, rules.
import Reports

/// A value written in a `set` statement or a channel block.
public enum ConfigValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    /// A duration in seconds (`5m` → 300).
    case duration(Double)
    case bool(Bool)
    case list([ConfigValue])
    /// `file "/etc/shd/secrets/x"`: the value is read from the file when the channel is built.
    case file(String)
    /// `{ key value … }` (e.g. `headers { "X-Team" "ops" }`).
    case block([(String, ConfigValue)])

    public static func == (a: ConfigValue, b: ConfigValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)), (.file(let x), .file(let y)): return x == y
        case (.number(let x), .number(let y)), (.duration(let x), .duration(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.list(let x), .list(let y)): return x == y
        case (.block(let x), .block(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var numberValue: Double? {
        switch self {
        case .number(let d), .duration(let d): return d
        default: return nil
        }
    }
}

/// A place in a source file (1-based line and column).
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

/// `channel NAME KIND { key value … }` after checking.
public struct ChannelDeclaration: Sendable, Equatable {
    public var name: String
    public var kind: String
    /// Options in source order; keys are those of `ChannelKinds.options(for: kind)`.
    public var options: [(String, ConfigValue)]
    public var location: SourceLocation

    public init(name: String, kind: String, options: [(String, ConfigValue)], location: SourceLocation) {
        self.name = name
        self.kind = kind
        self.options = options
        self.location = location
    }

    public subscript(key: String) -> ConfigValue? { options.last { $0.0 == key }?.1 }

    public static func == (a: ChannelDeclaration, b: ChannelDeclaration) -> Bool {
        a.name == b.name && a.kind == b.kind && a.location == b.location && a.options.count == b.options.count
            && zip(a.options, b.options).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

/// The options each channel kind accepts. The checker rejects others; Notify builds channels from them.
public enum ChannelKinds {
    public struct Option: Sendable {
        public var name: String
        public var required: Bool
        public var help: String
        public init(_ name: String, required: Bool = false, _ help: String) {
            self.name = name
            self.required = required
            self.help = help
        }
    }

    /// Options every kind accepts.
    public static let common: [Option] = [
        Option("timeout", "per-attempt timeout (duration, default 10s)"),
        Option("ttl", "give up on a notification after this long (duration, default 24h)"),
        Option("rate_limit", "at most this many messages per minute (number, default 30)"),
        Option("min_severity", "only alerts at or above this severity (\"warn\" or \"crit\")"),
        Option("send_resolved", "send a message when the alert clears (bool, default true)"),
    ]

    public static let kinds: [String: [Option]] = [
        "log": [],
        "webhook": [
            Option("url", required: true, "http(s) URL to POST the JSON payload to (string or file)"),
            Option("headers", "extra HTTP headers: a block of \"Name\" \"value\" pairs"),
            Option("hmac_secret", "secret (file) for the X-Shd-Signature: sha256=… header over the body"),
            Option("ca_file", "CA bundle to verify the server's certificate"),
            Option("include_report", "attach the full daemon report (bool, default true)"),
        ],
        "slack": [
            Option("url", required: true, "Slack incoming-webhook URL (use file: it is a secret)"),
            Option("channel", "override the webhook's channel"),
            Option("username", "override the webhook's user name"),
            Option("ca_file", "CA bundle to verify the server's certificate"),
        ],
        "smtp": [
            Option("server", required: true, "smtp://host:port (STARTTLS required) or smtps://host:port (implicit TLS)"),
            Option("from", required: true, "envelope and header From address"),
            Option("to", required: true, "one recipient or a list"),
            Option("user", "AUTH user name"),
            Option("password", "AUTH password (file)"),
            Option("tls", "\"required\" (default), or \"none\" for a loopback relay without TLS"),
            Option("ca_file", "CA bundle to verify the server's certificate"),
            Option("subject_prefix", "text before the subject (default \"[shd]\")"),
        ],
        "alertmanager": [
            Option("url", required: true, "Alertmanager base URL; alerts are POSTed to URL/api/v2/alerts"),
            Option("resend_interval", "re-send firing alerts this often (duration, default 1m)"),
            Option("generator_url", "generatorURL sent with each alert"),
            Option("headers", "extra HTTP headers: a block of \"Name\" \"value\" pairs"),
            Option("ca_file", "CA bundle to verify the server's certificate"),
        ],
        "exec": [
            Option("command", required: true, "argv as a list: [\"/usr/local/bin/page\", \"--team\", \"ops\"] (no shell)"),
        ],
    ]

    /// Every option `kind` accepts (its own plus the common ones), or nil for an unknown kind.
    public static func options(for kind: String) -> [Option]? {
        guard let own = kinds[kind] else { return nil }
        return own + common
    }
}

/// The daemon settings `set NAME VALUE` may change. The checker rejects other names.
public enum KnownSettings {
    public struct Setting: Sendable {
        public var name: String
        public var help: String
        public init(_ name: String, _ help: String) {
            self.name = name
            self.help = help
        }
    }

    public static let all: [Setting] = [
        Setting("interval", "default collection interval for every worker (duration, default 10s)"),
        Setting("report_interval", "how often functions that no rule reads are collected and report.json is rewritten (duration, default 30s; every tick with textfile_dir)"),
        Setting("interval.<worker>", "collection interval of one worker, e.g. `set interval.processes 30s` (processes: at most every 10s unless set)"),
        Setting("workers", "list of workers to run (default: all)"),
        Setting("state_dir", "folder for state.json, report.json and the spool (default /var/lib/shd)"),
        Setting("textfile_dir", "folder for shd.prom, for node_exporter's textfile collector (default: none)"),
        Setting("proc_root", "where /proc is (default /proc)"),
        Setting("sys_root", "where /sys is (default /sys)"),
        Setting("root_fs", "the host's root filesystem as mounted into a container (e.g. /host)"),
        Setting("log_level", "error, warning, notice, info or debug (default info)"),
        Setting("pidfile", "pid file for --daemonize (default /run/shd.pid)"),
        Setting("default_channels", "channels for rules without `notify` (default: [\"log\"])"),
        Setting("hostname", "host name put in reports and alerts (default: the kernel's)"),
        Setting("exclude_fstypes", "list of extra filesystem types to ignore"),
        Setting("exclude_mounts", "list of extra mount point prefixes to ignore"),
        Setting("top_processes", "rows in processes.top (number, default 10)"),
        Setting("tcp_states", "count TCP connections by state in network.sockets (bool, default false in the daemon: the kernel walks its whole connection table, ~4 ms a tick)"),
    ]

    public static func isKnown(_ name: String) -> Bool {
        if all.contains(where: { $0.name == name }) { return true }
        return name.hasPrefix("interval.") && name.count > "interval.".count
    }
}
