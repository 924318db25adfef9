// `shd notify test`: the configuration read as the daemon reads it, then one test alert through Notify.
import Notify
import Reports
import Rules
import Workers
#if canImport(Glibc)
import Glibc
#endif

public enum CLICommands {
    /// `shd notify test CHANNEL [--config FILE] [--rules DIR] [--state-dir DIR]`: the configuration is found and
    /// read as `shd run` would with these flags.
    public static func notifyTest(channel: String, flags: RunFlags) -> Int32 {
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
