// `shd notify test CHANNEL`: one test alert through one configured channel, with the outcome printed.
import Alerting
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// Sends a test alert through one channel and reports what happened. The CLI loads the configuration and passes
/// the channel declarations; this runs its own `PollHost` and a private spool folder (removed afterwards), so a
/// failed test never lingers in the daemon's spool.
public enum NotifyTestCommand {
    private final class LineLog: LogSink {
        let write: (String) -> Void
        init(_ write: @escaping (String) -> Void) { self.write = write }
        func log(_ level: LogLevel, _ message: String) { write("\(level.name): \(message)\n") }
    }

    /// Exit status: 0 delivered (or logged; to every peer of an Alertmanager cluster), 1 delivery failed (to one
    /// peer or more) or the channel is misconfigured, 2 no such channel.
    /// `write` receives whole lines, each ending in a newline (the CLI writes them to stdout as they come).
    public static func run(channel: String, channels: [ChannelDeclaration], stateDir: String, hostname: String,
                           write: (String) -> Void) -> Int32 {
        guard let decl = channels.first(where: { $0.name == channel }) else {
            let names = channels.map(\.name).sorted()
            write("shd: no channel named \(channel)" + (names.isEmpty ? "" : "; configured: " + names.joined(separator: ", ")) + "\n")
            return 2
        }
        return withoutActuallyEscaping(write) { write in
            let host = PollHost()
            let log = LineLog(write)
            // One outcome per delivery target (each peer of an Alertmanager cluster is tried).
            var outcomes: [String: DeliveryOutcome] = [:]
            let spoolDir = stateDir + "/notify-test-\(getpid())"
            defer { removeFolder(spoolDir) }
            let dispatcher: Dispatcher
            do {
                dispatcher = try Dispatcher(channels: [decl], spoolDirectory: spoolDir, host: host, log: log, hostname: hostname,
                                            options: DispatcherOptions(maxAttempts: 1, reportPath: stateDir + "/report.json",
                                                                       onOutcome: { outcomes[$0.channel] = $0 }))
            } catch {
                write("shd: \(error)\n")
                return 1
            }
            // A `resolve_peers` channel is tried at every address of its name: wait for the first lookup (it fails by itself
            // within resolv.conf's timeouts; the bound is for a thread that never answers).
            host.run(until: { dispatcher.lookupsSettled }, timeout: 30)
            let now = Timestamp.now()
            let event = AlertEvent(kind: .firing, rule: "shd_notify_test", severity: .warn,
                                   labels: ["worker": "shd", "function": "notify_test"], values: [:],
                                   summary: "Test notification from shd on \(hostname) through channel \(channel)",
                                   startsAt: now, channels: [channel])
            dispatcher.enqueue([event], report: currentReport(stateDir: stateDir, hostname: hostname, now: now))
            if let kind = ChannelRegistry.kind(named: decl.kind), !kind.spools {
                write("channel \(channel): logged\n")
                return 0
            }
            let timeout = (decl[ChannelKinds.timeout]?.numberValue ?? ChannelKinds.timeout.defaultSeconds) + 5
            let targets = dispatcher.targets(of: channel)
            host.run(until: { outcomes.count >= targets.count }, timeout: timeout)
            var ok = true
            for target in targets {
                guard let outcome = outcomes[target] else {
                    write("channel \(target): no answer within \(Payloads.displayNumber(timeout)) s\n")
                    ok = false
                    continue
                }
                write("channel \(target): \(outcome)\n")
                ok = ok && outcome.status == .delivered
            }
            return ok ? 0 : 1
        }
    }

    /// The daemon's last report.json if there is one, so the test message looks like a real one.
    private static func currentReport(stateDir: String, hostname: String, now: Timestamp) -> DaemonReport {
        if let bytes = try? readWholeFile(stateDir + "/report.json"), let v = try? JSONValue.parse(bytes: bytes),
           let r = try? DaemonReport(json: v) {
            return r
        }
        return DaemonReport(datetime: now, host: hostname, workerReports: [])
    }

    private static func removeFolder(_ path: String) {
        for name in (try? readDirectory(path).sorted()) ?? [] { unlink(path + "/" + name) }
        rmdir(path)
    }
}
