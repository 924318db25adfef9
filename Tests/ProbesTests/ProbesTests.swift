// Probe decoding, answer judging, URL scrubbing and certificates read through libcrypto (made with openssl here).
import Testing
import Kit
import Notify
import Reports
import Rules
import TestSupport
@testable import Probes
#if canImport(Glibc)
import Glibc
#endif

func plan(_ source: String) throws -> ProbePlan {
    let r = RuleSetLoader.load(sources: [("p.rules", source)], catalog: Catalog(workers: []))
    let d = try #require(r.configuration?.probes.first, "\(r.diagnostics.map(\.message))")
    return try ProbePlan(d)
}

@Suite struct ProbePlanTests {
    @Test func defaultsComeFromTheTable() throws {
        let p = try plan("probe web http { url \"https://example.com/\" }")
        #expect(p.interval == 30 && p.timeout == 5 && p.function == "http")
        guard case .http(let h) = p.kind else { Issue.record("not http"); return }
        #expect(h.method == "GET" && h.expect == [200...399] && h.maxBody == 65536 && !h.followRedirects && h.verifyTLS)
    }

    @Test func optionsAreDecoded() throws {
        let p = try plan("""
            probe web http { url "http://u:pw@127.0.0.1:8080/x?token=abcdefgh12345" method "HEAD" expect_status ["204", "3xx"]
              body_regex "ok" max_body 1KiB follow_redirects true max_redirects 2 headers { "Authorization" "Bearer s3cr3t-value" }
              interval 15s timeout 2s }
            """)
        guard case .http(let h) = p.kind else { Issue.record("not http"); return }
        #expect(h.method == "HEAD" && h.expect == [204...204, 300...399] && h.maxBody == 1024 && h.followRedirects && h.maxRedirects == 2)
        #expect(p.interval == 15 && p.timeout == 2)
        #expect(p.secrets.contains("Bearer s3cr3t-value") && p.secrets.contains("pw") && p.secrets.contains("abcdefgh12345"))
    }

    @Test func aSecretHeaderFileIsReadAndKeptSecret() throws {
        let dir = makeTempDirectory("shd-probe-plan")
        writeText(dir + "/token", "Bearer from-a-file\n")
        chmod(dir + "/token", 0o600)
        let p = try plan("probe web http { url \"https://a/\" headers { \"X-Token\" file \"\(dir)/token\" } }")
        guard case .http(let h) = p.kind else { Issue.record("not http"); return }
        #expect(h.headers.first?.1 == "Bearer from-a-file" && p.secrets.contains("Bearer from-a-file"))
        chmod(dir + "/token", 0o644)
        #expect(throws: ProbePlanError.self) { try plan("probe web http { url \"https://a/\" headers { \"X-Token\" file \"\(dir)/token\" } }") }
    }

    @Test func tlsNameDefaultsToTheHost() throws {
        let cases = [("smtp://mail.example.com:587", "mail.example.com"), ("https://[::1]:8443/", "::1"), ("https://u@h/", "h")]
        for (url, host) in cases {
            guard case .tls(let t) = try plan("probe t tls { url \"\(url)\" }").kind else { Issue.record("not tls"); continue }
            #expect(t.name == host)
        }
    }
}

