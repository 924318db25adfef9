// Per-second rates of kernel counters between two samples.

/// The previous sample of a set of counters and when it was taken.
public struct CounterSample: Sendable {
    public var monotonic: Double
    public var values: [String: UInt64]

    public init(monotonic: Double, values: [String: UInt64]) {
        self.monotonic = monotonic
        self.values = values
    }

    /// Per-second rate of `key` from this (earlier) sample to `value` at `now`; nil when there is no
    /// earlier value, no time has passed, or the counter went backwards (reset, wrap, hot-unplug).
    public func rate(_ key: String, to value: UInt64, at now: Double) -> Double? {
        guard let before = values[key], now > monotonic, value >= before else { return nil }
        return Double(value - before) / (now - monotonic)
    }
}
