// Glob (`~ "/var/*"`) and regular-expression (`=~ "eth[0-9]+"`, `=~ /I\/O error/`) matching for where-filters.
#if canImport(Glibc)
import Glibc
#endif

/// A compiled glob or regular expression. A glob and a quoted regex match the whole string (like Prometheus label
/// matchers); a `/…/` regex (``regexSearch(_:)``) is found anywhere in it, as grep does.
///
/// Regex syntax: literals, `.`, `[a-z]`, `[^…]`, `\d \w \s \D \W \S`, escapes, `( )`, `(?:…)`, named groups
/// `(?<name>…)`, `|`, `* + ?`, `{n}`, `{n,}`, `{n,m}`, `^` and `$`. No backreferences or lookaround. Matching is
/// backtracking with a step budget, so a pathological pattern returns "no match" instead of hanging the daemon.
/// A search first looks for the longest literal run the pattern requires (bytes, no backtracking), so most lines
/// are rejected without running the matcher.
public struct Pattern: Sendable {
    indirect enum Node: Sendable {
        case set(CharSet)
        case seq([Node])
        case alt([Node])
        case rep(Node, Int, Int)
        /// A named group: capture slot `Int` records where its match starts and ends.
        case group(Int, Node)
        case start, end
    }

    struct CharSet: Sendable {
        var ranges: [(UInt32, UInt32)]
        var negated: Bool
        var any: Bool
        func contains(_ c: Unicode.Scalar) -> Bool {
            if any { return c != "\n" }
            var hit = false
            for (lo, hi) in ranges where c.value >= lo && c.value <= hi { hit = true; break }
            return hit != negated
        }
        static func single(_ c: Unicode.Scalar) -> CharSet { CharSet(ranges: [(c.value, c.value)], negated: false, any: false) }
    }

    let root: Node
    public let source: String
    /// Globs like `"/srv/*"`, `"*.log"` or `"eth0"` match with a string comparison instead of backtracking.
    /// `segments`: a glob whose only wildcard is `*` (`"svc-*.service"`): its literal runs, found in order in the
    /// string's bytes (the first at its start, the last at its end). Bytes of UTF-8 give the scalar matcher's answer: a
    /// run found in them starts and ends on scalar boundaries.
    /// `startsWith`: a `^`-anchored regex of characters only, on bytes (as the scalar matcher: no grapheme rules).
    enum Fast: Sendable { case none, equal(String), prefix(String), suffix(String), contains([UInt8]), startsWith([UInt8]), segments([[UInt8]]), any }
    var fast: Fast = .none

    /// The names of the `(?<name>…)` groups, by capture slot.
    public private(set) var groupNames: [String] = []
    /// Found anywhere in the string (a `/…/` literal) instead of matching all of it.
    public private(set) var isSearch = false
    /// Bytes every match contains (the longest literal run at the top level): a search tests them first.
    var required: [UInt8] = []
    /// What every match contains, in order: each literal run of the top-level sequence (`\[UFW BLOCK\].* DPT=23 `:
    /// both runs, the second after the first), and for an alternation whose alternatives all have a run
    /// (`backup.*(?:failed|error)`, `/\[Hardware Error\]|Machine check events logged/`) one of them. A search tests
    /// them, on bytes, before it runs the matcher: a line without them cannot match.
    var pieces: [Piece] = []
    /// The pattern starts with `^`: a search tries only the start of the string.
    var anchored = false

    enum Piece: Equatable, Sendable {
        case run([UInt8])
        case anyOf([[UInt8]])
    }

    init(root: Node, source: String, fast: Fast = .none) {
        self.root = root
        self.source = source
        self.fast = fast
    }

    /// A regex syntax error with the character offset inside the pattern.
    public struct SyntaxError: Error, Equatable {
        public var message: String
        public var offset: Int
    }

