// Glob (`~ "/var/*"`) and regular-expression (`=~ "eth[0-9]+"`) matching for where-filters.

/// A compiled glob or regular expression. Matches the whole string (like Prometheus label matchers).
///
/// Regex syntax: literals, `.`, `[a-z]`, `[^…]`, `\d \w \s \D \W \S`, escapes, `( )`, `|`, `* + ?`, `{n}`,
/// `{n,}`, `{n,m}`, `^` and `$`. No backreferences or lookaround. Matching is backtracking with a step budget,
/// so a pathological pattern returns "no match" instead of hanging the daemon.
public struct Pattern: Sendable {
    indirect enum Node: Sendable {
        case set(CharSet)
        case seq([Node])
        case alt([Node])
        case rep(Node, Int, Int)
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
    enum Fast: Sendable { case none, equal(String), prefix(String), suffix(String), contains(String), any }
    var fast: Fast = .none

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
        case (true, true): return text.isEmpty ? .any : .contains(text)
        }
    }

    /// Compiles a regular expression, or throws with the offset of the first problem.
    public static func regex(_ text: String) throws(SyntaxError) -> Pattern {
        var p = RegexParser(s: Array(text.unicodeScalars))
        let node = try p.parseAlt(depth: 0)
        if p.i < p.s.count { throw SyntaxError(message: "unmatched `)`", offset: p.i) }
        return Pattern(root: node, source: text)
    }

    /// Substring test on Unicode scalars (the glob matcher's unit), without Foundation.
    func containsScalars(_ text: String, _ part: String) -> Bool {
        let t = Array(text.unicodeScalars), p = Array(part.unicodeScalars)
        guard p.count <= t.count else { return false }
        for i in 0...(t.count - p.count) where t[i] == p[0] && Array(t[i..<(i + p.count)]) == p { return true }
        return false
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
        case .contains(let c): return text.unicodeScalars.count >= c.unicodeScalars.count && containsScalars(text, c)
        case .any: return true
        case .none: break
        }
        var m = Matcher(s: Array(text.unicodeScalars))
        let n = m.s.count
        return m.match(root, 0) { (_: inout Matcher, j: Int) in j == n }
    }
}

private struct RegexParser {
    let s: [Unicode.Scalar]
    var i = 0

    init(s: [Unicode.Scalar]) { self.s = s }

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
                i += 1
                if i + 1 < s.count && s[i] == "?" && s[i + 1] == ":" { i += 2 }
                atom = try parseAlt(depth: depth + 1)
                guard i < s.count && s[i] == ")" else { throw Pattern.SyntaxError(message: "missing `)`", offset: i) }
                i += 1
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
