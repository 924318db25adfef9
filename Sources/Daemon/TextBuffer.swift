// A byte buffer for text written in many small pieces (the status text: ~180,000 appends for 10,000 alerts).

/// Bytes appended into memory this buffer owns. An array's `append(contentsOf:)` checks uniqueness and capacity
/// through a generic path at each call (~90 instructions for a few bytes, a sixth of a large status answer); here an
/// append is a capacity check and a copy. Not copyable: it frees its memory when it ends.
struct TextBuffer: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    private mutating func grow(_ needed: Int) {
        let bigger = max(capacity * 2, count + needed)
        let next = UnsafeMutablePointer<UInt8>.allocate(capacity: bigger)
        next.initialize(from: base, count: count)
        base.deallocate()
        base = next
        capacity = bigger
    }

    @inline(__always)
    mutating func append(_ b: UInt8) {
        if count == capacity { grow(1) }
        base[count] = b
        count += 1
    }

    @inline(__always)
    mutating func append(_ p: UnsafeBufferPointer<UInt8>) {
        guard let from = p.baseAddress else { return }
        let n = p.count
        if capacity - count < n { grow(n) }
        let to = base + count
        // Most pieces are a few bytes, for which a call to memcpy costs more than the copy.
        if n <= 16 { for k in 0..<n { to[k] = from[k] } } else { to.initialize(from: from, count: n) }
        count += n
    }

    @inline(__always)
    mutating func append(_ s: StaticString) {
        if s.hasPointerRepresentation { append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }
        else { s.withUTF8Buffer { append($0) } }
    }

    /// `v` (0-99) as two digits.
    @inline(__always)
    mutating func twoDigits(_ v: Int64) {
        if capacity - count < 2 { grow(2) }
        base[count] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v / 10)
        base[count + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
        count += 2
    }

    mutating func append(_ s: String) {
        // (`var s = s; s.withUTF8 { … }` was measured: the copy's retain and release cost more than it saves.)
        if s.utf8.withContiguousStorageIfAvailable({ append($0) }) == nil { for b in s.utf8 { append(b) } }
    }

    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { append($0) } }

    mutating func append(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBufferPointer { append($0) } }

    /// The decimal digits of `v` (what `String(v)` says), written in place from the last.
    mutating func int(_ v: Int64) {
        var n = v.magnitude
        if v < 0 { append(UInt8(ascii: "-")) }
        if capacity - count < 20 { grow(20) }
        var digits = 1
        var t = n
        while t >= 10 { t /= 10; digits += 1 }
        var at = count + digits
        repeat {
            at -= 1
            base[at] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n % 10)
            n /= 10
        } while n > 0
        count += digits
    }

    /// How shd prints a value to people: whole numbers as digits, others rounded to two decimals (`53.2`).
    mutating func number(_ d: Double) {
        // Whole (and below 1e15, so exact in an Int64): one conversion each way instead of a call to round().
        if abs(d) < 1e15, Double(Int64(d)) == d { return int(Int64(d)) }
        let c = (d * 100).rounded()
        // Below 1e13 the hundredths are an exact integer of at most 15 digits, and `String(c / 100)` (the shortest
        // decimal that reads back as c / 100) is its digits with a point before the last two, less a trailing zero
        // (at most 15 significant digits tell doubles apart): written from the integer, without Double.description.
        // Zero (a sign to keep: "-0.0") and larger values take the long way.
        guard c != 0, abs(c) < 1e15 else { return append(String(c / 100)) }
        let hundredths = Int64(c)
        let m = hundredths.magnitude
        if hundredths < 0 { append(UInt8(ascii: "-")) }
        int(Int64(m / 100))
        append(UInt8(ascii: "."))
        let frac = m % 100
        append(UInt8(ascii: "0") + UInt8(frac / 10))
        if frac % 10 != 0 { append(UInt8(ascii: "0") + UInt8(frac % 10)) }
    }

    /// How shd prints a duration to people: `250ms` under a second, then whole seconds, minutes, hours or days
    /// with the next smaller unit unless it is zero (`45s`, `3h1m`, `2d7h`); `never` when not finite.
    mutating func duration(_ seconds: Double) {
        guard seconds.isFinite else { return append("never" as StaticString) }
        if seconds > 0 && seconds < 1 {
            int(Int64((seconds * 1000).rounded()))
            return append("ms" as StaticString)
        }
        let s = Int64(max(0, seconds).rounded())
        if s < 60 { int(s); append(UInt8(ascii: "s")) }
        else if s < 3600 { units(s / 60, UInt8(ascii: "m"), s % 60, UInt8(ascii: "s")) }
        else if s < 86_400 { units(s / 3600, UInt8(ascii: "h"), s % 3600 / 60, UInt8(ascii: "m")) }
        else { units(s / 86_400, UInt8(ascii: "d"), s % 86_400 / 3600, UInt8(ascii: "h")) }
    }

    private mutating func units(_ big: Int64, _ bigUnit: UInt8, _ small: Int64, _ smallUnit: UInt8) {
        int(big)
        append(bigUnit)
        if small != 0 { int(small); append(smallUnit) }
    }

    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// A copy of the bytes as an array.
    func array() -> [UInt8] { withBytes { Array($0) } }
}
