// The logging contract shared by every module; the Daemon decides where lines go.

/// Syslog priorities (the numbers journald reads from a `<N>` prefix).
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case error = 3, warning = 4, notice = 5, info = 6, debug = 7

    /// More severe is smaller: `error < warning < … < debug`, so `level <= threshold` means "log it".
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    public init?(name: String) {
        switch name.lowercased() {
        case "error", "err": self = .error
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "info": self = .info
        case "debug": self = .debug
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .error: "error"
        case .warning: "warning"
        case .notice: "notice"
        case .info: "info"
        case .debug: "debug"
        }
    }
}

/// Where log lines go. Implementations must not block for long: they run on the event loop.
///
/// - Important: never pass a secret (password, token, webhook URL with a token) to `log`.
public protocol LogSink: AnyObject {
    func log(_ level: LogLevel, _ message: String)
}

/// Keeps lines in memory (tests) .
public final class MemoryLog: LogSink {
    public private(set) var lines: [(LogLevel, String)] = []
    public init() {}
    public func log(_ level: LogLevel, _ message: String) { lines.append((level, message)) }
    public func contains(_ s: String) -> Bool { lines.contains { $0.1.contains(s) } }
}
