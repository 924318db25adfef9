// The kernel log as an event source, with the real binary: kmsg records written into a FIFO (SHD_TEST_KMSG) reach the
// webhook once per device, a storm stays one alert, a restart sends no duplicate, the quiet period resolves it.
import Kit
import Reports
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct KernelLogProcessTests {
    /// Every alert the webhook received for `rule` with `status` (a message may carry several).
    func received(_ h: DaemonHarness, _ status: String) -> [JSONValue] {
        h.alerts.flatMap { $0["alerts"]?.array ?? [] }.filter { $0["rule"]?.string == "disk_io_errors" && $0["kind"]?.string == status }
    }

    func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_NONBLOCK)
        try #require(fd >= 0, "open \(path): errno \(errno)")
        defer { close(fd) }
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count)
    }

    @Test func kernelLinesReachTheWebhookOnceAndResolveAfterTheQuietPeriod() throws {
        let h = try DaemonHarness("shd-kmsg")
        h.writeRules(threshold: 1, extra: """
            rule disk_io_errors on journal where transport == "kernel" and message =~ /I\\/O error, dev (?<device>\\w+)/ {
              warn count(1m) >= 1
              quiet 3s
              summary "{count} I/O errors on {device}"
            }
            """)
        let fifo = h.dir + "/kmsg"
        try #require(mkfifo(fifo, 0o600) == 0)
        var env = ChildProcess.inheritedEnvironment()
        env["SHD_TEST_KMSG"] = fifo
        try h.start(environment: env)
        try #require(h.waitReady() && h.waitFor(10) { h.log.contains("event rules read kernel messages") }, "\(h.log)")
        // The recorded kmsg record format, with a continuation line, and a second device.
        try write(fifo, "3,1201,75123456,-;blk_update_request: I/O error, dev sdb, sector 2048 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0\n SUBSYSTEM=block\n DEVICE=b8:16\n")
        try write(fifo, "3,1202,75123999,-;I/O error, dev sdc, sector 8 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0\n")
        #expect(h.waitFor(10) { received(h, "firing").count == 2 }, "\(h.log)")
        let devices = Set(received(h, "firing").compactMap { $0["labels"]?["device"]?.string })
        #expect(devices == ["sdb", "sdc"])
        // A storm on sdb: one alert, its count grows, no notification per line.
        var storm = ""
        for k in 0..<200 { storm += "3,\(1300 + k),75200000,-;I/O error, dev sdb, sector \(k) op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0\n" }
        try write(fifo, storm)
        usleep(500_000)
        #expect(received(h, "firing").count == 2)
        #expect(h.stop() == 0)

        // Restarted within the quiet period: the firing alerts are restored, the next line is no new notification.
        try h.start(environment: env)
        try #require(h.waitFor(20) { h.log.contains("event rules read kernel messages") }, "\(h.log)")
        try write(fifo, "3,1600,75300000,-;I/O error, dev sdb, sector 9 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0\n")
        #expect(h.waitFor(15) { received(h, "resolved").count == 2 }, "\(h.log)")
        #expect(received(h, "firing").count == 2)
        let resolvedSdb = received(h, "resolved").first { $0["labels"]?["device"]?.string == "sdb" }
        #expect(resolvedSdb?["values"]?["count"]?.number ?? 0 >= 202)
        #expect(h.stop() == 0)
    }
}
