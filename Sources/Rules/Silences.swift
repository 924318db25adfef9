// Runtime silences and acknowledgements: the values the control socket adds, lists and expires, and how they are
// saved in state.json (the engine's `silences` array and each instance's `ack`).
import Reports

/// Who made a change through the control socket: the peer's uid (`SO_PEERCRED`) and its user name, both given by
/// the caller (the engine trusts them: the socket checked the peer).
public struct Actor: Sendable, Equatable {
    public var uid: UInt32
    public var user: String

    public init(uid: UInt32, user: String) {
        self.uid = uid
        self.user = user
    }

    public var json: JSONValue { .object(["uid": .int(Int64(uid)), "user": .string(user)]) }

    init(json: JSONValue?, _ what: String) throws(Engine.StateError) {
        guard let o = json?.object, let uid = o["uid"]?.int64, uid >= 0, uid <= Int64(UInt32.max), let user = o["user"]?.string
        else { throw Engine.StateError("\(what) needs uid and user") }
        self.init(uid: UInt32(uid), user: user)
    }
}

/// A refused control request (bad matcher, unknown silence, no such alert): the message is for the person.
public struct ControlError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One matcher of a silence, `name=value`: `rule` matches the rule's name, any other name the alert's label of that
/// name (`worker` and `function` included). A value with `*`, `?` or `[` is a glob over the whole value (as in
/// `where mount ~ "/srv/*"`), else it must be equal. An alert without the label never matches.
public struct LabelMatcher: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let value: String
    let pattern: Pattern?

    public init(name: String, value: String) {
        self.name = name
        self.value = value
        self.pattern = value.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) ? Pattern.glob(value) : nil
    }

    public var isGlob: Bool { pattern != nil }
    public var description: String { name + "=" + value }
    public static func == (a: LabelMatcher, b: LabelMatcher) -> Bool { a.name == b.name && a.value == b.value }

    public func matches(_ text: String?) -> Bool {
        guard let text else { return false }
        return pattern?.matches(text) ?? (text == value)
    }

    /// `rule=disk_space,mount=/backup*`: comma-separated `name=value` pairs (a value may hold `=`, not `,`).
    public static func parse(_ text: String) throws(ControlError) -> [LabelMatcher] {
        var out: [LabelMatcher] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let eq = part.firstIndex(of: "=") else {
                throw ControlError("matcher '\(part)' is not name=value (e.g. rule=disk_space,mount=/backup)")
            }
            let name = String(part[..<eq]), value = String(part[part.index(after: eq)...])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
                throw ControlError("matcher '\(part)': '\(name)' is not a label name")
            }
            if out.contains(where: { $0.name == name }) { throw ControlError("matcher '\(part)': \(name) is given twice") }
            out.append(LabelMatcher(name: name, value: value))
        }
        return out
    }
}

/// A runtime silence: while active, the alerts it matches notify nothing (their states are still tracked). See
/// docs/rules.md, "Silences and acknowledgements", for what is sent when it ends.
public struct Silence: Sendable, Equatable {
    /// Letters, digits, `.`, `_`, `-`; at most 64 characters. Given by the caller (idempotent adds) or made up.
    public var id: String
    /// Every matcher must match (at least one).
    public var matchers: [LabelMatcher]
    public var startsAt: Timestamp
    public var endsAt: Timestamp
    public var createdBy: Actor
    public var createdAt: Timestamp
    public var comment: String
    /// Who ended it early (`expire`); its `endsAt` is then the time of that.
    public var expiredBy: Actor?

    public init(id: String, matchers: [LabelMatcher], startsAt: Timestamp, endsAt: Timestamp, createdBy: Actor,
                createdAt: Timestamp, comment: String, expiredBy: Actor? = nil)
    {
        self.id = id
        self.matchers = matchers
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.comment = comment
        self.expiredBy = expiredBy
    }

    public func isActive(at now: Timestamp) -> Bool { now >= startsAt && now < endsAt }

