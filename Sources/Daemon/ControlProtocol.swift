// The control socket's requests and responses (docs/control.md): one JSON object per line each way, size-checked.
import Reports
import Rules

/// One request on the control socket: a JSON object on one line, at most ``maxBytes`` bytes with its newline.
public enum ControlRequest: Equatable, Sendable {
    case status
    /// `status` with `"format":"text"`: the daemon renders what `shd status` prints (coloured when asked, only the
    /// alert lines with `alerts`), so the client does not parse the JSON of every instance. `raw` (`"format":"raw-text"`):
    /// the text follows the answer line unescaped, `text_bytes` of it, so neither side escapes 1.4 MB.
    case statusText(color: Bool, alertsOnly: Bool, raw: Bool = false)
    case explain(rule: String, labels: [String: String])
    case reload
    case silenceAdd(SilenceRequest)
    case silenceList
    case silenceExpire(id: String)
    case ack(rule: String, labels: [String: String], comment: String?)
    case history(sinceSeconds: Double?, rule: String?, limit: Int?)

    /// A request line longer than this (newline included) is refused and the connection closed.
    public static let maxBytes = 64 * 1024
    /// Labels and matchers per request.
    public static let maxLabels = 64

    /// The word in `"command"`.
    public var command: String {
        switch self {
        case .status, .statusText: return "status"
        case .explain: return "explain"
        case .reload: return "reload"
        case .silenceAdd: return "silence_add"
        case .silenceList: return "silence_list"
        case .silenceExpire: return "silence_expire"
        case .ack: return "ack"
        case .history: return "history"
        }
    }

    /// Requests that change the daemon: logged with the caller's credentials.
    public var changes: Bool {
        switch self {
        case .reload, .silenceAdd, .silenceExpire, .ack: return true
        case .status, .statusText, .explain, .silenceList, .history: return false
        }
    }

    /// The request as the client sends it (without the newline).
    public var json: JSONValue {
        var o = JSONObject()
        o.append("command", .string(command))
        switch self {
        case .status, .reload, .silenceList: break
        case .statusText(let color, let alertsOnly, let raw):
            o.append("format", .string(raw ? "raw-text" : "text"))
            o.append("color", .bool(color))
            if alertsOnly { o.append("alerts", .bool(true)) }
        case .explain(let rule, let labels):
            o.append("rule", .string(rule))
            if !labels.isEmpty { o.append("labels", Self.object(labels)) }
        case .silenceAdd(let s):
            o.append("matchers", Self.object(s.matchers))
            switch s.end {
            case .after(let seconds): o.append("for", .double(seconds))
            case .at(let t): o.append("until", .string(t.rfc3339))
            }
            if let c = s.comment { o.append("comment", .string(c)) }
            if let id = s.id { o.append("id", .string(id)) }
        case .silenceExpire(let id): o.append("id", .string(id))
        case .ack(let rule, let labels, let comment):
            o.append("rule", .string(rule))
            if !labels.isEmpty { o.append("labels", Self.object(labels)) }
            if let c = comment { o.append("comment", .string(c)) }
        case .history(let since, let rule, let limit):
            if let s = since { o.append("since", .double(s)) }
            if let r = rule { o.append("rule", .string(r)) }
            if let l = limit { o.append("limit", .int(Int64(l))) }
        }
        return .object(o)
    }

    static func object(_ d: [String: String]) -> JSONValue {
        .object(JSONObject(d.keys.sorted().map { ($0, .string(d[$0]!)) }))
    }

