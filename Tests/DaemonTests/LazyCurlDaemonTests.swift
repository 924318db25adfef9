// `shd run` maps libcurl (and its TLS/Kerberos/LDAP dependency tree) only when a channel sends through it.
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct LazyCurlDaemonTests {
    /// True when /proc/PID/maps of the running daemon has libcurl mapped.
    func mapsLibcurl(_ h: DaemonHarness) throws -> Bool {
        let pid = try #require(h.process?.pid)
        let maps = readText("/proc/\(pid)/maps")
        #expect(!maps.isEmpty, "cannot read /proc/\(pid)/maps")
        return maps.split(separator: "\n").contains { $0.contains("libcurl.so") }
    }

    func writeLogOnlyRules(_ h: DaemonHarness) {
        writeText(h.rules + "/test.rules", """
            set default_channels ["log"]
            rule memory_low on memory.usage {
              warn available_percent < 50
              summary "only {available_percent}% memory available"
            }
            """)
    }

    @Test func aDaemonThatOnlyLogsNeverMapsLibcurlUntilAWebhookAppears() throws {
        let h = try DaemonHarness()
        writeLogOnlyRules(h)
        h.setAvailable(kB: 2_000_000)  // fires at once, to the log only
        try h.start()
        #expect(h.waitReady(), "no report.json; log: \(h.log)")
        #expect(h.waitFor(5) { h.log.contains("memory_low") }, "log: \(h.log)")
        #expect(try !mapsLibcurl(h), "libcurl mapped by a daemon with only the log channel")

        // A reload that brings the first webhook loads libcurl then, and the webhook delivers.
        h.writeRules(threshold: 50)
        #expect(h.waitFor(10) { h.log.contains("reloaded") }, "no reload; log: \(h.log)")
        // Waited for, not read once: on a loaded machine the reload's log line can come before the channel is made
        // (a fresh-clone CI run under load failed the single read).
        #expect(h.waitFor(20) { (try? mapsLibcurl(h)) == true }, "libcurl not mapped after a webhook channel was added; log: \(h.log)")
        h.setAvailable(kB: 20_000_000)
        #expect(h.waitFor(30) { !h.alerts(rule: "memory_low", status: "resolved").isEmpty }, "nothing delivered; log: \(h.log)")
    }

    @Test func aDaemonWithAWebhookMapsLibcurlAndDelivers() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(h.waitReady(), "no report.json; log: \(h.log)")
        #expect(try mapsLibcurl(h))
        h.setAvailable(kB: 2_000_000)
        #expect(h.waitFor(10) { h.alerts(rule: "memory_low", status: "firing").count == 1 }, "no firing alert; log: \(h.log)")
    }
}
