// The textfile exporter's exposition format: names, labels, escaping, types.
import Testing
import Daemon
import Reports

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
}
