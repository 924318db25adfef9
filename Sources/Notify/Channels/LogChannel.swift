// The log channel: one structured line per transition, written at enqueue; nothing spooled, nothing sent.
import Alerting
import Reports

struct LogChannel: ChannelKind {
    static let name = ChannelKinds.Log.kind
    static let maxBatch = 1
    static let usesCurl = false
    static let spools = false

    init(decoding options: ChannelOptions) throws(NotifyError) {}

    var target: String { "log" }

    func deliverNow(_ event: AlertEvent, host: String, channel: String) -> (LogLevel, String)? {
        Payloads.logLine(event, host: host, channel: channel)
    }

    func request(_ alerts: [OutgoingAlert], _ message: MessageContext, _ config: ChannelConfig) -> ChannelRequest { .none }
}

// MARK: the log line

extension Payloads {
    /// One structured line: `alert firing rule=disk_space severity=crit host=web1 mount=/ used_percent=96.2 summary="…"`.
    static func logLine(_ e: AlertEvent, host: String, channel: String) -> (LogLevel, String) {
        var s = "alert \(e.kind.rawValue) rule=\(quoted(e.rule)) severity=\(e.severity.rawValue) host=\(quoted(host))"
        for k in e.labels.keys.sorted() { s += " \(k)=\(quoted(e.labels[k]!))" }
        for k in e.values.keys.sorted() { s += " \(k)=\(displayNumber(e.values[k]!))" }
        s += " summary=\(quoted(e.summary)) channel=\(channel)"
        let level: LogLevel = e.kind == .resolved ? .notice : (e.severity == .crit ? .error : .warning)
        return (level, s)
    }

    /// A value bare when it is a simple word, else in double quotes with `"` and `\` escaped.
    static func quoted(_ s: String) -> String {
        if !s.isEmpty, s.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "=" && $0 != "\\" }) {
            return s
        }
        return "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"").replacingAll("\n", with: "\\n") + "\""
    }
}
