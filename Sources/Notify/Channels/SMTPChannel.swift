// The SMTP channel: one RFC 5322 message with the report attached, over STARTTLS (or implicit TLS) unless `tls "none"`.
import Reports
import Rules

struct SMTPChannel: ChannelKind {
    static let name = "smtp"

    var server: String
    var from: String
    var to: [String]
    var user: String?
    var password: String?
    var requireTLS = ChannelKinds.tls.defaultString == "required"
    var subjectPrefix = ChannelKinds.subjectPrefix.defaultString

    init(decoding o: ChannelOptions) throws(NotifyError) {
        server = try o.required("server")
        from = try o.required("from")
        switch o["to"] {
        case .string(let s)?: to = [s]
        case .list(let l)?:
            to = l.compactMap(\.stringValue)
            if to.count != l.count || to.isEmpty { throw o.bad("to", "an address or a list of addresses") }
        case nil: throw o.missing("to")
        default: throw o.bad("to", "an address or a list of addresses")
        }
        // An address goes into the envelope as <address> and into the From/To header as it is: a space, a
        // bracket or a line break there would break both (or add a header), and non-ASCII needs SMTPUTF8.
        func plainAddress(_ a: String) -> Bool {
            a.utf8.count <= 254 && a.contains("@") && a.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") && $0 != UInt8(ascii: ",") }
        }
        let addressText = "a plain e-mail address such as \"ops@example.com\" (ASCII, no spaces, <, > or commas)"
        if !plainAddress(from) { throw o.bad("from", addressText) }
        if !to.allSatisfy(plainAddress) { throw o.bad("to", addressText) }
        user = try o.text("user")
        password = try o.text("password", secret: true)
        if let t = try o.text(ChannelKinds.tls.name) {
            guard t == "none" || t == "required" else { throw o.bad("tls", "\"required\" or \"none\"") }
            requireTLS = t == "required"
        }
        if let p = try o.text(ChannelKinds.subjectPrefix.name) { subjectPrefix = p }
    }

    var target: String { ChannelConfig.hostOf(server) }

    /// The message as sent (its Date is `date`).
    func message(_ alerts: [OutgoingAlert], host: String, reportJSON: String, reportPath: String, date: Timestamp) -> [UInt8] {
        Payloads.email(alerts, from: from, to: to, subjectPrefix: subjectPrefix, host: host, reportJSON: reportJSON,
                       reportPath: reportPath, date: date)
    }

    func request(_ alerts: [OutgoingAlert], _ m: MessageContext, _ config: ChannelConfig) -> ChannelRequest {
        let body = message(alerts, host: m.host, reportJSON: (m.report ?? .null).encoded(pretty: true), reportPath: m.reportPath,
                           date: Timestamp.now())
        return .transfer(TransferRequest(proto: .smtp, url: server, body: body, timeout: config.timeout, caFile: config.caFile,
                                         mailFrom: from, recipients: to, requireTLS: requireTLS, username: user, password: password))
    }

    /// 5xx replies are permanent in SMTP; 4xx replies and connection trouble are worth another try.
    func classify(_ answer: AttemptAnswer, _ config: ChannelConfig) -> Verdict {
        guard case .transfer(let r) = answer else { return .permanent(code: nil, detail: "not a transfer") }
        if r.completed { return .delivered }
        if (500..<600).contains(r.status) { return .permanent(code: r.status, detail: config.failureText(r)) }
        return .retry(code: r.status == 0 ? nil : r.status, detail: config.failureText(r), after: nil)
    }
}
