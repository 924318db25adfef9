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
