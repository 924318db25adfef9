// Settings, channel declarations and mute windows: value types against what each name takes.
import Alerting
import Reports

extension Checker {
    func configValue(_ v: ValueNode) -> ConfigValue {
        switch v {
        case .string(let s, _): return .string(s)
        case .number(let n, let u, _): return u == .duration ? .duration(n) : .number(n)
        case .word(let w, _): return w == "true" ? .bool(true) : w == "false" ? .bool(false) : .string(w)
        case .list(let items, _): return .list(items.map(configValue))
        case .file(let p, _): return .file(p)
        case .block(let entries, _): return .block(entries.map { ($0.0, configValue($0.2)) })
        }
    }

    /// Checks a value against the type its declaration takes (`ConfigKey.type`).
    mutating func checkValue(_ v: ValueNode, _ expect: ValueType, _ what: String) {
        func isString(_ v: ValueNode) -> Bool { if case .string = v { return true } else { return false } }
        switch (expect, v) {
        case (.duration, .number(_, .duration, _)), (.number, .number(_, .none, _)), (.number, .number(_, .bytes, _)),
             (.string, .string), (.stringOrList, .string), (.stringOrFile, .string), (.stringOrFile, .file), (.file, .file),
             (.block, .block):
            return
        case (.bool, .word(let w, _)) where w == "true" || w == "false": return
        case (.duration, .number(let n, .none, let span)):
            diagnose(.expectedDuration, "\(what) needs a duration with a unit, e.g. `\(formatNumber(n))s`", span,
                  fixIt: Diagnostic.FixIt("add a unit", location: loc(span), length: span.length, replacement: formatNumber(n) + "s"))
        case (.stringList, .list(let items, _)), (.stringOrList, .list(let items, _)):
            for i in items where !isString(i) { diagnose(.expectedString, "\(what) must be a list of strings", i.span) }
        case (.oneOf(let words), .word(let w, let span)), (.oneOf(let words), .string(let w, let span)):
            if !words.contains(w) {
                let (hint, fix) = suggest(w, words, span)
                diagnose(.valueNotOneOf, "\(what) must be one of \(words.joined(separator: ", "))\(hint)", span, fixIt: fix)
            }
        case (.file, .string(_, let span)):
            diagnose(.secretInline, "\(what) is a secret: keep it in a 0600 file and write `file \"/etc/shd/secrets/…\"`", span)
        default:
            diagnose(.valueWrongType, "\(what) must be \(expect.want)", v.span)
        }
    }

    mutating func checkSetting(_ s: SetStatement, channels: Set<String>) -> ConfigValue? {
        guard let key = KnownSettings.key(named: s.name) else {
            let (hint, fix) = suggest(s.name, KnownSettings.all.map(\.name), s.nameSpan)
            diagnose(.unknownSetting, "unknown setting `\(s.name)`\(hint)", s.nameSpan, fixIt: fix)
            return nil
        }
        let n0 = diagnostics.count
        let what = "`\(s.name)`"
        if key.check == .workerSuffix {
            let w = String(s.name.dropFirst("interval.".count))
            if catalog.worker(w) == nil {
                let (hint, _) = suggest(w, catalog.workers.map(\.name), s.nameSpan)
                diagnose(.unknownWorker, "unknown worker `\(w)` in `\(s.name)`\(hint)", s.nameSpan)
            }
        }
        checkValue(s.value, key.type, what)
        switch key.check {
        case .workers:
            if case .list(let items, _) = s.value {
                for case .string(let w, let span) in items where catalog.worker(w) == nil {
                    let (hint, fix) = suggest(w, catalog.workers.map(\.name), span)
                    diagnose(.unknownWorker, "unknown worker `\(w)`\(hint)", span, fixIt: fix)
                }
            }
        case .channels:
            var names: [(String, Span)] = []
            if case .string(let n, let span) = s.value { names = [(n, span)] }
            if case .list(let items, _) = s.value { for case .string(let n, let span) in items { names.append((n, span)) } }
            for (n, span) in names where !channels.contains(n) {
                let (hint, fix) = suggest(n, Array(channels), span)
                diagnose(.unknownChannel, "unknown channel `\(n)` in default_channels\(hint)", span, fixIt: fix)
            }
        case .listenAddress:
            if case .string(let t, let span) = s.value, ListenAddress(t) == nil {
                diagnose(.listenAddress, "\(what) must be \(ListenAddress.expected), not `\(t)`", span)
            }
        case .range(_, _, let whole, _, let text):
            if case .number(let n, _, let span) = s.value, !key.accepts(n) {
                diagnose(.valueOutOfRange, "\(what) must be \(text)\(whole ? " (a whole number)" : ""), not \(formatNumber(n))", span)
            }
        default: break
        }
        if case .number(let n, .duration, let span) = s.value, n <= 0 {
            diagnose(.durationNotPositive, "\(what) must be a positive duration", span)
        }
        return diagnostics.count == n0 || !diagnostics[n0...].contains { $0.severity == .error } ? configValue(s.value) : nil
    }

