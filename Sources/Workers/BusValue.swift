// D-Bus values as a tree: read from an sd-bus message (libsystemd does the wire format) or from busctl's JSON.
import CSystemd
import Reports

/// One D-Bus value. Integers of every width are `.int` except `t` (uint64: systemd's "infinity" is
/// UINT64_MAX), which is `.uint`; object paths and signatures are strings; a dict is an `.array` of
/// two-element `.structure`s, as on the wire.
public indirect enum BusValue: Equatable, Sendable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case array([BusValue])
    case structure([BusValue])
    case variant(BusValue)

    /// A variant's content, or the value itself.
    public var unwrapped: BusValue { if case .variant(let v) = self { return v.unwrapped } else { return self } }
    public var string: String? { if case .string(let s) = unwrapped { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = unwrapped { return b } else { return nil } }
    public var items: [BusValue]? {
        switch unwrapped {
        case .array(let a), .structure(let a): return a
        default: return nil
        }
    }
    /// Any integer as UInt64 (negative values: nil).
    public var uint64: UInt64? {
        switch unwrapped {
        case .uint(let u): return u
        case .int(let i): return i >= 0 ? UInt64(i) : nil
        default: return nil
        }
    }
    /// Any integer as Int64 (a uint64 above Int64.max: nil).
    public var int64: Int64? {
        switch unwrapped {
        case .int(let i): return i
        case .uint(let u): return u <= UInt64(Int64.max) ? Int64(u) : nil
        default: return nil
        }
    }

    /// An `a{sv}` (properties) as name/value pairs, variants unwrapped; nil when it is not one.
    public var properties: [(String, BusValue)]? {
        guard case .array(let entries) = unwrapped else { return nil }
        var out: [(String, BusValue)] = []
        out.reserveCapacity(entries.count)
        for e in entries {
            guard case .structure(let kv) = e, kv.count == 2, let k = kv[0].string else { return nil }
            out.append((k, kv[1].unwrapped))
        }
        return out
    }
}

/// A reply or signal whose body does not have the shape its member promises.
public struct BusDecodingError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - From an sd-bus message

/// Every remaining value of `m`'s body, read with sd_bus_message_peek_type / read_basic / enter_container.
/// Throws with sd-bus's errno when the message cannot be read (it never is shorter than its signature).
func readBusBody(_ m: OpaquePointer) throws(BusDecodingError) -> [BusValue] {
    var out: [BusValue] = []
    while let v = try readBusValue(m) { out.append(v) }
    return out
}

private func readBusValue(_ m: OpaquePointer) throws(BusDecodingError) -> BusValue? {
    var type: CChar = 0
    var contents: UnsafePointer<CChar>?
    let r = shd_bus_message_peek_type(m, &type, &contents)
    if r < 0 { throw BusDecodingError("sd_bus_message_peek_type: errno \(-r)") }
    if r == 0 { return nil }
    let t = UInt8(bitPattern: type)
    func fail(_ call: String, _ r: Int32) -> BusDecodingError { BusDecodingError("\(call) '\(Character(Unicode.Scalar(t)))': errno \(-r)") }
    switch t {
    case UInt8(ascii: "s"), UInt8(ascii: "o"), UInt8(ascii: "g"):
        var p: UnsafePointer<CChar>?
        let r = shd_bus_message_read_basic(m, type, &p)
        if r <= 0 { throw fail("sd_bus_message_read_basic", r) }
        return .string(p.map { String(cString: $0) } ?? "")
    case UInt8(ascii: "b"):
        var v: Int32 = 0
        let r = shd_bus_message_read_basic(m, type, &v)
        if r <= 0 { throw fail("sd_bus_message_read_basic", r) }
        return .bool(v != 0)
    case UInt8(ascii: "y"):
        var v: UInt8 = 0
        let r = shd_bus_message_read_basic(m, type, &v)
        if r <= 0 { throw fail("sd_bus_message_read_basic", r) }
        return .int(Int64(v))
    case UInt8(ascii: "n"), UInt8(ascii: "q"):
        var v: UInt16 = 0
        let r = shd_bus_message_read_basic(m, type, &v)
        if r <= 0 { throw fail("sd_bus_message_read_basic", r) }
        return .int(t == UInt8(ascii: "n") ? Int64(Int16(bitPattern: v)) : Int64(v))
    case UInt8(ascii: "i"), UInt8(ascii: "u"), UInt8(ascii: "h"):
        var v: UInt32 = 0
        let r = shd_bus_message_read_basic(m, type, &v)
        if r <= 0 { throw fail("sd_bus_message_read_basic", r) }
        return .int(t == UInt8(ascii: "u") ? Int64(v) : Int64(Int32(bitPattern: v)))
    case UInt8(ascii: "x"):
        var v: Int64 = 0
        let r = shd_bus_message_read_basic(m, type, &v)
        if r <= 0 { throw fail("sd_bus_message_read_basic", r) }
        return .int(v)
    case UInt8(ascii: "t"):
        var v: UInt64 = 0
        let r = shd_bus_message_read_basic(m, type, &v)
        if r <= 0 { throw fail("sd_bus_message_read_basic", r) }
        return .uint(v)
    case UInt8(ascii: "d"):
        var v: Double = 0
        let r = shd_bus_message_read_basic(m, type, &v)
        if r <= 0 { throw fail("sd_bus_message_read_basic", r) }
        return .double(v)
    case UInt8(ascii: "a"), UInt8(ascii: "r"), UInt8(ascii: "e"), UInt8(ascii: "v"):
        let r = shd_bus_message_enter_container(m, type, contents)
        if r <= 0 { throw fail("sd_bus_message_enter_container", r) }
        var items: [BusValue] = []
        while let v = try readBusValue(m) { items.append(v) }
        let x = shd_bus_message_exit_container(m)
        if x < 0 { throw fail("sd_bus_message_exit_container", x) }
        switch t {
        case UInt8(ascii: "a"): return .array(items)
        case UInt8(ascii: "v"):
            guard items.count == 1 else { throw BusDecodingError("a variant holds \(items.count) values") }
            return .variant(items[0])
        default: return .structure(items)
        }
    default:
        throw BusDecodingError("unknown D-Bus type '\(Character(Unicode.Scalar(t)))'")
    }
}

