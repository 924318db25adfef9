// Which timers the workers' intervals need, and which groups a timer's expirations make due.

/// Workers that share an interval are one group; a group whose interval is a whole multiple of a shorter group's
/// rides that group's timer and is collected on every `multiple`-th expiration. Two timerfds of 1 s and 10 s drift
/// apart by microseconds, so every 10 s the second one was a loop turn of its own: a second evaluation, a second
/// report and textfile write 1.5 ms after the first (BENCHMARKS §10d). On one timer the two are one turn.
struct WorkerSchedule: Equatable {
    struct Group: Equatable {
        var interval: Double
        /// Expirations of its timer per collection (1 for the group that owns the timer).
        var multiple: UInt64
        var workers: [String]
    }
    struct Timer: Equatable {
        var interval: Double
        /// The owner first, then the riders by interval.
        var groups: [Group]
    }
    var timers: [Timer] = []

    /// `intervals` in the workers' order; groups keep the order their first worker had.
    init(_ intervals: [(worker: String, interval: Double)]) {
        var groups: [Group] = []
        for (w, interval) in intervals {
            if let i = groups.firstIndex(where: { $0.interval == interval }) { groups[i].workers.append(w) } else { groups.append(Group(interval: interval, multiple: 1, workers: [w])) }
        }
        // Shortest first, so that a longer interval finds the shortest timer it is a whole multiple of.
        for var g in groups.sorted(by: { $0.interval < $1.interval }) {
            if let t = timers.firstIndex(where: { Self.multiple(g.interval, of: $0.interval) != nil }) {
                g.multiple = Self.multiple(g.interval, of: timers[t].interval)!
                timers[t].groups.append(g)
            } else {
                timers.append(Timer(interval: g.interval, groups: [g]))
            }
        }
    }

    /// `interval / base` when it is a whole number (to a part in 10⁹: 0.1 × 30 is not exactly 3.0), else nil.
    static func multiple(_ interval: Double, of base: Double) -> UInt64? {
        guard base > 0, interval >= base else { return nil }
        let m = (interval / base).rounded()
        guard abs(m * base - interval) <= 1e-9 * interval, m < 1e15 else { return nil }
        return UInt64(m)
    }

    /// How many collections of a group of `multiple` fall in expirations `count + 1 … count + expirations`
    /// of its timer (expiration 0 being the first collection at start): more than 1 means the loop was late.
    static func due(multiple: UInt64, count: UInt64, expirations: UInt64) -> UInt64 {
        (count + expirations) / multiple - count / multiple
    }
}
