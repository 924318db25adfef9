// Kernel counters between two samples, and arithmetic on kernel numbers that never traps.

/// The increase of a kernel counter from `old` to `new`. A counter that went backwards counts as 0
/// for that interval: the kernel documents that iowait can decrease, a driver reload or a re-created
/// device resets its counters, and a 32-bit counter wraps. One field going back must not take the
/// other fields' interval values with it, so every rate shd computes from two samples goes through here.
@inline(__always)
public func counterDelta(_ new: UInt64, since old: UInt64) -> UInt64 { new >= old ? new - old : 0 }

/// The previous sample of a set of counters and when it was taken.
public struct CounterSample: Sendable {
    public var monotonic: Double
    public var values: [String: UInt64]

    public init(monotonic: Double, values: [String: UInt64]) {
        self.monotonic = monotonic
        self.values = values
    }

    /// Per-second rate of `key` from this (earlier) sample to `value` at `now`; nil when there is no
    /// earlier value or no time has passed. A counter that went backwards is 0 (`counterDelta`).
    public func rate(_ key: String, to value: UInt64, at now: Double) -> Double? {
        guard let before = values[key], now > monotonic else { return nil }
        return Double(counterDelta(value, since: before)) / (now - monotonic)
    }
}

// MARK: - Arithmetic on values read from /proc and /sys
//
// Any number in a kernel file may be absurd (a damaged fixture, a buggy driver, a hostile tree): no
// operation on one may trap. Products and sums saturate; conversions clamp.

/// `a * b`, or `UInt64.max` when it does not fit (kB → bytes, sectors → bytes, blocks × block size).
@inline(__always)
public func saturatingProduct(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (p, o) = a.multipliedReportingOverflow(by: b)
    return o ? .max : p
}

/// `a + b`, or `UInt64.max` when it does not fit.
@inline(__always)
public func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (s, o) = a.addingReportingOverflow(b)
    return o ? .max : s
}

/// `a * b` for signed values, clamped to the Int64 range.
@inline(__always)
public func saturatingProduct(_ a: Int64, _ b: Int64) -> Int64 {
    let (p, o) = a.multipliedReportingOverflow(by: b)
    if !o { return p }
    return (a < 0) == (b < 0) ? .max : .min
}

/// `a + b` for signed values, clamped to the Int64 range.
@inline(__always)
public func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
    let (s, o) = a.addingReportingOverflow(b)
    if !o { return s }
    return b > 0 ? .max : .min
}

/// A Double as Int64, clamped to the Int64 range (NaN is 0): `Int64(d)` traps outside it.
@inline(__always)
public func clampedInt64(_ d: Double) -> Int64 {
    if d.isNaN { return 0 }
    if d >= 9.223372036854775807e18 { return .max }
    if d <= -9.223372036854775808e18 { return .min }
    return Int64(d)
}