@Suite struct HTTPAnswerTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var status: Int
        var body: String
        var curlCode = 0
        var error = ""
        var up: Bool
        var statusOK: Bool
        var matched: Bool
        var why: String
        var testDescription: String { "\(status) \(body.prefix(12)) \(why)" }
    }

    static let cases: [Case] = [
        .init(status: 200, body: "fine\nstatus: ok\n", up: true, statusOK: true, matched: true, why: ""),
        .init(status: 200, body: "status: degraded", up: false, statusOK: true, matched: false, why: "the body does not match body_regex"),
        .init(status: 503, body: "status: ok", up: false, statusOK: false, matched: true, why: "status 503 is not in expect_status"),
        .init(status: 0, body: "", curlCode: 28, error: "Operation timed out after 500 milliseconds with 0 bytes received",
              up: false, statusOK: false, matched: false, why: "Operation timed out after 500 milliseconds with 0 bytes received"),
        .init(status: 0, body: "", curlCode: 7, error: "Failed to connect to u:Bearer-abc123@host", up: false, statusOK: false,
              matched: false, why: "Failed to connect to u:<redacted>@host"),
    ]

    @Test(arguments: cases)
    func judged(_ c: Case) throws {
        var p = try plan("probe web http { url \"https://a/\" body_regex \"status: ok\" expect_status \"2xx\" }")
        p.secrets.append("Bearer-abc123")
        guard case .http(let h) = p.kind else { Issue.record("not http"); return }
        let answer = ProbeAnswer(curlCode: c.curlCode, error: c.error, status: c.status, body: Array(c.body.utf8), totalSeconds: 0.25,
                                 connectSeconds: 0.1, redirects: 0, certificates: [])
        let row = HTTPProbeResult(plan: p, http: h, answer: answer).row
        #expect(row["up"]?.bool == c.up && row["status_ok"]?.bool == c.statusOK && row["matched"]?.bool == c.matched)
        #expect(row["error"]?.string == c.why)
        #expect(row["status"]?.int64 == Int64(c.status) && row["bytes"]?.int64 == Int64(c.body.utf8.count))
        #expect((row["latency_seconds"] != nil) == (c.curlCode == 0))
    }

    static let urls: [(String, String)] = [
        ("https://user:pw@example.com:8443/health?token=x#f", "https://example.com:8443/health"),
        ("http://127.0.0.1/", "http://127.0.0.1/"),
        ("smtp://mail.example.com:587", "smtp://mail.example.com:587"),
        ("https://[::1]:8443?q", "https://[::1]:8443"),
    ]

    @Test(arguments: urls)
    func displayURLs(_ url: String, _ shown: String) { #expect(ProbeSecrets.displayURL(url) == shown) }
}

@Suite(.serialized) struct CertificateTests {
    static let available = TestCertificate.unavailableReason == nil && CryptoLibrary.load() == nil

