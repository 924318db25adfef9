// Runs the declared probes on the daemon's loop: one timer for the earliest due probe, every network probe a libcurl
// transfer on the shared multi-socket machinery, certificate files re-read when their folders change.
import Kit
import Notify
import Reports
import Rules

/// The probes of the configuration in force. Nothing here blocks: a slow server is a socket in the loop's epoll set
/// and a timeout in libcurl; a collection tick only copies the rows published last.
public final class ProbeRunner {
    /// `(function, probe, rows)`: a run's rows (a certificate probe has one per file).
    public typealias Publish = (String, String, [Row]) -> Void

    struct Scheduled {
        var plan: ProbePlan
        var schedule: ProbeSchedule
        var inFlight = false
        /// Certificate probes: each file's certificate as last read, re-read only when its folder changes.
        var files: [(path: String, info: Result<CertificateInfo, CertificateError>)] = []
        var filesRead = false
    }

    private let host: EventHost
    private let publish: Publish
    private let log: (String) -> Void
    private var probes: [Scheduled] = []
    private var timer: TimerID?
    private var client: ProbeClient?
    private var curlError: String?
    private var loggedLibraries: Set<String> = []

    public init(host: EventHost, publish: @escaping Publish, log: @escaping (String) -> Void) {
        self.host = host
        self.publish = publish
        self.log = log
    }

    /// Replaces the probes with `declarations`; returns one message per probe that cannot run (a secret file that
    /// cannot be read: its row says so too). First runs are spread over the first second (or the interval, if shorter)
    /// so a thousand probes do not start in one loop turn, later runs over the interval (`ProbeSchedule`).
    @discardableResult
    public func update(_ declarations: [ProbeDeclaration]) -> [String] {
        client?.cancelAll()
        var errors: [String] = []
        let now = monotonicSeconds()
        probes = []
        for d in declarations {
            do {
                let plan = try ProbePlan(d)
                probes.append(Scheduled(plan: plan, schedule: ProbeSchedule(start: now, fraction: spread(d.name), interval: plan.interval)))
            } catch {
                errors.append(error.description)
                var row = Row()
                row.append("probe", .string(d.name))
                row.append("up", false)
                row.append("error", .string(error.description))
                publish(d.kind == "certificate" ? "certificates" : d.kind, d.name, [row])
            }
        }
        if probes.contains(where: { if case .certificate = $0.plan.kind { return false } else { return true } }), client == nil {
            curlError = CurlLibrary.load()
            if curlError == nil { client = ProbeClient(host: host) }
            if let e = curlError { note("probes: \(e); tcp, http and tls probes report it as their error") }
        }
        arm()
        return errors
    }

    /// Every folder whose changes may change a certificate probe's files.
    public var certificateFolders: [String] {
        var out: Set<String> = []
        for p in probes { if case .certificate(let c) = p.plan.kind { out.formUnion(Probes.certificateFolders(c.paths)) } }
        return out.sorted()
    }

    /// Certificate files may have changed: re-read them at once.
    public func certificateFilesChanged() {
        for i in probes.indices {
            guard case .certificate = probes[i].plan.kind else { continue }
            probes[i].filesRead = false
            probes[i].schedule.due = 0
        }
        arm()
    }

    /// Cancels every run and the timer (shutdown).
    public func stop() {
        client?.cancelAll()
        if let t = timer { host.cancelTimer(t) }
        timer = nil
        probes = []
    }

    public var count: Int { probes.count }

    // MARK: Scheduling

    private func arm() {
        if let t = timer { host.cancelTimer(t) }
        timer = nil
        guard let next = probes.lazy.filter({ !$0.inFlight }).map(\.schedule.due).min() else { return }
        timer = host.addTimer(after: max(0, next - monotonicSeconds())) { [weak self] in
            self?.timer = nil
            self?.runDue()
        }
    }

    private func runDue() {
        let now = monotonicSeconds()
        for i in probes.indices where !probes[i].inFlight && probes[i].schedule.due <= now {
            probes[i].schedule.ran(at: now)
            run(i)
        }
        arm()
    }

    private func run(_ i: Int) {
        let plan = probes[i].plan
        switch plan.kind {
        case .certificate(let c): runCertificates(i, c)
        case .tcp(let a): transfer(i, tcpRequest(a, plan)) { [plan] answer in self.tcpRow(plan, a, answer) }
        case .http(let h): transfer(i, httpRequest(h, plan)) { [plan] answer in self.httpRow(plan, h, answer) }
        case .tls(let t):
            var r = ProbeRequest(mode: .handshake, url: t.url, timeout: plan.timeout)
            r.caFile = t.caFile
            transfer(i, r) { [plan] answer in self.tlsRow(plan, t, answer) }
        }
    }

