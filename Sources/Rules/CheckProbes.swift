// Probe declarations: kinds and options against `ProbeKinds`, addresses, URLs, statuses, regexes, and credentials
// sent in clear.
import Alerting
import Reports

extension Checker {
    mutating func checkProbe(_ p: ProbeStatement) -> ProbeDeclaration? {
        guard let allowed = ProbeKinds.options(for: p.kind) else {
            let (hint, fix) = suggest(p.kind, Array(ProbeKinds.kinds.keys), p.kindSpan)
            diagnose(.unknownProbeKind, "unknown probe kind `\(p.kind)`\(hint)", p.kindSpan,
                     notes: [Diagnostic.Note("kinds: " + ProbeKinds.kinds.keys.sorted().joined(separator: ", "))], fixIt: fix)
            return nil
        }
        let n0 = diagnostics.count
        var seen: Set<String> = []
        var plainHTTP = false
        for (key, _, value) in p.options where key == "url" {
            if case .string(let u, _) = value { plainHTTP = u.lowercased().hasPrefix("http://") }
        }
        for (key, span, value) in p.options {
            guard let option = allowed.first(where: { $0.name == key }) else {
                let (hint, fix) = suggest(key, allowed.map(\.name), span)
                diagnose(.unknownProbeOption, "probe kind `\(p.kind)` has no option `\(key)`\(hint)", span,
                         notes: [Diagnostic.Note("options: " + allowed.map(\.name).joined(separator: ", "))], fixIt: fix)
                continue
            }
            if !seen.insert(key).inserted { diagnose(.duplicateOption, "option `\(key)` is given twice; the last one wins", span) }
            let before = diagnostics.count
            checkValue(value, option.type, "option `\(key)`")
            if diagnostics.count > before { continue }
            if case .number(let n, let unit, let vspan) = value, n <= 0 || (unit == .none && n != n.rounded()) {
                diagnose(.probeValue, "option `\(key)` must be a positive \(unit == .duration ? "duration" : "whole number")", vspan)
            }
            checkProbeValue(option.check, key: key, value, plainHTTP: plainHTTP)
        }
        for o in allowed where o.required && !seen.contains(o.name) {
            diagnose(.missingProbeOption, "probe `\(p.name)` (\(p.kind)) needs option `\(o.name)`: \(o.help)", p.nameSpan)
        }
        if diagnostics[n0...].contains(where: { $0.severity == .error }) { return nil }
        return ProbeDeclaration(name: p.name, kind: p.kind, options: p.options.map { ($0.0, configValue($0.2)) },
                                location: loc(p.nameSpan))
    }

    private mutating func checkProbeValue(_ check: ConfigKey.Check, key: String, _ value: ValueNode, plainHTTP: Bool) {
        switch (check, value) {
        case (.probeAddress, .string(let a, let span)):
            if ProbeAddress.parse(a) == nil {
                diagnose(.probeValue, "`address` must be \"host:port\", \"[IPv6]:port\" or \"unix:/path\" (port 1-65535)", span)
            }
        case (.probeURL(let schemes), .string(let u, let span)):
            let parts = u.split(separator: ":", maxSplits: 1)
            let scheme = parts.first.map { $0.lowercased() } ?? ""
            let rest = parts.count == 2 ? parts[1] : ""
            if !schemes.contains(scheme) || !rest.hasPrefix("//") || rest.dropFirst(2).prefix(while: { $0 != "/" }).isEmpty {
                diagnose(.probeValue, "`\(key)` must be a URL with a host and one of the schemes " + schemes.map { $0 + "://" }.joined(separator: ", "), span)
            } else if plainHTTP, rest.dropFirst(2).prefix(while: { $0 != "/" }).contains("@") {
                diagnose(.secretPlaintext, "the URL's user and password are sent in clear over http://; use https://", span)
            }
        case (.statusSet, _):
            var items: [(String, Span)] = []
            if case .string(let s, let span) = value { items = [(s, span)] }
            if case .list(let l, _) = value { for case .string(let s, let span) in l { items.append((s, span)) } }
            for (s, span) in items where parseStatusRange(s) == nil {
                diagnose(.probeValue, "`expect_status` takes statuses like \"200\", classes like \"2xx\" or ranges like \"200-204\", not \"\(s)\"", span)
            }
        case (.regex, .string(let r, let span)):
            do throws(Pattern.SyntaxError) { _ = try Pattern.regex(r) } catch {
                diagnose(.badRegex, "`\(key)` is not a valid regex: \(error.message)", span)
            }
        case (.none, .block(let entries, _)) where key == "headers" && plainHTTP:
            for (name, span, v) in entries {
                var isFile = false
                if case .file = v { isFile = true }
                if isFile || looksLikeCredential(name) {
                    diagnose(.secretPlaintext, "header `\(name)` looks like a credential and would be sent in clear over http://; use https://", span)
                }
            }
        default: break
        }
    }

    /// Header names that carry credentials (RFC 9110 Authorization, cookies, API keys and tokens).
    func looksLikeCredential(_ header: String) -> Bool {
        let h = header.lowercased()
        return h == "authorization" || h == "proxy-authorization" || h == "cookie"
            || ["token", "secret", "key", "password", "auth", "session"].contains { h.contains($0) }
    }
}
