// The exec channel: a program run without a shell, the alert in its environment and the webhook JSON on stdin.
import Alerting
import Reports

struct ExecChannel: ChannelKind {
    static let name = ChannelKinds.Exec.kind
    static let maxBatch = 1
    static let usesCurl = false

    var command: [String]

    init(decoding o: ChannelOptions) throws(NotifyError) {
        guard case .list(let l)? = o[ChannelKinds.Exec.command] else {
            if o[ChannelKinds.Exec.command] == nil { throw o.missing(ChannelKinds.Exec.command) }
            throw o.bad(ChannelKinds.Exec.command, "a list of strings: [\"/path/to/program\", \"arg\"]")
        }
        command = l.compactMap(\.stringValue)
        guard command.count == l.count, let first = command.first, first.hasPrefix("/") else {
            throw o.bad(ChannelKinds.Exec.command, "a list of strings starting with an absolute program path")
        }
    }

    var target: String { command.first ?? "?" }

    func request(_ alerts: [OutgoingAlert], _ m: MessageContext, _ config: ChannelConfig) -> ChannelRequest {
        var stdin = Payloads.webhook(alerts, host: m.host, report: m.report).encoded()
        stdin += "\n"
        return .program(ProgramRequest(argv: command, environment: Payloads.execEnvironment(alerts[0], host: m.host, channel: m.channel),
                                       stdin: Array(stdin.utf8), timeout: config.timeout))
    }

    /// Exit status 0 delivered; a program that cannot start dropped; any other end retried.
    func classify(_ answer: AttemptAnswer, _ config: ChannelConfig) -> Verdict {
        guard case .program(let r) = answer else { return .permanent(code: nil, detail: "not a program") }
        if r.succeeded { return .delivered }
        var detail = r.text
        let out = String(decoding: r.output.prefix(200), as: UTF8.self)
        if !out.isEmpty { detail += ": " + config.scrub(out) }
        if r.spawnError != nil { return .permanent(code: nil, detail: detail) }
        return .retry(code: r.exitCode.map(Int.init), detail: detail, after: nil)
    }
}

// MARK: the child's environment

extension Payloads {
    /// The child's whole environment: a fixed PATH and the `SHD_*` variables (the daemon's own is not inherited).
    static func execEnvironment(_ a: OutgoingAlert, host: String, channel: String) -> [String] {
        let e = a.event
        var env = [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SHD_RULE=\(e.rule)", "SHD_SEVERITY=\(e.severity.rawValue)", "SHD_STATE=\(e.status)",
            "SHD_KIND=\(e.kind.rawValue)", "SHD_SUMMARY=\(e.summary)", "SHD_HOST=\(host)",
            "SHD_CHANNEL=\(channel)", "SHD_NOTIFICATION_ID=\(a.id)", "SHD_STARTS_AT=\(e.startsAt.rfc3339)",
            "SHD_LABELS=" + e.labels.keys.sorted().map { "\($0)=\(e.labels[$0]!)" }.joined(separator: ","),
            "SHD_VALUES=" + valuesText(e, separator: ","),
        ]
        if let end = e.endsAt { env.append("SHD_ENDS_AT=\(end.rfc3339)") }
        if let reason = e.reason { env.append("SHD_REASON=\(reason)") }
        for k in e.labels.keys.sorted() { env.append("SHD_LABEL_\(labelName(k).uppercased())=\(e.labels[k]!)") }
        for k in e.values.keys.sorted() { env.append("SHD_VALUE_\(labelName(k).uppercased())=\(displayNumber(e.values[k]!))") }
        return env
    }
}