    private func transfer(_ i: Int, _ request: ProbeRequest, row: @escaping (ProbeAnswer) -> Row) {
        let plan = probes[i].plan
        guard let client else {
            var r = Row()
            r.append("probe", .string(plan.name))
            r.append("up", false)
            r.append("error", .string(curlError ?? "libcurl is not loaded"))
            publish(plan.function, plan.name, [r])
            return
        }
        probes[i].inFlight = true
        let name = plan.name
        client.start(request) { [weak self] answer in
            guard let self, let k = self.probes.firstIndex(where: { $0.plan.name == name }) else { return }
            self.probes[k].inFlight = false
            self.publish(plan.function, name, [row(answer)])
            self.arm()
        }
    }

    private func note(_ line: String) {
        if loggedLibraries.insert(line).inserted { log(line) }
    }

    // MARK: Requests and rows

    func tcpRequest(_ a: ProbeAddress, _ plan: ProbePlan) -> ProbeRequest {
        switch a {
        case .unix(let path):
            var r = ProbeRequest(mode: .connect, url: "http://localhost/", timeout: plan.timeout)
            r.unixSocket = path
            return r
        case .inet(let host, let port):
            let h = host.contains(":") ? "[" + host + "]" : host
            return ProbeRequest(mode: .connect, url: "http://\(h):\(port)/", timeout: plan.timeout)
        }
    }

    func httpRequest(_ h: HTTPPlan, _ plan: ProbePlan) -> ProbeRequest {
        var r = ProbeRequest(mode: .http, url: h.url, timeout: plan.timeout)
        r.method = h.method
        r.headers = h.headers.map { $0.0 + ": " + $0.1 }
        r.body = h.body.map { Array($0.utf8) }
        r.maxBody = h.maxBody
        r.followRedirects = h.followRedirects
        r.maxRedirects = h.maxRedirects
        r.verifyTLS = h.verifyTLS
        r.caFile = h.caFile
        r.clientCert = h.clientCert
        r.clientKey = h.clientKey
        return r
    }

    func tcpRow(_ plan: ProbePlan, _ a: ProbeAddress, _ answer: ProbeAnswer) -> Row {
        var r = Row()
        r.append("probe", .string(plan.name))
        switch a {
        case .unix(let p): r.append("address", .string("unix:" + p))
        case .inet(let h, let port): r.append("address", .string((h.contains(":") ? "[" + h + "]" : h) + ":" + String(port)))
        }
        r.append("up", .bool(answer.completed))
        if answer.completed { r.append("connect_seconds", .double(rounded6(answer.connectSeconds))) }
        r.append("error", .string(redacting(plan.secrets, in: answer.error)))
        return r
    }

    func httpRow(_ plan: ProbePlan, _ h: HTTPPlan, _ answer: ProbeAnswer) -> Row {
        HTTPProbeResult(plan: plan, http: h, answer: answer).row
    }

    func tlsRow(_ plan: ProbePlan, _ t: TLSPlan, _ answer: ProbeAnswer) -> Row {
        var r = Row()
        r.append("probe", .string(plan.name))
        r.append("url", .string(ProbeSecrets.displayURL(t.url)))
        r.append("name", .string(t.name))
        guard !answer.certificates.isEmpty else {
            r.append("up", false)
            r.append("error", .string(redacting(plan.secrets, in: answer.error.isEmpty ? "the server sent no certificate" : answer.error)))
            return r
        }
        r.append("up", true)
        let pem = Array(answer.certificates.joined(separator: "\n").utf8)
        let info = Result<CertificateInfo, CertificateError> { () throws(CertificateError) in
            try inspectCertificate(pem: pem, name: t.name, caFile: t.caFile)
        }
        if case .failure(let e) = info { note("probes: \(e.description)") }
        appendCertificate(info, to: &r)
        return r
    }

