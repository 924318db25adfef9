// JSON written straight into bytes, member by member, for answers too large to build as a `JSONValue` tree first.

/// Appends compact JSON text to ``bytes`` as it is told keys and values: the bytes `JSONValue.encodedBytes()` gives
/// for the same keys and values in the same order, without the tree (a `shd status` of 10,000 alerts is 3 MB;
/// building and freeing its tree cost more than writing it). Commas are the stream's business: a member after
/// another gets one; a value after ``key(_:)`` does not.
///
/// - Important: the caller keeps the nesting right (every ``beginObject()`` ends with ``endObject()``, keys only in
///   objects); the stream does not check it.
public struct JSONStream {
    /// What was written so far.
    public var bytes: [UInt8] { storage }
    @usableFromInline var storage: [UInt8]
    /// Whether the next member follows another in the same container.
    @usableFromInline var needsComma = false

    public init(capacity: Int = 256) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    /// Hands over the bytes written (without a copy) and leaves the stream empty.
    public mutating func take() -> [UInt8] {
        var out: [UInt8] = []
        swap(&out, &storage)
        needsComma = false
        return out
    }

    @inlinable
    mutating func separate() {
        if needsComma { storage.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    @inlinable
    public mutating func beginObject() {
        separate()
        storage.append(UInt8(ascii: "{"))
        needsComma = false
    }

    @inlinable
    public mutating func endObject() {
        storage.append(UInt8(ascii: "}"))
        needsComma = true
    }

    @inlinable
    public mutating func beginArray() {
        separate()
        storage.append(UInt8(ascii: "["))
        needsComma = false
    }

    @inlinable
    public mutating func endArray() {
        storage.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// An object member's name written in the source (plain ASCII, nothing to escape); its value comes next.
    @inlinable
    public mutating func key(_ k: StaticString) {
        separate()
        storage.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { storage.append(contentsOf: $0) }
        storage.append(UInt8(ascii: "\""))
        storage.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// An object member's name from data (a label's name); its value comes next.
    @inlinable
    public mutating func key(string k: String) {
        separate()
        JSONValue.writeString(k, into: &storage)
        storage.append(UInt8(ascii: ":"))
        needsComma = false
    }

    @inlinable
    public mutating func string(_ s: String) {
        separate()
        JSONValue.writeString(s, into: &storage)
    }

    /// A string from its UTF-8 bytes (text rendered as bytes), escaped as ``string(_:)`` escapes.
    public mutating func string(utf8 b: [UInt8]) {
        b.withUnsafeBufferPointer { string(utf8: $0) }
    }

    public mutating func string(utf8 b: UnsafeBufferPointer<UInt8>) {
        separate()
        storage.append(UInt8(ascii: "\""))
        JSONValue.writeEscaped(b, into: &storage)
        storage.append(UInt8(ascii: "\""))
    }

    @inlinable
    public mutating func int(_ i: Int64) {
        separate()
        JSONValue.writeInt(i, into: &storage)
    }

    /// As `JSONValue.double` encodes (non-finite: null).
    @inlinable
    public mutating func double(_ d: Double) {
        separate()
        JSONValue.writeDouble(d, into: &storage)
    }

    @inlinable
    public mutating func bool(_ b: Bool) {
        separate()
        JSONValue.append(b ? "true" : "false", &storage)
    }

    @inlinable
    public mutating func null() {
        separate()
        JSONValue.append("null", &storage)
    }

    /// The RFC 3339 string of `t`, or null.
    @inlinable
    public mutating func timestamp(_ t: Timestamp?) {
        separate()
        guard let t else { return JSONValue.append("null", &storage) }
        storage.append(UInt8(ascii: "\""))
        t.writeRFC3339(into: &storage)
        storage.append(UInt8(ascii: "\""))
    }

    /// A whole value (small parts of a large answer).
    public mutating func value(_ v: JSONValue) {
        separate()
        JSONValue.write(v, into: &storage)
    }

    /// An object of strings with its keys sorted (labels, as `JSONValue` objects of labels are built).
    public mutating func sortedObject(_ d: [String: String]) {
        beginObject()
        sortedMembers(d) { j, v in j.string(v) }
        endObject()
    }

    /// An object of numbers with its keys sorted (alert values).
    public mutating func sortedObject(_ d: [String: Double]) {
        beginObject()
        sortedMembers(d) { j, v in j.double(v) }
        endObject()
    }

    /// The members of `d` in key order; one or two (an alert's usual labels and values) without sorting a copy.
    mutating func sortedMembers<V>(_ d: [String: V], _ write: (inout JSONStream, V) -> Void) {
        var it = d.makeIterator()
        switch d.count {
        case 0: return
        case 1:
            let (k, v) = it.next()!
            key(string: k); write(&self, v)
        case 2:
            var (a, b) = (it.next()!, it.next()!)
            if b.key < a.key { swap(&a, &b) }
            key(string: a.key); write(&self, a.value)
            key(string: b.key); write(&self, b.value)
        default:
            for k in d.keys.sorted() {
                key(string: k); write(&self, d[k]!)
            }
        }
    }
}
