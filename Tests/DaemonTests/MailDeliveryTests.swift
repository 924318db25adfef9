// `shd run` delivering long alerts by e-mail over STARTTLS to a real SMTP server (aiosmtpd), read back with Python's `email`.
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct MailDeliveryTests {
    /// About 5 KB of text from `piece` repeated, in octets.
    static func fiveKB(_ piece: String) -> String {
        var s = ""
        while s.utf8.count < 5000 { s += piece }
        return s
    }

    static let summaries: [(channel: String, summary: String)] = [
        // ASCII, with one word longer than a header line.
        ("ascii", "disk sda3 " + String(repeating: "x", count: 120) + " " + fiveKB("sector 123456 reallocated, pending 7; ")),
        ("latin", fiveKB("Température élevée sur le disque système, déjà à 97 °C; ")),
        ("cjk", fiveKB("磁盘空间不足，请立即清理日志文件。")),
    ]

    @Test(.enabled(if: SMTPReceiver.unavailableReason == nil && TestCertificate.unavailableReason == nil,
                   "needs python3-aiosmtpd and openssl (scripts/deps test installs them)"))
    func fiveKilobyteSummariesInAnyScriptArriveOverSTARTTLSAndParse() throws {
        let h = try DaemonHarness()
        let mailDir = h.dir + "/mail"
        mkdir(mailDir, 0o755)
        let pair = try #require(TestCertificate.make(in: mailDir))
        let smtp = try #require(SMTPReceiver(folder: mailDir, certificate: pair, refuse: "mailbox closed by the test receiver"))
        defer { smtp.stop() }
        var extra = "set hostname \"mailhost\"\n"
        for (name, summary) in Self.summaries + [("refused", "short")] {
            extra += """
                channel mail_\(name) smtp { server "smtp://127.0.0.1:\(smtp.port)" ca_file "\(pair.cert)" from "shd@test.example" to "\(name)@test.example" }
                rule mail_\(name) on memory.usage {
                  crit available_percent < 20
                  notify mail_\(name)
                  summary "\(summary)"
                }

                """
        }
        h.writeRules(threshold: 50, extra: extra)
        h.setAvailable(kB: 2_000_000)
        try h.start()
        #expect(h.waitFor(20) { smtp.messages.count == Self.summaries.count && h.log.contains("mailbox closed") },
                "\(smtp.messages.count) message(s); log: \(h.log)")

        for (name, summary) in Self.summaries {
            let m = try #require(smtp.messages.first { $0.recipients == ["\(name)@test.example"] }, "no mail for \(name)")
            let (parsed, error) = SMTPReceiver.parse(m.raw, folder: mailDir)
            let p = try #require(parsed, "\(error)")
            #expect(p.defects.isEmpty, "\(name): \(p.defects)")
            #expect(!p.eightBit, "\(name): the message must be 7-bit (no 8BITMIME needed)")
            #expect(p.longestLine <= 78, "\(name): a line of \(p.longestLine) octets")
            #expect(p.subject == "[shd] CRIT mail_\(name) on mailhost: " + String(summary.prefix(200)) + "…", "\(name): \(p.subject)")
            let text = try #require(p.text, "\(name): no text part")
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first == "CRIT mail_\(name) on mailhost")
            #expect(lines.count > 1 && lines[1] == summary, "\(name): the summary line differs")
            #expect(lines.contains { $0.hasPrefix("Started: ") })
            // (The CRLF before a MIME boundary belongs to the boundary: a quoted-printable text ends without it.)
            #expect(text.hasSuffix("attached as daemon-report.json (on mailhost it is \(h.state)/report.json).")
                || text.hasSuffix("attached as daemon-report.json (on mailhost it is \(h.state)/report.json).\n"))
            let json = try #require(p.attachments["daemon-report.json"], "\(name): no attachment")
            let report = try DaemonReport(json: JSONValue.parse(bytes: Array(json.utf8)))
            #expect(report.worker("memory")?.function("usage")?.data.first?["available_bytes"]?.number == 2_048_000_000.0)
        }
        #expect(encoding(smtp, "cjk") == "base64", "CJK text is shorter in base64")
        #expect(encoding(smtp, "ascii") == "quoted-printable")

        // The permanent refusal is logged with the server's own reply, not only libcurl's "RCPT failed: 550".
        let refusal = try #require(h.log.split(separator: "\n").first { $0.contains("channel mail_refused") && $0.contains("refused, not retried") },
                                   "log: \(h.log)")
        #expect(refusal.contains("550 5.1.1 <refused@test.example>: mailbox closed by the test receiver"), "\(refusal)")
    }

    private func encoding(_ smtp: SMTPReceiver, _ name: String) -> String? {
        guard let m = smtp.messages.first(where: { $0.recipients == ["\(name)@test.example"] }) else { return nil }
        return SMTPReceiver.parse(m.raw, folder: smtp.folder).0?.textEncoding
    }
}
