// `shd run` out of file descriptors: a reload that needs new interval timers is refused, and the daemon goes on.
import Kit
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct DescriptorLimitTests {
    /// The lowest descriptor number `pid` does not hold (the next one it would get).
    static func lowestFreeDescriptor(_ pid: pid_t) -> Int? {
        guard let names = try? readDirectory("/proc/\(pid)/fd") else { return nil }
        let used = Set(names.compactMap { Int($0) })
        var n = 0
        while used.contains(n) { n += 1 }
        return n
    }

    /// `Max open files` soft and hard of `pid`.
    static func openFilesLimit(_ pid: pid_t) -> (soft: String, hard: String)? {
        let line = readText("/proc/\(pid)/limits").split(separator: "\n").first { $0.hasPrefix("Max open files") }
        let words = line?.dropFirst("Max open files".count).split(separator: " ") ?? []
        return words.count >= 2 ? (String(words[0]), String(words[1])) : nil
    }

    /// Started with a soft limit of 256 (a shell's 1024, a SysV init script's), the daemon raises it to 8192, the
    /// unit's LimitNOFILE, or to the hard limit when that is lower.
    @Test(.enabled(if: access("/usr/bin/prlimit", X_OK) == 0, "prlimit (util-linux) is not installed"),
          arguments: [("256:", "8192", ""), ("256:4096", "4096", "4096"), ("10000:10000", "10000", "10000")])
    func theDaemonRaisesItsSoftOpenFilesLimit(_ given: String, _ soft: String, _ hard: String) throws {
        // "256:" keeps the hard limit the tests run with (raising it needs CAP_SYS_RESOURCE, which a container may lack).
        var mine = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &mine)
        let (soft, hard) = hard.isEmpty ? (String(min(mine.rlim_max, 8192)), mine.rlim_max == rlim_t.max ? "unlimited" : String(mine.rlim_max))
            : (soft, hard)
        let h = try DaemonHarness()
        try h.start(launcher: ["/usr/bin/prlimit", "--nofile=\(given)", "--"])
        #expect(h.waitReady(), "no report.json; log: \(h.log)")
        let limit = Self.openFilesLimit(h.process!.pid)
        #expect(limit?.soft == soft && limit?.hard == hard, "\(String(describing: limit))")
        #expect(h.stop() == 0)
    }

    @Test(.enabled(if: access("/usr/bin/prlimit", X_OK) == 0, "prlimit (util-linux) is not installed"))
    func aReloadNeedingTimersBeyondTheLimitIsRefusedAndTheDaemonGoesOn() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(h.waitReady(), "no report.json; log: \(h.log)")
        usleep(500_000)
        let pid = h.process!.pid
        // Leave exactly one free descriptor: enough to read the rules files one by one, not for the three new
        // interval timers the edit below asks for (the old timers stay until all new ones exist): 250 and 350 ms are
        // no whole multiples of the 100 ms timer, so they cannot ride it (WorkerSchedule).
        var free = Int.max
        for _ in 0..<10 {
            if let n = Self.lowestFreeDescriptor(pid) { free = min(free, n) }
            usleep(20_000)
        }
        #expect(free < 1000)
        #expect(runShell("/usr/bin/prlimit --pid \(pid) --nofile=\(free + 1):") == 0)

        h.writeRules(threshold: 50, extra: "set interval.load 250ms\nset interval.memory 350ms\n")
        #expect(h.waitFor(10) { h.log.contains("refused; the previous rules and intervals stay in force") }, "log: \(h.log)")
        let line = h.log.split(separator: "\n").first { $0.contains("refused; the previous rules and intervals") }.map(String.init) ?? ""
        #expect(line.contains("timerfd_create: Too many open files") && line.contains("LimitNOFILE"), "\(line)")
        #expect(!h.log.contains("collection intervals changed"))
        #expect(h.process!.isRunning, "the daemon died: \(h.log)")

        // With descriptors again: still alive, alerting, and the same files now reload.
        #expect(runShell("/usr/bin/prlimit --pid \(pid) --nofile=4096:") == 0)
        h.setAvailable(kB: 2_000_000)
        #expect(h.waitFor(10) { h.alerts(rule: "memory_low", status: "firing").count == 1 }, "no alert after the refusal; log: \(h.log)")
        h.process!.signal(SIGHUP)
        #expect(h.waitFor(10) { h.log.contains("collection intervals changed") }, "log: \(h.log)")
        #expect(h.log.contains("load 0.25s") && h.log.contains("memory 0.35s"), "log: \(h.log)")
        h.process!.signal(SIGTERM)
        #expect(h.process!.wait(timeout: 10) == 0)
    }
}
