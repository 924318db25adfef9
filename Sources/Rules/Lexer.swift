// The lexer: rule-language bytes to tokens (names, strings, numbers with units, punctuation).
// Over 400 lines: one byte scanner; every token kind shares the cursor and the literal rules (numbers with units, durations, sizes, strings).
import Alerting

/// What a number literal was written with: its value is already converted to seconds, bytes or per-second.
public enum NumberUnit: String, Sendable, Equatable {
    case none, duration, bytes, rate, percent
}

/// A span of source: the line and column where a token or node starts and how many characters it covers.
/// The file is not stored (every node of an `AST` is in `AST.file`): `location(in:)` adds it when a diagnostic is made.
public struct Span: Sendable, Equatable {
    // 32-bit fields: the loader refuses files over 4 MiB, and a span is in every token and syntax node.
    var line32: Int32
    var column32: Int32
    var length32: Int32

    public var line: Int { Int(line32) }
    public var column: Int { Int(column32) }
    public var length: Int { Int(length32) }

    public init(line: Int, column: Int, length: Int) {
        line32 = Int32(clamping: line)
        column32 = Int32(clamping: column)
        length32 = Int32(clamping: max(1, length))
    }

    /// The same start with another length.
    func with(length: Int) -> Span { Span(line: line, column: column, length: length) }

    /// Where the span starts, in `file`.
    public func location(in file: String) -> SourceLocation { SourceLocation(file: file, line: line, column: column) }
}

/// Punctuation and operators.
enum Punct: UInt8 {
    case none
    case lbrace, rbrace, lparen, rparen, lbracket, rbracket, comma, dot, assign, lt, gt, tilde, plus, minus, star, slash
    case semicolon, pipe, colon
    /// `==`, `!=`, `<=`, `>=`, `=~`, `!~`
    case eq, ne, le, ge, match, notMatch

    /// The operator as written (for the syntax tree).
    var text: String {
        switch self {
        case .none: return ""
        case .lbrace: return "{"
        case .rbrace: return "}"
        case .lparen: return "("
        case .rparen: return ")"
        case .lbracket: return "["
        case .rbracket: return "]"
        case .comma: return ","
        case .dot: return "."
        case .assign: return "="
        case .lt: return "<"
        case .gt: return ">"
        case .tilde: return "~"
        case .plus: return "+"
        case .minus: return "-"
        case .star: return "*"
        case .slash: return "/"
        case .semicolon: return ";"
        case .pipe: return "|"
        case .colon: return ":"
        case .eq: return "=="
        case .ne: return "!="
        case .le: return "<="
        case .ge: return ">="
        case .match: return "=~"
        case .notMatch: return "!~"
        }
    }

    /// `<`, `<=`, `>`, `>=`, `==`, `!=`, `~`, `!~`, `=~`: the operators of a comparison.
    var isComparison: Bool {
        switch self {
        case .lt, .le, .gt, .ge, .eq, .ne, .tilde, .notMatch, .match: return true
        default: return false
        }
    }

    static func single(_ c: UInt8) -> Punct {
        switch c {
        case UInt8(ascii: "{"): return .lbrace
        case UInt8(ascii: "}"): return .rbrace
        case UInt8(ascii: "("): return .lparen
        case UInt8(ascii: ")"): return .rparen
        case UInt8(ascii: "["): return .lbracket
        case UInt8(ascii: "]"): return .rbracket
        case UInt8(ascii: ","): return .comma
        case UInt8(ascii: "."): return .dot
        case UInt8(ascii: "="): return .assign
        case UInt8(ascii: "<"): return .lt
        case UInt8(ascii: ">"): return .gt
        case UInt8(ascii: "~"): return .tilde
        case UInt8(ascii: "+"): return .plus
        case UInt8(ascii: "-"): return .minus
        case UInt8(ascii: "*"): return .star
        case UInt8(ascii: "/"): return .slash
        case UInt8(ascii: ";"): return .semicolon
        case UInt8(ascii: "|"): return .pipe
        case UInt8(ascii: ":"): return .colon
        default: return .none
        }
    }

    /// `==`, `!=`, `<=`, `>=`, `=~`, `!~`, or `.none`.
    static func double(_ c: UInt8, _ d: UInt8) -> Punct {
        if d == UInt8(ascii: "=") {
            switch c {
            case UInt8(ascii: "="): return .eq
            case UInt8(ascii: "!"): return .ne
            case UInt8(ascii: "<"): return .le
            case UInt8(ascii: ">"): return .ge
            default: return .none
            }
        }
        if d == UInt8(ascii: "~") {
            if c == UInt8(ascii: "=") { return .match }
            if c == UInt8(ascii: "!") { return .notMatch }
        }
        return .none
    }
}