    @Test(.enabled(if: available, "openssl, python3 or libcrypto.so.3 is missing"))
    func readsWhatLibcryptoSays() throws {
        let dir = makeTempDirectory("shd-certs")
        let ca = try #require(TestCA(folder: dir))
        let cases: [(String, Int, ClosedRange<Double>)] = [("expired", -1, -1.1 ... -0.9), ("soon", 5, 4.9...5.1), ("later", 60, 59.9...60.1)]
        for (name, days, range) in cases {
            let leaf = try #require(ca.issue(name, days: days))
            let pem = try readWholeFile(leaf.cert)
            let info = try inspectCertificate(pem: pem, name: "localhost", caFile: ca.cert)
            #expect(range.contains(info.daysLeft), "\(name): \(info.daysLeft)")
            #expect(info.subject == "CN=localhost" && info.issuer == "CN=shd test CA" && info.sanMatch == true && info.count == 1)
            // Expired: libcrypto's own reason.
            #expect(info.chainValid == (days > 0), "\(name): \(info.chainError)")
            if days < 0 { #expect(info.chainError == "certificate has expired") }
            let other = try inspectCertificate(pem: pem, name: "www.example.com", caFile: nil)
            #expect(other.sanMatch == false && !other.chainValid && !other.chainError.isEmpty)
            #expect(try inspectCertificate(pem: pem, name: nil, caFile: ca.cert).sanMatch == nil)
        }
    }

    static let garbage: [String] = ["", "hello", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
                                    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]

    @Test(.enabled(if: CryptoLibrary.load() == nil, "libcrypto.so.3 is missing"), arguments: garbage)
    func noCertificateIsAnError(_ text: String) {
        #expect(throws: CertificateError.self) { try inspectCertificate(pem: Array(text.utf8), name: "a", caFile: nil) }
    }

    @Test func filesFoldersAndGlobs() {
        let dir = makeTempDirectory("shd-cert-files")
        for sub in ["live/a.example", "live/b.example", "live/.hidden", "ssl"] { _ = runShell("mkdir -p '\(dir)/\(sub)'") }
        for f in ["live/a.example/fullchain.pem", "live/b.example/fullchain.pem", "live/b.example/privkey.pem",
                  "live/.hidden/fullchain.pem", "ssl/site.crt", "ssl/site.key", "ssl/other.pem"] { writeText(dir + "/" + f, "x") }
        #expect(certificateFiles([dir + "/live/*/fullchain.pem"]) == [dir + "/live/a.example/fullchain.pem", dir + "/live/b.example/fullchain.pem"])
        #expect(certificateFiles([dir + "/ssl"]) == [dir + "/ssl/other.pem", dir + "/ssl/site.crt"])
        #expect(certificateFiles([dir + "/ssl/site.crt", dir + "/ssl/site.crt"]) == [dir + "/ssl/site.crt"])
        #expect(certificateFiles([dir + "/missing.pem"]) == [dir + "/missing.pem"])
        #expect(certificateFolders([dir + "/live/*/fullchain.pem"]) == [dir + "/live", dir + "/live/a.example", dir + "/live/b.example"])
        #expect(certificateFolders([dir + "/ssl"]) == [dir + "/ssl"])
    }
}

@Suite struct ProbeScheduleTests {
    /// (fraction, interval, first due, second due after running at the first) with the start at 100. Later runs
    /// fall in the slot of a second the fraction picks, at the first run's point of the second.
    static let cases: [(Double, Double, Double, Double)] = [
        (0.9, 10, 100.9, 109.9),      // slot 9: more than half an interval after the first run
        (0.5, 10, 100.5, 105.5),      // slot 5: just half an interval after it
        (0.37, 10, 100.37, 113.37),   // slot 3 is too soon after the first run: one interval later
        (0, 10, 100, 110),
        (0.5, 0.5, 100.25, 100.75),   // an interval under a second is one slot
        (0.25, 60, 100.25, 175.25),   // slot 15 of 60, too soon after the first run
    ]

    @Test(arguments: cases)
    func firstAndSecondRun(_ c: (Double, Double, Double, Double)) {
        var s = ProbeSchedule(start: 100, fraction: c.0, interval: c.1)
        #expect(s.due == c.2)
        s.ran(at: s.due)
        #expect(s.due == c.3)
        s.ran(at: s.due)
        #expect(s.due == c.3 + c.1, "then one interval apart")
    }

    @Test func aStallIsNotABurst() {
        var s = ProbeSchedule(start: 0, fraction: 0.9, interval: 10)
        s.ran(at: s.due)
        #expect(s.due == 9.9)
        s.ran(at: 40)  // the loop was away for three intervals
        #expect(s.due == 45)
    }

    /// A thousand probes of one interval: their first runs within the first second; later, every second of the
    /// interval has a tenth of them (before, all ran in the same second of each interval), close together within
    /// a tenth of the second (one loop wakeup serves several).
    @Test func laterRunsAreSpreadOverTheIntervalInSlots() {
        var firsts: [Double] = [], slots = [[Double]](repeating: [], count: 10)
        for i in 0..<1000 {
            var s = ProbeSchedule(start: 0, fraction: Double(i) / 1000, interval: 10)
            firsts.append(s.due)
            s.ran(at: s.due)
            s.ran(at: s.due)  // the third run: the steady rhythm
            let t = s.due.truncatingRemainder(dividingBy: 10)
            slots[Int(t)].append(t - t.rounded(.down))
        }
        #expect(firsts.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(slots.map(\.count) == [Int](repeating: 100, count: 10), "\(slots.map(\.count))")
        #expect(slots.allSatisfy { $0.max()! - $0.min()! < 0.1 }, "each slot's runs within a tenth of its second")
    }
}
