// Fuzz target: the spool-file decoder the dispatcher runs on every file in STATE_DIR/spool at start,
// and the payload renderers (webhook, Slack, Alertmanager, e-mail, exec environment, log line) on what it decoded.
import Alerting
import Reports
@testable import Notify

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSpool(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let (entry, event, report) = try? Spool.parse(bytes) else { return 0 }
    let alerts = [OutgoingAlert(id: entry.id, event: event)]
    _ = Payloads.webhook(alerts, host: "fuzz", report: report).encoded()
    _ = Payloads.slack(alerts, host: "fuzz", reportPath: "/var/lib/shd/report.json", channel: nil, username: nil).encoded()
    _ = Payloads.alertmanager([event], host: "fuzz", generatorURL: nil).encoded()
    _ = Payloads.execEnvironment(alerts[0], host: "fuzz", channel: entry.channel)
    _ = Payloads.logLine(event, host: "fuzz", channel: entry.channel)
    _ = Payloads.email(alerts, from: "shd@example.com", to: ["ops@example.com"], subjectPrefix: "[shd]", host: "fuzz",
                       reportJSON: report?.encoded() ?? "null", reportPath: "/var/lib/shd/report.json", date: entry.created)
    return 0
}
