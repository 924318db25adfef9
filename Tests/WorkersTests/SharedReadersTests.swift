// Kernel files several workers read are open once and read once per tick: /proc/stat for cpu and system.info.
import Glibc
import Reports
import TestSupport
import Testing
@testable import Workers

@Suite struct SharedReadersTests {
    /// The descriptors of this process open on `path`.
    static func openCount(_ path: String) -> Int {
        var n = 0
        var buf = [CChar](repeating: 0, count: 4096)
        for fd in 0..<1024 {
            let len = readlink("/proc/self/fd/\(fd)", &buf, buf.count - 1)
            if len > 0, String(decoding: buf[..<len].map { UInt8(bitPattern: $0) }, as: UTF8.self) == path { n += 1 }
        }
        return n
    }

    @Test func procStatIsOpenOnceAndReadOncePerTickForCpuAndSystem() throws {
        let dir = makeTempDirectory("shd-procstat")
        defer { _ = runShell("rm -rf '\(dir)'") }
        copyTree(TestPaths.fixture("machine-a"), dir + "/m")
        let roots = SourceRoots(proc: dir + "/m/proc", sys: dir + "/m/sys", etc: dir + "/m/etc")
        let workers = WorkerRegistry.makeAll()
        let cpu = try #require(workers.first { $0.name == "cpu" })
        let system = try #require(workers.first { $0.name == "system" })
        let stat = readText(roots.proc + "/stat")
        #expect(stat.contains("btime 1795594233\n"))

        func bootTime(_ r: WorkerReport) -> Double? { r.function("info")?.data.first?["boot_time_seconds"]?.number }
        _ = cpu.collect(roots: roots, options: WorkerOptions(), tick: 1)
        // The file changes between the two workers of one tick: system.info reuses the tick's parse.
        writeText(roots.proc + "/stat", stat.replacing("btime 1795594233", with: "btime 1795594299"))
        #expect(bootTime(system.collect(roots: roots, options: WorkerOptions(), tick: 1)) == 1795594233)
        #expect(Self.openCount(roots.proc + "/stat") == 1)
        // The next tick reads it again, through the same descriptor.
        #expect(bootTime(system.collect(roots: roots, options: WorkerOptions(), tick: 2)) == 1795594299)
        #expect(Self.openCount(roots.proc + "/stat") == 1)
    }
}