    /// Whether it covers the alert instance (`labels` as events carry them: the row's plus worker and function).
    public func matches(rule: String, labels: [String: String]) -> Bool {
        matchers.allSatisfy { m in m.matches(m.name == "rule" ? rule : labels[m.name]) }
    }

    /// A silence with the same matchers, window and comment (an `add` with its id changes nothing).
    func sameRequest(as o: Silence) -> Bool {
        matchers == o.matchers && startsAt == o.startsAt && endsAt == o.endsAt && comment == o.comment && expiredBy == nil
    }

    public static func validID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        }
    }

    /// As state.json and the control socket write it (times as RFC 3339; state.json's microseconds are in `*_us`).
    public var json: JSONValue {
        var o = JSONObject()
        o.append("id", .string(id))
        o.append("matchers", .array(matchers.map { .string($0.description) }))
        o.append("starts_at", .string(startsAt.rfc3339))
        o.append("ends_at", .string(endsAt.rfc3339))
        o.append("created_by", createdBy.json)
        o.append("created_at", .string(createdAt.rfc3339))
        o.append("comment", .string(comment))
        if let expiredBy { o.append("expired_by", expiredBy.json) }
        return .object(o)
    }

    init(json: JSONValue, _ what: String) throws(Engine.StateError) {
        guard let o = json.object, let id = o["id"]?.string, Silence.validID(id), let ms = o["matchers"]?.array, !ms.isEmpty,
              let starts = o["starts_at"]?.string.flatMap(Timestamp.init(rfc3339:)),
              let ends = o["ends_at"]?.string.flatMap(Timestamp.init(rfc3339:)),
              let created = o["created_at"]?.string.flatMap(Timestamp.init(rfc3339:))
        else { throw Engine.StateError("\(what) needs id, matchers, starts_at, ends_at and created_at") }
        var matchers: [LabelMatcher] = []
        for m in ms {
            guard let text = m.string, let parsed = try? LabelMatcher.parse(text), parsed.count == 1 else {
                throw Engine.StateError("\(what).matchers holds something that is not name=value")
            }
            matchers.append(parsed[0])
        }
        self.init(id: id, matchers: matchers, startsAt: starts, endsAt: ends, createdBy: try Actor(json: o["created_by"], "\(what).created_by"),
                  createdAt: created, comment: o["comment"]?.string ?? "",
                  expiredBy: try o["expired_by"].map { j throws(Engine.StateError) in try Actor(json: j, "\(what).expired_by") })
    }
}

/// `shd ack`: someone is on it. Repeats of that firing instance stop; escalation, de-escalation and the resolved
/// notice are still sent; it ends when the alert resolves.
public struct Acknowledgement: Sendable, Equatable {
    public var by: Actor
    public var at: Timestamp
    public var comment: String

    public init(by: Actor, at: Timestamp, comment: String) {
        self.by = by
        self.at = at
        self.comment = comment
    }

    public var json: JSONValue { .object(["by": by.json, "at": .string(at.rfc3339), "comment": .string(comment)]) }

    init(json: JSONValue, _ what: String) throws(Engine.StateError) {
        guard let at = json["at"]?.string.flatMap(Timestamp.init(rfc3339:)) else { throw Engine.StateError("\(what) needs at") }
        self.init(by: try Actor(json: json["by"], "\(what).by"), at: at, comment: json["comment"]?.string ?? "")
    }
}

/// Something the engine did on its own that the alert log records: a silence ran out, an acknowledgement ended
/// with its alert, an instance started or stopped flapping. Taken with ``Engine/takeNotes()``.
public struct EngineNote: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case silenceEnded = "silence_ended", ackEnded = "ack_ended", flapping, flappingEnded = "flapping_ended"
    }
    public var kind: Kind
    public var time: Timestamp
    public var rule: String?
    public var labels: [String: String]
    public var silenceID: String?
}
