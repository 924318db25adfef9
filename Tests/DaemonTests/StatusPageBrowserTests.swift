// The status page in a real browser: Debian's headless Chromium loads it from a real shd on 127.0.0.1 with firing
// alerts; the test reads the DOM Chromium built and saves screenshots (phone and desktop width) under out/.
import Testing
import Kit
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct StatusPageBrowserTests {
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { access($0, X_OK) == 0 }

    /// Chromium on one URL of 127.0.0.1, kept off the network: every host name but 127.0.0.1 fails to resolve, any
    /// other address would go to a proxy that is not there (port 9 of loopback), and the background services
    /// (component updates, sync, safe browsing, metrics, crash reports) are off. Checked with strace: the only
    /// connect() to an address off loopback is the resolver's IPv6 source-address probe, a UDP socket connected to
    /// 2001:4860:4860::8888 and closed after getsockname, which sends no packet.
    static func run(_ d: DaemonHarness, _ action: [String], url: String, name: String) throws -> (Int32?, String, String) {
        precondition(url.hasPrefix("http://127.0.0.1:"), "chromium only ever opens 127.0.0.1")
        let out = d.dir + "/" + name
        mkdir(out, 0o755)
        let argv = [chromium!, "--headless", "--disable-gpu", "--no-sandbox", "--user-data-dir=" + d.dir + "/chromium-profile",
                    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
                    "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--disable-breakpad",
                    "--metrics-recording-only", "--no-pings", "--safebrowsing-disable-auto-update",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"] + action + [url]
        let p = try ChildProcess(argv, environment: ["HOME": d.dir, "PATH": "/usr/bin:/bin"], outputDirectory: out)
        let rc = p.wait(timeout: 90)
        if rc == nil {
            p.signal(SIGKILL)
            _ = p.wait(timeout: 5)
        }
        return (rc, p.stdout, p.stderr)
    }

    /// Width and height from a PNG's IHDR chunk.
    static func pngSize(_ path: String) -> (Int, Int)? {
        guard let b = try? readWholeFile(path, limit: 16 << 20), b.count > 24, b.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
            return nil
        }
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (be32(16), be32(20))
    }

    @Test(.enabled(if: chromium != nil, "needs Debian's chromium (scripts/deps test installs it)"))
    func chromiumRendersTheFiringAlertsAndTheirSparklines() throws {
        let port = HTTPEndpointProcessTests.freePort()
        let d = try HTTPEndpointProcessTests.daemon("127.0.0.1:\(port)", extra: """
            rule memory_critical on memory.usage {
              crit available_percent < 101
              notify log
              summary "{available_percent}% <img src=x onerror=alert(1)> available"
            }
            rule memory_slow on memory.usage {
              warn available_percent < 101 for 1h
              notify log
            }

            """)
        // memory_critical fired in memory_low's tick, to the log (the harness reads the webhook's one-alert messages).
        let (ack, _, ackErr) = try d.command(["ack", "memory_low", "--socket", d.controlSocket])
        #expect(ack == 0, "\(ackErr)")
        let url = "http://127.0.0.1:\(port)/"

        let (rc, dom, err) = try Self.run(d, ["--dump-dom"], url: url, name: "dom")
        #expect(rc == 0, "chromium: \(err)")
        // Rows of both firing alerts with their summaries, critical first; the pending one after them.
        let critical = dom.ranges(of: "<tr class=\"alert firing crit\" data-rule=\"memory_critical\">").first
        let low = dom.ranges(of: "<tr class=\"alert firing warn\" data-rule=\"memory_low\">").first
        let pending = dom.ranges(of: "<tr class=\"alert pending warn\" data-rule=\"memory_slow\">").first
        #expect(critical != nil && low != nil && pending != nil, "\(dom)")
        if let critical, let low, let pending { #expect(critical.lowerBound < low.lowerBound && low.lowerBound < pending.lowerBound) }
        #expect(dom.contains("<span class=\"summary\">only "))
        #expect(dom.contains("&lt;img src=x onerror=alert(1)&gt; available</span>"), "the summary's markup is text")
        #expect(!dom.contains("<img"), "no element came from a summary")
        #expect(dom.contains("acked by root"), "the acknowledgement is shown")
        // The sparklines: an svg per charted instance, with its line drawn.
        #expect(dom.contains("<svg class=\"spark\""))
        #expect(dom.ranges(of: "<path class=\"line\" d=\"M").count >= 3, "memory_low, memory_critical and memory_slow each chart a value")
        // The page's own script ran under its CSP: it added the refresh switch.
        #expect(dom.contains("id=\"auto\""), "the inline script did not run (CSP hash?)")
        #expect(dom.contains("id=\"workers\"") && dom.contains("id=\"channels\""))

        let artefacts = TestPaths.packageRoot + "/out"
        mkdir(artefacts, 0o755)
        for (file, size) in [("status-page.png", (412, 900)), ("status-page-desktop.png", (1280, 900))] {
            let path = artefacts + "/" + file
            unlink(path)
            let (src, _, serr) = try Self.run(d, ["--screenshot=" + path, "--window-size=\(size.0),\(size.1)", "--hide-scrollbars"],
                                              url: url, name: file)
            #expect(src == 0, "chromium: \(serr)")
            let got = Self.pngSize(path)
            #expect(got?.0 == size.0 && got?.1 == size.1, "\(path): \(String(describing: got))")
        }
        #expect(d.stop() == 0)
    }
}
