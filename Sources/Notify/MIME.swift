// E-mail encodings that keep every line of a message within SMTP's limits, whatever the alert's text:
// folded header fields (RFC 5322 §2.2.3), RFC 2047 encoded words, quoted-printable and base64 bodies (RFC 2045).

enum MIME {
    /// RFC 5322 §2.1.1: a line SHOULD be at most 78 characters (and MUST be at most 998 octets).
    static let recommendedLineLength = 78
    /// RFC 2047 §2: an encoded word is at most 75 characters.
    static let encodedWordLength = 75
    /// RFC 2045 §6.7: a quoted-printable line is at most 76 characters, the soft break's "=" included.
    static let qpLineLength = 76

    /// `Name: a, b, c` for a list of ASCII items (addresses), folded after a comma where a line would pass 78.
    static func listField(_ name: String, _ items: [String]) -> String {
        var lines: [String] = []
        var line = name + ":"
        for (i, item) in items.enumerated() {
            let piece = " " + item + (i < items.count - 1 ? "," : "")
            if line.utf8.count + piece.utf8.count > recommendedLineLength && line.utf8.count > name.utf8.count + 1 {
                lines.append(line)
                line = piece
            } else {
                line += piece
            }
        }
        lines.append(line)
        return lines.joined(separator: "\r\n")
    }

    /// An unstructured field (`Subject`), one string with CRLF between its lines. Printable ASCII whose words each
    /// fit a line is folded at spaces; anything else (non-ASCII, a word longer than a line, text that would read as
    /// an encoded word) becomes RFC 2047 `B` encoded words of at most 75 characters, one per line, each holding whole
    /// UTF-8 sequences. Control characters (CR, LF, tab, …) become spaces: a header holds one line of text.
    static func unstructuredField(_ name: String, _ value: String) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 })
        let prefix = name + ":"
        if let folded = foldASCII(prefix, text) { return folded }
        var lines: [String] = []
        var line = prefix
        for word in encodedWords(text, firstRoom: recommendedLineLength - prefix.utf8.count - 1) {
            if line.utf8.count + 1 + word.utf8.count > recommendedLineLength && line != prefix {
                lines.append(line)
                line = ""
            }
            line += " " + word
        }
        lines.append(line)
        return lines.joined(separator: "\r\n")
    }

    /// `prefix value` folded before a space where a line would pass 78 characters, or nil when the value is not
    /// printable ASCII, has a word that cannot fit a line, or contains `=?` (a reader would decode it).
    static func foldASCII(_ prefix: String, _ value: String) -> String? {
        let bytes = Array(value.utf8)
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), !value.contains("=?") else { return nil }
        // Pieces: a run of spaces and the word after it; a fold goes before a piece, so no line is only spaces.
        var pieces: [String] = []
        var i = 0
        while i < bytes.count {
            let start = i
            while i < bytes.count && bytes[i] == 0x20 { i += 1 }
            while i < bytes.count && bytes[i] != 0x20 { i += 1 }
            pieces.append(String(decoding: bytes[start..<i], as: UTF8.self))
        }
        var lines: [String] = []
        var line = prefix + " "
        for (n, piece) in pieces.enumerated() {
            if n > 0 && line.utf8.count + piece.utf8.count > recommendedLineLength {
                lines.append(line)
                line = ""
            }
            guard (line.isEmpty ? 0 : line.utf8.count) + piece.utf8.count <= recommendedLineLength else { return nil }
            line += piece
        }
        lines.append(line)
        return lines.joined(separator: "\r\n")
    }

    /// RFC 2047 `=?UTF-8?B?…?=` words covering `text`, each at most 75 characters (the first at most `firstRoom`),
    /// each the encoding of whole Unicode scalars: no word ends inside a UTF-8 sequence.
    static func encodedWords(_ text: String, firstRoom: Int = encodedWordLength) -> [String] {
        // 12 characters of "=?UTF-8?B?" and "?="; 4 base64 characters carry 3 octets.
        func capacity(_ room: Int) -> Int { max(1, (min(room, encodedWordLength) - 12) / 4) * 3 }
        var words: [String] = []
        var chunk: [UInt8] = []
        var room = capacity(firstRoom)
        for scalar in text.unicodeScalars {
            let utf8 = Array(String(scalar).utf8)
            if chunk.count + utf8.count > room && !chunk.isEmpty {
                words.append("=?UTF-8?B?" + Encoding.base64(chunk) + "?=")
                chunk = []
                room = capacity(encodedWordLength)
            }
            chunk += utf8
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?" + Encoding.base64(chunk) + "?=") }
        return words
    }

    /// Quoted-printable (RFC 2045 §6.7) of text: each line of `text` (LF, CRLF or CR ends one) ends in CRLF, long
    /// lines get soft breaks, and no encoded line is longer than 76 characters. Only printable ASCII other than `=`
    /// stays as it is; a space or tab at the end of a line is encoded, and so is the `F` of a line starting
    /// "From " (mbox readers would mangle it).
    static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 2)
        for line in lines(text) {
            var col = 0
            let fromLine = line.starts(with: Array("From ".utf8))
            for (i, b) in line.enumerated() {
                let last = i == line.count - 1
                let literal = (b >= 0x21 && b <= 0x7E && b != UInt8(ascii: "=") && !(i == 0 && fromLine))
                    || ((b == 0x20 || b == 0x09) && !last)
                let width = literal ? 1 : 3
                // Room for the soft break's "=" unless this is the line's last character.
                if col + width > (last ? qpLineLength : qpLineLength - 1) {
                    out += [UInt8(ascii: "="), 13, 10]
                    col = 0
                }
                if literal { out.append(b) } else { out += [UInt8(ascii: "="), hex[Int(b >> 4)], hex[Int(b & 15)]] }
                col += width
            }
            out += [13, 10]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A text body as its `Content-Transfer-Encoding` and CRLF-lined encoded text: quoted-printable, or base64 of
    /// the CRLF-lined text where that is shorter (mostly non-Latin text). Either is 7-bit with short lines, so the
    /// message needs neither 8BITMIME nor the server's line limit.
    static func textBody(_ text: String) -> (encoding: String, body: String) {
        let qp = quotedPrintable(text)
        var crlf: [UInt8] = []
        for line in lines(text) { crlf += line + [13, 10] }
        if qp.utf8.count <= (crlf.count + 2) / 3 * 4 * 78 / 76 { return ("quoted-printable", qp) }
        return ("base64", Encoding.base64(crlf, lineLength: 76) + "\r\n")
    }

    /// The octets of each line of `text`; LF, CRLF and a lone CR each end a line, and a final line break adds no line.
    static func lines(_ text: String) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var line: [UInt8] = []
        var previousCR = false
        for b in text.utf8 {
            if b == 10 && previousCR { previousCR = false; continue }
            previousCR = b == 13
            if b == 10 || b == 13 { result.append(line); line = []; continue }
            line.append(b)
        }
        if !line.isEmpty || result.isEmpty { result.append(line) }
        return result
    }
}
