// The log channel: one structured line per transition, written at enqueue; nothing spooled, nothing sent.
import Reports
import Rules

struct LogChannel: ChannelKind {
    static let name = "log"
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