    mutating func checkChannel(_ c: ChannelStatement) -> ChannelDeclaration? {
        guard let allowed = ChannelKinds.options(for: c.kind) else {
            let (hint, fix) = suggest(c.kind, Array(ChannelKinds.kinds.keys), c.kindSpan)
            diagnose(.unknownChannelKind, "unknown channel kind `\(c.kind)`\(hint)", c.kindSpan,
                  notes: [Diagnostic.Note("kinds: " + ChannelKinds.kinds.keys.sorted().joined(separator: ", "))], fixIt: fix)
            return nil
        }
        let n0 = diagnostics.count
        var seen: Set<String> = []
        for (key, span, value) in c.options {
            guard let option = allowed.first(where: { $0.name == key }) else {
                let (hint, fix) = suggest(key, allowed.map(\.name), span)
                diagnose(.unknownChannelOption, "channel kind `\(c.kind)` has no option `\(key)`\(hint)", span,
                      notes: [Diagnostic.Note("options: " + allowed.map(\.name).joined(separator: ", "))], fixIt: fix)
                continue
            }
            if !seen.insert(key).inserted { diagnose(.duplicateOption, "option `\(key)` is given twice; the last one wins", span) }
            checkValue(value, option.type, "option `\(key)`")
            switch option.check {
            case .command:
                if case .list(let items, let span) = value, items.isEmpty { diagnose(.commandEmpty, "`command` needs at least the program path", span) }
            case .url(let secret):
                if case .string(let u, let span) = value {
                    if secret {
                        diagnose(.secretInline, "a Slack webhook URL is a secret: keep it in a 0600 file and write `url file \"…\"`", span)
                    }
                    if !(u.hasPrefix("http://") || u.hasPrefix("https://")) {
                        diagnose(.urlScheme, "`\(key)` must start with http:// or https://", span)
                    }
                }
                if case .list(let items, let span) = value {
                    if items.isEmpty { diagnose(.urlList, "`\(key)` needs at least one URL", span) }
                    var urls: Set<String> = []
                    for case .string(let u, let uspan) in items {
                        if !(u.hasPrefix("http://") || u.hasPrefix("https://")) {
                            diagnose(.urlScheme, "every URL of `\(key)` must start with http:// or https://", uspan)
                        } else if !urls.insert(u).inserted {
                            diagnose(.urlList, "\"\(u)\" is listed twice in `\(key)`", uspan)
                        }
                    }
                }
            case .range(_, _, let whole, _, let text):
                if case .number(let n, _, let span) = value, !option.accepts(n) {
                    diagnose(.valueOutOfRange, "option `\(key)` must be \(text)\(whole ? " (a whole number)" : ""), not \(formatNumber(n))", span)
                }
            case .smtpServer:
                if case .string(let u, let span) = value, !(u.hasPrefix("smtp://") || u.hasPrefix("smtps://")) {
                    diagnose(.smtpServerScheme, "`server` must be smtp://host:port (STARTTLS) or smtps://host:port (implicit TLS)", span)
                }
            default: break
            }
        }
        for o in allowed where o.required && !seen.contains(o.name) {
            if let alt = o.alternative {
                // One of the pair is named once, by the first of the two in the table.
                if seen.contains(alt) || allowed.firstIndex(where: { $0.name == alt })! < allowed.firstIndex(where: { $0.name == o.name })! { continue }
                diagnose(.missingChannelOption, "channel `\(c.name)` (\(c.kind)) needs option `\(o.name)` or `\(alt)`: \(o.help)", c.nameSpan)
                continue
            }
            diagnose(.missingChannelOption, "channel `\(c.name)` (\(c.kind)) needs option `\(o.name)`: \(o.help)", c.nameSpan)
        }
        for o in allowed where o.alternative != nil && seen.contains(o.name) && seen.contains(o.alternative!) && o.name < o.alternative! {
            let second = c.options.last { $0.0 == o.name || $0.0 == o.alternative! }!
            diagnose(.urlList, "channel `\(c.name)` gives both `\(o.name)` and `\(o.alternative!)`: write one (a list of one URL is fine)", second.1)
        }
        if diagnostics[n0...].contains(where: { $0.severity == .error }) { return nil }
        return ChannelDeclaration(name: c.name, kind: c.kind, options: c.options.map { ($0.0, configValue($0.2)) },
                                  location: loc(c.nameSpan))
    }

    mutating func checkMute(_ m: MuteNode) -> MuteWindow? {
        switch m {
        case .daily(let text, let span):
            func minutes(_ s: Substring) -> Int? {
                let p = s.split(separator: ":", omittingEmptySubsequences: false)
                guard p.count == 2, p[0].count == 2, p[1].count == 2, let h = Int(p[0]), let mi = Int(p[1]),
                      (0...24).contains(h), (0..<60).contains(mi), h * 60 + mi <= 1440 else { return nil }
                return h * 60 + mi
            }
            let parts = text.split(separator: "-")
            guard parts.count == 2, let s = minutes(parts[0]), let e = minutes(parts[1]), s != e else {
                diagnose(.badMute, "a daily mute window is written \"HH:MM-HH:MM\" in local time (e.g. \"02:00-04:00\")", span)
                return nil
            }
            return .daily(startMinute: s, endMinute: e)
        case .range(let from, let fromSpan, let until, let untilSpan):
            let f = Timestamp(rfc3339: from), u = Timestamp(rfc3339: until)
            if f == nil { diagnose(.badMute, "`from` must be an RFC 3339 time like \"2026-12-24T18:00:00+01:00\"", fromSpan) }
            if u == nil { diagnose(.badMute, "`until` must be an RFC 3339 time like \"2026-12-27T08:00:00+01:00\"", untilSpan) }
            guard let f, let u else { return nil }
            if u <= f {
                diagnose(.badMute, "the mute ends before it starts", untilSpan)
                return nil
            }
            return .range(from: f, until: u)
        }
    }
}