    private func runCertificates(_ i: Int, _ c: CertificatePlan) {
        let plan = probes[i].plan
        if !probes[i].filesRead {
            probes[i].filesRead = true
            probes[i].files = certificateFiles(c.paths).map { path in
                let info = Result<CertificateInfo, CertificateError> { () throws(CertificateError) in
                    let bytes: [UInt8]
                    do { bytes = try readWholeFile(path, limit: 1 << 20) } catch { throw CertificateError(description: "\(error)") }
                    return try inspectCertificate(pem: bytes, name: c.name, caFile: c.caFile)
                }
                return (path, info)
            }
            for case .failure(let e) in probes[i].files.map(\.info) where e.description.contains("libcrypto") { note("probes: \(e.description)") }
        }
        // Between re-reads only the days left move: computed from the notAfter read, without touching the file.
        let nowSeconds = Timestamp.now().seconds
        let rows: [Row] = probes[i].files.map { f in
            var r = Row()
            r.append("probe", .string(plan.name))
            r.append("path", .string(f.path))
            appendCertificate(f.info.map { info in
                var info = info
                info.daysLeft = (Double(info.notAfter) - nowSeconds) / 86400
                return info
            }, to: &r)
            return r
        }
        publish(plan.function, plan.name, rows)
    }

    /// A fraction in [0, 1) from the probe's name: the same offset at every start, spread over the names.
    private func spread(_ name: String) -> Double {
        var h: UInt64 = 1469598103934665603
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return Double(h % 1000) / 1000
    }
}

/// When a probe runs. The first run comes within the first second after a start or reload, at the probe's fraction
/// of it (results soon, and a thousand probes not in one loop turn). Later runs are one interval apart and spread
/// over the interval in whole seconds: the interval is cut in slots of a second, the probe's fraction picks its
/// slot and its point in the slot is that of its first run. So a thousand probes every 10 s are a hundred within a
/// tenth of each second, not a thousand in the first second of ten (against a server that hangs, a thousand
/// sockets open at once: near the 1,024 descriptors a process has by default), nor one every 10 ms (a loop wakeup and
/// a libcurl timeout per probe: 1.8 times the CPU, BENCHMARKS.md §9b).
struct ProbeSchedule: Equatable {
    var interval: Double
    /// Monotonic seconds of the next run.
    var due: Double
    /// The phase later runs keep, until the first run has taken it.
    var phase: Double?

    init(start: Double, fraction: Double, interval: Double) {
        self.interval = interval
        due = start + fraction * min(interval, 1)
        let slots = max(1, interval.rounded(.down))
        phase = start + (fraction * slots).rounded(.down) * (interval / slots) + fraction * min(interval, 1)
    }

    /// The run that was due ran at `now`: sets the next. It is never less than half an interval after this one; the
    /// rhythm is kept, and after a stall the next run is half an interval from now, never a burst of the missed ones.
    mutating func ran(at now: Double) {
        let earliest = now + interval / 2
        if let p = phase {
            phase = nil
            due = p >= earliest || interval <= 0 ? p : p + ((earliest - p) / interval).rounded(.up) * interval
        } else {
            due = max(due + interval, earliest)
        }
    }
}

func rounded6(_ v: Double) -> Double { (v * 1e6).rounded() / 1e6 }

/// An HTTP probe's answer judged: status against `expect_status`, body against `body_regex`.
public struct HTTPProbeResult {
    public var row: Row

    public init(plan: ProbePlan, http h: HTTPPlan, answer: ProbeAnswer) {
        var r = Row()
        r.append("probe", .string(plan.name))
        r.append("url", .string(ProbeSecrets.displayURL(h.url)))
        let statusOK = answer.completed && h.statusOK(answer.status)
        let matched = answer.completed && (h.bodyRegex.map { Self.search($0, answer.body) } ?? true)
        r.append("up", .bool(statusOK && matched))
        r.append("status", .int(Int64(answer.status)))
        r.append("status_ok", .bool(statusOK))
        r.append("matched", .bool(matched))
        if answer.completed { r.append("latency_seconds", .double(rounded6(answer.totalSeconds))) }
        r.append("bytes", .int(Int64(answer.body.count)))
        r.append("redirects", .int(Int64(answer.redirects)))
        var error = answer.error
        if answer.completed && !statusOK { error = "status \(answer.status) is not in expect_status" }
        else if answer.completed && !matched { error = "the body does not match body_regex" }
        r.append("error", .string(redacting(plan.secrets, in: error)))
        row = r
    }

    /// Whether some line of the body matches `pattern` (each line is matched on its own, so the backtracking budget
    /// applies per line, not to the whole body).
    static func search(_ pattern: Pattern, _ body: [UInt8]) -> Bool {
        for line in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if pattern.matches(String(decoding: line, as: UTF8.self)) { return true }
        }
        return false
    }
}
