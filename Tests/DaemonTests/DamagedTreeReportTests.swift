// `shd report` as a process on damaged copies of a fixture tree: a missing file is an error naming it, an absurd value never stops shd.
import Testing
import Reports
import TestSupport
import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DamagedTreeReportTests {
    /// `shd report` on machine-a after `damage` (a shell command run in the copy); the parsed report.
    static func report(_ damage: String) throws -> (dir: String, report: DaemonReport) {
        let dir = makeTempDirectory("shd-damaged-report")
        try #require(runShell("cp -a '\(TestPaths.fixture("machine-a"))/.' '\(dir)/' && cd '\(dir)' && \(damage)") == 0)
        let p = try ChildProcess([shdBinary, "report", "--proc-root", dir + "/proc", "--sys-root", dir + "/sys",
                                  "--etc-root", dir + "/etc", "--sample-interval", "0",
                                  "--fixed-time", "2026-11-25T08:00:00.000000+00:00"], outputDirectory: dir)
        #expect(p.wait(timeout: 60) == 0, "stderr: \(p.stderr)")
        return (dir, try DaemonReport(json: JSONValue.parse(p.stdout)))
    }

    @Test func missingFilesAreErrorsNamingThemAndTheRestStands() throws {
        let (dir, r) = try Self.report("rm proc/diskstats proc/net/dev proc/uptime")
        defer { runShell("rm -rf '\(dir)'") }
        let io = try #require(r.function(worker: "disk", function: "io"))
        #expect(io.error == dir + "/proc/diskstats: No such file or directory" && io.data.isEmpty)
        let net = try #require(r.function(worker: "network", function: "interfaces"))
        #expect(net.error == dir + "/proc/net/dev: No such file or directory" && net.data.isEmpty)
        // Boot time from /proc/stat stands without /proc/uptime.
        let info = try #require(r.function(worker: "system", function: "info"))
        #expect(info.error == dir + "/proc/uptime: No such file or directory")
        #expect(info.data.first?["boot_time_seconds"] != nil && info.data.first?["uptime_seconds"] == nil)
        // The others are untouched.
        #expect(r.function(worker: "disk", function: "filesystems")?.error == nil)
        #expect(r.function(worker: "cpu", function: "times")?.error == nil)
    }

    /// Before, `btime 9223372036854775807` trapped the process and every worker's data was lost.
    @Test func absurdBootTimeIsAnErrorNotATrap() throws {
        let (dir, r) = try Self.report("sed -i 's/^btime .*/btime 9223372036854775807/' proc/stat")
        defer { runShell("rm -rf '\(dir)'") }
        let info = try #require(r.function(worker: "system", function: "info"))
        #expect(info.error == dir + "/proc/stat: btime 9223372036854775807 is after the year 9999")
        #expect(info.data.first?["boot_time"] == nil && info.data.first?["uptime_seconds"] != nil)
        #expect(r.function(worker: "cpu", function: "times")?.data.isEmpty == false)
        #expect(r.workerReports.count == WorkerRegistry.names.count)
    }
}
