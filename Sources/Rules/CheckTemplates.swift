// Summary and description templates: `{field|filter:arg}` references against the rule's fields and lets.
import Reports

extension Checker {
    static let templateFilters = ["bytes", "percent", "duration", "round"]
    static let templateSpecials = ["rule", "severity", "worker", "function"]

    mutating func checkTemplate(_ text: String, _ span: Span, _ scope: inout Scope) -> Template {
        // Bytes, not Characters: the only special characters are ASCII, and this runs for every summary.
        var text = text
        var lit = spareTemplateBytes
        spareTemplateBytes = []
        let template = text.withUTF8 { checkTemplate(bytes: $0, span, &scope, &lit) }
        lit.removeAll(keepingCapacity: true)
        spareTemplateBytes = lit
        return template
    }

    /// `lit` is an empty buffer for literal text (its storage is reused from template to template).
    mutating func checkTemplate(bytes b: UnsafeBufferPointer<UInt8>, _ span: Span, _ scope: inout Scope,
                                _ lit: inout [UInt8]) -> Template
    {
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), bar = UInt8(ascii: "|"), space = UInt8(ascii: " ")
        var parts: [Template.Part] = []
        // At most a text and a reference per `{`, and the text after the last one.
        var opens = 0
        for c in b where c == open { opens += 1 }
        parts.reserveCapacity(2 * opens + 1)
        var i = 0
        // Byte offsets inside the string map to columns after the opening quote (escapes make this approximate).
        func at(_ k: Int) -> Span {
            var col = 0
            for x in b[0..<min(k, b.count)] where x & 0xC0 != 0x80 { col += 1 }
            return Span(line: span.line, column: span.column + 1 + col, length: 1)
        }
        func flush() {
            if !lit.isEmpty { parts.append(.text(String(decoding: lit, as: UTF8.self))); lit.removeAll(keepingCapacity: true) }
        }
        func string(_ from: Int, _ to: Int) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[from..<to]), as: UTF8.self) }
        while i < b.count {
            // A run of plain text in one copy.
            var j = i
            while j < b.count && b[j] != open && b[j] != close { j += 1 }
            if j > i {
                lit.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<j]))
                i = j
                continue
            }
            let c = b[i]
            if c == open && i + 1 < b.count && b[i + 1] == open { lit.append(open); i += 2; continue }
            if c == close && i + 1 < b.count && b[i + 1] == close { lit.append(close); i += 2; continue }
            if c != open { lit.append(c); i += 1; continue }
            var end = i
            while end < b.count && b[end] != close { end += 1 }
            guard end < b.count else {
                diagnose(.badTemplate, "`{` without a closing `}` in the template (write `{{` for a literal brace)", at(i))
                break
            }
            var ascii = true, split = false
            for k in (i + 1)..<end {
                if b[k] >= 0x80 { ascii = false }
                if b[k] == bar || b[k] == space { split = true }
            }
            var name: String
            var filter: String?
            var arg: Int?
            /// Byte offset of the filter's name, for the caret (spaces around `|` allowed).
            var filterAt: Int?
            if !split {
                // Most references are a bare name: no split, no trimming.
                name = string(i + 1, end)
            } else if ascii {
                // `name|filter:arg`, each side trimmed of spaces; the filter is what precedes the first `:`.
                var nameEnd = i + 1
                while nameEnd < end && b[nameEnd] != bar { nameEnd += 1 }
                func trimmed(_ from: Int, _ to: Int) -> (Int, Int) {
                    var f = from, t = to
                    while f < t && b[f] == space { f += 1 }
                    while t > f && b[t - 1] == space { t -= 1 }
                    return (f, t)
                }
                let (nf, nt) = trimmed(i + 1, nameEnd)
                name = string(nf, nt)
                if nameEnd < end {
                    let (ff, ft) = trimmed(nameEnd + 1, end)
                    var colon = ff
                    while colon < ft && b[colon] != UInt8(ascii: ":") { colon += 1 }
                    filter = string(ff, colon)
                    filterAt = ff
                    if colon < ft { arg = Int(string(colon + 1, ft)) }
                }
            } else {
                // Non-ASCII inside the braces: split on Characters, as written for people.
                let pieces = string(i + 1, end).split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
                    .map { $0.trimmingSpaces() }
                name = pieces.first ?? ""
                if pieces.count == 2 {
                    let fa = pieces[1].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                    filter = String(fa[0])
                    if fa.count == 2 { arg = Int(fa[1]) }
                }
            }
            if let f = filter, !Checker.templateFilters.contains(f) {
                let hint = closest(f, in: Checker.templateFilters)
                diagnose(.badTemplate, "unknown template filter `\(f)`" + (hint.map { "; did you mean `\($0)`?" } ?? "")
                          + " (filters: bytes, percent, duration, round)", at(filterAt ?? (i + 1 + name.utf8.count + 1)))
            }
            if let schema = scope.schema, scope.field(name) == nil, scope.letIndex(name) == nil, !Checker.templateSpecials.contains(name) {
                let candidates = schema.fields.map(\.name) + scope.letNames + Checker.templateSpecials
                let hint = closest(name, in: candidates.sorted())
                diagnose(.unknownField, "unknown name `\(name)` in the template" + (hint.map { "; did you mean `\($0)`?" } ?? ""),
                      at(i + 1).with(length: max(1, name.count)))
            }
            flush()
            parts.append(.ref(name: name, filter: filter, arg: arg))
            i = end + 1
        }
        flush()
        return Template(parts: parts)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        var s = self[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
