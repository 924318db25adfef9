// The daemon's answers on the control socket: status, explain and reload (docs/control.md).
import Kit
import Notify
import Alerting
import Reports
import Rules
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// What a reload did: the verdict `shd reload` prints (and exits with).
struct ReloadOutcome {
    var reason: String
    var applied: Bool
    var message: String
    var loaded: LoadResult?
    var at = Timestamp.now()

    init(reason: String, applied: Bool, message: String, loaded: LoadResult? = nil) {
        self.reason = reason
        self.applied = applied
        self.message = message
        self.loaded = loaded
    }

    var json: JSONValue {
        var o = JSONObject()
        o.append("applied", .bool(applied))
        o.append("message", .string(message))
        o.append("reason", .string(reason))
        o.append("at", .string(at.rfc3339))
        if let l = loaded {
            o.append("errors", .int(Int64(l.errorCount)))
            o.append("warnings", .int(Int64(l.diagnostics.count - l.errorCount)))
            o.append("diagnostics", .string(DiagnosticPrinter.text(l.diagnostics, sources: l.sources, color: false)))
        }
        return .object(o)
    }
}

extension Daemon {
    /// Opens the control socket (`set control_socket`, `shd run --socket`). A socket that cannot be made is a warning:
    /// monitoring never depends on it.
    func startControl() {
        let path = settings.controlSocket
        guard !path.isEmpty else { return }
        var gid: UInt32?
        if !settings.controlGroup.isEmpty {
            if let g = getgrnam(settings.controlGroup) {
                gid = g.pointee.gr_gid
            } else {
                log.notice("control socket: group \(settings.controlGroup) does not exist; only root and shd's user may use \(path)")
            }
        }
        do {
            control = try ControlServer(path: path, adminGroup: gid, loop: loop, log: log) { [unowned self] request, peer in
                self.answer(request, from: peer)
            }
            // What the socket is, not what was asked: a chown the sandbox refused leaves it 0600.
            var st = stat()
            let opened = stat(path, &st) == 0 && gid != nil && st.st_gid == gid! && st.st_mode & 0o777 == 0o660
            log.info("control socket: \(path)" + (opened ? " (mode 0660, group \(settings.controlGroup) = \(gid!))" : " (mode 0600)"))
        } catch {
            log.warning("control socket: \(error); shd status, explain, reload, silence, ack and history will not reach this daemon")
        }
    }

    /// The answer line to a request (newline included).
    func answer(_ request: ControlRequest, from peer: PeerCredentials) -> [UInt8] {
        switch request {
        case .status:
            // Room for ~400 bytes per rule and per alert instance, so a large answer is not grown by copying.
            let capacity = 4096 + 400 * engine.configuration.rules.count
            return ControlResponse.successLine(capacity: capacity) { self.writeStatus(to: &$0) }
        case .statusText(let color, let alertsOnly, let raw):
            let status = controlStatus()
            if raw { return status.rawText(alertsOnly: alertsOnly, color: color) }
            // The text is ~200 bytes an alert and a rule; escaped in the answer (a newline a line, colour codes).
            let capacity = 4096 + 240 * engine.configuration.rules.count
            return ControlResponse.successLine(capacity: capacity) { status.writeText(to: &$0, alertsOnly: alertsOnly, color: color) }
        case .explain(let rule, let labels):
            let now = Timestamp.now()
            guard let e = engine.explain(rule: rule, labels: labels, report: snapshot.report(now: now), now: now) else {
                let names = engine.ruleNames
                return ControlResponse.line(ControlResponse.failure(.init(.notFound, "no rule named \(rule)"
                    + (names.isEmpty ? " (no rules are loaded)" : "; rules: " + names.prefix(50).joined(separator: ", ")))))
            }
            return ControlResponse.line(ControlResponse.success(explanationJSON(e, now: now)))
        case .reload:
            let o = reload(reason: "shd reload by \(peer)")
            return ControlResponse.line(o.applied ? ControlResponse.success(o.json)
                                                  : ControlResponse.failure(.init(.failed, o.message), result: o.json))
        case .silenceAdd, .silenceList, .silenceExpire, .ack, .history:
            return ControlResponse.line(answerAlertState(request, from: peer))
        }
    }

