// Shared pieces of the Notify tests: temp folders, sample events and reports, a dispatcher harness, base64 decoding.
import Alerting
@testable import Notify
import Kit
import Reports
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fresh folder under /tmp, removed by `removeTree`.
func makeTempDir(_ tag: String = "notify") -> String {
    var template = Array("/tmp/shd-\(tag)-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return String(cString: p!)
}

func removeTree(_ path: String) {
    guard let names = try? readDirectory(path) else { unlink(path); return }
    for n in names { removeTree(path + "/" + n) }
    rmdir(path)
}

func listDir(_ path: String) -> [String] { listDirectory(path).sorted() }

func writeFile(_ path: String, _ text: String, mode: mode_t = 0o600) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
    precondition(fd >= 0, "cannot create \(path)")
    _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
    fchmod(fd, mode)
    close(fd)
}

func readText(_ path: String) -> String? {
    guard let b = try? readWholeFile(path) else { return nil }
    return String(decoding: b, as: UTF8.self)
}

let t0 = Timestamp(rfc3339: "2026-11-25T08:00:01.123456+00:00")!

func sampleEvent(_ kind: AlertEvent.Kind = .firing, rule: String = "disk_space", severity: Severity = .crit,
                 mount: String = "/", channels: [String]) -> AlertEvent {
    AlertEvent(kind: kind, rule: rule, severity: severity,
               labels: ["worker": "disk", "function": "filesystems", "mount": mount, "fstype": "ext4"],
               values: ["used_percent": 96.25, "avail_bytes": 4_294_967_296],
               summary: "\(mount) is 96.25% full, 4 GiB left", startsAt: t0,
               endsAt: kind == .resolved ? t0.adding(seconds: 600) : nil, channels: channels)
}

func sampleReport(host: String = "web1") -> DaemonReport {
    let fs = FunctionReport(name: "filesystems", datetime: t0, data: [
        ["mount": "/", "fstype": "ext4", "size_bytes": 107_374_182_400, "used_percent": 96.25],
        ["mount": "/home", "fstype": "ext4", "size_bytes": 53_687_091_200, "used_percent": 41.5],
    ])
    let load = FunctionReport(name: "averages", datetime: t0, data: [["load1": 0.21, "load5": 0.37, "load15": 0.39]])
    return DaemonReport(datetime: t0, host: host, workerReports: [
        WorkerReport(name: "disk", datetime: t0, functionReports: [fs]),
        WorkerReport(name: "load", datetime: t0, functionReports: [load]),
    ])
}

func channel(_ name: String, _ kind: String, _ options: [(String, ConfigValue)]) -> ChannelDeclaration {
    ChannelDeclaration(name: name, kind: kind, options: options, location: SourceLocation(file: "test.conf", line: 1, column: 1))
}

/// The smtp kind of a channel config (its `message` builds the e-mail).
func smtpKind(_ c: ChannelConfig) -> SMTPChannel { c.kind as! SMTPChannel }

/// A dispatcher on a PollHost with a spool folder, a memory log and the outcomes it reported.
final class Harness {
    let host = PollHost()
    let log = MemoryLog()
    let stateDir: String
    var spoolDir: String { stateDir + "/spool" }
    var outcomes: [DeliveryOutcome] = []
    var dispatcher: Dispatcher!
    let channels: [ChannelDeclaration]
    /// Where messages say report.json is (nil: next to the spool folder, the default).
    let reportPath: String?

    init(_ channels: [ChannelDeclaration], stateDir: String? = nil, backoff: Double = 0.1, reportPath: String? = nil) throws {
        self.stateDir = stateDir ?? makeTempDir()
        self.channels = channels
        self.reportPath = reportPath
        try start(backoff: backoff)
    }

    /// A new Dispatcher on the same spool (a restart), with other channels if given.
    func start(backoff: Double = 0.1, channels: [ChannelDeclaration]? = nil) throws {
        dispatcher = try Dispatcher(channels: channels ?? self.channels, spoolDirectory: spoolDir, host: host, log: log, hostname: "web1",
                                    options: DispatcherOptions(backoffBase: backoff, backoffCap: 2, jitter: 0.5,
                                                               reportPath: reportPath, onOutcome: { [unowned self] in self.outcomes.append($0) }))
    }

    var delivered: Int { outcomes.filter { $0.status == .delivered }.count }

    @discardableResult
    func run(timeout: Double = 5, until done: () -> Bool) -> Bool { host.run(until: done, timeout: timeout) }

    /// The spool files on disk.
    var spooled: [String] { listDir(spoolDir).filter { $0.hasSuffix(".spool") } }

    var logText: String { log.lines.map(\.1).joined(separator: "\n") }

    deinit { removeTree(stateDir) }
}

/// Base64 decoding (RFC 4648), ignoring line breaks: written separately from the encoder so it checks it.
func base64Decode(_ s: String) -> [UInt8]? {
    var map = [Int](repeating: -1, count: 256)
    for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { map[Int(c)] = i }
    var out: [UInt8] = []
    var acc = 0, bits = 0
    for c in s.utf8 {
        if c == 13 || c == 10 || c == 32 { continue }
        if c == UInt8(ascii: "=") { break }
        let v = map[Int(c)]
        if v < 0 { return nil }
        acc = (acc << 6) | v
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8((acc >> bits) & 0xff))
        }
    }
    return out
}
