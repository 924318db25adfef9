// The e-mail encoders: header folding, RFC 2047 encoded words, quoted-printable, and whole messages within SMTP's limits.
import Alerting
import Testing
@testable import Notify
import Reports
import TestSupport

@Suite struct MIMETests {
    /// Header lines of a folded field, and the field unfolded (RFC 5322 §2.2.3: remove each CRLF before a space).
    static func unfold(_ field: String) -> (lines: [String], value: String) {
        let lines = field.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        return (lines, lines.joined())
    }

    /// Decodes a field of `=?UTF-8?B?…?=` words separated by folding white space; nil if a word is not valid UTF-8.
    static func decodeWords(_ value: String) -> (text: String, words: [String])? {
        var text = ""
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\r\n" }).map(String.init)
        for w in words {
            guard w.hasPrefix("=?UTF-8?B?"), w.hasSuffix("?="), let bytes = base64Decode(String(w.dropFirst(10).dropLast(2))),
                  let s = String(validating: bytes, as: UTF8.self)
            else { return nil }
            text += s
        }
        return (text, words)
    }

    /// Quoted-printable decoding (soft breaks removed, =XX to octets), independent of the encoder.
    static func decodeQP(_ qp: String) -> [UInt8] {
        var out: [UInt8] = []
        for line in qp.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast() {
            var bytes = Array(line.utf8)
            let soft = bytes.last == UInt8(ascii: "=")
            if soft { bytes.removeLast() }
            var i = 0
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "="), i + 2 < bytes.count, let v = UInt8(String(decoding: bytes[i + 1...i + 2], as: UTF8.self), radix: 16) {
                    out.append(v)
                    i += 3
                } else {
                    out.append(bytes[i])
                    i += 1
                }
            }
            if !soft { out += [13, 10] }
        }
        return out
    }

    @Test(arguments: [
        ("[shd] CRIT disk_space on web1: / is 96.25% full", "Subject: [shd] CRIT disk_space on web1: / is 96.25% full"),
        ("a\tb\nc\r\nd", "Subject: a b c  d"),
        ("", "Subject: "),
        ("a\u{7F}b", "Subject: a b"),
    ])
    func shortPrintableSubjectsStayPlain(value: String, expected: String) {
        #expect(MIME.unstructuredField("Subject", value) == expected)
    }

    @Test(arguments: [
        String(repeating: "sector 123456 reallocated, ", count: 40),
        "two  spaces   and more    " + String(repeating: "word ", count: 30),
    ])
    func longASCIISubjectsFoldAtSpacesAndUnfoldToTheSameText(value: String) {
        let field = MIME.unstructuredField("Subject", value)
        let (lines, unfolded) = Self.unfold(field)
        #expect(lines.count > 1)
        #expect(lines.allSatisfy { $0.utf8.count <= 78 }, "\(lines.map(\.utf8.count))")
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix(" ") && $0.contains { $0 != " " } }, "a folded line starts with a space and is not blank")
        #expect(unfolded == "Subject: " + value)
    }

    @Test(arguments: [
        ("Température élevée", "Température élevée"),
        (String(repeating: "Température élevée sur le disque système; ", count: 30), nil),
        (String(repeating: "磁盘空间不足，请立即清理日志文件。", count: 40), nil),
        (String(repeating: "🔥👩‍💻", count: 50), nil),
        ("disk " + String(repeating: "x", count: 120), nil),  // a word longer than a line
        ("looks like =?UTF-8?B?QQ==?= a word", nil),  // would be decoded by a reader
    ] as [(String, String?)])
    func otherSubjectsAreEncodedWordsOfWholeCharacters(value: String, decoded: String?) throws {
        let field = MIME.unstructuredField("Subject", value)
        let (lines, _) = Self.unfold(field)
        #expect(lines.allSatisfy { $0.utf8.count <= 78 }, "\(lines.map(\.utf8.count))")
        #expect(field.utf8.allSatisfy { $0 < 0x80 })
        let d = try #require(Self.decodeWords(String(field.dropFirst("Subject:".count))), "a word that is not whole UTF-8: \(field)")
        #expect(d.words.allSatisfy { $0.utf8.count <= 75 })
        #expect(d.text == (decoded ?? value))
    }

    @Test func encodedWordsNeverSplitAUTF8Sequence() {
        // Every offset of a 2-, 3- and 4-octet character against the word boundary.
        for pad in 0..<4 {
            for c in ["é", "磁", "🔥"] {
                let text = String(repeating: "a", count: pad) + String(repeating: c, count: 60)
                let words = MIME.encodedWords(text)
                #expect(words.allSatisfy { $0.utf8.count <= 75 })
                let pieces = words.map { base64Decode(String($0.dropFirst(10).dropLast(2))) ?? [] }
                #expect(pieces.allSatisfy { String(validating: $0, as: UTF8.self) != nil }, "\(pad) \(c)")
                #expect(pieces.joined().elementsEqual(text.utf8))
            }
        }
    }

    @Test func addressListsFoldAfterCommas() {
        let many = (1...12).map { "oncall-\($0)@example.com" }
        let (lines, unfolded) = Self.unfold(MIME.listField("To", many))
        #expect(lines.count > 1 && lines.allSatisfy { $0.utf8.count <= 78 })
        #expect(unfolded == "To: " + many.joined(separator: ", "))
        #expect(MIME.listField("From", ["shd@web1"]) == "From: shd@web1")
    }

    @Test(arguments: [
        ("plain text", "plain text\r\n"),
        ("a=b", "a=3Db\r\n"),
        ("trailing space \nand tab\t", "trailing space=20\r\nand tab=09\r\n"),
        ("From the disk", "=46rom the disk\r\n"),
        ("café", "caf=C3=A9\r\n"),
        ("one\r\ntwo\rthree\n\nfive", "one\r\ntwo\r\nthree\r\n\r\nfive\r\n"),
        (String(repeating: "a", count: 76), String(repeating: "a", count: 76) + "\r\n"),
        (String(repeating: "a", count: 77), String(repeating: "a", count: 75) + "=\r\naa\r\n"),
    ])
    func quotedPrintable(text: String, expected: String) {
        #expect(MIME.quotedPrintable(text) == expected)
    }

    @Test(arguments: [
        String(repeating: "Température élevée sur le disque système = 97 °C; ", count: 100),
        String(repeating: "磁盘空间不足", count: 800),
        String(repeating: "x=", count: 500) + " \t",
    ])
    func quotedPrintableLinesStayWithin76AndDecodeToTheText(text: String) {
        let qp = MIME.quotedPrintable(text)
        let lines = qp.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.utf8.count <= 76 }, "\(lines.map(\.utf8.count).max() ?? 0)")
        #expect(qp.utf8.allSatisfy { $0 < 0x80 })
        #expect(Self.decodeQP(qp) == Array(text.utf8) + [13, 10])
    }

    @Test func theTextPartIsBase64OnlyWhereThatIsShorter() {
        #expect(MIME.textBody("The disk café-1 is at 97 % of its size; only 3 GiB are left.").encoding == "quoted-printable")
        let cjk = MIME.textBody(String(repeating: "磁盘空间不足", count: 100))
        #expect(cjk.encoding == "base64")
        #expect(cjk.body.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 76 })
        #expect(base64Decode(cjk.body) == Array((String(repeating: "磁盘空间不足", count: 100) + "\r\n").utf8))
    }

    /// A whole message with a 5 KB summary: every line at most 78 octets, every octet 7-bit, CRLF only.
    @Test(arguments: ["sector 123456 reallocated; ", "Température élevée; ", "磁盘空间不足。"])
    func wholeMessagesKeepEveryLineShortAndSevenBit(piece: String) throws {
        var e = sampleEvent(channels: ["m"])
        e.summary = ""
        while e.summary.utf8.count < 5000 { e.summary += piece }
        let decl = channel("m", "smtp", [("server", .string("smtp://x")), ("from", .string("a@b")), ("to", .string("c@d"))])
        let msg = smtpKind(try ChannelConfig(decl)).message([OutgoingAlert(id: "1-1-a", event: e)], host: "web1",
                                 reportJSON: "{}", reportPath: "/var/lib/shd/report.json", date: t0)
        #expect(msg.allSatisfy { $0 < 0x80 })
        for (i, b) in msg.enumerated() where b == 10 { #expect(i > 0 && msg[i - 1] == 13) }
        let lines = String(decoding: msg, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.utf8.count <= 78 }, "\(lines.map(\.utf8.count).max() ?? 0)")
    }

    @Test(arguments: ["ops team <ops@example.com>", "ops@example.com\r\nBcc: x@y", "opérateur@example.com", "no-at-sign"])
    func addressesThatWouldBreakTheHeaderAreRefused(address: String) {
        let decl = channel("m", "smtp", [("server", .string("smtp://x")), ("from", .string("a@b")), ("to", .string(address))])
        #expect(throws: NotifyError.self) { try ChannelConfig(decl) }
    }
}
