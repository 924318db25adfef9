// The parser: tokens to an AST, recovering at the next statement so one run reports every error.

/// Parses rules and configuration files. Callable on arbitrary input: it never traps and never loops.
public enum RuleParser {
    /// Parses `source` (named `file` in diagnostics). Returns what could be parsed plus every diagnostic.
    public static func parse(source: String, file: String) -> (AST, [Diagnostic]) {
        parse(bytes: Array(source.utf8), file: file)
    }

    /// Same, from raw bytes (invalid UTF-8 inside strings is replaced; the loader rejects binary files first).
    public static func parse(bytes: [UInt8], file: String) -> (AST, [Diagnostic]) {
        // Tokens are pulled from the lexer as the parser needs them: no array of every token in the file.
        var p = Parser(lexer: Lexer(file: file, bytes: bytes), file: file)
        let statements = p.parseFile()
        return (AST(file: file, statements: statements), p.lexer.diagnostics + p.diagnostics)
    }
}

/// Thrown inside one statement to abandon it; the statement loop then skips to the next statement.
struct ParseAbort: Error {}

struct Parser {
    var lexer: Lexer
    let file: String
    /// The current token, one token of lookahead, and the last token consumed.
    var cur: Token
    var ahead: Token?
    var previousSpan: Span
    /// Tokens consumed so far: recovery compares it to know whether it made progress.
    var consumed = 0
    var diagnostics: [Diagnostic] = []
    /// Expression nesting, bounded so hostile input cannot overflow the stack.
    var depth = 0
    /// While parsing a rule: its tokens as written, joined by single spaces (its definition identity).
    var recording: [UInt8]?

    static let topKeywords = ["set", "channel", "rule", "mute"]
    static let itemKeywords = ["warn", "crit", "let", "repeat", "notify", "summary", "description", "on_missing", "mute"]
    static let comparisons = ["<", "<=", ">", ">=", "==", "!=", "~", "!~", "=~"]
    /// Statements that end a rule body left open.
    static let ruleEnders = ["rule", "channel", "set"]
    /// Words that cannot start a value.
    static let notValues = ["and", "or", "for", "clear"]

    init(lexer: Lexer, file: String) {
        self.lexer = lexer
        self.file = file
        cur = self.lexer.next()
        previousSpan = cur.span
    }

