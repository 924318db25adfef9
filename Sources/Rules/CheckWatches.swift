// Watch declarations: kinds and options against `WatchKinds`, one selector per process watch, absolute paths, unit
// and command names, regexes and globs.
import Alerting
import Reports

extension Checker {
    mutating func checkWatch(_ w: WatchStatement) -> WatchDeclaration? {
        guard let allowed = WatchKinds.options(for: w.kind) else {
            let (hint, fix) = suggest(w.kind, Array(WatchKinds.kinds.keys), w.kindSpan)
            diagnose(.unknownWatchKind, "unknown watch kind `\(w.kind)`\(hint)", w.kindSpan,
                     notes: [Diagnostic.Note("kinds: " + WatchKinds.kinds.keys.sorted().joined(separator: ", "))], fixIt: fix)
            return nil
        }
        let n0 = diagnostics.count
        var seen: Set<String> = []
        for (key, span, value) in w.options {
            guard let option = allowed.first(where: { $0.name == key }) else {
                let (hint, fix) = suggest(key, allowed.map(\.name), span)
                diagnose(.unknownWatchOption, "watch kind `\(w.kind)` has no option `\(key)`\(hint)", span,
                         notes: [Diagnostic.Note("options: " + allowed.map(\.name).joined(separator: ", "))], fixIt: fix)
                continue
            }
            if !seen.insert(key).inserted { diagnose(.duplicateOption, "option `\(key)` is given twice; the last one wins", span) }
            let before = diagnostics.count
            checkValue(value, option.type, "option `\(key)`")
            if diagnostics.count > before { continue }
            if case .number(let n, let unit, let vspan) = value, n <= 0 || (unit != .duration && n != n.rounded()) {
                diagnose(.watchValue, "option `\(key)` must be a positive \(unit == .duration ? "duration" : "whole number")", vspan)
            }
            checkWatchValue(option.check, key: key, value)
        }
        if w.kind == "process" {
            let given = w.options.filter { o in WatchKinds.selectors.contains { $0.name == o.0 } }
            let names = WatchKinds.selectors.map { "`\($0.name)`" }.joined(separator: ", ")
            if given.isEmpty {
                diagnose(.missingWatchOption, "watch `\(w.name)` (process) needs one of \(names): which processes it watches", w.nameSpan)
            } else if Set(given.map(\.0)).count > 1, let second = given.first(where: { $0.0 != given[0].0 }) {
                diagnose(.watchValue, "watch `\(w.name)` selects its processes by `\(given[0].0)` already; give one of \(names)", second.1)
            }
        }
        for o in allowed where o.required && !seen.contains(o.name) {
            diagnose(.missingWatchOption, "watch `\(w.name)` (\(w.kind)) needs option `\(o.name)`: \(o.help)", w.nameSpan)
        }
        if diagnostics[n0...].contains(where: { $0.severity == .error }) { return nil }
        return WatchDeclaration(name: w.name, kind: w.kind, options: w.options.map { ($0.0, configValue($0.2)) },
                                location: loc(w.nameSpan))
    }

    private mutating func checkWatchValue(_ check: ConfigKey.Check, key: String, _ value: ValueNode) {
        switch (check, value) {
        case (.absolutePath, _):
            var items: [(String, Span)] = []
            if case .string(let s, let span) = value { items = [(s, span)] }
            if case .list(let l, let span) = value {
                for case .string(let s, let sspan) in l { items.append((s, sspan)) }
                if l.isEmpty { diagnose(.watchValue, "`\(key)` needs at least one path", span) }
            }
            for (p, span) in items where !p.hasPrefix("/") || p.utf8.count > 4095 || p.utf8.contains(0) {
                diagnose(.watchValue, "`\(key)` must be an absolute path (starting with `/`), not \"\(p)\"", span)
            }
        case (.unitName, .string(let u, let span)):
            if normalizedUnitName(u) == nil {
                diagnose(.watchValue, "`unit` must name a service or a scope (`nginx`, `nginx.service`, `session-2.scope`), not \"\(u)\"", span)
            }
        case (.commName, .string(let n, let span)):
            if n.isEmpty || n.contains("/") {
                diagnose(.watchValue, "`name` is a command name without `/` (use `cmdline` to match a path)", span)
            } else if n.utf8.count > commNameLimit {
                let cut = String(decoding: n.utf8.prefix(commNameLimit), as: UTF8.self)
                diagnose(.watchValue, "`name` is matched against the kernel's command name, which keeps \(commNameLimit) bytes: write \"\(cut)\", or use `cmdline`", span,
                         fixIt: Diagnostic.FixIt("keep \(commNameLimit) bytes", location: loc(span), length: span.length, replacement: "\"\(cut)\""))
            }
        case (.regex, .string(let r, let span)):
            do throws(Pattern.SyntaxError) { _ = try Pattern.regexSearch(r) } catch {
                diagnose(.badRegex, "`\(key)` is not a valid regex: \(error.message)", span)
            }
        default: break
        }
    }
}
