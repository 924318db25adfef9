// The parser: tokens to an AST, recovering at the next statement so one run reports every error.
// Over 400 lines: one recursive-descent parser whose productions call one another and share its recovery points.
import Alerting

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
    /// The current token, one token of lookahead, and the span of the last token consumed.
    var cur: Lexeme
    var ahead: Lexeme?
    var previousSpan: Span
    /// Tokens consumed so far: recovery compares it to know whether it made progress.
    var consumed = 0
    var diagnostics: [Diagnostic] = []
    /// Expression nesting, bounded so hostile input cannot overflow the stack.
    var depth = 0
    /// While parsing a rule: its tokens as written, joined by single spaces (its definition identity).
    /// One buffer for every rule of the file.
    var recording: [UInt8] = []
    var isRecording = false
    /// The items of the rule being parsed, in a buffer kept from rule to rule; each rule gets an exact-size copy
    /// (appending to a fresh array grows it 1, 2, 4, 8: four allocations for a rule of five items).
    var itemBuffer: [RuleItem] = []

    static let topKeywords = ["set", "channel", "probe", "watch", "rule", "mute"]
    static let itemKeywords = ["warn", "crit", "let", "repeat", "notify", "summary", "description", "on_missing", "mute", "quiet",
                               "flapping", "inhibited"]

    init(lexer: Lexer, file: String) {
        self.lexer = lexer
        self.file = file
        cur = self.lexer.next()
        previousSpan = cur.span
    }

    var tok: Lexeme { cur }
    mutating func peek() -> Lexeme {
        if ahead == nil { ahead = cur.kind == .eof ? cur : lexer.next() }
        return ahead!
    }
    mutating func advance() -> Lexeme {
        let t = cur
        skip()
        return t
    }
    /// Consumes the current token.
    mutating func skip() {
        guard cur.kind != .eof else { return }
        if isRecording {
            if !recording.isEmpty { recording.append(0x20) }
            recording.append(contentsOf: lexer.b[cur.start..<cur.end])
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

    /// A name's (or any token's) text, for the syntax tree.
    func text(_ t: Lexeme) -> String { lexer.text(t) }

    func describe(_ t: Lexeme) -> String {
        switch t.kind {
        case .eof: return "end of file"
        case .string: return "string \"\(lexer.stringValue(t))\""
        case .number: return "number `\(lexer.source(t))`"
        case .ident, .punct: return "`\(lexer.source(t))`"
        }
    }

    func loc(_ span: Span) -> SourceLocation { span.location(in: file) }

    mutating func fail(_ code: DiagnosticCode, _ message: String, at t: Lexeme, notes: [Diagnostic.Note] = [], fixIt: Diagnostic.FixIt? = nil) -> ParseAbort {
        fail(code, message, at: t.span, notes: notes, fixIt: fixIt)
    }

    mutating func fail(_ code: DiagnosticCode, _ message: String, at span: Span, notes: [Diagnostic.Note] = [], fixIt: Diagnostic.FixIt? = nil) -> ParseAbort {
        diagnostics.append(Diagnostic(code, message, at: loc(span), length: span.length, notes: notes, fixIt: fixIt))
        return ParseAbort()
    }

    mutating func expectPunct(_ p: Punct, _ context: String) throws(ParseAbort) -> Lexeme {
        if cur.isPunct(p) { return advance() }
        throw fail(.expectedToken, "expected `\(p.text)` \(context), found \(describe(tok))", at: tok)
    }

    mutating func expectIdent(_ what: @autoclosure () -> String) throws(ParseAbort) -> Lexeme {
        if cur.kind == .ident { return advance() }
        throw fail(.expectedName, "expected \(what()), found \(describe(tok))", at: tok)
    }

    mutating func expectString(_ what: @autoclosure () -> String) throws(ParseAbort) -> Lexeme {
        if cur.kind == .string { return advance() }
        throw fail(.expectedString, "expected \(what()) (a quoted string), found \(describe(tok))", at: tok)
    }

    // MARK: statements

    mutating func parseFile() -> [Statement] {
        var out: [Statement] = []
        while cur.kind != .eof {
            if cur.isPunct(.semicolon) { skip(); continue }
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
        while cur.kind != .eof && !(cur.startsLine && cur.kind == .ident && cur.keyword.isTop) {
            skip()
        }
    }

    mutating func parseStatement() throws(ParseAbort) -> Statement {
        let t = tok
        guard t.kind == .ident else {
            throw fail(.expectedStatement, "expected a statement (set, channel, probe, watch, rule or mute), found \(describe(t))", at: t)
        }
        switch t.keyword {
        case .set: return .set(try parseSet())
        case .channel: return .channel(try parseChannel())
        case .probe: return .probe(try parseProbe())
        case .watch: return .watch(try parseWatch())
        case .rule: return .rule(try parseRule())
        case .mute:
            skip()
            return .mute(try parseMute())
        default:
            let word = text(t)
            let hint = closest(word, in: Parser.topKeywords)
            throw fail(.expectedStatement, "unknown statement `\(word)`; expected set, channel, probe, watch, rule or mute"
                           + (hint.map { " (did you mean `\($0)`?)" } ?? ""), at: t,
                       fixIt: hint.map { Diagnostic.FixIt("replace with `\($0)`", location: loc(t.span), length: t.span.length, replacement: $0) })
        }
    }

    mutating func parseSet() throws(ParseAbort) -> SetStatement {
        skip()
        // `set NAME VALUE` is one line: a name on the next line is the next statement, not this one's.
        if cur.startsLine { throw fail(.expectedName, "expected a setting name after `set`", at: previousSpan) }
        let first = try expectIdent("a setting name after `set`")
        var name = text(first)
        var len = first.span.length
        // Dotted names: `set interval.processes 30s`.
        while cur.isPunct(.dot) && peek().kind == .ident {
            skip()
            let part = advance()
            name += "." + text(part)
            len += 1 + part.span.length
        }
        if cur.startsLine { throw fail(.expectedValue, "expected a value after `set \(name)` on the same line", at: previousSpan) }
        let value = try parseValue()
        return SetStatement(name: name, nameSpan: first.span.with(length: len), value: value)
    }

    mutating func parseValue() throws(ParseAbort) -> ValueNode {
        try enter()
        defer { depth -= 1 }
        let t = tok
        switch t.kind {
        case .string:
            skip()
            return .string(lexer.stringValue(t), t.span)
        case .number:
            skip()
            return .number(t.number, t.unit, t.span)
        case .ident:
            skip()
            if t.isWord(.file) {
                let path = try expectString("a file path after `file`")
                return .file(lexer.stringValue(path), t.span.with(length: t.span.length + 1 + path.span.length))
            }
            return .word(text(t), t.span)
        case .punct where t.isPunct(.minus) && peek().kind == .number:
            skip()
            let n = advance()
            return .number(-n.number, n.unit, t.span.with(length: n.span.length + 1))
        case .punct where t.isPunct(.lbracket):
            skip()
            var items: [ValueNode] = []
            while !cur.isPunct(.rbracket) {
                if cur.kind == .eof { throw fail(.expectedToken, "expected `]` to close the list opened here", at: t) }
                items.append(try parseValue())
                if cur.isPunct(.comma) { skip() } else if !cur.isPunct(.rbracket) {
                    throw fail(.expectedToken, "expected `,` or `]` in a list, found \(describe(tok))", at: tok)
                }
            }
            skip()
            return .list(items, t.span)
        case .punct where t.isPunct(.lbrace):
            skip()
            var entries: [(String, Span, ValueNode)] = []
            while !cur.isPunct(.rbrace) {
                guard cur.kind == .string || cur.kind == .ident else {
                    throw fail(.expectedName, "expected a key (name or string) or `}` in a block, found \(describe(tok))", at: tok)
                }
                let k = advance()
                entries.append((text(k), k.span, try parseValue()))
                if cur.isPunct(.comma) || cur.isPunct(.semicolon) { skip() }
            }
            skip()
            return .block(entries, t.span)
        default:
            throw fail(.expectedValue, "expected a value (string, number, list, block or `file \"path\"`), found \(describe(t))", at: t)
        }
    }

    mutating func parseChannel() throws(ParseAbort) -> ChannelStatement {
        let d = try parseKindBlock("channel", kinds: ChannelKinds.kinds.keys.sorted())
        return ChannelStatement(name: d.name, nameSpan: d.nameSpan, kind: d.kind, kindSpan: d.kindSpan, options: d.options)
    }

    mutating func parseProbe() throws(ParseAbort) -> ProbeStatement {
        let d = try parseKindBlock("probe", kinds: ProbeKinds.kinds.keys.sorted())
        return ProbeStatement(name: d.name, nameSpan: d.nameSpan, kind: d.kind, kindSpan: d.kindSpan, options: d.options)
    }

    mutating func parseWatch() throws(ParseAbort) -> WatchStatement {
        let d = try parseKindBlock("watch", kinds: WatchKinds.kinds.keys.sorted())
        return WatchStatement(name: d.name, nameSpan: d.nameSpan, kind: d.kind, kindSpan: d.kindSpan, options: d.options)
    }

    /// `WHAT NAME KIND [{ option value … }]`: the shape `channel`, `probe` and `watch` share.
    mutating func parseKindBlock(_ what: String, kinds: [String]) throws(ParseAbort)
        -> (name: String, nameSpan: Span, kind: String, kindSpan: Span, options: [(String, Span, ValueNode)])
    {
        skip()
        let nameTok = try expectIdent("a \(what) name after `\(what)`")
        let name = text(nameTok)
        let kind = try expectIdent("a \(what) kind (\(kinds.joined(separator: ", "))) after the name")
        var options: [(String, Span, ValueNode)] = []
        if cur.isPunct(.lbrace) {
            let open = advance()
            while !cur.isPunct(.rbrace) {
                if cur.kind == .eof { throw fail(.expectedToken, "expected `}` to close \(what) `\(name)`", at: open) }
                if cur.isPunct(.semicolon) || cur.isPunct(.comma) { skip(); continue }
                if cur.startsLine && cur.kind == .ident && cur.keyword.isTop && peek().kind == .ident {
                    throw fail(.expectedToken, "expected `}` to close \(what) `\(name)` before this statement", at: tok)
                }
                let key = try expectIdent("an option name in \(what) `\(name)`")
                options.append((text(key), key.span, try parseValue()))
            }
            skip()
        }
        return (name, nameTok.span, text(kind), kind.span, options)
    }

    mutating func parseMute() throws(ParseAbort) -> MuteNode {
        if cur.isWord(.from) {
            skip()
            let from = try expectString("a start time (RFC 3339) after `from`")
            guard cur.isWord(.until) else { throw fail(.expectedToken, "expected `until` after the start time, found \(describe(tok))", at: tok) }
            skip()
            let until = try expectString("an end time (RFC 3339) after `until`")
            return .range(from: lexer.stringValue(from), fromSpan: from.span, until: lexer.stringValue(until), untilSpan: until.span)
        }
        let w = try expectString("a daily window like \"02:00-04:00\", or `from \"…\" until \"…\"`, after `mute`")
        return .daily(lexer.stringValue(w), w.span)
    }

    mutating func parseRule() throws(ParseAbort) -> RuleStatement {
        recording.removeAll(keepingCapacity: true)
        isRecording = true
        defer { isRecording = false }
        skip()
        let nameTok = try expectIdent("a rule name after `rule`")
        guard cur.isWord(.on) else {
            throw fail(.expectedToken, "expected `on WORKER.FUNCTION` (or an event source such as `on journal`) after the rule name, found \(describe(tok))", at: tok)
        }
        skip()
        let worker = try expectIdent("a worker name or an event source after `on`")
        // `on journal` (no dot): an event rule over a source's entries; `on file "PATH"` gives the source an argument.
        let isEvent = !cur.isPunct(.dot)
        var function = worker
        var sourceArgument: (String, Span)?
        if isEvent {
            if cur.kind == .string && !cur.startsLine {
                let a = advance()
                sourceArgument = (lexer.stringValue(a), a.span)
            }
        } else {
            skip()
            guard cur.kind == .ident else {
                throw fail(.expectedName, "expected a function name after `\(text(worker)).`, found \(describe(tok))", at: tok)
            }
            function = advance()
        }
        var by: [(String, Span)] = []
        if cur.isWord(.by) {
            skip()
            repeat {
                if cur.isPunct(.comma) { skip() }
                let n = try expectIdent("a label name after `by`")
                by.append((text(n), n.span))
            } while cur.isPunct(.comma)
        }
        var filter: ExprNode?
        if cur.isWord(.where) {
            skip()
            filter = try parseExpr()
        }
        let open = try expectPunct(.lbrace, "to open the rule body")
        var items = itemBuffer
        itemBuffer = []
        items.removeAll(keepingCapacity: true)
        while !cur.isPunct(.rbrace) {
            if cur.kind == .eof {
                throw fail(.expectedToken, "expected `}` to close rule `\(text(nameTok))` (opened at line \(open.span.line))", at: tok)
            }
            if cur.isPunct(.semicolon) { skip(); continue }
            if cur.startsLine && cur.kind == .ident && cur.keyword.isRuleEnder {
                throw fail(.expectedToken, "expected `}` to close rule `\(text(nameTok))` before this statement", at: tok,
                           notes: [Diagnostic.Note("the rule body opens here", at: loc(open.span))])
            }
            let start = consumed
            do throws(ParseAbort) {
                items.append(try parseItem())
            } catch {
                // Recover at the next rule statement or the closing brace.
                if consumed == start { skip() }
                while cur.kind != .eof && !cur.isPunct(.rbrace)
                    && !(cur.startsLine && cur.kind == .ident && (cur.keyword.isItem || cur.keyword.isRuleEnder))
                {
                    skip()
                }
            }
        }
        skip()
        let definition = String(decoding: recording, as: UTF8.self)
        let exact = [RuleItem](unsafeUninitializedCapacity: items.count) { buffer, count in
            _ = buffer.initialize(fromContentsOf: items)
            count = items.count
        }
        items.removeAll(keepingCapacity: true)
        itemBuffer = items
        return RuleStatement(name: text(nameTok), nameSpan: nameTok.span, worker: text(worker), workerSpan: worker.span,
                             function: isEvent ? "" : text(function), functionSpan: function.span, by: by, filter: filter, items: exact,
                             definition: definition, isEvent: isEvent, sourceArgument: sourceArgument)
    }

    mutating func parseItem() throws(ParseAbort) -> RuleItem {
        let t = tok
        guard t.kind == .ident else {
            throw fail(.expectedStatement, "expected a rule statement (\(Parser.itemKeywords.joined(separator: ", "))), found \(describe(t))", at: t)
        }
        switch t.keyword {
        case .warn, .crit:
            skip()
            let e = try parseExpr()
            var forDuration: (Double, Span)?
            var forCount: (n: Double, m: Double, span: Span)?
            var clear: ClearNode?
            while cur.isWord(.for) || cur.isWord(.clear) {
                let kw = advance()
                if kw.isWord(.for) {
                    let d = tok
                    guard d.kind == .number else { throw fail(.expectedDuration, "expected a duration after `for` (e.g. `5m`), found \(describe(d))", at: d) }
                    skip()
                    if d.unit == .none && cur.kind == .ident && text(cur) == "of" {
                        // `for N of M`: N of the last M evaluations.
                        skip()
                        let m = tok
                        guard m.kind == .number, m.unit == .none else {
                            throw fail(.expectedNumber, "expected a number of evaluations after `for \(lexer.source(d)) of` (e.g. `for 3 of 5`), found \(describe(m))", at: m)
                        }
                        skip()
                        forCount = (d.number, m.number, d.span.with(length: m.span.line == d.span.line ? m.span.column + m.span.length - d.span.column : d.span.length))
                        continue
                    }
                    if d.unit != .duration {
                        let raw = lexer.source(d)
                        diagnostics.append(Diagnostic(.expectedDuration, "`for` needs a duration with a unit, e.g. `\(raw)s` or `\(raw)m`", at: loc(d.span), length: d.span.length))
                    }
                    forDuration = (d.number, d.span)
                } else if cur.kind == .punct && cur.punct.isComparison {
                    let op = advance()
                    clear = .shorthand(op: op.punct.text, opSpan: op.span, rhs: try parseAdditive())
                } else {
                    clear = .expr(try parseExpr())
                }
            }
            return .condition(ConditionNode(severity: t.keyword == .warn ? "warn" : "crit", span: t.span, expr: e,
                                            forDuration: forDuration, forCount: forCount, clear: clear))
        case .let:
            skip()
            let n = try expectIdent("a name after `let`")
            let name = text(n)
            _ = try expectPunct(.assign, "after `let \(name)`")
            return .letBinding(name: name, span: n.span, value: try parseExpr())
        case .repeat:
            skip()
            let d = tok
            guard d.kind == .number else { throw fail(.expectedDuration, "expected a duration after `repeat` (e.g. `4h`), found \(describe(d))", at: d) }
            skip()
            if d.unit != .duration {
                diagnostics.append(Diagnostic(.expectedDuration, "`repeat` needs a duration with a unit, e.g. `\(lexer.source(d))h`", at: loc(d.span), length: d.span.length))
            }
            return .repeatEvery(d.number, d.span)
        case .notify:
            skip()
            var names: [(String, Span)] = []
            repeat {
                if cur.isPunct(.comma) { skip() }
                let n = try expectIdent("a channel name after `notify`")
                names.append((text(n), n.span))
            } while cur.isPunct(.comma)
            return .notify(names)
        case .summary, .description:
            skip()
            let isSummary = t.keyword == .summary
            let s = try expectString("a template string after `\(isSummary ? "summary" : "description")`")
            let value = lexer.stringValue(s)
            return isSummary ? .summary(value, s.span) : .description(value, s.span)
        case .on_missing:
            skip()
            let policy = try expectIdent("`keep`, `resolve` or `alert` after `on_missing`")
            var after: Double?
            var afterSpan: Span?
            if cur.isWord(.after) {
                skip()
                let n = tok
                guard n.kind == .number else { throw fail(.expectedNumber, "expected a number of evaluations after `after`, found \(describe(n))", at: n) }
                skip()
                after = n.number
                afterSpan = n.span
                if n.unit != .none {
                    diagnostics.append(Diagnostic(.expectedNumber, "`after` counts evaluations: write a plain number like `3`", at: loc(n.span), length: n.span.length))
                }
            }
            return .onMissing(policy: text(policy), policySpan: policy.span, after: after, afterSpan: afterSpan)
        case .mute:
            skip()
            return .mute(try parseMute())
        case .quiet:
            skip()
            let d = tok
            guard d.kind == .number else { throw fail(.expectedDuration, "expected a duration after `quiet` (e.g. `30m`), found \(describe(d))", at: d) }
            skip()
            if d.unit != .duration {
                diagnostics.append(Diagnostic(.expectedDuration, "`quiet` needs a duration with a unit, e.g. `\(lexer.source(d))m`", at: loc(d.span), length: d.span.length))
            }
            return .quiet(d.number, d.span)
        case .flapping:
            skip()
            var node = FlapNode(span: t.span, off: false)
            if cur.kind == .ident && text(cur) == "off" {
                skip()
                node.off = true
                return .flapping(node)
            }
            if cur.kind == .number {
                let n = advance()
                if n.unit != .none {
                    diagnostics.append(Diagnostic(.expectedNumber, "`flapping` counts transitions: write a plain number like `6`", at: loc(n.span), length: n.span.length))
                }
                node.transitions = (n.number, n.span)
            }
            while cur.kind == .ident && (text(cur) == "in" || text(cur) == "stable") {
                let word = text(advance())
                let d = tok
                guard d.kind == .number, d.unit == .duration else {
                    throw fail(.expectedDuration, "expected a duration after `\(word)` (e.g. `30m`), found \(describe(d))", at: d)
                }
                skip()
                if word == "in" { node.window = (d.number, d.span) } else { node.stable = (d.number, d.span) }
            }
            if node.transitions == nil && node.window == nil && node.stable == nil {
                throw fail(.expectedToken, "expected `off`, or `N in DURATION stable DURATION` after `flapping` (e.g. `flapping 6 in 1h stable 30m`), found \(describe(tok))", at: tok)
            }
            return .flapping(node)
        case .inhibited:
            skip()
            guard cur.isWord(.by) else { throw fail(.expectedToken, "expected `by RULE` after `inhibited`, found \(describe(tok))", at: tok) }
            skip()
            let r = try expectIdent("a rule name after `inhibited by`")
            var on: [(String, Span)] = []
            if cur.isWord(.on) {
                skip()
                repeat {
                    if cur.isPunct(.comma) { skip() }
                    let n = try expectIdent("a label name after `on`")
                    on.append((text(n), n.span))
                } while cur.isPunct(.comma)
            }
            return .inhibitedBy(InhibitNode(span: t.span, rule: text(r), ruleSpan: r.span, on: on))
        default:
            let word = text(t)
            let hint = closest(word, in: Parser.itemKeywords)
            throw fail(.expectedStatement, "unknown rule statement `\(word)`; expected one of \(Parser.itemKeywords.joined(separator: ", "))", at: t,
                       fixIt: hint.map { Diagnostic.FixIt("replace with `\($0)`", location: loc(t.span), length: t.span.length, replacement: $0) })
        }
    }

    // MARK: expressions

    mutating func enter() throws(ParseAbort) {
        depth += 1
        if depth > 200 { throw fail(.tooDeep, "expression or value nested too deeply (more than 200 levels)", at: tok) }
    }

    mutating func parseExpr() throws(ParseAbort) -> ExprNode {
        try enter()
        defer { depth -= 1 }
        var l = try parseAnd()
        let base = depth
        defer { depth = base }
        while cur.isWord(.or) {
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
        while cur.isWord(.and) {
            let op = advance()
            try enter()
            l = .binary("and", l, try parseNot(), op.span)
        }
        return l
    }

    mutating func parseNot() throws(ParseAbort) -> ExprNode {
        if cur.isWord(.not) {
            let op = advance()
            try enter()
            defer { depth -= 1 }
            return .unary("not", try parseNot(), op.span)
        }
        return try parseComparison()
    }

    mutating func parseComparison() throws(ParseAbort) -> ExprNode {
        let l = try parseAdditive()
        if cur.kind == .punct && cur.punct.isComparison {
            let op = advance()
            let r = try parseAdditive()
            if cur.kind == .punct && cur.punct.isComparison {
                throw fail(.chainedComparison, "comparisons cannot be chained; combine them with `and`", at: tok)
            }
            return .binary(op.punct.text, l, r, op.span)
        }
        if cur.isPunct(.assign) {
            throw fail(.expectedToken, "`=` is not a comparison; use `==`", at: tok,
                       fixIt: Diagnostic.FixIt("replace with `==`", location: loc(cur.span), length: 1, replacement: "=="))
        }
        return l
    }

    mutating func parseAdditive() throws(ParseAbort) -> ExprNode {
        var l = try parseMultiplicative()
        let base = depth
        defer { depth = base }
        while cur.isPunct(.plus) || cur.isPunct(.minus) {
            let op = advance()
            try enter()
            l = .binary(op.punct.text, l, try parseMultiplicative(), op.span)
        }
        return l
    }

    mutating func parseMultiplicative() throws(ParseAbort) -> ExprNode {
        var l = try parseUnary()
        let base = depth
        defer { depth = base }
        while cur.isPunct(.star) || cur.isPunct(.slash) {
            let op = advance()
            try enter()
            l = .binary(op.punct.text, l, try parseUnary(), op.span)
        }
        return l
    }

    mutating func parseUnary() throws(ParseAbort) -> ExprNode {
        if cur.isPunct(.minus) {
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
            return t.regex ? .regex(lexer.stringValue(t), t.span) : .string(lexer.stringValue(t), t.span)
        case .ident:
            switch t.keyword {
            case .and, .or, .for, .clear, .warn, .crit, .let, .notify, .summary, .description, .on_missing, .mute, .quiet:
                throw fail(.expectedExpression, "expected a value, field or function, found keyword `\(text(t))`", at: t)
            default: break
            }
            skip()
            if t.isWord(.true) || t.isWord(.false) { return .bool(t.isWord(.true), t.span) }
            if cur.isPunct(.lparen) {
                skip()
                let name = text(t)
                var args: [ExprNode] = []
                args.reserveCapacity(2)
                while !cur.isPunct(.rparen) {
                    // `window 1h` reads better in predictions; the word is optional.
                    if cur.isWord(.window) { skip() }
                    args.append(try parseExpr())
                    if cur.isPunct(.comma) { skip() } else if !cur.isPunct(.rparen) {
                        throw fail(.expectedToken, "expected `,` or `)` in the arguments of `\(name)`, found \(describe(tok))", at: tok)
                    }
                }
                skip()
                return .call(name, t.span, args)
            }
            return .name(text(t), t.span)
        case .punct where t.isPunct(.lparen):
            skip()
            let e = try parseExpr()
            _ = try expectPunct(.rparen, "to close the parenthesis")
            return e
        default:
            throw fail(.expectedExpression, "expected a value, field or function, found \(describe(t))", at: t)
        }
    }
}
