// The commands that ask the running daemon through its control socket: status, explain, reload, silence, ack, history.
import Daemon
import Alerting
import Reports
import Rules
#if canImport(Glibc)
import Glibc
#endif

/// `shd status`, `explain`, `reload`, `silence …`, `ack`, `history`: one request each (docs/control.md).
enum ControlCommands {
    static let socket = OptionSpec.option("--socket", value: .file("PATH"),
                                          help: "the daemon's control socket (default /run/shd/control; set control_socket)")
    static let json = OptionSpec.flag("--json", help: "print the daemon's answer as JSON")
    static let exitFooter = """
        Exit status: 0 done, 1 the daemon refused (its reason is printed), 2 usage error, 3 shd is not running
        (or did not answer), 4 permission denied (root and the control_group, shd-admin, only).
        """

    static let labelsOperand = OperandSpec("LABEL=VALUE…", .text("LABEL=VALUE"), count: 0...Int.max)

    static let status = CommandSpec(
        "status", abstract: "what is pending and firing, rules, workers, channels, silences",
        discussion: """
            Asks the running daemon for its state: one line per alert instance that is pending or firing (rule,
            labels, severity, since, last values), then the rules, the workers (last collection, errors), the
            channels (queued notifications, last delivery, failing) and the silences. Colour only on a terminal.
            """,
        footer: """
            Exit status: 0 nothing is firing, 1 at least one alert is firing, 2 usage error, 3 shd is not running
            (or did not answer), 4 permission denied. For scripts: `shd status >/dev/null || page`.
            """,
        options: [socket, json, .flag("--alerts", help: "only the alert lines")],
        run: { p in
            if p.flag("--json") {
                return try request(.status, p, fast: { line in prettyStatus(line) }) { result in
                    writeStdout(result.encoded(pretty: true) + "\n")
                    return (result["firing"]?.number ?? 0) > 0 ? 1 : 0
                }
            }
            // The daemon renders the text and sends it after its answer line, unescaped. A daemon from before
            // "raw-text" refuses that format; one from before `format` refuses the key: each is asked as it can answer.
            var oldFormat = false
            let raw = try request(.statusText(color: colorOut(), alertsOnly: p.flag("--alerts"), raw: true), p,
                                  follows: { line in rawStatus(line)?.bytes }, chunk: { writeAll(bytes: $0) },
                                  fast: { line in rawStatus(line).map { $0.firing > 0 ? 1 : 0 } }) { result in
                writeStdout(result["text"]?.string ?? "")
                return (result["firing"]?.number ?? 0) > 0 ? 1 : 0
            } refused: { answer in
                if answer.code == ControlProtocolError.Code.badRequest.rawValue, answer.error?.contains("\"format\"") == true {
                    oldFormat = true
                    return 0
                }
                writeStderr("shd status: \(answer.error ?? "refused (\(answer.code ?? "no reason"))")\n")
                return 1
            }
            guard oldFormat else { return raw }
            var older = false
            let status = try request(.statusText(color: colorOut(), alertsOnly: p.flag("--alerts")), p, fast: { line in renderedStatus(line) }) { result in
                writeStdout(result["text"]?.string ?? "")
                return (result["firing"]?.number ?? 0) > 0 ? 1 : 0
            } refused: { answer in
                if answer.code == ControlProtocolError.Code.badRequest.rawValue, answer.error?.contains("unknown key \"format\"") == true {
                    older = true
                    return 0
                }
                writeStderr("shd status: \(answer.error ?? "refused (\(answer.code ?? "no reason"))")\n")
                return 1
            }
            guard older else { return status }
            return try request(.status, p) { result in
                writeStdout(ControlText.status(result, alertsOnly: p.flag("--alerts"), color: colorOut()))
                return (result["firing"]?.number ?? 0) > 0 ? 1 : 0
            }
        })

