// `shd run` as a child process on a private copy of machine-a: its own rules, state, optional textfile folder
// and webhook receiver. Shared by DaemonTests and SecurityTests.
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// A daemon under test. Every stdout/stderr file of every process it starts lands under `dir/runN` and is
/// listed in `outputs` (for secret scans).
public final class DaemonHarness {
    public let dir: String
    public let root: String
    public let rules: String
    public let state: String
    /// The textfile folder passed as `--textfile`, when the harness was made with `textfile: true`.
    public let textfile: String
    private let withTextfile: Bool
    /// The local webhook receiver, when the harness was made with `webhook: true` (then `rules.d/test.rules`
    /// routes a memory rule to it, see `writeRules(threshold:extra:)`).
    public let receiver: LocalHTTPServer!
    public var process: ChildProcess?
    public var outputs: [String] = []
    /// The daemon's control socket (`--socket`), in the harness's folder.
    public var controlSocket: String { dir + "/control" }
    private var runs = 0

    public init(_ name: String = "shd-daemon", webhook: Bool = true, textfile: Bool = false) throws {
        dir = makeTempDirectory(name)
        root = dir + "/machine"
        copyTree(TestPaths.fixture("machine-a"), root)
        rules = dir + "/rules.d"
        state = dir + "/state"
        self.textfile = dir + "/textfile"
        withTextfile = textfile
        mkdir(rules, 0o755)
        if textfile { mkdir(self.textfile, 0o755) }
        receiver = webhook ? try LocalHTTPServer() : nil
        if webhook { writeRules(threshold: 50) }
        setAvailable(kB: 24_215_532)  // 98% available: quiet
    }

    deinit {
        process?.signal(SIGKILL)
        _ = process?.wait(timeout: 5)
        receiver?.stop()
        _ = runShell("umount '\(state)' 2>/dev/null; rm -rf '\(dir)'")
    }

    /// One rule on memory.usage that warns below `threshold` % available, routed to the webhook and the log.
    public func writeRules(threshold: Int, extra: String = "") {
        writeText(rules + "/test.rules", rulesText(threshold: threshold, extra: extra))
    }

    func rulesText(threshold: Int, extra: String) -> String {
        """
        set default_channels ["hook", "log"]
        channel hook webhook { url "\(receiver.url)/hook" }
        rule memory_low on memory.usage {
          warn available_percent < \(threshold)
          summary "only {available_percent}% memory available"
        }
        \(extra)
        """
    }

    /// As ``writeRules(threshold:extra:)``, for a running daemon: the text is written beside the rules folder and
    /// renamed into it, so a reload never reads the file half written (an in-place rewrite can be read empty: a
    /// configuration without the webhook channel, whose queued alerts are then dropped).
    public func replaceRules(threshold: Int, extra: String = "") {
        writeText(dir + "/test.rules.new", rulesText(threshold: threshold, extra: extra))
        rename(dir + "/test.rules.new", rules + "/test.rules")
    }

    /// A rule on memory.usage that warns below `threshold` % available, routed to `channels`.
    public static func memoryRule(threshold: Int = 50, channels: [String]) -> String {
        """
        rule memory_low on memory.usage {
          warn available_percent < \(threshold)
          notify \(channels.joined(separator: ", "))
          summary "only {available_percent}% memory available"
        }

        """
    }

    public func writeRules(_ text: String, file: String = "test.rules") { writeText(rules + "/" + file, text) }

    /// Rewrites MemAvailable in place (the daemon keeps the file open and re-reads it).
    public func setAvailable(kB: Int) {
        let path = root + "/proc/meminfo"
        let text = readText(path).split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("MemAvailable:") ? "MemAvailable:   \(kB) kB" : String(line)
        }.joined(separator: "\n")
        writeText(path, text)
    }

    /// Starts `shd run` on the fixture machine, or with `live` on this machine's /proc, /sys and /etc (watched processes
    /// the test starts).
    /// - Parameter launcher: argv that runs the rest (absolute path first) and then becomes it by exec, so the pid
    ///   is the daemon's: `ip netns exec NAME …` (`NetworkNamespace.exec`).
    public func start(interval: String = "100ms", extraArgs: [String] = [], environment: [String: String]? = nil, live: Bool = false,
                      launcher: [String] = []) throws {
        runs += 1
        let out = dir + "/run\(runs)"
        mkdir(out, 0o755)
        let (proc, sys, etc) = live ? ("/proc", "/sys", "/etc") : (root + "/proc", root + "/sys", root + "/etc")
        process = try ChildProcess(launcher + [shdBinary, "run", "--rules", rules, "--state-dir", state]
                                    + (withTextfile ? ["--textfile", textfile] : [])
                                    + ["--proc-root", proc, "--sys-root", sys, "--etc-root", etc,
                                       "--interval", interval, "--log-level", "debug", "--socket", controlSocket] + extraArgs,
                                   environment: environment, outputDirectory: out)
        outputs += [process!.stdoutPath, process!.stderrPath]
    }

    /// Runs another shd command (check-rules, notify test, report) and records its output for the scans.
    public func command(_ args: [String], timeout: Double = 30) throws -> (Int32?, String, String) {
        runs += 1
        let out = dir + "/run\(runs)"
        mkdir(out, 0o755)
        let p = try ChildProcess([shdBinary] + args, outputDirectory: out)
        let rc = p.wait(timeout: timeout)
        if rc == nil { p.signal(SIGKILL); _ = p.wait(timeout: 5) }
        outputs += [p.stdoutPath, p.stderrPath]
        return (rc, p.stdout, p.stderr)
    }

    public var log: String { process?.stderr ?? "" }

    /// Webhook bodies received so far, parsed.
    public var alerts: [JSONValue] { receiver.requests.compactMap { try? JSONValue.parse($0.bodyText) } }

    public func alerts(rule: String, status: String) -> [JSONValue] {
        alerts.filter { $0["alert"]?["rule"]?.string == rule && $0["status"]?.string == status }
    }

    public func waitFor(_ seconds: Double, _ what: () -> Bool) -> Bool { ChildProcess.waitFor(seconds, what) }

    public func waitReady() -> Bool { waitFor(20) { access(state + "/report.json", F_OK) == 0 } }

    /// Stops the daemon with SIGTERM and returns its exit status.
    @discardableResult
    public func stop() -> Int32? {
        process?.signal(SIGTERM)
        return process?.wait(timeout: 10)
    }

    public func spoolFiles() -> [String] { listDirectory(state + "/spool").sorted().filter { $0.hasSuffix(".spool") } }
}
