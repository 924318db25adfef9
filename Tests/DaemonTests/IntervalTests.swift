// Worker intervals: the base interval, per-worker settings, and the processes worker's floor.
import Testing
@testable import Daemon

@Suite struct WorkerIntervalTests {
    @Test(arguments: [
        // (interval, interval.processes, expected cpu, expected processes)
        (1.0, nil, 1.0, 10.0),       // a 1 s daemon walks /proc every 10 s unless told otherwise
        (10.0, nil, 10.0, 10.0),
        (30.0, nil, 30.0, 30.0),     // never faster than the base interval
        (1.0, 1.0, 1.0, 1.0),        // `set interval.processes 1s` walks every second
        (10.0, 60.0, 10.0, 60.0),
    ] as [(Double, Double?, Double, Double)])
    func processesFollowTheBaseIntervalButNotBelowTenSeconds(base: Double, processes: Double?, cpu: Double, expected: Double) {
        var s = DaemonSettings(rulesDir: "rules.d")
        s.interval = base
        if let processes { s.workerIntervals["processes"] = processes }
        #expect(s.interval(of: "cpu") == cpu)
        #expect(s.interval(of: "processes") == expected)
    }
}

/// Which timers the workers' intervals become, and when a rider is due.
@Suite struct WorkerScheduleTests {
    typealias G = WorkerSchedule.Group
    typealias T = WorkerSchedule.Timer

    /// The daemon's defaults: every worker at 1 s but processes at 10 s are one timer; the processes group rides it.
    @Test func theTenSecondGroupRidesTheOneSecondTimer() {
        let s = WorkerSchedule([("cpu", 1), ("memory", 1), ("processes", 10), ("network", 1)])
        #expect(s.timers == [T(interval: 1, groups: [G(interval: 1, multiple: 1, workers: ["cpu", "memory", "network"]),
                                                      G(interval: 10, multiple: 10, workers: ["processes"])])])
    }

    @Test(arguments: [
        // (intervals, expected timers as (interval, [(interval, multiple)]))
        ([2.5, 1, 10], [(1.0, [(1.0, 1 as UInt64), (10.0, 10)]), (2.5, [(2.5, 1)])]),   // 2.5 s is no multiple of 1 s
        ([0.1, 0.3, 30], [(0.1, [(0.1, 1), (0.3, 3), (30.0, 300)])]),                    // 0.1 × 3 is not exactly 0.3
        ([10, 60], [(10.0, [(10.0, 1), (60.0, 6)])]),
        ([3, 2, 6, 7], [(2.0, [(2.0, 1), (6.0, 3)]), (3.0, [(3.0, 1)]), (7.0, [(7.0, 1)])]),  // 6 rides the shortest it divides
        ([5], [(5.0, [(5.0, 1)])]),
    ] as [([Double], [(Double, [(Double, UInt64)])])])
    func timers(intervals: [Double], expected: [(Double, [(Double, UInt64)])]) {
        let s = WorkerSchedule(intervals.enumerated().map { ("w\($0.offset)", $0.element) })
        #expect(s.timers.map(\.interval) == expected.map(\.0))
        for (t, e) in zip(s.timers, expected) {
            #expect(t.groups.map(\.interval) == e.1.map(\.0), "timer \(t.interval)")
            #expect(t.groups.map(\.multiple) == e.1.map(\.1), "timer \(t.interval)")
        }
        #expect(s.timers.flatMap(\.groups).flatMap(\.workers).sorted() == intervals.indices.map { "w\($0)" }.sorted(), "every worker once")
    }

    @Test(arguments: [
        // (multiple, expirations counted before, expirations now, collections due)
        (10 as UInt64, 0 as UInt64, 1 as UInt64, 0 as UInt64),   // the first second after the start
        (10, 9, 1, 1),          // the 10th expiration
        (10, 10, 1, 0),
        (10, 8, 3, 1),          // late by 2 s across the 10th: one collection, none missed
        (10, 5, 20, 2),         // late by 20 s: 2 due, 1 missed
        (1, 4, 1, 1),           // the owner: every expiration
        (1, 4, 3, 3),           // the owner late: 2 missed, as a lone timer said
    ] as [(UInt64, UInt64, UInt64, UInt64)])
    func due(multiple: UInt64, count: UInt64, expirations: UInt64, expected: UInt64) {
        #expect(WorkerSchedule.due(multiple: multiple, count: count, expirations: expirations) == expected)
    }
}
