import Alerting
import Reports
import Testing
@testable import Rules

@Test func smoke() throws {
    let c = try TestCatalog.config("""
    rule disk_space on disk.filesystems where fstype != "tmpfs" and mount ~ "/*" {
      warn used_percent > 85 for 5m clear < 80
      crit used_percent > 95 or hours_to_full < 2
      let hours_to_full = predict_zero(avail_bytes, window 1h) / 1h
      repeat 4h
      summary "{mount} is {used_percent}% full, {avail_bytes|bytes} left"
    }
    """)
    let e = Engine(configuration: c)
    var all: [AlertEvent] = []
    for (i, u) in [50.0, 90, 90, 90, 90, 90, 90, 97, 90, 82, 79].enumerated() {
        let ev = e.evaluate(report: TestCatalog.report("disk", "filesystems", at: Double(i) * 60, [TestCatalog.disk("/", used: u)]),
                            now: TestCatalog.t0.adding(seconds: Double(i) * 60))
        all += ev
        print(i, u, ev.map { "\($0.kind) \($0.severity) \($0.summary)" }, e.activeStates.map { "\($0.state)" })
    }
    #expect(all.map(\.kind) == [.firing, .escalated, .deescalated, .resolved])
}
