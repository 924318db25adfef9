// The one table of watch kinds (`watch NAME KIND { … }`) and their options, and the checked declaration.
// The checker's type checks, the daemon's defaults (Daemon/DaemonWatches.swift) and docs/rules.md's watch table come
// from it.
import Alerting

/// The options each watch kind accepts. The checker rejects others; the daemon reads them.
public enum WatchKinds {
    // A process watch selects its processes by exactly one of these.
    public static let pidfile = ConfigKey("pidfile", .string, check: .absolutePath,
        "a pid file (`/run/nginx.pid`): the process whose pid it holds; the file's folder is followed with inotify")
    public static let unit = ConfigKey("unit", .string, check: .unitName,
        "a systemd unit (`nginx` means `nginx.service`): the processes of its cgroup (`cgroup.procs`)")
    public static let name = ConfigKey("name", .string, check: .commName,
        "the kernel's command name (`comm`, at most 15 bytes, as `ps -o comm` shows it), matched exactly")
    public static let cmdline = ConfigKey("cmdline", .string, check: .regex,
        "a regex found anywhere in the command line (arguments joined by spaces), as `pgrep -f` does")
    /// The selectors, in the order the docs name them.
    public static let selectors = [pidfile, unit, name, cmdline]
    public static let processInterval = ConfigKey("interval", .duration, default: .duration(10),
        "how often the watch looks for its processes anew (a walk of /proc for `name` and `cmdline`); an exit of the main process is seen at once (pidfd)")

    public static let path = ConfigKey("path", .stringOrList, required: true, check: .absolutePath,
        "absolute paths or globs (`/var/backups/*.tar.gz`); one row per path that exists, one `exists false` row for a path or glob that matches nothing")
    public static let checksum = ConfigKey("checksum", .bool, default: .bool(false),
        "compute the file's SHA-256 (`sha256`), again only when its size, times or inode change")
    public static let maxChecksum = ConfigKey("max_checksum", .number, default: .number(64 * 1024 * 1024), unit: "bytes",
        "files larger than this (64 MiB by default) get no `sha256`; `error` says so")
    public static let match = ConfigKey("match", .string, defaultText: "every entry",
        "a glob (`*.tar.gz`): the entries `entries` and `newest_age_seconds` count; others are ignored")

    public static let common: [ConfigKey] = []

    public static let kinds: [String: [ConfigKey]] = [
        "process": selectors + [processInterval],
        "file": [path, checksum, maxChecksum],
        "directory": [path, match],
    ]

    /// Every option `kind` accepts (its own plus the common ones), or nil for an unknown kind.
    public static func options(for kind: String) -> [ConfigKey]? {
        guard let own = kinds[kind] else { return nil }
        return own + common
    }

    /// The worker and function a kind's rows go to.
    public static func function(of kind: String) -> (worker: String, function: String) {
        kind == "process" ? ("processes", "watched") : ("files", "watched")
    }
}

/// `watch NAME KIND { … }` after checking.
public struct WatchDeclaration: Sendable, Equatable {
    public var name: String
    public var kind: String
    /// Options in source order; keys are those of `WatchKinds.options(for: kind)`.
    public var options: [(String, ConfigValue)]
    public var location: SourceLocation

    public init(name: String, kind: String, options: [(String, ConfigValue)], location: SourceLocation) {
        self.name = name
        self.kind = kind
        self.options = options
        self.location = location
    }

    /// The value written for `key`, the last one if it was given twice.
    public subscript(key: String) -> ConfigValue? { options.last { $0.0 == key }?.1 }
    public subscript(key: ConfigKey) -> ConfigValue? { self[key.name] }

    /// The option's value, or its table default.
    public func value(_ key: ConfigKey) -> ConfigValue? { self[key] ?? key.defaultValue }

    /// `path` as a list (a single string is a list of one).
    public var paths: [String] {
        switch self[WatchKinds.path] {
        case .string(let s)?: return [s]
        case .list(let l)?: return l.compactMap(\.stringValue)
        default: return []
        }
    }

    public static func == (a: WatchDeclaration, b: WatchDeclaration) -> Bool {
        a.name == b.name && a.kind == b.kind && a.location == b.location && a.options.count == b.options.count
            && zip(a.options, b.options).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

/// `unit`: a service or scope name as written, with `.service` added when it has no type suffix; nil when it is not a
/// unit name (systemd's unit_name_is_valid: letters, digits, `:-_.\@`, at most 255 bytes, not starting with `.`) or names
/// a unit type that has no processes of its own (`.socket`, `.timer`, `.mount`, …).
public func normalizedUnitName(_ text: String) -> String? {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty, bytes.count <= 255, bytes[0] != UInt8(ascii: "."), bytes.last != UInt8(ascii: ".") else { return nil }
    for b in bytes {
        let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
            || b == UInt8(ascii: ":") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
            || b == UInt8(ascii: "\\") || b == UInt8(ascii: "@")
        if !ok { return nil }
    }
    if let dot = text.lastIndex(of: ".") {
        let type = String(text[text.index(after: dot)...])
        if type == "service" || type == "scope" { return text }
        if ["socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice"].contains(type) { return nil }
    }
    return text + ".service"
}

/// The kernel keeps 15 bytes of a command name (TASK_COMM_LEN 16, with the NUL).
public let commNameLimit = 15