    /// Compiles a glob: `*` any run of characters (including `/`), `?` one character, `[abc]`/`[!a-z]` a class.
    public static func glob(_ text: String) -> Pattern {
        let s = Array(text.unicodeScalars)
        var nodes: [Node] = []
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "*" {
                nodes.append(.rep(.set(CharSet(ranges: [(0, 0x10FFFF)], negated: false, any: false)), 0, Int.max))
            } else if c == "?" {
                nodes.append(.set(CharSet(ranges: [(0, 0x10FFFF)], negated: false, any: false)))
            } else if c == "[", let (set, next) = try? parseClass(s, i + 1, negation: ["!", "^"]) {
                nodes.append(.set(set))
                i = next
                continue
            } else {
                nodes.append(.set(.single(c)))
            }
            i += 1
        }
        return Pattern(root: .seq(nodes), source: text, fast: fastForm(s))
    }

    /// A glob whose only wildcards are `*` at its ends needs no matcher.
    static func fastForm(_ s: [Unicode.Scalar]) -> Fast {
        let special: Set<Unicode.Scalar> = ["*", "?", "["]
        if !s.contains("?") && !s.contains("[") && s.dropFirst().dropLast().contains("*") {
            var runs: [[UInt8]] = [[]]
            for c in s {
                if c == "*" { runs.append([]) } else { runs[runs.count - 1].append(contentsOf: String(Character(c)).utf8) }
            }
            return .segments(runs)
        }
        var core = s[...]
        let lead = core.first == "*"
        if lead { core = core.dropFirst() }
        let trail = core.last == "*"
        if trail { core = core.dropLast() }
        guard !core.contains(where: { special.contains($0) }) else { return .none }
        var text = ""
        text.unicodeScalars.append(contentsOf: core)
        switch (lead, trail) {
        case (false, false): return .equal(text)
        case (false, true): return .prefix(text)
        case (true, false): return .suffix(text)
        case (true, true): return text.isEmpty ? .any : .contains(Array(text.utf8))
        }
    }

    /// Compiles a regular expression, or throws with the offset of the first problem.
    public static func regex(_ text: String) throws(SyntaxError) -> Pattern {
        var p = RegexParser(s: Array(text.unicodeScalars))
        let node = try p.parseAlt(depth: 0)
        if p.i < p.s.count { throw SyntaxError(message: "unmatched `)`", offset: p.i) }
        var pattern = Pattern(root: node, source: text)
        pattern.groupNames = p.names
        return pattern
    }

    /// Compiles a regular expression found anywhere in the string (`/…/` in a rule), or throws like ``regex(_:)``.
    public static func regexSearch(_ text: String) throws(SyntaxError) -> Pattern {
        var p = try regex(text)
        p.isSearch = true
        var literal = ""
        literal.unicodeScalars.append(contentsOf: requiredRun(p.root))
        p.required = Array(literal.utf8)
        p.pieces = literalPieces(p.root)
        // A single run that is the longest one is tested already.
        if p.pieces == [.run(p.required)] { p.pieces = [] }
        var nodes: [Node]
        switch p.root {
        case .seq(let n): nodes = n
        default: nodes = [p.root]
        }
        if case .start? = nodes.first {
            p.anchored = true
            nodes.removeFirst()
        }
        // Only characters (`/invalid user/`, `/^Stopping nginx\.service/`): the bytes decide, no matcher runs.
        if !nodes.isEmpty, nodes.allSatisfy({ singleScalar($0) != nil }) {
            var literal = ""
            literal.unicodeScalars.append(contentsOf: nodes.map { singleScalar($0)! })
            p.fast = p.anchored ? .startsWith(Array(literal.utf8)) : .contains(Array(literal.utf8))
        }
        return p
    }

    /// The literal pieces every match of `node` contains, in the order they occur in it (see `pieces`).
    static func literalPieces(_ node: Node) -> [Piece] {
        func bytes(_ scalars: [Unicode.Scalar]) -> [UInt8] {
            var literal = ""
            literal.unicodeScalars.append(contentsOf: scalars)
            return Array(literal.utf8)
        }
        switch node {
        case .group(_, let inner): return literalPieces(inner)
        // One iteration's pieces: every match has one, before what follows the repetition.
        case .rep(let inner, let lo, _) where lo >= 1: return literalPieces(inner)
        case .seq(let nodes):
            var out: [Piece] = [], run: [Unicode.Scalar] = []
            for n in nodes {
                if let c = singleScalar(n) {
                    run.append(c)
                    continue
                }
                if !run.isEmpty { out.append(.run(bytes(run))) }
                run = []
                out += literalPieces(n)
            }
            if !run.isEmpty { out.append(.run(bytes(run))) }
            return out
        case .alt(let alts):
            var any: [[UInt8]] = []
            for a in alts {
                let r = requiredRun(a)
                guard !r.isEmpty else { return [] }
                any.append(bytes(r))
            }
            return [.anyOf(any)]
        default:
            return singleScalar(node).map { [.run(bytes([$0]))] } ?? []
        }
    }

    static func singleScalar(_ n: Node) -> Unicode.Scalar? {
        guard case .set(let cs) = n, !cs.any, !cs.negated, cs.ranges.count == 1, cs.ranges[0].0 == cs.ranges[0].1 else { return nil }
        return Unicode.Scalar(cs.ranges[0].0)
    }

    /// Whether `text` has every piece, in order: each found leftmost after the end of the one before (for a choice,
    /// the alternative that ends first). Taking the earliest end leaves the most room for the rest, so a text that
    /// has them in order in some way is never refused.
    static func hasPieces(_ text: String, _ pieces: [Piece]) -> Bool {
        var t = text
        return t.withUTF8 { buf in
            let hay = UnsafeRawBufferPointer(buf)
            var at = 0
            for piece in pieces {
                switch piece {
                case .run(let r):
                    guard let i = r.withUnsafeBytes({ find($0, in: hay, from: at) }) else { return false }
                    at = i + r.count
                case .anyOf(let alternatives):
                    var end = Int.max
                    for r in alternatives {
                        if let i = r.withUnsafeBytes({ find($0, in: hay, from: at) }) { end = min(end, i + r.count) }
                    }
                    guard end != Int.max else { return false }
                    at = end
                }
            }
            return true
        }
    }

    /// The longest run of single characters at the top level of `node`: every match contains it.
    static func requiredRun(_ node: Node) -> [Unicode.Scalar] {
        let single = singleScalar
        switch node {
        case .group(_, let inner): return requiredRun(inner)
        case .rep(let inner, let lo, _) where lo >= 1: return requiredRun(inner)
        case .seq(let nodes):
            var best: [Unicode.Scalar] = [], run: [Unicode.Scalar] = []
            for n in nodes {
                if let c = single(n) {
                    run.append(c)
                    continue
                }
                if run.count > best.count { best = run }
                run = []
                let inner = requiredRun(n)
                if inner.count > best.count { best = inner }
            }
            return run.count > best.count ? run : best
        default:
            return single(node).map { [$0] } ?? []
        }
    }

    /// Whether `bytes` contain `required` (a plain scan for its first byte, then a compare).
    static func containsBytes(_ text: String, _ required: [UInt8]) -> Bool {
        guard !required.isEmpty else { return true }
        var t = text
        return t.withUTF8 { buf in required.withUnsafeBytes { find($0, in: UnsafeRawBufferPointer(buf), from: 0) != nil } }
    }

    /// Where `needle` first occurs in `hay` at or after `from`, or nil: memchr (vectorised in glibc) for its rarest
    /// byte (in log text: `[`, `=` or a capital rather than the space or `e` a run often starts with, which would
    /// stop memchr at every word), memcmp for the whole. (memmem is a GNU extension the Glibc module does not export.)
    static func find(_ needle: UnsafeRawBufferPointer, in hay: UnsafeRawBufferPointer, from: Int) -> Int? {
        let m = needle.count
        guard m <= hay.count - from else { return nil }
        guard m > 0, let base = hay.baseAddress, let nb = needle.baseAddress else { return from }
        var anchor = 0
        for k in 1..<m where byteFrequency[Int(needle[k])] < byteFrequency[Int(needle[anchor])] { anchor = k }
        let byte = Int32(needle[anchor])
        // Candidate starts run from `from` to `last`; the anchor byte of a start s is at s + anchor.
        var at = from
        let last = hay.count - m
        while at <= last {
            guard let hit = memchr(base + at + anchor, byte, last - at + 1) else { return nil }
            let i = UnsafeRawPointer(hit) - base - anchor
            if m == 1 || memcmp(base + i, nb, m) == 0 { return i }
            at = i + 1
        }
        return nil
    }

    /// How common each byte is in log lines, roughly (higher: more common): what `find` avoids as its anchor.
    static let byteFrequency: [UInt8] = {
        var t = [UInt8](repeating: 10, count: 256)
        for b in 0x80...0xFF { t[b] = 5 }
        for b in UInt8(ascii: "A")...UInt8(ascii: "Z") { t[Int(b)] = 20 }
        for b in UInt8(ascii: "a")...UInt8(ascii: "z") { t[Int(b)] = 40 }
        for b in UInt8(ascii: "0")...UInt8(ascii: "9") { t[Int(b)] = 50 }
        for c in ".:/-=,_" { t[Int(c.asciiValue!)] = 45 }
        for c in "hldcum" { t[Int(c.asciiValue!)] = 60 }
        for c in "etaoinsr" { t[Int(c.asciiValue!)] = 80 }
        t[0x20] = 100
        return t
    }()

    /// A `*`-only glob: the first run at the start, the last at the end, the others leftmost in order between them.
    static func matchSegments(_ text: String, _ runs: [[UInt8]]) -> Bool {
        var t = text
        return t.withUTF8 { b in
            let hay = UnsafeRawBufferPointer(b)
            let head = runs[0], tail = runs[runs.count - 1]
            guard hay.count >= head.count + tail.count, hay.starts(with: head), hay.suffix(tail.count).elementsEqual(tail) else { return false }
            var at = head.count
            let end = hay.count - tail.count
            for run in runs.dropFirst().dropLast() where !run.isEmpty {
                guard let i = run.withUnsafeBytes({ find($0, in: UnsafeRawBufferPointer(rebasing: hay[..<end]), from: at) }) else { return false }
                at = i + run.count
            }
            return true
        }
    }

    /// The named groups of the first match, or nil when the pattern does not match (a search: anywhere; otherwise
    /// the whole string). Groups that took no part in the match are left out.
    public func captures(_ text: String) -> [(String, String)]? {
        guard let slots = run(text, wantCaptures: true) else { return nil }
        var out: [(String, String)] = []
        for (i, name) in groupNames.enumerated() where slots.0[i].0 >= 0 {
            var v = ""
            v.unicodeScalars.append(contentsOf: slots.1[slots.0[i].0..<slots.0[i].1])
            out.append((name, v))
        }
        return out
    }

    /// Runs the matcher: capture slots and the scalars they index, or nil for no match.
    func run(_ text: String, wantCaptures: Bool) -> ([(Int, Int)], [Unicode.Scalar])? {
        if isSearch && !Pattern.containsBytes(text, required) { return nil }
        if isSearch && !pieces.isEmpty && !Pattern.hasPieces(text, pieces) { return nil }
        var m = Matcher(s: Array(text.unicodeScalars))
        m.caps = Array(repeating: (-1, -1), count: groupNames.count)
        let n = m.s.count
        if !isSearch {
            return m.match(root, 0) { (_: inout Matcher, j: Int) in j == n } ? (m.caps, m.s) : nil
        }
        // The first node, when it is one character class, picks the start positions worth trying.
        var first: CharSet?
        if case .seq(let nodes) = root, case .set(let cs)? = nodes.first { first = cs } else if case .set(let cs) = root { first = cs }
        var start = 0
        while start <= (anchored ? 0 : n) {
            if let f = first, start < n, !f.contains(m.s[start]) { start += 1; continue }
            if first != nil && start == n { return nil }
            for g in m.caps.indices { m.caps[g] = (-1, -1) }
            if m.match(root, start, { (_: inout Matcher, _: Int) in true }) { return (m.caps, m.s) }
            if m.steps > Matcher.budget { return nil }
            start += 1
        }
        return nil
    }


    static func parseClass(_ s: [Unicode.Scalar], _ start: Int, negation: [Unicode.Scalar]) throws(SyntaxError) -> (CharSet, Int) {
        var i = start
        var set = CharSet(ranges: [], negated: false, any: false)
        if i < s.count && negation.contains(s[i]) { set.negated = true; i += 1 }
        var first = true
        while i < s.count && (s[i] != "]" || first) {
            first = false
            var lo = s[i]
            if lo == "\\" && i + 1 < s.count {
                i += 1
                if let cls = escapeClass(s[i]) {
                    set.ranges += cls.negated ? [] : cls.ranges
                    i += 1
                    continue
                }
                lo = s[i]
            }
            if i + 2 < s.count && s[i + 1] == "-" && s[i + 2] != "]" {
                let hi = s[i + 2]
                guard hi.value >= lo.value else { throw SyntaxError(message: "bad range in a character class", offset: i) }
                set.ranges.append((lo.value, hi.value))
                i += 3
            } else {
                set.ranges.append((lo.value, lo.value))
                i += 1
            }
        }
        guard i < s.count else { throw SyntaxError(message: "unterminated character class `[`", offset: start - 1) }
        return (set, i + 1)
    }

    static func escapeClass(_ c: Unicode.Scalar) -> CharSet? {
        let digit: [(UInt32, UInt32)] = [(0x30, 0x39)]
        let word: [(UInt32, UInt32)] = [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0x5F, 0x5F)]
        let space: [(UInt32, UInt32)] = [(0x20, 0x20), (0x09, 0x0D)]
        switch c {
        case "d": return CharSet(ranges: digit, negated: false, any: false)
        case "D": return CharSet(ranges: digit, negated: true, any: false)
        case "w": return CharSet(ranges: word, negated: false, any: false)
        case "W": return CharSet(ranges: word, negated: true, any: false)
        case "s": return CharSet(ranges: space, negated: false, any: false)
        case "S": return CharSet(ranges: space, negated: true, any: false)
        default: return nil
        }
    }

    /// Whole-string match.
    public func matches(_ text: String) -> Bool {
        switch fast {
        case .equal(let e): return text == e
        case .prefix(let p): return text.hasPrefix(p)
        case .suffix(let x): return text.hasSuffix(x)
        case .contains(let c): return Pattern.containsBytes(text, c)
        case .startsWith(let b):
            var t = text
            return t.withUTF8 { $0.starts(with: b) }
        case .segments(let runs): return Pattern.matchSegments(text, runs)
        case .any: return true
        case .none: break
        }
        return run(text, wantCaptures: false) != nil
    }
}