/// Words the parser looks for, recognised once by the lexer so the parser compares small integers, not strings.
enum Keyword: UInt8 {
    case none
    case set, channel, rule, mute, probe, watch, on, by, `where`, warn, crit, `let`, `repeat`, notify, summary, description, on_missing
    case and, or, not, `for`, clear, file, from, until, after, `true`, `false`, window, quiet, flapping, inhibited

    static func of(_ p: UnsafeBufferPointer<UInt8>) -> Keyword {
        @inline(__always) func eq(_ s: StaticString) -> Bool {
            s.utf8CodeUnitCount == p.count && memcmpEqual(s.utf8Start, p.baseAddress!, p.count)
        }
        switch p.count {
        case 2:
            if eq("on") { return .on }
            if eq("by") { return .by }
            if eq("or") { return .or }
        case 3:
            if eq("set") { return .set }
            if eq("let") { return .let }
            if eq("and") { return .and }
            if eq("not") { return .not }
            if eq("for") { return .for }
        case 4:
            if eq("rule") { return .rule }
            if eq("mute") { return .mute }
            if eq("warn") { return .warn }
            if eq("crit") { return .crit }
            if eq("file") { return .file }
            if eq("from") { return .from }
            if eq("true") { return .true }
        case 5:
            if eq("where") { return .where }
            if eq("clear") { return .clear }
            if eq("until") { return .until }
            if eq("after") { return .after }
            if eq("false") { return .false }
            if eq("quiet") { return .quiet }
            if eq("probe") { return .probe }
            if eq("watch") { return .watch }
        case 6:
            if eq("repeat") { return .repeat }
            if eq("notify") { return .notify }
            if eq("window") { return .window }
        case 7:
            if eq("channel") { return .channel }
            if eq("summary") { return .summary }
        case 8:
            if eq("flapping") { return .flapping }
        case 9:
            if eq("inhibited") { return .inhibited }
        case 10:
            if eq("on_missing") { return .on_missing }
        case 11:
            if eq("description") { return .description }
        default: break
        }
        return .none
    }

    /// `set`, `channel`, `probe`, `watch`, `rule`, `mute`: words that start a statement.
    var isTop: Bool { self == .set || self == .channel || self == .probe || self == .watch || self == .rule || self == .mute }
    /// Words that start a statement inside a rule body.
    var isItem: Bool {
        switch self {
        case .warn, .crit, .let, .repeat, .notify, .summary, .description, .on_missing, .mute, .quiet, .flapping, .inhibited: return true
        default: return false
        }
    }
    /// Statements that end a rule body left open.
    var isRuleEnder: Bool { self == .rule || self == .channel || self == .probe || self == .watch || self == .set }
}

@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var k = 0
    while k < n {
        if a[k] != b[k] { return false }
        k += 1
    }
    return true
}

/// One token as the parser sees it: kind, byte range and position, no strings (it is copied freely).
/// Text is made from the source only where the syntax tree keeps it (`Lexer.text`, `Lexer.stringValue`).
struct Lexeme {
    enum Kind: UInt8 { case ident, string, number, punct, eof }
    var kind: Kind
    var keyword: Keyword = .none
    var punct: Punct = .none
    /// First token on its line: statement recovery restarts only at such tokens.
    var startsLine: Bool
    /// A string whose value differs from its source bytes between the quotes (escapes, or unterminated).
    var escaped = false
    /// A `/…/` regular expression (a string token written between slashes, right after `~`, `=~` or `!~`).
    var regex = false
    var number: Double = 0
    var unit: NumberUnit = .none
    /// Byte range in the source (a string's includes its quotes).
    var start: Int
    var end: Int
    var span: Span

    @inline(__always) func isPunct(_ p: Punct) -> Bool { punct == p }
    @inline(__always) func isWord(_ w: Keyword) -> Bool { keyword == w }
}

/// A token with its text, for the test-file parser and for tests (the rules parser uses `Lexeme`).
struct Token: Equatable {
    typealias Kind = Lexeme.Kind
    var kind: Kind
    /// Identifier name, punctuation text, or decoded string contents.
    var text: String
    var number: Double = 0
    var unit: NumberUnit = .none
    var location: SourceLocation
    var length: Int
    /// First token on its line.
    var startsLine: Bool
    /// The token as written, for messages and definitions.
    var raw: String

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
    /// The last token was `~`, `=~` or `!~`: a `/` here opens a regular expression, not a division.
    var afterMatch = false

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