    /// `status` with `"format":"raw-text"`: the `firing` count and the `text_bytes` that follow the answer line, read
    /// from the line's bytes; nil for an answer of another shape (a refusal), which the parser then reads.
    static func rawStatus(_ line: [UInt8]) -> (firing: Double, bytes: Int)? {
        guard let r = ControlClient.okResult(line) else { return nil }
        return line.withUnsafeBufferPointer { b -> (firing: Double, bytes: Int)? in
            let result = UnsafeBufferPointer(rebasing: b[r])
            guard let firing = JSONValue.topLevelMember("firing", in: result)?.number,
                  let n = JSONValue.topLevelMember("text_bytes", in: result)?.number,
                  n >= 0, n <= Double(ControlClient.maxAnswerBytes), n == n.rounded() else { return nil }
            return (firing, Int(n))
        }
    }

    /// `status`: the text the daemon rendered, unescaped from the answer's bytes and written out (1.4 MB for 10,000
    /// alerts), the exit status from its `firing`. nil for an answer of another shape, which the parser then reads.
    static func renderedStatus(_ line: [UInt8]) -> Int32? {
        guard let r = ControlClient.okResult(line) else { return nil }
        let found = line.withUnsafeBufferPointer { b -> (firing: Double, text: Int)? in
            let result = UnsafeBufferPointer(rebasing: b[r])
            guard let firing = JSONValue.topLevelMember("firing", in: result)?.number,
                  let text = JSONValue.topLevelMemberStart("text", in: result) else { return nil }
            return (firing, r.lowerBound + text)
        }
        guard let found else { return nil }
        // The text is the result's last member: decoded where it lies, then the rest must close the result.
        var bytes = line
        let decoded = bytes.withUnsafeMutableBufferPointer { b -> (length: Int, end: Int)? in
            guard let d = JSONValue.unescapeStringInPlace(b, at: found.text) else { return nil }
            var k = d.end
            while k < r.upperBound, b[k] == 0x20 || b[k] == 0x0A || b[k] == 0x09 || b[k] == 0x0D { k += 1 }
            return k == r.upperBound - 1 && b[k] == UInt8(ascii: "}") ? d : nil
        }
        guard let decoded else { return nil }
        bytes.withUnsafeBufferPointer { b in writeAll(bytes: UnsafeBufferPointer(rebasing: b[found.text..<(found.text + decoded.length)])) }
        return found.firing > 0 ? 1 : 0
    }

    /// `status --json`: the daemon's result re-indented from its bytes, as `encoded(pretty: true)` of its tree prints it
    /// (a status of 10,000 alerts is 3.6 MB; the tree cost more than the daemon's answer). nil for an answer of another
    /// shape, which the tree then reads.
    static func prettyStatus(_ line: [UInt8]) -> Int32? {
        guard let r = ControlClient.okResult(line) else { return nil }
        return line.withUnsafeBufferPointer { b -> Int32? in
            let result = UnsafeBufferPointer(rebasing: b[r])
            guard var pretty = JSONValue.prettyBytes(compact: result) else { return nil }
            let firing = JSONValue.topLevelMember("firing", in: result)?.number ?? 0
            pretty.append(0x0A)
            writeStdout(bytes: pretty)
            return firing > 0 ? 1 : 0
        }
    }

    static let explain = CommandSpec(
        "explain", synopsis: "RULE [LABEL=VALUE…] [options]", abstract: "why a rule's alerts are in their state",
        discussion: """
            Evaluates RULE against the daemon's latest report, without changing anything, for every instance whose
            labels include the LABEL=VALUE pairs: the value of every field and `let` the rule reads, each
            condition's truth (and each comparison's operands), the `for` timers and how long until they fire,
            the missing-data state, and the mutes and silences in force.
            """,
        footer: exitFooter,
        options: [socket, json],
        operands: OperandSpec("RULE [LABEL=VALUE…]", .text("RULE"), count: 1...Int.max, missing: "name the rule to explain"),
        run: { p in
            let labels = try labelPairs(Array(p.operands.dropFirst()), command: "explain")
            return try request(.explain(rule: p.operands[0], labels: labels), p) { result in
                writeStdout(p.flag("--json") ? result.encoded(pretty: true) + "\n" : ControlText.explain(result, color: colorOut()))
                return 0
            }
        })

