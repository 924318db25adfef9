// The textfile exporter's exposition format: names, labels, escaping, types.
import Testing
import Daemon
import Reports
import Workers
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite struct PrometheusTextTests {
    @Test func rendersLabelledSamplesWithEscapingAndTypes() {
        let t = Timestamp(microseconds: 1_795_593_601_000_000)
        let row: Row = ["mount": "/srv/a \"b\"\nc\\d", "used_percent": 41.5, "read_only": false, "reads_total": 7]
        let report = DaemonReport(datetime: t, workerReports: [
            WorkerReport(name: "disk", datetime: t, functionReports: [FunctionReport(name: "filesystems", datetime: t, data: [row])]),
            WorkerReport(name: "load", datetime: t, functionReports: [FunctionReport(name: "averages", datetime: t, data: [], error: "boom")]),
        ])
        let catalog = Catalog(workers: [WorkerSchema(name: "disk", functions: [FunctionSchema(name: "filesystems", help: "", fields: [
            FieldSchema("used_percent", .number, help: "Share \"used\"\nof the disk \\ in percent"),
            FieldSchema("reads_total", .counter, help: "Reads"),
        ])])])
        let text = PrometheusText.render(report, catalog: catalog)
        let labels = #"{mount="/srv/a \"b\"\nc\\d"}"#
        #expect(text.contains("shd_disk_filesystems_used_percent\(labels) 41.5\n"))
        #expect(text.contains("shd_disk_filesystems_read_only\(labels) 0\n"))
        #expect(text.contains("# TYPE shd_disk_filesystems_reads_total counter\n"))
        #expect(text.contains("# TYPE shd_disk_filesystems_used_percent gauge\n"))
        // HELP escapes backslash and newline, not quotes.
        #expect(text.contains(#"# HELP shd_disk_filesystems_used_percent Share "used"\nof the disk \\ in percent"# + "\n"))
        #expect(text.contains("shd_function_up{worker=\"load\",function=\"averages\"} 0\n"))
        #expect(text.contains("shd_function_up{worker=\"disk\",function=\"filesystems\"} 1\n"))
    }

    /// A CR LF pair is one Character in Swift: its line feed is escaped all the same, in the samples and in the
    /// alert lines (a raw line feed would end the sample).
    @Test func aLineFeedAfterACarriageReturnIsEscaped() {
        let t = Timestamp(microseconds: 1_795_593_601_000_000)
        let report = DaemonReport(datetime: t, workerReports: [
            WorkerReport(name: "disk", datetime: t, functionReports: [FunctionReport(name: "filesystems", datetime: t, data: [
                ["mount": "/a\r\nb", "used_percent": 1.5],
            ])]),
        ])
        #expect(PrometheusText.render(report, catalog: Catalog(workers: [])).contains("{mount=\"/a\r\\nb\"} 1.5\n"))
        let alert = PrometheusText.alerts([(rule: "r", labels: ["mount": "/a\r\nb"], state: "firing", severity: "warning")])
        #expect(alert.contains("mount=\"/a\r\\nb\"} 1\n"))
    }
}

/// Exported names follow Prometheus's rules (those `promtool check metrics` checks); report fields keep their names.
@Suite struct PrometheusNamingTests {
    @Test(arguments: [
        ("pressure", "cpu", "total_seconds", true, "shd_pressure_cpu_seconds_total"),
        ("cpu", "times", "user_seconds_total", true, "shd_cpu_times_user_seconds_total"),
        ("disk", "io", "reads", true, "shd_disk_io_reads_total"),
        ("disk", "filesystems", "inodes_total", false, "shd_disk_filesystems_inodes"),
        ("memory", "usage", "hugepages_total", false, "shd_memory_usage_hugepages"),
        ("disk", "filesystems", "used_percent", false, "shd_disk_filesystems_used_percent"),
        ("processes", "summary", "zombie", false, "shd_processes_zombie"),
        ("processes", "summary", "fds_used_percent", false, "shd_processes_fds_used_percent"),
        ("net", "if-stats", "rx.bytes", true, "shd_net_if_stats_rx_bytes_total"),
    ])
    func metricNames(worker: String, function: String, field: String, counter: Bool, expected: String) {
        #expect(PrometheusText.metricName(worker: worker, function: function, field: field, counter: counter) == expected)
    }