private struct RegexParser {
    let s: [Unicode.Scalar]
    var i = 0
    /// Names of the `(?<name>…)` groups seen so far, by slot.
    var names: [String] = []

    init(s: [Unicode.Scalar]) { self.s = s }

    /// After `(?<` or `(?P<`: the group's name up to `>`.
    mutating func groupName() throws(Pattern.SyntaxError) -> String {
        let start = i
        var name = ""
        while i < s.count, s[i] != ">" {
            let c = s[i]
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || (c >= "0" && c <= "9" && !name.isEmpty)
            guard ok else { throw Pattern.SyntaxError(message: "a group name is letters, digits and `_`, starting with a letter", offset: i) }
            name.unicodeScalars.append(c)
            i += 1
        }
        guard i < s.count, !name.isEmpty else { throw Pattern.SyntaxError(message: "expected a group name and `>` after `(?<`", offset: start) }
        guard !names.contains(name) else { throw Pattern.SyntaxError(message: "the group name `\(name)` is used twice", offset: start) }
        i += 1
        return name
    }

    mutating func parseAlt(depth: Int) throws(Pattern.SyntaxError) -> Pattern.Node {
        guard depth < 100 else { throw Pattern.SyntaxError(message: "groups nested too deeply", offset: i) }
        var alts = [try parseSeq(depth: depth)]
        while i < s.count && s[i] == "|" {
            i += 1
            alts.append(try parseSeq(depth: depth))
        }
        return alts.count == 1 ? alts[0] : .alt(alts)
    }