    /// Silences, acknowledgements and the history, through the alert-state calls (AlertControl.swift): each change is
    /// committed with the state before the answer.
    func answerAlertState(_ request: ControlRequest, from peer: PeerCredentials) -> JSONValue {
        let actor = Actor(uid: peer.uid, user: userName(peer.uid))
        let now = Timestamp.now()
        do throws(ControlError) {
            switch request {
            case .silenceAdd(let r):
                let ends: Timestamp
                switch r.end {
                case .after(let seconds): ends = now.adding(seconds: seconds)
                case .at(let t): ends = t
                }
                let matchers = r.matchers.keys.sorted().map { LabelMatcher(name: $0, value: r.matchers[$0]!) }
                let id = r.id ?? "s-" + String(UInt64(now.microseconds), radix: 36)
                // The same id again keeps its start, so a script re-adding it changes nothing.
                let startsAt = r.id.flatMap { id in silences().first { $0.id == id }?.startsAt } ?? now
                let silence = Silence(id: id, matchers: matchers, startsAt: startsAt, endsAt: ends, createdBy: actor, createdAt: now,
                                      comment: r.comment ?? "")
                let change = try addSilence(silence)
                let stored = silences().first { $0.id == id } ?? silence
                return ControlResponse.success(.object(JSONObject([
                    ("silence", stored.json), ("change", .string(change.rawValue)), ("replaced", .bool(change != .added)),
                ])))
            case .silenceList:
                return ControlResponse.success(.object(JSONObject([("silences", .array(silences().map(\.json)))])))
            case .silenceExpire(let id):
                let s = try expireSilence(id: id, by: actor)
                return ControlResponse.success(.object(JSONObject([("silence", s.json)])))
            case .ack(let rule, let labels, let comment):
                let acked = try acknowledge(rule: rule, labels: labels, by: actor, comment: comment ?? "")
                return ControlResponse.success(.object(JSONObject([
                    ("acknowledged", .int(Int64(acked.count))), ("instances", .array(acked.map { ControlRequest.object($0) })),
                ])))
            case .history(let since, let rule, let limit):
                var entries = history(since: since.map { now.adding(seconds: -$0) }, rule: rule)
                if let limit, entries.count > limit { entries.removeFirst(entries.count - limit) }
                return ControlResponse.success(.object(JSONObject([("entries", .array(entries))])))
            default:
                return ControlResponse.failure(.init(.badRequest, "\(request.command) is not an alert-state request"))
            }
        } catch {
            return ControlResponse.failure(.init(.failed, error.message))
        }
    }