    static let reload = CommandSpec(
        "reload", abstract: "reload the configuration and print the checker's verdict",
        discussion: """
            Asks the daemon to read and check its files now. Clean: the new rules take over (exit 0). With errors:
            the previous rules stay in force, shd_config_invalid fires, and the diagnostics are printed (exit 1).
            """,
        footer: exitFooter,
        options: [socket, json],
        run: { p in
            try request(.reload, p) { result in
                writeStdout(p.flag("--json") ? result.encoded(pretty: true) + "\n" : ControlText.reload(result))
                return 0
            } refused: { answer in
                if let r = answer.result {
                    if p.flag("--json") { writeStdout(r.encoded(pretty: true) + "\n") } else { writeStderr(ControlText.reload(r)) }
                } else {
                    writeStderr("shd reload: \(answer.error ?? "refused")\n")
                }
                return 1
            }
        })

    static let silence = CommandSpec(
        "silence", synopsis: "add|list|expire …", abstract: "silence alerts for a while (maintenance windows)",
        discussion: "Silences hold back the notifications of the alerts they match; states are still tracked.",
        subcommands: [
            CommandSpec(
                "add", synopsis: "--match LABEL=VALUE[,…] (--for DURATION | --until TIME) [options]", abstract: "add a silence",
                discussion: """
                    Silences the alerts whose labels match every LABEL=VALUE (`rule` is the rule's name; a value may be a
                    glob: mount=/backup*) for DURATION or until TIME. With --id, adding the same id again replaces that
                    silence, so a backup script or cron job can run it twice.
                    """,
                footer: exitFooter,
                options: [
                    .option("--match", value: .text("LABEL=VALUE,…"), repeatable: true, help: "labels to match (repeatable)"),
                    .option("--for", value: .duration("DURATION", positive: true, max: 366 * 86400), help: "how long, e.g. 2h"),
                    .option("--until", value: .timestamp("TIME"), help: "until an RFC 3339 time"),
                    .option("--comment", value: .text("TEXT"), help: "why (kept in the history)"),
                    .option("--id", value: .text("ID"), help: "the silence's id (letters, digits, . - _): makes the command idempotent"),
                    socket, json,
                ],
                run: { p in
                    var matchers: [String: String] = [:]
                    for m in p.texts("--match") {
                        for (k, v) in try labelPairs(m.split(separator: ",").map(String.init), command: "silence add") { matchers[k] = v }
                    }
                    guard !matchers.isEmpty else { throw UsageError("silence add: give --match LABEL=VALUE (e.g. --match rule=disk_space)") }
                    let end: SilenceRequest.End
                    switch (p.number("--for"), p.time("--until")) {
                    case (let s?, nil): end = .after(seconds: s)
                    case (nil, let t?): end = .at(t)
                    case (nil, nil): throw UsageError("silence add: give --for DURATION or --until TIME")
                    default: throw UsageError("silence add: give --for or --until, not both")
                    }
                    let r = SilenceRequest(matchers: matchers, end: end, comment: p.text("--comment"), id: p.text("--id"))
                    return try request(.silenceAdd(r), p) { result in
                        writeStdout(p.flag("--json") ? result.encoded(pretty: true) + "\n" : ControlText.silenceAdded(result))
                        return 0
                    }
                }),
            CommandSpec(
                "list", abstract: "list the silences in force", footer: exitFooter, options: [socket, json],
                run: { p in
                    try request(.silenceList, p) { result in
                        writeStdout(p.flag("--json") ? result.encoded(pretty: true) + "\n" : ControlText.silences(result["silences"]))
                        return 0
                    }
                }),
            CommandSpec(
                "expire", synopsis: "ID [options]", abstract: "end a silence now", footer: exitFooter, options: [socket, json],
                operands: OperandSpec("ID", .text("ID"), count: 1...1, missing: "name the silence to expire (shd silence list)"),
                run: { p in
                    try request(.silenceExpire(id: p.operands[0]), p) { result in
                        writeStdout(p.flag("--json") ? result.encoded(pretty: true) + "\n" : "silence \(p.operands[0]) expired\n")
                        return 0
                    }
                }),
        ])