    /// Every field of every worker: a counter ends in `_total`, nothing else does, no type word, and no two fields
    /// of the catalog share an exported name (a rename must not merge two metrics).
    @Test func everyCatalogFieldHasItsOwnConformingName() {
        var seen: [String: String] = [:]
        for w in WorkerRegistry.catalog.workers {
            for f in w.functions {
                for field in f.fields where field.kind != .label {
                    let counter = field.kind == .counter
                    let name = PrometheusText.metricName(worker: w.name, function: f.name, field: field.name, counter: counter)
                    let path = "\(w.name).\(f.name).\(field.name)"
                    #expect(name.hasSuffix("_total") == counter, "\(path) → \(name)")
                    #expect(!["counter", "gauge", "histogram", "summary"].contains { name.contains("_\($0)_") || name.hasSuffix("_\($0)") },
                            "\(path) → \(name)")
                    if let other = seen[name] { Issue.record("\(path) and \(other) both export as \(name)") }
                    seen[name] = path
                }
            }
        }
        #expect(seen.count > 100)
    }

    @Test func aRenamedMetricNamesItsReportFieldInItsHelp() {
        let t = Timestamp(microseconds: 1_795_593_601_000_000)
        let report = DaemonReport(datetime: t, workerReports: [
            WorkerReport(name: "pressure", datetime: t, functionReports: [FunctionReport(name: "cpu", datetime: t, data: [
                ["window": "some", "total_seconds": 12.5],
            ])]),
        ])
        let text = PrometheusText.render(report, catalog: WorkerRegistry.catalog)
        #expect(text.contains("# TYPE shd_pressure_cpu_seconds_total counter\n"))
        #expect(text.contains("(report field pressure.cpu.total_seconds)\n"))
        #expect(text.contains("shd_pressure_cpu_seconds_total{window=\"some\"} 12.5\n"))
        #expect(!text.contains("total_seconds{"))
    }

    /// The whole textfile of a running daemon, checked by Prometheus's own linter.
    @Test(.enabled(if: access("/usr/bin/promtool", X_OK) == 0,
                   "promtool is not installed (Debian package prometheus; scripts/deps test installs it)"))
    func promtoolAcceptsTheDaemonsTextfile() throws {
        let h = try DaemonHarness()
        let textfile = h.dir + "/textfile"
        try h.start(extraArgs: ["--textfile", textfile])
        #expect(h.waitFor(10) { access(textfile + "/shd.prom", F_OK) == 0 }, "log: \(h.log)")
        usleep(300_000)  // a full tick after the first: every worker in the file
        let prom = readText(textfile + "/shd.prom")
        #expect(prom.contains("shd_processes_zombie "), "the file lacks the processes worker: \(prom.prefix(300))")
        let check = try ChildProcess(["/bin/sh", "-c", "exec /usr/bin/promtool check metrics < '\(textfile)/shd.prom'"], outputDirectory: h.dir)
        let status = check.wait(timeout: 30)
        #expect(status == 0 && check.stdout.isEmpty && check.stderr.isEmpty, "promtool (\(String(describing: status))): \(check.stdout)\(check.stderr)")
    }
}

/// The exposition of the golden reports of the four fixture machines (Golden/machine-*.json, what `shd report`
/// says about each tree), byte for byte: every worker's names, labels, HELP/TYPE order and number formats.
/// `SHD_UPDATE_GOLDEN=1 swift test --filter PrometheusGoldenTests` rewrites the .prom files (only for an intended change).
@Suite struct PrometheusGoldenTests {
    @Test(arguments: ReportGoldenTests.trees)
    func fixtureReportRendersAsItsGoldenExposition(tree: String) throws {
        let dir = TestPaths.packageRoot + "/Tests/DaemonTests/Golden/"
        let report = try DaemonReport(json: try JSONValue.parse(readText(dir + tree + ".json")))
        let text = PrometheusText.render(report, catalog: WorkerRegistry.catalog)
        if getenv("SHD_UPDATE_GOLDEN") != nil { writeText(dir + tree + ".prom", text) }
        let golden = readText(dir + tree + ".prom")
        #expect(text.utf8.count > 10_000, "\(tree): the exposition is short: \(text.prefix(200))")
        if text != golden {
            let a = text.split(separator: "\n", omittingEmptySubsequences: false)
            let g = golden.split(separator: "\n", omittingEmptySubsequences: false)
            let i = (0..<min(a.count, g.count)).first { a[$0] != g[$0] } ?? min(a.count, g.count)
            Issue.record("\(tree).prom: line \(i + 1) differs: \(i < a.count ? String(a[i]) : "(end)") vs golden \(i < g.count ? String(g[i]) : "(end)")")
        }
    }
}
