// The lexer: rule-language bytes to tokens (names, strings, numbers with units, punctuation).

/// What a number literal was written with: its value is already converted to seconds, bytes or per-second.
public enum NumberUnit: String, Sendable, Equatable {
    case none, duration, bytes, rate, percent
}

/// A span of source: where a token or node starts and how many characters it covers.
public struct Span: Sendable, Equatable {
    public var location: SourceLocation
    public var length: Int
    public init(_ location: SourceLocation, length: Int) {
        self.location = location
        self.length = max(1, length)
    }
}

struct Token: Equatable {
    enum Kind: Equatable { case ident, string, number, punct, eof }
    var kind: Kind
    /// Identifier name, punctuation text, or decoded string contents.
    var text: String
    var number: Double = 0
    var unit: NumberUnit = .none
    var span: Span
    /// First token on its line: statement recovery restarts only at such tokens.
    var startsLine: Bool
    /// Raw source text of strings and numbers (names and punctuation are their `text`).
    var rawStorage: String
    /// Byte range in the source, for a rule's definition text.
    var offset: Int = 0
    var end: Int = 0

    /// The token as written, for a rule's definition identity and messages.
    var raw: String { rawStorage.isEmpty && kind != .eof ? text : rawStorage }

    func isPunct(_ p: String) -> Bool { kind == .punct && text == p }
    func isWord(_ w: String) -> Bool { kind == .ident && text == w }
}

struct Lexer {
    let file: String
    let b: [UInt8]
    var i = 0
    var line = 1
    var lineStart = 0
    var lastTokenLine = 0
    var diagnostics: [Diagnostic] = []

