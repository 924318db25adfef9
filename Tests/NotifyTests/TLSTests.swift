// TLS is verified: a self-signed receiver is refused unless its CA is given (`ca_file`); SMTP STARTTLS with AUTH.
import Alerting
@testable import Notify
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct TLSTests {
    @Test(.enabled(if: TestCertificate.unavailableReason == nil, "openssl or python3 is missing"))
    func httpsIsVerifiedAndCAFileIsHonoured() throws {
        let dir = makeTempDir("tls")
        defer { removeTree(dir) }
        let pair = try #require(TestCertificate.make(in: dir))
        let server = try #require(HTTPSReceiver(folder: dir, cert: pair.cert, key: pair.key))
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/hook"

        let refused = try Harness([channel("hook", "webhook", [("url", .string(url))])])
        refused.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(refused.run(timeout: 10) { !refused.outcomes.isEmpty })
        guard case .retrying = refused.outcomes[0].status else { Issue.record("\(refused.outcomes[0])"); return }
        #expect(refused.outcomes[0].detail.lowercased().contains("certificate"), "\(refused.outcomes[0].detail)")
        #expect(server.bodies.isEmpty)

        let trusted = try Harness([channel("hook", "webhook", [("url", .string(url)), ("ca_file", .string(pair.cert))])])
        trusted.dispatcher.enqueue([sampleEvent(channels: ["hook"])], report: sampleReport())
        #expect(trusted.run(timeout: 10) { trusted.delivered == 1 }, "\(trusted.logText)")
        let body = try #require(server.bodies.first)
        #expect(try JSONValue.parse(body)["alert"]?["rule"] == "disk_space")
    }

    @Test(.enabled(if: TestCertificate.unavailableReason == nil && SMTPReceiver.unavailableReason == nil,
                   "openssl, python3 or python3-aiosmtpd is missing"))
    func smtpStartTLSWithAuthFromASecretFile() throws {
        let dir = makeTempDir("smtptls")
        defer { removeTree(dir) }
        let pair = try #require(TestCertificate.make(in: dir))
        let smtp = try #require(SMTPReceiver(folder: dir, certificate: pair, login: ("shd", "pa55-w0rd-secret")))
        defer { smtp.stop() }
        writeFile(dir + "/smtp-password", "pa55-w0rd-secret\n", mode: 0o600)
        let h = try Harness([channel("mail", "smtp", [
            ("server", .string("smtp://127.0.0.1:\(smtp.port)")), ("ca_file", .string(pair.cert)),
            ("from", .string("shd@web1")), ("to", .string("oncall@example.com")),
            ("user", .string("shd")), ("password", .file(dir + "/smtp-password")),
        ])])
        h.dispatcher.enqueue([sampleEvent(channels: ["mail"])], report: sampleReport())
        #expect(h.run(timeout: 10) { h.delivered == 1 }, "\(h.logText)")
        #expect(smtp.messages.count == 1)
        #expect(smtp.authLog.contains { $0.hasSuffix(" shd ok") }, "\(smtp.authLog)")
        #expect(!h.logText.contains("pa55-w0rd-secret"))
    }
}