// MARK: - From busctl's JSON

extension BusValue {
    /// The values of `busctl --json=short call …` output (`{"type":"a(ssssssouso)","data":[…]}`), typed by its
    /// signature: the recorded replies the decoders are tested on.
    public static func fromBusctlJSON(_ text: String) throws(BusDecodingError) -> [BusValue] {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw BusDecodingError("busctl JSON: \(error)") }
        guard let sig = json["type"]?.string, let data = json["data"]?.array else {
            throw BusDecodingError("busctl JSON: expected {\"type\": SIGNATURE, \"data\": [...]}")
        }
        var types = Array(sig.utf8)[...]
        var out: [BusValue] = []
        for d in data {
            let one = try Self.completeType(&types)
            out.append(try Self.fromJSON(d, type: one))
        }
        return out
    }

    /// Splits the first complete type off a signature.
    static func completeType(_ sig: inout ArraySlice<UInt8>) throws(BusDecodingError) -> ArraySlice<UInt8> {
        guard let first = sig.first else { throw BusDecodingError("signature ends early") }
        let whole = sig
        switch first {
        case UInt8(ascii: "a"):
            sig = sig.dropFirst()
            _ = try completeType(&sig)
        case UInt8(ascii: "("), UInt8(ascii: "{"):
            let close = first == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "}")
            sig = sig.dropFirst()
            while sig.first != close {
                if sig.isEmpty { throw BusDecodingError("unclosed '\(Character(Unicode.Scalar(first)))' in signature") }
                _ = try completeType(&sig)
            }
            sig = sig.dropFirst()
        default:
            sig = sig.dropFirst()
        }
        return whole[whole.startIndex..<sig.startIndex]
    }

    static func fromJSON(_ v: JSONValue, type: ArraySlice<UInt8>) throws(BusDecodingError) -> BusValue {
        let bad = BusDecodingError("busctl JSON: \(v.encoded()) is not a '\(String(decoding: type, as: UTF8.self))'")
        guard let t = type.first else { throw bad }
        switch t {
        case UInt8(ascii: "s"), UInt8(ascii: "o"), UInt8(ascii: "g"):
            guard let s = v.string else { throw bad }
            return .string(s)
        case UInt8(ascii: "b"):
            guard let b = v.bool else { throw bad }
            return .bool(b)
        case UInt8(ascii: "t"):
            // JSON numbers above Int64.max (UINT64_MAX, systemd's "infinity") arrive as doubles.
            if let i = v.int64, i >= 0 { return .uint(UInt64(i)) }
            if case .double(let d) = v, d >= 9.2e18 { return .uint(d >= 1.8e19 ? .max : UInt64(d)) }
            throw bad
        case UInt8(ascii: "d"):
            guard let d = v.number else { throw bad }
            return .double(d)
        case UInt8(ascii: "y"), UInt8(ascii: "n"), UInt8(ascii: "q"), UInt8(ascii: "i"), UInt8(ascii: "u"), UInt8(ascii: "x"), UInt8(ascii: "h"):
            guard let i = v.int64 else { throw bad }
            return .int(i)
        case UInt8(ascii: "v"):
            guard let inner = v["type"]?.string, let data = v["data"] else { throw bad }
            return .variant(try fromJSON(data, type: Array(inner.utf8)[...]))
        case UInt8(ascii: "("):
            guard let a = v.array else { throw bad }
            var members = type.dropFirst().dropLast()
            var out: [BusValue] = []
            for item in a { out.append(try fromJSON(item, type: try completeType(&members))) }
            return .structure(out)
        case UInt8(ascii: "a"):
            let element = type.dropFirst()
            if element.first == UInt8(ascii: "{") {
                // busctl writes a dict as a JSON object.
                guard let o = v.object else { throw bad }
                var members = element.dropFirst().dropLast()
                let kt = try completeType(&members), vt = try completeType(&members)
                var out: [BusValue] = []
                for (k, val) in o { out.append(.structure([try fromJSON(.string(k), type: kt), try fromJSON(val, type: vt)])) }
                return .array(out)
            }
            guard let a = v.array else { throw bad }
            var out: [BusValue] = []
            for item in a { out.append(try fromJSON(item, type: element)) }
            return .array(out)
        default:
            throw bad
        }
    }
}