    static let ack = CommandSpec(
        "ack", synopsis: "RULE [LABEL=VALUE…] [options]", abstract: "acknowledge a firing alert: no more repeats",
        discussion: """
            "I'm on it": stops the repeat notifications of the firing instances of RULE whose labels include the
            LABEL=VALUE pairs. Escalations and the resolved notice are still sent; the acknowledgement ends when the
            alert resolves.
            """,
        footer: exitFooter,
        options: [.option("--comment", value: .text("TEXT"), help: "why (kept in the history)"), socket, json],
        operands: OperandSpec("RULE [LABEL=VALUE…]", .text("RULE"), count: 1...Int.max, missing: "name the rule to acknowledge"),
        run: { p in
            let labels = try labelPairs(Array(p.operands.dropFirst()), command: "ack")
            return try request(.ack(rule: p.operands[0], labels: labels, comment: p.text("--comment")), p) { result in
                writeStdout(p.flag("--json") ? result.encoded(pretty: true) + "\n" : ControlText.acked(result))
                return 0
            }
        })

    static let history = CommandSpec(
        "history", abstract: "what happened: transitions, deliveries, silences, acks, reloads",
        discussion: "Prints the daemon's local alert log (kept in the state folder, rotated by size), oldest first.",
        footer: exitFooter,
        options: [
            .option("--since", value: .duration("DURATION", positive: true, max: nil), help: "only the last DURATION (e.g. 24h)"),
            .option("--rule", value: .text("RULE"), help: "only this rule's entries"),
            .option("--limit", value: .integer("N", 1...100_000), help: "at most N entries (the newest)"),
            socket, json,
        ],
        run: { p in
            try request(.history(sinceSeconds: p.number("--since"), rule: p.text("--rule"), limit: p.number("--limit").map { Int($0) }), p) {
                result in
                writeStdout(p.flag("--json") ? result.encoded(pretty: true) + "\n" : ControlText.history(result["entries"]))
                return 0
            }
        })

    static var all: [CommandSpec] { [status, explain, reload, silence, ack, history] }

    // MARK: running

    static func colorOut() -> Bool { isatty(1) != 0 && getenv("NO_COLOR") == nil }

    /// `label=value` operands as a dictionary; a word without `=` is a usage error.
    static func labelPairs(_ words: [String], command: String) throws(UsageError) -> [String: String] {
        var out: [String: String] = [:]
        for w in words where !w.isEmpty {
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                throw UsageError("\(command): expected LABEL=VALUE, got '\(w)'")
            }
            out[String(w[..<eq])] = String(w[w.index(after: eq)...])
        }
        return out
    }

    /// Sends the request to `--socket` (or the default) and hands a successful result to `done`; a refusal prints
    /// the daemon's reason (exit 1) unless `refused` handles it; no answer prints why (exit 3 or 4).
    /// `fast`, when given, sees the answer line first and handles it unless it returns nil.
    static func request(_ r: ControlRequest, _ p: ParsedArguments, follows: (([UInt8]) -> Int?)? = nil,
                        chunk: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }, fast: (([UInt8]) -> Int32?)? = nil,
                        done: (JSONValue) -> Int32, refused: ((ControlClient.Answer) -> Int32)? = nil) throws -> Int32
    {
        let path = p.text("--socket") ?? KnownSettings.controlSocket.defaultString
        let name = "shd " + p.path.joined(separator: " ")
        do {
            let line = try ControlClient.exchange(r, socket: path, follows: follows, chunk: chunk)
            if let fast, let status = fast(line) { return status }
            let a = try ControlClient.decode(line, socket: path)
            if a.ok { return done(a.result ?? .null) }
            if let refused { return refused(a) }
            writeStderr("\(name): \(a.error ?? "refused (\(a.code ?? "no reason"))")\n")
            return 1
        } catch {
            writeStderr("\(name): \(error.message)\n")
            return error.exitStatus
        }
    }
}
