// Every channel kind's bytes on the wire, pinned: what a real local receiver got, compared with Tests/NotifyTests/Golden.
import Kit
import Alerting
@testable import Notify
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The request line, the headers shd sets and the body of each kind's message, byte for byte, with only what changes
/// between runs replaced: spool ids (`<id-1>` …), the message id, the receiver's port, the state folder, the e-mail
/// Date and the HMAC signature (checked against the body before it is replaced).
/// `SHD_UPDATE_GOLDEN=1 swift test --filter GoldenPayloadTests` rewrites the files (only for an intended change).
@Suite(.serialized) struct GoldenPayloadTests {
    /// A fixed report path: a temporary one would move the e-mail's quoted-printable line breaks.
    static let reportPath = "/var/lib/shd/report.json"

    static func check(_ name: String, _ text: String) {
        let path = TestPaths.packageRoot + "/Tests/NotifyTests/Golden/\(name).txt"
        if getenv("SHD_UPDATE_GOLDEN") != nil {
            writeFile(path, text, mode: 0o644)
            return
        }
        guard let golden = readText(path) else {
            Issue.record("no golden file \(path) (SHD_UPDATE_GOLDEN=1 swift test --filter GoldenPayloadTests writes it)")
            return
        }
        if golden != text {
            let a = golden.split(separator: "\n", omittingEmptySubsequences: false)
            let b = text.split(separator: "\n", omittingEmptySubsequences: false)
            let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            Issue.record("\(name): differs from \(path) at line \(i + 1):\n golden: \(i < a.count ? String(a[i]) : "<end>")\n    now: \(i < b.count ? String(b[i]) : "<end>")")
        }
    }

    /// Replaces what differs between runs; `ids` are the message's spool ids in order.
    static func normalize(_ text: String, ids: [String], h: Harness, port: UInt16?) -> String {
        var out = text
        let message = Payloads.messageID(ids)
        var pairs: [(String, String)] = [(message, "<message-id>"), (message.filter { $0.isLetter || $0.isNumber }, "<message-id-alnum>")]
        for (i, id) in ids.enumerated() { pairs.append((id, "<id-\(i + 1)>")) }
        pairs.append((h.stateDir, "<state>"))
        if let port { pairs.append(("127.0.0.1:\(port)", "<receiver>")) }
        for (a, b) in pairs.sorted(by: { $0.0.count > $1.0.count }) { out = out.replacingAll(a, with: b) }
        return out
    }

    /// The headers shd writes (curl's own Host, Accept, Content-Length, Expect are left out: they are libcurl's).
    static func dump(_ r: LocalHTTPServer.Request) -> String {
        let curls: Set<String> = ["host", "accept", "content-length", "expect", "transfer-encoding"]
        var lines = ["\(r.method) \(r.path)"]
        for (k, v) in r.headers where !curls.contains(k.lowercased()) {
            if k.lowercased() == "x-shd-signature" {
                let key = Array("hmac-key-0123".utf8)
                let expected = "sha256=" + SHA256.hex(SHA256.hmac(key: key, message: r.body))
                lines.append("\(k): " + (v == expected ? "<hmac-sha256 of the body>" : "WRONG \(v)"))
            } else {
                lines.append("\(k): \(v)")
            }
        }
        return lines.joined(separator: "\n") + "\n\n" + r.bodyText + "\n"
    }

    static func two(_ channelName: String) -> [AlertEvent] {
        [sampleEvent(channels: [channelName]), sampleEvent(.resolved, severity: .warn, mount: "/home", channels: [channelName])]
    }

    /// Delivers `events` through one channel to a local HTTP receiver and returns the normalized requests.
    static func http(_ kind: String, _ options: (String) -> [(String, ConfigValue)], events: (String) -> [AlertEvent],
                     resend: Bool = false) throws -> String {
        let server = try LocalHTTPServer()
        defer { server.stop() }
        let h = try Harness([channel("c", kind, options(server.url))], reportPath: Self.reportPath)
        h.dispatcher.enqueue(events("c"), report: sampleReport())
        #expect(h.run { h.delivered == 1 }, "\(h.logText)")
        var text = ""
        let ids = h.outcomes.first?.ids ?? []
        if let r = server.requests.first { text += normalize(dump(r), ids: ids, h: h, port: server.port) }
        if resend {
            usleep(20_000)
            h.dispatcher.refreshFiring(events("c"), report: sampleReport())
            #expect(h.run { server.requests.count == 2 && h.dispatcher.pendingCount == 0 })
            if server.requests.count == 2 { text += "---\n" + normalize(dump(server.requests[1]), ids: ids, h: h, port: server.port) }
        }
        return text
    }