    mutating func parseSeq(depth: Int) throws(Pattern.SyntaxError) -> Pattern.Node {
        var nodes: [Pattern.Node] = []
        while i < s.count && s[i] != "|" && s[i] != ")" {
            var atom: Pattern.Node
            let c = s[i]
            switch c {
            case "(":
                let open = i
                i += 1
                var slot: Int?
                if i + 1 < s.count && s[i] == "?" && s[i + 1] == ":" {
                    i += 2
                } else if i + 1 < s.count && s[i] == "?" && (s[i + 1] == "<" || s[i + 1] == "P") {
                    i += s[i + 1] == "P" ? 2 : 1
                    guard i < s.count, s[i] == "<", i + 1 < s.count, s[i + 1] != "=", s[i + 1] != "!" else {
                        throw Pattern.SyntaxError(message: "lookbehind is not supported", offset: open)
                    }
                    i += 1
                    names.append(try groupName())
                    slot = names.count - 1
                } else if i < s.count && s[i] == "?" {
                    throw Pattern.SyntaxError(message: "only `(?:…)` and named groups `(?<name>…)` are supported (no lookaround or flags)", offset: open)
                }
                atom = try parseAlt(depth: depth + 1)
                guard i < s.count && s[i] == ")" else { throw Pattern.SyntaxError(message: "missing `)`", offset: i) }
                i += 1
                if let slot { atom = .group(slot, atom) }
            case "[":
                let (set, next) = try Pattern.parseClass(s, i + 1, negation: ["^"])
                atom = .set(set)
                i = next
            case ".":
                atom = .set(Pattern.CharSet(ranges: [], negated: false, any: true)); i += 1
            case "^": atom = .start; i += 1
            case "$": atom = .end; i += 1
            case "\\":
                guard i + 1 < s.count else { throw Pattern.SyntaxError(message: "trailing `\\`", offset: i) }
                let e = s[i + 1]
                if let cls = Pattern.escapeClass(e) { atom = .set(cls) } else {
                    switch e {
                    case "n": atom = .set(.single("\n"))
                    case "t": atom = .set(.single("\t"))
                    default: atom = .set(.single(e))
                    }
                }
                i += 2
            case "*", "+", "?":
                throw Pattern.SyntaxError(message: "`\(c)` has nothing to repeat", offset: i)
            default:
                atom = .set(.single(c)); i += 1
            }
            // Quantifiers.
            while i < s.count {
                let q = s[i]
                if q == "*" { atom = .rep(atom, 0, Int.max); i += 1 }
                else if q == "+" { atom = .rep(atom, 1, Int.max); i += 1 }
                else if q == "?" { atom = .rep(atom, 0, 1); i += 1 }
                else if q == "{", let (lo, hi, next) = parseBraces(i) { atom = .rep(atom, lo, hi); i = next }
                else { break }
                if i < s.count && s[i] == "?" { i += 1 }  // lazy marker: same matches for a whole-string test
            }
            nodes.append(atom)
        }
        return nodes.count == 1 ? nodes[0] : .seq(nodes)
    }

