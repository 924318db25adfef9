// The daemon's side of the control socket's alert commands: silences, acknowledgements, status and history. Each
// change is in force at once, committed with the alert state (journal, one fdatasync) before the call returns, logged
// with who made it, and recorded in the alert log. All of it runs on the loop thread.
import Notify
import Reports
import Rules

extension Daemon {
    /// `shd silence add`: adds (or, with an id already in use, changes) a runtime silence. Idempotent: the same id
    /// with the same matchers, window and comment answers `.unchanged` and commits nothing.
    public func addSilence(_ silence: Silence) throws(ControlError) -> SilenceChange {
        let change = try engine.addSilence(silence, now: .now())
        guard change != .unchanged else { return change }
        log.notice("silence \(silence.id) \(change.rawValue) by \(who(silence.createdBy)): \(silence.matchers.map(\.description).joined(separator: ","))"
            + " from \(silence.startsAt.rfc3339) until \(silence.endsAt.rfc3339)" + (silence.comment.isEmpty ? "" : " (\(silence.comment))"))
        alertLog?.record("silence", at: .now(), ["action": .string(change.rawValue), "silence": silence.json, "by": silence.createdBy.json])
        controlCommit()
        return change
    }

    /// `shd silence expire ID`: ends a silence now. Alerts it held that still fire notify at the next evaluation.
    public func expireSilence(id: String, by actor: Actor) throws(ControlError) -> Silence {
        let s = try engine.expireSilence(id: id, by: actor, now: .now())
        log.notice("silence \(id) expired by \(who(actor))")
        alertLog?.record("silence", at: .now(), ["action": "expired", "silence": s.json, "by": actor.json])
        controlCommit()
        return s
    }

    /// Silences active or starting later (`includeEnded`: also those that ended in the last 24 h), by id.
    public func silences(includeEnded: Bool = false) -> [Silence] {
        engine.silences(now: .now(), includeEnded: includeEnded)
    }

    /// `shd ack RULE [label=value …]`: acknowledges the matching firing instances; returns their labels.
    public func acknowledge(rule: String, labels: [String: String], by actor: Actor, comment: String) throws(ControlError) -> [[String: String]] {
        let now = Timestamp.now()
        let acked = try engine.acknowledge(rule: rule, labels: labels, by: actor, comment: comment, now: now)
        for l in acked {
            log.notice("alert \(rule) \(labelText(l)) acknowledged by \(who(actor))" + (comment.isEmpty ? "" : " (\(comment))"))
            alertLog?.record("ack", at: now, ["action": "added", "rule": .string(rule), "labels": AlertLog.labels(l),
                                              "by": actor.json, "comment": .string(comment)])
        }
        controlCommit()
        return acked
    }

    /// `shd status`'s alert part: pending and firing instances, and the silences.
    public func alertStatus() -> AlertStatus { engine.status(now: .now()) }

    /// `shd history`: the alert log's records since `since` (all kept when nil), about `rule` when given, oldest first.
    public func history(since: Timestamp? = nil, rule: String? = nil) -> [JSONValue] {
        flushAlertLog()
        return AlertLog.query(stateDir: settings.stateDir, since: since, rule: rule)
    }

    func who(_ a: Actor) -> String { "\(a.user) (uid \(a.uid))" }

    /// A control change is one commit of the state (no notifications), so a restart keeps it; then the log is written.
    func controlCommit() {
        announce([], always: true)
        flushAlertLog()
    }

    /// The engine's own notes (silences that ran out, acks that ended with their alert) into the alert log.
    func recordEngineNotes() {
        guard let alertLog else { return }
        for n in engine.takeNotes() {
            switch n.kind {
            case .silenceEnded:
                var o = JSONObject()
                o.append("action", "ended")
                if let id = n.silenceID, let s = engine.silences.first(where: { $0.id == id }) { o.append("silence", s.json) }
                alertLog.record("silence", at: n.time, o)
            case .ackEnded:
                alertLog.record("ack", at: n.time, ["action": "ended", "rule": .string(n.rule ?? ""), "labels": AlertLog.labels(n.labels)])
            case .flapping, .flappingEnded:
                alertLog.record(n.kind.rawValue, at: n.time, ["rule": .string(n.rule ?? ""), "labels": AlertLog.labels(n.labels)])
            }
        }
    }

    func recordDelivery(_ o: DeliveryOutcome) {
        let status: String
        switch o.status {
        case .delivered: status = "delivered"
        case .retrying: status = "retrying"
        case .failed: status = "failed"
        case .expired: status = "expired"
        }
        var f = JSONObject()
        f.append("channel", .string(o.channel))
        f.append("status", .string(status))
        // The rules of the alerts carried, each once: a message may batch several rules' alerts.
        var rules: [String] = []
        for r in o.rules where !r.isEmpty && !rules.contains(r) { rules.append(r) }
        if rules.count == 1 { f.append("rule", .string(rules[0])) }
        f.append("rules", .array(rules.map { .string($0) }))
        f.append("ids", .array(o.ids.map { .string($0) }))
        if let c = o.code { f.append("code", .int(Int64(c))) }
        f.append("detail", .string(o.detail))
        alertLog?.record("delivery", at: .now(), f)
    }

    func flushAlertLog() {
        guard let alertLog else { return }
        let hadError = alertLog.lastError != nil
        if !alertLog.flush(), !hadError, let e = alertLog.lastError {
            log.warning("alert log \(alertLog.path): \(e); its records are dropped until it can be written")
        }
    }
}