    @Test func webhookBatchWithHeadersSignatureAndReport() throws {
        let text = try Self.http("webhook", { url in [
            ("url", .string(url + "/hook?token=abc")),
            ("headers", .block([("Authorization", .string("Bearer t0k3n")), ("X-Team", .string("ops"))])),
            ("hmac_secret", .string("hmac-key-0123")),
        ] }, events: Self.two)
        Self.check("webhook-batch", text)
    }

    @Test func webhookOneAlertWithoutReport() throws {
        let text = try Self.http("webhook", { url in [("url", .string(url + "/")), ("include_report", .bool(false))] },
                                 events: { [sampleEvent(channels: [$0])] })
        Self.check("webhook-single", text)
    }

    @Test func slackBatchWithChannelAndUsername() throws {
        let text = try Self.http("slack", { url in [
            ("url", .string(url + "/services/T000/B000/XXXX")), ("channel", .string("#ops")), ("username", .string("shd")),
        ] }, events: Self.two)
        Self.check("slack", text)
    }

    @Test func alertmanagerPostAndResend() throws {
        var resolvedWithReason = sampleEvent(.resolved, severity: .warn, mount: "/home", channels: ["c"])
        resolvedWithReason.reason = "the rule was removed"
        let text = try Self.http("alertmanager", { url in [
            ("url", .string(url + "/am/")), ("generator_url", .string("http://web1:9100/")),
            ("headers", .block([("X-Scope-OrgID", .string("tenant-1"))])), ("resend_interval", .duration(0.01)),
        ] }, events: { [sampleEvent(channels: [$0]), resolvedWithReason] }, resend: true)
        Self.check("alertmanager", text)
    }

    @Test(.enabled(if: SMTPReceiver.unavailableReason == nil, "python3-aiosmtpd is not installed"))
    func smtpBatch() throws {
        let dir = makeTempDir("smtp")
        defer { removeTree(dir) }
        let smtp = try #require(SMTPReceiver(folder: dir))
        defer { smtp.stop() }
        let h = try Harness([channel("c", "smtp", [
            ("server", .string("smtp://127.0.0.1:\(smtp.port)")), ("tls", .string("none")),
            ("from", .string("shd@web1.example")), ("to", .list([.string("oncall@example.com"), .string("ops@example.com")])),
            ("subject_prefix", .string("[ops]")),
        ])], reportPath: Self.reportPath)
        h.dispatcher.enqueue(Self.two("c"), report: sampleReport())
        #expect(h.run(timeout: 10) { h.delivered == 1 }, "\(h.logText)")
        let m = try #require(smtp.messages.first)
        // "\r\n" is one Character.
        var raw = m.raw.split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("Date: ") ? "Date: <date>" : $0 }.joined(separator: "\r\n")
        raw = Self.normalize(raw, ids: h.outcomes[0].ids, h: h, port: smtp.port)
        Self.check("smtp", "MAIL FROM \(m.mailFrom)\nRCPT TO \(m.recipients.joined(separator: " "))\n\n" + raw)
    }

    @Test func execEnvironmentAndStdin() throws {
        let out = makeTempDir("exec")
        defer { removeTree(out) }
        let script = "tr '\\0' '\\n' < /proc/$$/environ > \(out)/env; cat > \(out)/stdin"
        let h = try Harness([channel("c", "exec", [("command", .list([.string("/bin/sh"), .string("-c"), .string(script)]))])])
        var event = sampleEvent(.resolved, channels: ["c"])
        event.reason = "cleared by hand"
        h.dispatcher.enqueue([event], report: sampleReport())
        #expect(h.run { h.delivered == 1 }, "\(h.logText)")
        // The environment the shell was started with, as shd passed it (in its order).
        let env = readText(out + "/env") ?? ""
        let text = "environment:\n" + env + "stdin:\n" + (readText(out + "/stdin") ?? "")
        Self.check("exec", Self.normalize(text, ids: h.outcomes[0].ids, h: h, port: nil))
    }

    @Test func logLines() throws {
        let h = try Harness([channel("c", "log", [])])
        h.dispatcher.enqueue(Self.two("c") + [sampleEvent(.firing, severity: .warn, mount: "/var \"x\"", channels: ["c"])],
                             report: sampleReport())
        let text = h.log.lines.map { "\($0.0.name) \($0.1)" }.joined(separator: "\n") + "\n"
        Self.check("log", text)
    }
}