    /// Parses one request line (without its newline). Every key is checked: an unknown one is an error, so a
    /// client of a newer version learns that this daemon does not know what it asks.
    public static func parse(_ line: [UInt8]) throws(ControlProtocolError) -> ControlRequest {
        guard line.count < maxBytes else { throw .init(.tooLarge, "request longer than \(maxBytes) bytes") }
        let v: JSONValue
        do { v = try JSONValue.parse(bytes: line) } catch { throw .init(.badRequest, "\(error)") }
        guard let o = v.object else { throw .init(.badRequest, "expected a JSON object") }
        guard let command = o["command"]?.string else { throw .init(.badRequest, "missing \"command\" (a string)") }
        var r = Reader(object: o, command: command)
        let request: ControlRequest
        switch command {
        case "status":
            switch try r.text("format") {
            case nil, "json"?: request = .status
            case let f? where f == "text" || f == "raw-text":
                request = .statusText(color: try r.bool("color") ?? false, alertsOnly: try r.bool("alerts") ?? false, raw: f == "raw-text")
            case let f?: throw .init(.badRequest, "status: \"format\" is \"json\", \"text\" or \"raw-text\", not \"\(f.prefix(64))\"")
            }
        case "reload": request = .reload
        case "silence_list": request = .silenceList
        case "explain": request = .explain(rule: try r.name("rule"), labels: try r.labels("labels") ?? [:])
        case "silence_add":
            let matchers = try r.labels("matchers") ?? [:]
            guard !matchers.isEmpty else { throw .init(.badRequest, "silence_add: \"matchers\" must name at least one label") }
            let end: SilenceRequest.End
            switch (try r.number("for"), try r.time("until")) {
            case (let s?, nil):
                guard s > 0, s <= 366 * 86400 else { throw .init(.badRequest, "silence_add: \"for\" must be from 0 to 366 days") }
                end = .after(seconds: s)
            case (nil, let t?): end = .at(t)
            case (nil, nil): throw .init(.badRequest, "silence_add: give \"for\" (seconds) or \"until\" (an RFC 3339 time)")
            default: throw .init(.badRequest, "silence_add: give \"for\" or \"until\", not both")
            }
            let id = try r.text("id")
            if let id { try checkID(id) }
            request = .silenceAdd(SilenceRequest(matchers: matchers, end: end, comment: try r.text("comment"), id: id))
        case "silence_expire":
            let id = try r.name("id")
            try checkID(id)
            request = .silenceExpire(id: id)
        case "ack": request = .ack(rule: try r.name("rule"), labels: try r.labels("labels") ?? [:], comment: try r.text("comment"))
        case "history":
            let since = try r.number("since")
            if let s = since, !(s > 0) { throw .init(.badRequest, "history: \"since\" must be a positive number of seconds") }
            let limit = try r.number("limit")
            if let l = limit, !(l >= 1 && l <= 100_000 && l == l.rounded()) {
                throw .init(.badRequest, "history: \"limit\" must be a whole number from 1 to 100000")
            }
            request = .history(sinceSeconds: since, rule: try r.text("rule"), limit: limit.map { Int($0) })
        default:
            throw .init(.unknownCommand, "unknown command \"\(command.prefix(64))\" (status, explain, reload, silence_add, "
                + "silence_list, silence_expire, ack, history)")
        }
        if let extra = o.keys.first(where: { !r.used.contains($0) }) {
            throw .init(.badRequest, "\(command): unknown key \"\(extra.prefix(64))\"")
        }
        return request
    }