    /// The user name of `uid` from /etc/passwd (read directly: an NSS lookup could block the loop on a directory
    /// server); `uid N` when it is not there.
    func userName(_ uid: UInt32) -> String {
        if uid == 0 { return "root" }
        if let bytes = try? readWholeFile(settings.roots.etc + "/passwd", limit: 4 << 20) {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let f = line.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
                if f.count > 2, UInt32(f[2]) == uid { return String(f[0]) }
            }
        }
        return "uid \(uid)"
    }

    // MARK: status

    /// The `status` result, written straight into the answer's bytes: with 10,000 alert instances it is 3 MB, and it
    /// is built on the loop (a tree of values first cost 10 times more).
    func writeStatus(to j: inout JSONStream) { controlStatus().write(to: &j) }

    /// What `status` shows, now.
    func controlStatus() -> ControlStatus {
        let now = Timestamp.now()
        let report = snapshot.report(now: now)
        let alerts = alertStatus()
        return ControlStatus(
            host: snapshot.hostname ?? "", now: now, pid: Int64(getpid()), alerts: alerts, configInvalid: configInvalid,
            rules: engine.ruleStatuses(counting: alerts),
            workers: .array(snapshot.workers.map { w in
                var o = JSONObject()
                o.append("name", .string(w.name))
                o.append("interval", .double(settings.interval(of: w.name)))
                let wr = report.workerReports.first { $0.name == w.name }
                o.append("last_collection", wr.map { .string($0.datetime.rfc3339) } ?? .null)
                let errors = (wr?.functionReports ?? []).compactMap { f in f.error.map { (f.name, JSONValue.string($0)) } }
                o.append("errors", .object(JSONObject(errors)))
                return .object(o)
            }),
            channels: .array(dispatcher.channelStatuses.map { c in
                var o = JSONObject()
                o.append("name", .string(c.name))
                o.append("channel", .string(c.channel))
                o.append("kind", c.kind.map { .string($0) } ?? .null)
                o.append("queued", .int(Int64(c.queued)))
                o.append("failing", .bool(c.consecutiveFailures > 0))
                o.append("failures", .int(Int64(c.consecutiveFailures)))
                o.append("last_delivery", c.lastDelivery.map { .string($0.rfc3339) } ?? .null)
                o.append("last_error", c.lastError.map { .string($0) } ?? .null)
                return .object(o)
            }),
            sources: eventSourceStatuses(), lastReload: lastReload.map(\.json) ?? .null)
    }

    // MARK: explain

    func explanationJSON(_ e: RuleExplanation, now: Timestamp) -> JSONValue {
        var o = JSONObject()
        o.append("rule", .string(e.rule))
        o.append("on", .string(e.worker + "." + e.function))
        o.append("now", .string(now.rfc3339))
        o.append("function", .string(e.functionState))
        o.append("report_time", e.reportTime.map { .string($0.rfc3339) } ?? .null)
        o.append("where", e.filter.map { .string($0) } ?? .null)
        o.append("repeat", e.repeatSeconds.map { .double($0) } ?? .null)
        o.append("mutes", .array(e.activeMutes.map { .string($0) }))
        // Silences that cover some instance explained (labels as events carry them: the row's, worker, function).
        let covering = silences().filter { s in
            s.isActive(at: now) && e.instances.contains { i in
                var l = i.labels
                if l["worker"] == nil { l["worker"] = e.worker }
                if l["function"] == nil { l["function"] = e.function }
                return s.matches(rule: e.rule, labels: l)
            }
        }
        o.append("silences", .array(covering.map(\.json)))
        o.append("instances", .array(e.instances.map { i in
            var j = JSONObject()
            j.append("labels", ControlRequest.object(i.labels))
            j.append("state", .string(i.state.rawValue))
            j.append("severity", .string(i.severity.rawValue))
            j.append("starts_at", i.startsAt.map { .string($0.rfc3339) } ?? .null)
            j.append("row_present", .bool(i.rowPresent))
            j.append("missing", .object(JSONObject([
                ("evaluations", .int(Int64(i.missingEvaluations))), ("policy", .string(i.missingPolicy.action.rawValue)),
                ("after", .int(Int64(i.missingPolicy.after))),
            ])))
            j.append("fields", .object(JSONObject(i.fields.map { ($0.name, $0.value.map { .string($0) } ?? .null) })))
            j.append("lets", .object(JSONObject(i.lets.map { ($0.name, $0.value.map { .string($0) } ?? .null) })))
            j.append("conditions", .array(i.conditions.map { c in
                var k = JSONObject()
                k.append("severity", .string(c.severity.rawValue))
                k.append("trigger", .string(c.trigger))
                k.append("trigger_holds", c.triggerHolds.map { .bool($0) } ?? .null)
                k.append("clear", c.clear.map { .string($0) } ?? .null)
                k.append("clear_holds", c.clearHolds.map { .bool($0) } ?? .null)
                k.append("for", .double(c.forSeconds))
                k.append("since", c.since.map { .string($0.rfc3339) } ?? .null)
                k.append("fires_in", c.firesIn.map { .double($0) } ?? .null)
                k.append("steps", .array(c.steps.map { s in
                    .object(JSONObject([("text", .string(s.text)), ("left", .string(s.left)), ("right", s.right.map { .string($0) } ?? .null),
                                        ("result", s.result.map { .bool($0) } ?? .null)]))
                }))
                return .object(k)
            }))
            j.append("summary", .string(i.summary))
            return .object(j)
        }))
        o.append("omitted", .int(Int64(e.omitted)))
        return .object(o)
    }
}
