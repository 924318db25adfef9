// The commands that forward to Rules and Notify with the daemon's catalog and default paths.
import Notify
import Reports
import Rules
import Workers
#if canImport(Glibc)
import Glibc
#endif

public enum CLICommands {
    /// `shd --check-rules [PATH…]`: with no PATH, the default shd.conf (if present) and rules.d.
    public static func checkRules(arguments: [String]) -> Int32 {
        var defaults: [String] = []
        if fileExists(DaemonSettings.defaultConfig) { defaults.append(DaemonSettings.defaultConfig) }
        defaults.append(DaemonSettings.defaultRules)
        return CheckRulesCommand.run(arguments: arguments, catalog: WorkerRegistry.catalog, defaultPaths: defaults,
                                     isTTY: isatty(1) != 0, write: writeStdout)
    }

    /// `shd test-rules FILE…`.
    public static func testRules(arguments: [String]) -> Int32 {
        TestRulesCommand.run(arguments: arguments, catalog: WorkerRegistry.catalog, write: writeStdout)
    }

    /// `shd notify test CHANNEL [--config FILE] [--rules DIR] [--state-dir DIR]`.
    public static func notify(arguments: [String]) -> Int32 {
        var flags = RunFlags()
        var channel: String?
        var i = 0
        guard arguments.first == "test" else {
            writeStderr("Usage: shd notify test CHANNEL [--config FILE] [--rules DIR] [--state-dir DIR]\n")
            return 2
        }
        i = 1
        while i < arguments.count {
            let a = arguments[i]
            func value() -> String? { i += 1; return i < arguments.count ? arguments[i] : nil }
            switch a {
            case "--config": flags.config = value()
            case "--rules": flags.rules = value()
            case "--state-dir": flags.stateDir = value()
            default:
                if a.hasPrefix("-") || channel != nil {
                    writeStderr("shd notify test: unexpected '\(a)'\n")
                    return 2
                }
                channel = a
            }
            i += 1
        }
        guard let channel else {
            writeStderr("shd notify test: name the channel to test\n")
            return 2
        }
        var settings = DaemonSettings.locate(flags)
        let loaded = RuleSetLoader.load(paths: settings.rulePaths, catalog: WorkerRegistry.catalog)
        guard let config = loaded.configuration, !loaded.hasErrors else {
            writeStderr(render(loaded) + "\n")
            return 1
        }
        do { try settings.apply(settings: config.settings, flags: flags) } catch {
            writeStderr("shd: \(error)\n")
            return 2
        }
        let host = settings.hostname ?? kernelHostname(settings.roots) ?? "localhost"
        return NotifyTestCommand.run(channel: channel, channels: config.channels, stateDir: settings.stateDir,
                                     hostname: host, write: writeStdout)
    }
}
