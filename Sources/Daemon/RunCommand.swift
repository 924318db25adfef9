// `shd run`: foreground for systemd, or a PEP 3143 daemon for System V init.
import CLinux
import Notify
import Reports
#if canImport(Glibc)
import Glibc
#endif

public enum RunCommand {
    /// Runs the daemon; returns the exit status.
    ///
    /// - Important: call after `HandledSignals.block()` and before any thread exists (main does it first).
    ///   libcurl is loaded by the Dispatcher during `Daemon.start()`, still before any thread, when a channel needs it.
    /// The open-files limit the daemon wants, as the unit's `LimitNOFILE`: watches, probes, HTTP clients and the
    /// journal each hold descriptors. Started from a shell or a SysV init script, the soft limit is often 1024.
    static let descriptorLimit: rlim_t = 8192

    /// Raises the soft open-files limit to `descriptorLimit`, or to the hard limit when that is lower; never lowers it.
    static func raiseDescriptorLimit() {
        var l = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l) == 0 else { return }
        let want = min(l.rlim_max, descriptorLimit)
        guard l.rlim_cur < want else { return }
        l.rlim_cur = want
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l)
    }

    public static func run(_ flags: RunFlags) -> Int32 {
        raiseDescriptorLimit()
        let env = currentEnvironment()
        let underSystemd = env["NOTIFY_SOCKET"] != nil || env["JOURNAL_STREAM"] != nil
        let log = Logger(level: .info, destination: underSystemd || isatty(2) == 0 ? .stderrWithPriority : .stderrPlain)
        if let l = flags.logLevel.flatMap(LogLevel.init(name:)) { log.level = l }

        var readyFD: Int32 = -1
        var pidfile: PidFile?
        if flags.daemonize {
            // Take the pidfile lock before forking so a second instance is refused at once,
            // on the terminal; the lock fd survives the forks.
            let path = flags.pidfile ?? DaemonSettings.locate(flags).pidfileDefault
            do { pidfile = try PidFile(path: path) } catch {
                writeStderr("shd: \(error)\n")
                return 1
            }
            readyFD = Daemonizer.daemonize(keep: [pidfile!.descriptor])
            pidfile!.writePID()
            log.useSyslog()
        } else if let path = flags.pidfile {
            do {
                pidfile = try PidFile(path: path)
                pidfile!.writePID()
            } catch {
                writeStderr("shd: \(error)\n")
                return 1
            }
        }
        defer { pidfile?.remove() }

        let daemon: Daemon
        do {
            daemon = try Daemon(flags: flags, log: log)
            try daemon.start()
        } catch {
            log.error("\(error)")
            if readyFD >= 0 { Daemonizer.reportFailure(fd: readyFD, "\(error)") }
            return 1
        }
        let status = daemon.run(onReady: {
            if readyFD >= 0 {
                Daemonizer.reportReady(fd: readyFD)
                readyFD = -1
            }
        })
        log.notice("stopped")
        return status
    }
}

extension DaemonSettings {
    var pidfileDefault: String { pidfile }
}