    var tok: Token { cur }
    mutating func peek() -> Token {
        if ahead == nil { ahead = cur.kind == .eof ? cur : lexer.next() }
        return ahead!
    }
    mutating func advance() -> Token {
        let t = cur
        skip()
        return t
    }
    /// Same as `advance()` without handing the token back (no copy of it).
    mutating func skip() {
        guard cur.kind != .eof else { return }
        if recording != nil {
            if !recording!.isEmpty { recording!.append(0x20) }
            recording! += lexer.b[cur.offset..<cur.end]
        }
        previousSpan = cur.span
        consumed += 1
        if let a = ahead {
            cur = a
            ahead = nil
        } else {
            cur = lexer.next()
        }
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .eof: return "end of file"
        case .string: return "string \"\(t.text)\""
        case .number: return "number `\(t.raw)`"
        case .ident: return "`\(t.text)`"
        case .punct: return "`\(t.text)`"
        }
    }

    mutating func fail(_ id: String, _ message: String, at t: Token, notes: [Diagnostic.Note] = [], fixIt: Diagnostic.FixIt? = nil) -> ParseAbort {
        fail(id, message, at: t.span, notes: notes, fixIt: fixIt)
    }

    mutating func fail(_ id: String, _ message: String, at span: Span, notes: [Diagnostic.Note] = [], fixIt: Diagnostic.FixIt? = nil) -> ParseAbort {
        diagnostics.append(Diagnostic(.error, id, message, at: span.location, length: span.length, notes: notes, fixIt: fixIt))
        return ParseAbort()
    }

    mutating func expectPunct(_ s: String, _ context: String) throws(ParseAbort) -> Token {
        if cur.isPunct(s) { return advance() }
        throw fail("expected-token", "expected `\(s)` \(context), found \(describe(tok))", at: tok)
    }

    mutating func expectIdent(_ what: String) throws(ParseAbort) -> Token {
        if cur.kind == .ident { return advance() }
        throw fail("expected-name", "expected \(what), found \(describe(tok))", at: tok)
    }

    mutating func expectString(_ what: String) throws(ParseAbort) -> Token {
        if cur.kind == .string { return advance() }
        throw fail("expected-string", "expected \(what) (a quoted string), found \(describe(tok))", at: tok)
    }

    // MARK: statements

    mutating func parseFile() -> [Statement] {
        var out: [Statement] = []
        while cur.kind != .eof {
            if cur.isPunct(";") { skip(); continue }
            let start = consumed
            do throws(ParseAbort) {
                out.append(try parseStatement())
            } catch {
                synchronizeTop(from: start)
            }
        }
        return out
    }

    /// Skips to the next token that starts a line with a top-level keyword.
    mutating func synchronizeTop(from start: Int) {
        if consumed == start { skip() }
        while cur.kind != .eof && !(cur.startsLine && cur.kind == .ident && Parser.topKeywords.contains(cur.text)) {
            skip()
        }
    }

    mutating func parseStatement() throws(ParseAbort) -> Statement {
        let t = tok
        guard t.kind == .ident else {
            throw fail("expected-statement", "expected a statement (set, channel, rule or mute), found \(describe(t))", at: t)
        }
        switch t.text {
        case "set": return .set(try parseSet())
        case "channel": return .channel(try parseChannel())
        case "rule": return .rule(try parseRule())
        case "mute":
            skip()
            return .mute(try parseMute())
        default:
            let hint = closest(t.text, in: Parser.topKeywords)
            throw fail("expected-statement", "unknown statement `\(t.text)`; expected set, channel, rule or mute"
                           + (hint.map { " (did you mean `\($0)`?)" } ?? ""), at: t,
                       fixIt: hint.map { Diagnostic.FixIt("replace with `\($0)`", location: t.span.location, length: t.span.length, replacement: $0) })
        }
    }

    mutating func parseSet() throws(ParseAbort) -> SetStatement {
        skip()
        // `set NAME VALUE` is one line: a name on the next line is the next statement, not this one's.
        if cur.startsLine { throw fail("expected-name", "expected a setting name after `set`", at: previousSpan) }
        let first = try expectIdent("a setting name after `set`")
        var name = first.text
        var len = first.span.length
        // Dotted names: `set interval.processes 30s`.
        while cur.isPunct(".") && peek().kind == .ident {
            skip()
            let part = advance()
            name += "." + part.text
            len += 1 + part.span.length
        }
        if cur.startsLine { throw fail("expected-value", "expected a value after `set \(name)` on the same line", at: previousSpan) }
        let value = try parseValue()
        return SetStatement(name: name, nameSpan: Span(first.span.location, length: len), value: value)
    }

    mutating func parseValue() throws(ParseAbort) -> ValueNode {
        try enter()
        defer { depth -= 1 }
        let t = tok
        switch t.kind {
        case .string:
            skip()
            return .string(t.text, t.span)
        case .number:
            skip()
            return .number(t.number, t.unit, t.span)
        case .ident:
            skip()
            if t.text == "file" {
                let path = try expectString("a file path after `file`")
                return .file(path.text, Span(t.span.location, length: t.span.length + 1 + path.span.length))
            }
            return .word(t.text, t.span)
        case .punct where t.text == "-" && peek().kind == .number:
            skip()
            let n = advance()
            return .number(-n.number, n.unit, Span(t.span.location, length: n.span.length + 1))
        case .punct where t.text == "[":
            skip()
            var items: [ValueNode] = []
            while !cur.isPunct("]") {
                if cur.kind == .eof { throw fail("expected-token", "expected `]` to close the list opened here", at: t) }
                items.append(try parseValue())
                if cur.isPunct(",") { skip() } else if !cur.isPunct("]") {
                    throw fail("expected-token", "expected `,` or `]` in a list, found \(describe(tok))", at: tok)
                }
            }
            skip()
            return .list(items, t.span)
        case .punct where t.text == "{":
            skip()
            var entries: [(String, Span, ValueNode)] = []
            while !cur.isPunct("}") {
                guard cur.kind == .string || cur.kind == .ident else {
                    throw fail("expected-name", "expected a key (name or string) or `}` in a block, found \(describe(tok))", at: tok)
                }
                let k = advance()
                entries.append((k.text, k.span, try parseValue()))
                if cur.isPunct(",") || cur.isPunct(";") { skip() }
            }
            skip()
            return .block(entries, t.span)
        default:
            throw fail("expected-value", "expected a value (string, number, list, block or `file \"path\"`), found \(describe(t))", at: t)
        }
    }

    mutating func parseChannel() throws(ParseAbort) -> ChannelStatement {
        skip()
        let name = try expectIdent("a channel name after `channel`")
        let kind = try expectIdent("a channel kind (\(ChannelKinds.kinds.keys.sorted().joined(separator: ", "))) after the name")
        var options: [(String, Span, ValueNode)] = []
        if cur.isPunct("{") {
            let open = advance()
            while !cur.isPunct("}") {
                if cur.kind == .eof { throw fail("expected-token", "expected `}` to close channel `\(name.text)`", at: open) }
                if cur.isPunct(";") || cur.isPunct(",") { skip(); continue }
                if cur.startsLine && cur.kind == .ident && Parser.topKeywords.contains(cur.text) && peek().kind == .ident {
                    throw fail("expected-token", "expected `}` to close channel `\(name.text)` before this statement", at: tok)
                }
                let key = try expectIdent("an option name in channel `\(name.text)`")
                options.append((key.text, key.span, try parseValue()))
            }
            skip()
        }
        return ChannelStatement(name: name.text, nameSpan: name.span, kind: kind.text, kindSpan: kind.span, options: options)
    }

    mutating func parseMute() throws(ParseAbort) -> MuteNode {
        if cur.isWord("from") {
            skip()
            let from = try expectString("a start time (RFC 3339) after `from`")
            guard cur.isWord("until") else { throw fail("expected-token", "expected `until` after the start time, found \(describe(tok))", at: tok) }
            skip()
            let until = try expectString("an end time (RFC 3339) after `until`")
            return .range(from: from.text, fromSpan: from.span, until: until.text, untilSpan: until.span)
        }
        let w = try expectString("a daily window like \"02:00-04:00\", or `from \"…\" until \"…\"`, after `mute`")
        return .daily(w.text, w.span)
    }

    mutating func parseRule() throws(ParseAbort) -> RuleStatement {
        recording = []
        recording!.reserveCapacity(256)
        defer { recording = nil }
        skip()
        let name = try expectIdent("a rule name after `rule`")
        guard cur.isWord("on") else {
            throw fail("expected-token", "expected `on WORKER.FUNCTION` after the rule name, found \(describe(tok))", at: tok)
        }
        skip()
        let worker = try expectIdent("a worker name after `on`")
        _ = try expectPunct(".", "between the worker and the function (e.g. `disk.filesystems`)")
        let function = try expectIdent("a function name after `\(worker.text).`")
        var by: [(String, Span)] = []
        if cur.isWord("by") {
            skip()
            repeat {
                if cur.isPunct(",") { skip() }
                let n = try expectIdent("a label name after `by`")
                by.append((n.text, n.span))
            } while cur.isPunct(",")
        }
        var filter: ExprNode?
        if cur.isWord("where") {
            skip()
            filter = try parseExpr()
        }
        let open = try expectPunct("{", "to open the rule body")
        var items: [RuleItem] = []
        while !cur.isPunct("}") {
            if cur.kind == .eof {
                throw fail("expected-token", "expected `}` to close rule `\(name.text)` (opened at line \(open.span.location.line))", at: tok)
            }
            if cur.isPunct(";") { skip(); continue }
            if cur.startsLine && cur.kind == .ident && Parser.ruleEnders.contains(cur.text) {
                throw fail("expected-token", "expected `}` to close rule `\(name.text)` before this statement", at: tok,
                           notes: [Diagnostic.Note("the rule body opens here", at: open.span.location)])
            }
            let start = consumed
            do throws(ParseAbort) {
                items.append(try parseItem())
            } catch {
                // Recover at the next rule statement or the closing brace.
                if consumed == start { skip() }
                while cur.kind != .eof && !cur.isPunct("}")
                    && !(cur.startsLine && cur.kind == .ident && (Parser.itemKeywords.contains(cur.text) || Parser.ruleEnders.contains(cur.text)))
                {
                    skip()
                }
            }
        }
        skip()
        let definition = String(decoding: recording ?? [], as: UTF8.self)
        return RuleStatement(name: name.text, nameSpan: name.span, worker: worker.text, workerSpan: worker.span,
                             function: function.text, functionSpan: function.span, by: by, filter: filter, items: items,
                             definition: definition)
    }

    mutating func parseItem() throws(ParseAbort) -> RuleItem {
        let t = tok
        guard t.kind == .ident else {
            throw fail("expected-statement", "expected a rule statement (\(Parser.itemKeywords.joined(separator: ", "))), found \(describe(t))", at: t)
        }
        switch t.text {
        case "warn", "crit":
            skip()
            let e = try parseExpr()
            var forDuration: (Double, Span)?
            var clear: ClearNode?
            while cur.isWord("for") || cur.isWord("clear") {
                let kw = advance()
                if kw.text == "for" {
                    let d = tok
                    guard d.kind == .number else { throw fail("expected-duration", "expected a duration after `for` (e.g. `5m`), found \(describe(d))", at: d) }
                    skip()
                    if d.unit != .duration {
                        diagnostics.append(Diagnostic(.error, "expected-duration", "`for` needs a duration with a unit, e.g. `\(d.raw)s` or `\(d.raw)m`", at: d.span.location, length: d.span.length))
                    }
                    forDuration = (d.number, d.span)
                } else if Parser.comparisons.contains(cur.text) && cur.kind == .punct {
                    let op = advance()
                    clear = .shorthand(op: op.text, opSpan: op.span, rhs: try parseAdditive())
                } else {
                    clear = .expr(try parseExpr())
                }
            }
            return .condition(ConditionNode(severity: t.text, span: t.span, expr: e, forDuration: forDuration, clear: clear))
        case "let":
            skip()
            let n = try expectIdent("a name after `let`")
            _ = try expectPunct("=", "after `let \(n.text)`")
            return .letBinding(name: n.text, span: n.span, value: try parseExpr())
        case "repeat":
            skip()
            let d = tok
            guard d.kind == .number else { throw fail("expected-duration", "expected a duration after `repeat` (e.g. `4h`), found \(describe(d))", at: d) }
            skip()
            if d.unit != .duration {
                diagnostics.append(Diagnostic(.error, "expected-duration", "`repeat` needs a duration with a unit, e.g. `\(d.raw)h`", at: d.span.location, length: d.span.length))
            }
            return .repeatEvery(d.number, d.span)
        case "notify":
            skip()
            var names: [(String, Span)] = []
            repeat {
                if cur.isPunct(",") { skip() }
                let n = try expectIdent("a channel name after `notify`")
                names.append((n.text, n.span))
            } while cur.isPunct(",")
            return .notify(names)
        case "summary", "description":
            skip()
            let s = try expectString("a template string after `\(t.text)`")
            return t.text == "summary" ? .summary(s.text, s.span) : .description(s.text, s.span)
        case "on_missing":
            skip()
            let policy = try expectIdent("`keep`, `resolve` or `alert` after `on_missing`")
            var after: Double?
            var afterSpan: Span?
            if cur.isWord("after") {
                skip()
                let n = tok
                guard n.kind == .number else { throw fail("expected-number", "expected a number of evaluations after `after`, found \(describe(n))", at: n) }
                skip()
                after = n.number
                afterSpan = n.span
                if n.unit != .none {
                    diagnostics.append(Diagnostic(.error, "expected-number", "`after` counts evaluations: write a plain number like `3`", at: n.span.location, length: n.span.length))
                }
            }
            return .onMissing(policy: policy.text, policySpan: policy.span, after: after, afterSpan: afterSpan)
        case "mute":
            skip()
            return .mute(try parseMute())
        default:
            let hint = closest(t.text, in: Parser.itemKeywords)
            throw fail("expected-statement", "unknown rule statement `\(t.text)`; expected one of \(Parser.itemKeywords.joined(separator: ", "))", at: t,
                       fixIt: hint.map { Diagnostic.FixIt("replace with `\($0)`", location: t.span.location, length: t.span.length, replacement: $0) })
        }
    }

    // MARK: expressions

    mutating func enter() throws(ParseAbort) {
        depth += 1
        if depth > 200 { throw fail("too-deep", "expression or value nested too deeply (more than 200 levels)", at: tok) }
    }

    mutating func parseExpr() throws(ParseAbort) -> ExprNode {
        try enter()
        defer { depth -= 1 }
        var l = try parseAnd()
        let base = depth
        defer { depth = base }
        while cur.isWord("or") {
            let op = advance()
            // Each link of a chain deepens the tree: count it against the nesting limit.
            try enter()
            l = .binary("or", l, try parseAnd(), op.span)
        }
        return l
    }

    mutating func parseAnd() throws(ParseAbort) -> ExprNode {
        var l = try parseNot()
        let base = depth
        defer { depth = base }
        while cur.isWord("and") {
            let op = advance()
            try enter()
            l = .binary("and", l, try parseNot(), op.span)
        }
        return l
    }

    mutating func parseNot() throws(ParseAbort) -> ExprNode {
        if cur.isWord("not") {
            let op = advance()
            try enter()
            defer { depth -= 1 }
            return .unary("not", try parseNot(), op.span)
        }
        return try parseComparison()
    }

    mutating func parseComparison() throws(ParseAbort) -> ExprNode {
        let l = try parseAdditive()
        if cur.kind == .punct && Parser.comparisons.contains(cur.text) {
            let op = advance()
            let r = try parseAdditive()
            if cur.kind == .punct && Parser.comparisons.contains(cur.text) {
                throw fail("chained-comparison", "comparisons cannot be chained; combine them with `and`", at: tok)
            }
            return .binary(op.text, l, r, op.span)
        }
        if cur.isPunct("=") {
            throw fail("expected-token", "`=` is not a comparison; use `==`", at: tok,
                       fixIt: Diagnostic.FixIt("replace with `==`", location: cur.span.location, length: 1, replacement: "=="))
        }
        return l
    }

    mutating func parseAdditive() throws(ParseAbort) -> ExprNode {
        var l = try parseMultiplicative()
        let base = depth
        defer { depth = base }
        while cur.isPunct("+") || cur.isPunct("-") {
            let op = advance()
            try enter()
            l = .binary(op.text, l, try parseMultiplicative(), op.span)
        }
        return l
    }

    mutating func parseMultiplicative() throws(ParseAbort) -> ExprNode {
        var l = try parseUnary()
        let base = depth
        defer { depth = base }
        while cur.isPunct("*") || cur.isPunct("/") {
            let op = advance()
            try enter()
            l = .binary(op.text, l, try parseUnary(), op.span)
        }
        return l
    }

    mutating func parseUnary() throws(ParseAbort) -> ExprNode {
        if cur.isPunct("-") {
            let op = advance()
            try enter()
            defer { depth -= 1 }
            return .unary("-", try parseUnary(), op.span)
        }
        return try parsePrimary()
    }

    mutating func parsePrimary() throws(ParseAbort) -> ExprNode {
        let t = tok
        switch t.kind {
        case .number:
            skip()
            return .number(t.number, t.unit, t.span)
        case .string:
            skip()
            return .string(t.text, t.span)
        case .ident:
            if Parser.notValues.contains(t.text) || Parser.itemKeywords.contains(t.text) && t.text != "repeat" {
                throw fail("expected-expression", "expected a value, field or function, found keyword `\(t.text)`", at: t)
            }
            skip()
            if t.text == "true" || t.text == "false" { return .bool(t.text == "true", t.span) }
            if cur.isPunct("(") {
                skip()
                var args: [ExprNode] = []
                while !cur.isPunct(")") {
                    // `window 1h` reads better in predictions; the word is optional.
                    if cur.isWord("window") { skip() }
                    args.append(try parseExpr())
                    if cur.isPunct(",") { skip() } else if !cur.isPunct(")") {
                        throw fail("expected-token", "expected `,` or `)` in the arguments of `\(t.text)`, found \(describe(tok))", at: tok)
                    }
                }
                skip()
                return .call(t.text, t.span, args)
            }
            return .name(t.text, t.span)
        case .punct where t.text == "(":
            skip()
            let e = try parseExpr()
            _ = try expectPunct(")", "to close the parenthesis")
            return e
        default:
            throw fail("expected-expression", "expected a value, field or function, found \(describe(t))", at: t)
        }
    }
}