    init(file: String, bytes: [UInt8]) {
        self.file = file
        self.b = bytes
        // Some editors start UTF-8 files with a byte-order mark: skip it, columns count from after it.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            i = 3
            lineStart = 3
        }
    }

    static let durationUnits: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
    static let byteUnits: [String: Double] = [
        "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
        "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776, "PiB": 1_125_899_906_842_624,
    ]

    /// Words people write for units, mapped to the unit shd spells, for "did you mean".
    static let unitAliases: [String: String] = [
        "sec": "s", "secs": "s", "second": "s", "seconds": "s", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
        "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "day": "d", "days": "d", "week": "w", "weeks": "w",
        "k": "KB", "kb": "KB", "kib": "KiB", "mb": "MB", "mib": "MiB", "gb": "GB", "gib": "GiB", "g": "GiB", "tb": "TB", "tib": "TiB",
    ]

    /// Column cache: the last offset asked for on the current line and its column, so long lines stay linear.
    var columnCache: (lineStart: Int, offset: Int, column: Int) = (-1, 0, 1)

    mutating func location(_ offset: Int) -> SourceLocation {
        // Columns count characters, not bytes, so carets line up under non-ASCII text.
        var col = 1
        var k = lineStart
        if columnCache.lineStart == lineStart && columnCache.offset <= offset {
            k = columnCache.offset
            col = columnCache.column
        }
        while k < offset && k < b.count {
            if b[k] & 0xC0 != 0x80 { col += 1 }
            k += 1
        }
        columnCache = (lineStart, k, col)
        return SourceLocation(file: file, line: line, column: col)
    }

    mutating func error(_ id: String, _ message: String, at offset: Int, length: Int = 1, notes: [Diagnostic.Note] = [],
                        fixIt: Diagnostic.FixIt? = nil)
    {
        diagnostics.append(Diagnostic(.error, id, message, at: location(offset), length: length, notes: notes, fixIt: fixIt))
    }

    static func isIdentStart(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x5F }
    static func isIdent(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// All tokens, ending with `.eof`. Lexical errors are collected; the bad characters are skipped.
    mutating func tokenize() -> [Token] {
        var out: [Token] = []
        while true {
            let t = next()
            out.append(t)
            if t.kind == .eof { return out }
        }
    }

    mutating func make(_ kind: Token.Kind, _ text: String, from start: Int, number: Double = 0, unit: NumberUnit = .none) -> Token {
        let loc = location(start)
        let first = loc.line != lastTokenLine
        lastTokenLine = loc.line
        // Only strings and numbers differ from their text; skipping the copy for the rest keeps lexing cheap.
        // A number's text is its source (ASCII); names and punctuation are ASCII too: their length is their byte count.
        let raw: String
        let length: Int
        switch kind {
        case .string:
            raw = String(decoding: b[start..<i], as: UTF8.self)
            length = raw.count
        case .number:
            raw = text
            length = i - start
        default:
            raw = ""
            length = text.utf8.count
        }
        return Token(kind: kind, text: text, number: number, unit: unit, span: Span(loc, length: length),
                     startsLine: first, rawStorage: raw, offset: start, end: i)
    }

    mutating func next() -> Token {
        // Skip blanks and comments.
        while i < b.count {
            let c = b[i]
            if c == 0x0A {
                i += 1; line += 1; lineStart = i
            } else if c == 0x20 || c == 0x09 || c == 0x0D {
                i += 1
            } else if c == UInt8(ascii: "#") {
                while i < b.count && b[i] != 0x0A { i += 1 }
            } else {
                break
            }
        }
        let start = i
        guard i < b.count else {
            let loc = location(i)
            return Token(kind: .eof, text: "end of file", span: Span(loc, length: 1), startsLine: true, rawStorage: "")
        }
        let c = b[i]
        if Lexer.isIdentStart(c) {
            while i < b.count && Lexer.isIdent(b[i]) { i += 1 }
            return make(.ident, String(decoding: b[start..<i], as: UTF8.self), from: start)
        }
        if Lexer.isDigit(c) { return lexNumber(start) }
        if c == UInt8(ascii: "\"") { return lexString(start) }
        // Two-character operators: ==, !=, <=, >=, =~, !~.
        if i + 1 < b.count {
            let d = b[i + 1]
            let isTwo = (d == UInt8(ascii: "=") && (c == UInt8(ascii: "=") || c == UInt8(ascii: "!") || c == UInt8(ascii: "<") || c == UInt8(ascii: ">")))
                || (d == UInt8(ascii: "~") && (c == UInt8(ascii: "=") || c == UInt8(ascii: "!")))
            if isTwo {
                i += 2
                return make(.punct, String(decoding: b[start..<i], as: UTF8.self), from: start)
            }
        }
        if "{}()[],.=<>~+-*/;|:".utf8.contains(c) {
            i += 1
            return make(.punct, String(UnicodeScalar(c)), from: start)
        }
        // Anything else (control bytes, non-ASCII outside strings) is reported once per run of bad bytes.
        var n = 0
        while i < b.count, !(b[i] == 0x0A || b[i] == 0x20 || b[i] == 0x09), !Lexer.isIdentStart(b[i]), !Lexer.isDigit(b[i]),
              !"{}()[],.=<>~+-*/;|:\"#".utf8.contains(b[i])
        {
            i += 1; n += 1
        }
        if n == 0 { i += 1; n = 1 }
        let shown = c < 0x20 || c >= 0x7F ? "byte 0x" + String(c, radix: 16) : "`" + String(UnicodeScalar(c)) + "`"
        error("unexpected-character", "unexpected character \(shown)", at: start, length: max(1, n))
        return next()
    }

    mutating func lexNumber(_ start: Int) -> Token {
        var value = 0.0
        var unit = NumberUnit.none
        var total = 0.0
        var compound = false
        repeat {
            let numStart = i
            while i < b.count && (Lexer.isDigit(b[i]) || b[i] == UInt8(ascii: "_")) { i += 1 }
            if i + 1 < b.count && b[i] == UInt8(ascii: ".") && Lexer.isDigit(b[i + 1]) {
                i += 1
                while i < b.count && Lexer.isDigit(b[i]) { i += 1 }
            }
            if i < b.count && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")),
               i + 1 < b.count, Lexer.isDigit(b[i + 1]) || ((b[i + 1] == 0x2B || b[i + 1] == 0x2D) && i + 2 < b.count && Lexer.isDigit(b[i + 2]))
            {
                i += 2
                while i < b.count && Lexer.isDigit(b[i]) { i += 1 }
            }
            let digits = b[numStart..<i].contains(UInt8(ascii: "_"))
                ? String(decoding: b[numStart..<i].filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
                : String(decoding: b[numStart..<i], as: UTF8.self)
            value = Double(digits) ?? 0
            let suffixStart = i
            while i < b.count && Lexer.isIdentStart(b[i]) { i += 1 }
            let suffix = String(decoding: b[suffixStart..<i], as: UTF8.self)
            if suffix.isEmpty {
                if compound {
                    error("bad-number", "a compound duration needs a unit after every part (e.g. `1h30m`)", at: start, length: i - start)
                }
                total = value
            } else if let f = Lexer.durationUnits[suffix] {
                if unit != .none && unit != .duration {
                    error("bad-number", "cannot mix units in one number", at: start, length: i - start)
                }
                unit = .duration
                total += value * f
            } else if let f = Lexer.byteUnits[suffix], !compound {
                unit = .bytes
                total = value * f
            } else {
                let all = (Array(Lexer.durationUnits.keys) + Array(Lexer.byteUnits.keys)).sorted()
                let hint = Lexer.unitAliases[suffix.lowercased()] ?? closest(suffix, in: all)
                error("unknown-unit", "unknown unit `\(suffix)`" + (hint.map { "; did you mean `\($0)`?" } ?? ""),
                      at: suffixStart, length: suffix.count,
                      notes: [Diagnostic.Note("durations: ms s m h d w (e.g. `1h30m`); sizes: B KB MB GB TB KiB MiB GiB TiB")],
                      fixIt: hint.map { Diagnostic.FixIt("replace with `\($0)`", location: location(suffixStart), length: suffix.count, replacement: $0) })
                // Recover as if the suggested unit had been written, so `for 5mins` gives one error, not two.
                if let h = hint, let f = Lexer.durationUnits[h] {
                    unit = .duration
                    total += value * f
                } else if let h = hint, let f = Lexer.byteUnits[h] {
                    unit = .bytes
                    total = value * f
                } else {
                    total = value
                }
            }
            compound = true
        } while unit == .duration && i < b.count && Lexer.isDigit(b[i])
        if i < b.count && b[i] == UInt8(ascii: "%") && unit == .none {
            i += 1
            unit = .percent
        }
        // `1/s`, `6/h`: a rate per second, written without spaces.
        if i + 1 < b.count && b[i] == UInt8(ascii: "/"), let f = Lexer.durationUnits[String(UnicodeScalar(b[i + 1]))],
           i + 2 >= b.count || !Lexer.isIdent(b[i + 2]), unit == .none
        {
            i += 2
            unit = .rate
            total /= f
        }
        return make(.number, String(decoding: b[start..<i], as: UTF8.self), from: start, number: total, unit: unit)
    }

    mutating func lexString(_ start: Int) -> Token {
        i += 1
        // Most strings have no escape: decode them straight from the source.
        var k = i
        while k < b.count && b[k] != UInt8(ascii: "\"") && b[k] != 0x0A && b[k] != UInt8(ascii: "\\") { k += 1 }
        if k < b.count && b[k] == UInt8(ascii: "\"") {
            let text = String(decoding: b[i..<k], as: UTF8.self)
            i = k + 1
            return make(.string, text, from: start)
        }
        var bytes: [UInt8] = []
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return make(.string, String(decoding: bytes, as: UTF8.self), from: start)
            }
            if c == 0x0A { break }
            if c == UInt8(ascii: "\\") && i + 1 < b.count {
                let e = b[i + 1]
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(e)
                default:
                    error("bad-escape", "unknown escape `\\\(String(UnicodeScalar(e)))` in a string (use \\\\, \\\", \\n or \\t)", at: i, length: 2)
                    bytes.append(e)
                }
                i += 2
                continue
            }
            bytes.append(c)
            i += 1
        }
        error("unterminated-string", "unterminated string: add a closing `\"` before the end of the line", at: start, length: i - start)
        return make(.string, String(decoding: bytes, as: UTF8.self), from: start)
    }
}