    /// Silence ids: what a script can pass back safely (`shd silence expire ID`, `--id`).
    static func checkID(_ id: String) throws(ControlProtocolError) {
        let ok = !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F
        }
        if !ok { throw .init(.badRequest, "a silence id is 1 to 64 letters, digits, '.', '-' or '_'") }
    }

    /// Typed reads of a request's keys; records the keys read.
    struct Reader {
        let object: JSONObject
        let command: String
        var used: Set<String> = ["command"]

        init(object: JSONObject, command: String) {
            self.object = object
            self.command = command
        }

        mutating func text(_ key: String) throws(ControlProtocolError) -> String? {
            used.insert(key)
            guard let v = object[key], v != .null else { return nil }
            guard let s = v.string else { throw .init(.badRequest, "\(command): \"\(key)\" must be a string") }
            guard s.utf8.count <= 4096 else { throw .init(.badRequest, "\(command): \"\(key)\" is longer than 4096 bytes") }
            return s
        }

        mutating func name(_ key: String) throws(ControlProtocolError) -> String {
            guard let s = try text(key), !s.isEmpty else { throw .init(.badRequest, "\(command): missing \"\(key)\"") }
            return s
        }

        mutating func bool(_ key: String) throws(ControlProtocolError) -> Bool? {
            used.insert(key)
            guard let v = object[key], v != .null else { return nil }
            guard let b = v.bool else { throw .init(.badRequest, "\(command): \"\(key)\" must be true or false") }
            return b
        }

        mutating func number(_ key: String) throws(ControlProtocolError) -> Double? {
            used.insert(key)
            guard let v = object[key], v != .null else { return nil }
            guard let d = v.number, d.isFinite else { throw .init(.badRequest, "\(command): \"\(key)\" must be a number") }
            return d
        }

        mutating func time(_ key: String) throws(ControlProtocolError) -> Timestamp? {
            guard let s = try text(key) else { return nil }
            guard let t = Timestamp(rfc3339: s) else { throw .init(.badRequest, "\(command): \"\(key)\" must be an RFC 3339 time") }
            return t
        }

        mutating func labels(_ key: String) throws(ControlProtocolError) -> [String: String]? {
            used.insert(key)
            guard let v = object[key], v != .null else { return nil }
            guard let o = v.object else { throw .init(.badRequest, "\(command): \"\(key)\" must be an object of strings") }
            guard o.count <= ControlRequest.maxLabels else {
                throw .init(.badRequest, "\(command): \"\(key)\" has more than \(ControlRequest.maxLabels) labels")
            }
            var out: [String: String] = [:]
            for (k, v) in o {
                guard let s = v.string, !k.isEmpty else { throw .init(.badRequest, "\(command): \"\(key)\" must map names to strings") }
                out[k] = s
            }
            return out
        }
    }
}

/// `silence_add`: which alerts (label matchers, `rule` among them; values may be globs), until when, and why.
public struct SilenceRequest: Equatable, Sendable {
    public enum End: Equatable, Sendable {
        case after(seconds: Double)
        case at(Timestamp)
    }
    public var matchers: [String: String]
    public var end: End
    public var comment: String?
    /// Given by the caller: adding the same id again replaces that silence (a cron job may run twice).
    public var id: String?

    public init(matchers: [String: String], end: End, comment: String?, id: String?) {
        self.matchers = matchers
        self.end = end
        self.comment = comment
        self.id = id
    }
}

/// Why a request was refused; `code` is the response's `"code"`.
public struct ControlProtocolError: Error, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case badRequest = "bad-request"
        case tooLarge = "too-large"
        case unknownCommand = "unknown-command"
        case permissionDenied = "permission-denied"
        case notFound = "not-found"
        case unsupported
        case busy
        case failed
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}

/// One response line: `{"ok":true,"result":…}` or `{"ok":false,"code":"…","error":"…"}`.
public enum ControlResponse {
    public static func success(_ result: JSONValue) -> JSONValue {
        .object(JSONObject([("ok", .bool(true)), ("result", result)]))
    }

    public static func failure(_ e: ControlProtocolError, result: JSONValue? = nil) -> JSONValue {
        var o = JSONObject([("ok", .bool(false)), ("code", .string(e.code.rawValue)), ("error", .string(e.message))])
        if let result { o.append("result", result) }
        return .object(o)
    }

    /// The bytes sent: the encoded response and its newline.
    public static func line(_ v: JSONValue) -> [UInt8] {
        var b = v.encodedBytes()
        b.append(0x0A)
        return b
    }

    /// `{"ok":true,"result":` … `}` and the newline around a result written by `body` (a large answer, such as
    /// `status`, written without building its tree): the bytes ``line(_:)`` gives for ``success(_:)`` of it.
    public static func successLine(capacity: Int = 1 << 16, _ body: (inout JSONStream) -> Void) -> [UInt8] {
        var j = JSONStream(capacity: capacity)
        j.beginObject()
        j.key("ok")
        j.bool(true)
        j.key("result")
        body(&j)
        j.endObject()
        var b = j.take()
        b.append(0x0A)
        return b
    }
}