    /// `value` of a unit whose factor is `f`, in seconds or bytes: milliseconds are divided by 1000, not multiplied
    /// by 0.001 (350 × 0.001 is 0.35000000000000003; 350 / 1000 is the double nearest 0.35, as `0.35s` reads).
    static func scaled(_ value: Double, by f: Double) -> Double { f == 0.001 ? value / 1000 : value * f }

    /// The factor of a duration unit written as bytes (`ms s m h d w`), without making a string.
    static func durationFactor(_ b: ArraySlice<UInt8>) -> Double? {
        switch b.count {
        case 1:
            switch b[b.startIndex] {
            case UInt8(ascii: "s"): return 1
            case UInt8(ascii: "m"): return 60
            case UInt8(ascii: "h"): return 3600
            case UInt8(ascii: "d"): return 86400
            case UInt8(ascii: "w"): return 604_800
            default: return nil
            }
        case 2:
            return b[b.startIndex] == UInt8(ascii: "m") && b[b.startIndex + 1] == UInt8(ascii: "s") ? 0.001 : nil
        default:
            return nil
        }
    }

    /// Words people write for units, mapped to the unit shd spells, for "did you mean".
    static let unitAliases: [String: String] = [
        "sec": "s", "secs": "s", "second": "s", "seconds": "s", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
        "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "day": "d", "days": "d", "week": "w", "weeks": "w",
        "k": "KB", "kb": "KB", "kib": "KiB", "mb": "MB", "mib": "MiB", "gb": "GB", "gib": "GiB", "g": "GiB", "tb": "TB", "tib": "TiB",
    ]

    /// Column cache: the last offset asked for on the current line and its column, so long lines stay linear.
    var columnCache: (lineStart: Int, offset: Int, column: Int) = (-1, 0, 1)

    /// The column of `offset` on the current line.
    mutating func column(_ offset: Int) -> Int {
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
        return col
    }

