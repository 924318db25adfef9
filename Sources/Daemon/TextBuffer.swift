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
        if capacity - count < p.count { grow(p.count) }
        (base + count).initialize(from: from, count: p.count)
        count += p.count
    }

    mutating func append(_ s: StaticString) { s.withUTF8Buffer { append($0) } }

    mutating func append(_ s: String) {
        if s.utf8.withContiguousStorageIfAvailable({ append($0) }) == nil { for b in s.utf8 { append(b) } }
    }

    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { append($0) } }

    mutating func append(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBufferPointer { append($0) } }

    /// The decimal digits of `v` (what `String(v)` says).
    mutating func int(_ v: Int64) {
        var n = v.magnitude
        if v < 0 { append(UInt8(ascii: "-")) }
        if capacity - count < 20 { grow(20) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, no allocation
        let written = withUnsafeMutableBytes(of: &digits) { d -> Int in
            var at = 24
            repeat {
                at -= 1
                d[at] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            } while n > 0
            (base + count).initialize(from: d.baseAddress!.assumingMemoryBound(to: UInt8.self) + at, count: 24 - at)
            return 24 - at
        }
        count += written
    }

    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// A copy of the bytes as an array.
    func array() -> [UInt8] { withBytes { Array($0) } }
}
