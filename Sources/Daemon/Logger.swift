// Log lines to stderr with syslog priority prefixes (journald reads them), or to syslog when daemonized.
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// Writes log lines for the daemon and its commands. Thread-compatible: used from the loop thread.
public final class Logger: LogSink {
    public enum Destination: Sendable {
        /// `<3>message` on stderr: journald turns the prefix into the priority.
        case stderrWithPriority
        /// Plain `level: message` on stderr, for people at a terminal.
        case stderrPlain
        /// syslog(3), for a daemon without stderr.
        case syslog
        /// Nowhere (tests and commands that must stay quiet).
        case none
    }

    public var level: LogLevel
    public private(set) var destination: Destination

    public init(level: LogLevel = .info, destination: Destination = .stderrPlain) {
        self.level = level
        self.destination = destination
    }

    /// Switches to syslog (after daemonizing, stderr is /dev/null).
    public func useSyslog() {
        openlog("shd", LOG_PID | LOG_NDELAY, LOG_DAEMON)
        destination = .syslog
    }

    public func log(_ l: LogLevel, _ message: String) {
        guard l <= level else { return }
        // A message with newlines (diagnostics: file:line:col, the source line, the caret) keeps its lines together,
        // indented after the first. journald makes one entry per line, so each line carries the priority:
        // `journalctl -p err` shows the whole diagnostic, not only its first line.
        var lines = message.split(separator: "\n", omittingEmptySubsequences: false)
        while lines.count > 1 && lines.last!.isEmpty { lines.removeLast() }
        let text = lines.count > 1 ? lines.joined(separator: "\n    ") : message
        switch destination {
        case .stderrWithPriority:
            let prefix = "<\(l.rawValue)>"
            writeStderr(lines.count > 1 ? prefix + lines.joined(separator: "\n" + prefix + "    ") + "\n" : prefix + message + "\n")
        case .stderrPlain: writeStderr("shd: \(l.name): \(text)\n")
        case .syslog: text.withCString { p in syslogMessage(Int32(l.rawValue), p) }
        case .none: break
        }
    }

    public func error(_ m: String) { log(.error, m) }
    public func warning(_ m: String) { log(.warning, m) }
    public func notice(_ m: String) { log(.notice, m) }
    public func info(_ m: String) { log(.info, m) }
    public func debug(_ m: String) { log(.debug, m) }
}

private func syslogMessage(_ priority: Int32, _ message: UnsafePointer<CChar>) {
    withVaList([message]) { vsyslog(priority, "%s", $0) }
}

/// Writes all of `s` to stderr, retrying on EINTR and short writes.
public func writeStderr(_ s: String) { writeAll(2, s) }

/// Writes all of `s` to stdout.
public func writeStdout(_ s: String) { writeAll(1, s) }

/// Writes all of `bytes` to stdout (part of a large answer, without copying it).
public func writeAll(bytes: UnsafeBufferPointer<UInt8>) {
    var off = 0
    while off < bytes.count {
        let n = write(1, bytes.baseAddress! + off, bytes.count - off)
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        off += n
    }
}

/// Writes all of `bytes` to stdout (a large answer, without making a string of it).
public func writeStdout(bytes: [UInt8]) { writeAll(1, bytes) }

func writeAll(_ fd: Int32, _ s: String) { writeAll(fd, Array(s.utf8)) }

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var bytes = bytes
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { p in write(fd, p.baseAddress! + off, p.count - off) }
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        off += n
    }
    bytes.removeAll()
}