    mutating func location(_ offset: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column(offset))
    }

    mutating func error(_ code: DiagnosticCode, _ message: String, at offset: Int, length: Int = 1, notes: [Diagnostic.Note] = [],
                        fixIt: Diagnostic.FixIt? = nil)
    {
        diagnostics.append(Diagnostic(code, message, at: location(offset), length: length, notes: notes, fixIt: fixIt))
    }

    static func isIdentStart(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x5F }
    static func isIdent(_ c: UInt8) -> Bool { isIdentStart(c) || isDigit(c) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    // MARK: text of a token

    /// The token's source bytes as a string (a name, an operator, a number as written, a string with its quotes).
    func source(_ t: Lexeme) -> String {
        t.kind == .eof ? "" : String(decoding: b[t.start..<t.end], as: UTF8.self)
    }

    /// An identifier's or punctuation's text; a string's decoded contents; a number as written; "end of file".
    func text(_ t: Lexeme) -> String {
        switch t.kind {
        case .string: return stringValue(t)
        case .eof: return "end of file"
        default: return String(decoding: b[t.start..<t.end], as: UTF8.self)
        }
    }

    /// The decoded contents of a string token.
    func stringValue(_ t: Lexeme) -> String {
        if t.regex {
            // Between the slashes, as written, except `\/` (a slash inside the pattern).
            var bytes: [UInt8] = []
            var k = t.start + 1
            while k < t.end {
                let c = b[k]
                if c == UInt8(ascii: "/") || c == 0x0A { break }
                if c == UInt8(ascii: "\\") && k + 1 < t.end && b[k + 1] == UInt8(ascii: "/") {
                    bytes.append(UInt8(ascii: "/"))
                    k += 2
                    continue
                }
                bytes.append(c)
                if c == UInt8(ascii: "\\") && k + 1 < t.end && b[k + 1] != 0x0A {
                    bytes.append(b[k + 1])
                    k += 1
                }
                k += 1
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        if !t.escaped { return String(decoding: b[(t.start + 1)..<(t.end - 1)], as: UTF8.self) }
        // The lexer's loop again (its diagnostics were reported when the token was read).
        var bytes: [UInt8] = []
        var k = t.start + 1
        while k < t.end {
            let c = b[k]
            if c == UInt8(ascii: "\"") || c == 0x0A { break }
            if c == UInt8(ascii: "\\") && k + 1 < b.count {
                let e = b[k + 1]
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                default: bytes.append(e)
                }
                k += 2
                continue
            }
            bytes.append(c)
            k += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A token with its text (for the test-file parser and tests).
    func token(_ t: Lexeme) -> Token {
        Token(kind: t.kind, text: text(t), number: t.number, unit: t.unit, location: t.span.location(in: file),
              length: t.span.length, startsLine: t.startsLine, raw: source(t))
    }

    /// All tokens, ending with `.eof`. Lexical errors are collected; the bad characters are skipped.
    mutating func tokenize() -> [Token] {
        var out: [Token] = []
        while true {
            let t = next()
            out.append(token(t))
            if t.kind == .eof { return out }
        }
    }

    // MARK: scanning

    @inline(__always)
    mutating func make(_ kind: Lexeme.Kind, from start: Int, length: Int) -> Lexeme {
        let first = line != lastTokenLine
        lastTokenLine = line
        return Lexeme(kind: kind, startsLine: first, start: start, end: i,
                      span: Span(line: line, column: column(start), length: length))
    }

    mutating func next() -> Lexeme {
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
            return Lexeme(kind: .eof, startsLine: true, start: i, end: i, span: Span(line: line, column: column(i), length: 1))
        }
        let c = b[i]
        let wasMatch = afterMatch
        afterMatch = false
        if wasMatch && c == UInt8(ascii: "/") { return lexRegex(start) }
        if Lexer.isIdentStart(c) {
            while i < b.count && Lexer.isIdent(b[i]) { i += 1 }
            var t = make(.ident, from: start, length: i - start)
            let end = i
            t.keyword = b.withUnsafeBufferPointer { Keyword.of(UnsafeBufferPointer(rebasing: $0[start..<end])) }
            return t
        }
        if Lexer.isDigit(c) { return lexNumber(start) }
        if c == UInt8(ascii: "\"") { return lexString(start) }
        // Two-character operators: ==, !=, <=, >=, =~, !~.
        if i + 1 < b.count {
            let p = Punct.double(c, b[i + 1])
            if p != .none {
                i += 2
                var t = make(.punct, from: start, length: 2)
                t.punct = p
                afterMatch = p == .match || p == .notMatch
                return t
            }
        }
        let p = Punct.single(c)
        if p != .none {
            i += 1
            var t = make(.punct, from: start, length: 1)
            t.punct = p
            afterMatch = p == .tilde
            return t
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
        error(.unexpectedCharacter, "unexpected character \(shown)", at: start, length: max(1, n))
        return next()
    }

    mutating func lexNumber(_ start: Int) -> Lexeme {
        var value = 0.0
        var unit = NumberUnit.none
        var total = 0.0
        var compound = false
        repeat {
            let numStart = i
            var underscore = false
            while i < b.count && (Lexer.isDigit(b[i]) || b[i] == UInt8(ascii: "_")) {
                if b[i] == UInt8(ascii: "_") { underscore = true }
                i += 1
            }
            var plain = !underscore
            if i + 1 < b.count && b[i] == UInt8(ascii: ".") && Lexer.isDigit(b[i + 1]) {
                i += 1
                while i < b.count && Lexer.isDigit(b[i]) { i += 1 }
                plain = false
            }
            if i < b.count && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")),
               i + 1 < b.count, Lexer.isDigit(b[i + 1]) || ((b[i + 1] == 0x2B || b[i + 1] == 0x2D) && i + 2 < b.count && Lexer.isDigit(b[i + 2]))
            {
                i += 2
                while i < b.count && Lexer.isDigit(b[i]) { i += 1 }
                plain = false
            }
            if plain && i - numStart <= 15 {
                // Digits only (the common case): exact as an integer below 2^53, no string to parse.
                var v = 0
                for k in numStart..<i { v = v &* 10 &+ Int(b[k] &- 0x30) }
                value = Double(v)
            } else {
                let digits = underscore
                    ? String(decoding: b[numStart..<i].filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
                    : String(decoding: b[numStart..<i], as: UTF8.self)
                value = Double(digits) ?? 0
            }
            let suffixStart = i
            while i < b.count && Lexer.isIdentStart(b[i]) { i += 1 }
            if suffixStart == i {
                if compound {
                    error(.badNumber, "a compound duration needs a unit after every part (e.g. `1h30m`)", at: start, length: i - start)
                }
                total = value
            } else if let f = Lexer.durationFactor(b[suffixStart..<i]) {
                if unit != .none && unit != .duration {
                    error(.badNumber, "cannot mix units in one number", at: start, length: i - start)
                }
                unit = .duration
                total += Lexer.scaled(value, by: f)
            } else if !compound, let f = Lexer.byteUnits[String(decoding: b[suffixStart..<i], as: UTF8.self)] {
                unit = .bytes
                total = value * f
            } else {
                let suffix = String(decoding: b[suffixStart..<i], as: UTF8.self)
                let all = (Array(Lexer.durationUnits.keys) + Array(Lexer.byteUnits.keys)).sorted()
                let hint = Lexer.unitAliases[suffix.lowercased()] ?? closest(suffix, in: all)
                error(.unknownUnit, "unknown unit `\(suffix)`" + (hint.map { "; did you mean `\($0)`?" } ?? ""),
                      at: suffixStart, length: suffix.count,
                      notes: [Diagnostic.Note("durations: ms s m h d w (e.g. `1h30m`); sizes: B KB MB GB TB KiB MiB GiB TiB")],
                      fixIt: hint.map { Diagnostic.FixIt("replace with `\($0)`", location: location(suffixStart), length: suffix.count, replacement: $0) })
                // Recover as if the suggested unit had been written, so `for 5mins` gives one error, not two.
                if let h = hint, let f = Lexer.durationUnits[h] {
                    unit = .duration
                    total += Lexer.scaled(value, by: f)
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
        if i + 1 < b.count && b[i] == UInt8(ascii: "/"), let f = Lexer.durationFactor(b[(i + 1)..<(i + 2)]),
           i + 2 >= b.count || !Lexer.isIdent(b[i + 2]), unit == .none
        {
            i += 2
            unit = .rate
            total /= f
        }
        var t = make(.number, from: start, length: i - start)
        t.number = total
        t.unit = unit
        return t
    }

    /// Characters (as Swift counts them) in `b[from..<to]`: the byte count for ASCII.
    func characters(_ from: Int, _ to: Int) -> Int {
        var k = from
        while k < to {
            if b[k] >= 0x80 { return String(decoding: b[from..<to], as: UTF8.self).count }
            k += 1
        }
        return to - from
    }

    /// `/…/` after a match operator: a regular expression found anywhere in the string. `\/` is a slash inside it;
    /// every other backslash stays for the regex (`\w`, `\d`, `\.`), so patterns read as they do everywhere else.
    mutating func lexRegex(_ start: Int) -> Lexeme {
        i += 1
        while i < b.count && b[i] != 0x0A {
            if b[i] == UInt8(ascii: "/") {
                i += 1
                var t = make(.string, from: start, length: characters(start, i))
                t.escaped = true
                t.regex = true
                return t
            }
            if b[i] == UInt8(ascii: "\\") && i + 1 < b.count && b[i + 1] != 0x0A { i += 1 }
            i += 1
        }
        error(.unterminatedString, "unterminated regular expression: add a closing `/` before the end of the line", at: start, length: i - start)
        var t = make(.string, from: start, length: characters(start, i))
        t.escaped = true
        t.regex = true
        return t
    }

    mutating func lexString(_ start: Int) -> Lexeme {
        i += 1
        // Most strings have no escape: their value is the source between the quotes.
        var k = i
        while k < b.count && b[k] != UInt8(ascii: "\"") && b[k] != 0x0A && b[k] != UInt8(ascii: "\\") { k += 1 }
        if k < b.count && b[k] == UInt8(ascii: "\"") {
            i = k + 1
            return make(.string, from: start, length: characters(start, i))
        }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                var t = make(.string, from: start, length: characters(start, i))
                t.escaped = true
                return t
            }
            if c == 0x0A { break }
            if c == UInt8(ascii: "\\") && i + 1 < b.count {
                let e = b[i + 1]
                // A backslash at the end of the line does not continue the string onto the next: the
                // newline stays for the line count, and the string is unterminated.
                if e == 0x0A || (e == 0x0D && i + 2 < b.count && b[i + 2] == 0x0A) {
                    i += 1
                    if e == 0x0D { i += 1 }
                    break
                }
                switch e {
                case UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "\""), UInt8(ascii: "\\"): break
                default:
                    error(.badEscape, "unknown escape `\\\(String(UnicodeScalar(e)))` in a string (use \\\\, \\\", \\n or \\t)", at: i, length: 2)
                }
                i += 2
                continue
            }
            i += 1
        }
        error(.unterminatedString, "unterminated string: add a closing `\"` before the end of the line", at: start, length: i - start)
        var t = make(.string, from: start, length: characters(start, i))
        t.escaped = true
        return t
    }
}