    func parseBraces(_ start: Int) -> (Int, Int, Int)? {
        var j = start + 1
        func num() -> Int? {
            var v = 0, n = 0
            while j < s.count, let d = Int(String(s[j])), s[j].isASCII, n < 4 { v = v * 10 + d; j += 1; n += 1 }
            return n > 0 ? v : nil
        }
        guard let lo = num() else { return nil }
        var hi = lo
        if j < s.count && s[j] == "," {
            j += 1
            hi = num() ?? Int.max
        }
        guard j < s.count, s[j] == "}", hi >= lo else { return nil }
        return (lo, hi, j + 1)
    }
}

struct Matcher {
    let s: [Unicode.Scalar]
    var steps = 0
    /// Start and end of each named group in the match being tried ((-1, -1): not taken).
    var caps: [(Int, Int)] = []
    static let budget = 200_000

    init(s: [Unicode.Scalar]) { self.s = s }

    mutating func match(_ n: Pattern.Node, _ i: Int, _ k: (inout Matcher, Int) -> Bool) -> Bool {
        steps += 1
        if steps > Matcher.budget { return false }
        switch n {
        case .set(let cs):
            return i < s.count && cs.contains(s[i]) && k(&self, i + 1)
        case .start: return i == 0 && k(&self, i)
        case .end: return i == s.count && k(&self, i)
        case .alt(let alts):
            for a in alts where match(a, i, k) { return true }
            return false
        case .seq(let nodes):
            return seq(nodes, 0, i, k)
        case .rep(let node, let lo, let hi):
            return rep(node, lo, hi, 0, i, k)
        case .group(let g, let node):
            return match(node, i) { (m: inout Matcher, j: Int) in
                let saved = m.caps[g]
                m.caps[g] = (i, j)
                if k(&m, j) { return true }
                m.caps[g] = saved
                return false
            }
        }
    }

    mutating func seq(_ nodes: [Pattern.Node], _ idx: Int, _ i: Int, _ k: (inout Matcher, Int) -> Bool) -> Bool {
        if idx == nodes.count { return k(&self, i) }
        return match(nodes[idx], i) { (m: inout Matcher, j: Int) in m.seq(nodes, idx + 1, j, k) }
    }

    mutating func rep(_ node: Pattern.Node, _ lo: Int, _ hi: Int, _ count: Int, _ i: Int, _ k: (inout Matcher, Int) -> Bool) -> Bool {
        if steps > Matcher.budget { return false }
        if count < hi {
            // Greedy; an iteration that consumes nothing ends the loop so `(a*)*` terminates.
            if match(node, i, { (m: inout Matcher, j: Int) in (j != i || count < lo) && m.rep(node, lo, hi, count + 1, j, k) }) { return true }
        }
        return count >= lo && k(&self, i)
    }
}
