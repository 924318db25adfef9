// Durations and sizes written outside a rules file (command-line values), read by the rule language's own lexer.

/// A value that is not a duration or size literal; `description` says why in the lexer's words (without the text).
public struct LiteralError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// The rule language's number literals for callers outside a rules file: `shd run --interval 1d` reads
/// `1d` exactly as `set interval 1d` does (`1h30m`, `250ms`, `1.5GiB`, `1_000`; "did you mean" for `5mins`).
public enum Literal {
    /// Seconds in a duration literal (`10s`, `1h30m`, `1d`). A number without a unit is seconds, as the
    /// command line has always read it (a rules file asks for the unit).
    public static func duration(_ text: String) throws -> Double {
        try number(text, unit: .duration, expected: "a duration such as 10s or 1h30m")
    }

    /// Bytes in a size literal (`512MB`, `1.5GiB`); a number without a unit is bytes.
    public static func size(_ text: String) throws -> Double {
        try number(text, unit: .bytes, expected: "a size such as 512MB or 1GiB")
    }

    private static func number(_ text: String, unit: NumberUnit, expected: String) throws -> Double {
        let bytes = Array(text.utf8)
        var lexer = Lexer(file: "", bytes: bytes)
        let t = lexer.next()
        if let d = lexer.diagnostics.first { throw LiteralError(description: d.message) }
        // One number token covering the whole text: no sign, blanks, comment or second token.
        guard t.kind == .number, t.start == 0, t.end == bytes.count, t.unit == unit || t.unit == .none else {
            throw LiteralError(description: "expected \(expected)")
        }
        return t.number
    }
}
