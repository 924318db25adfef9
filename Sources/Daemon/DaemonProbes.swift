// The daemon's probes: the runner on the loop, the probes worker in the snapshot, inotify on certificate folders.
import Probes
import Rules
import Workers

extension Daemon {
    /// Starts, replaces or stops the probes of `config` (at start and on every clean reload). The probes worker joins
    /// the snapshot with the first probe declared, so a configuration without probes reports exactly as before.
    func applyProbes(_ config: Configuration) {
        if !config.probes.isEmpty && !snapshot.workers.contains(where: { $0.name == "probes" }), let w = WorkerRegistry.make("probes") {
            snapshot.add(w)
            if !workerTimers.isEmpty {
                do { try scheduleWorkers(settings) } catch { log.error("probes: cannot create the probes worker's timer: \(error)") }
            }
        }
        if probeRunner == nil && config.probes.isEmpty { return }
        let runner = probeRunner ?? ProbeRunner(host: loop, publish: { function, probe, rows in
            ProbeBoard.shared.publish(function: function, probe: probe, rows: rows)
        }, log: { [unowned self] line in self.log.warning(line) })
        probeRunner = runner
        ProbeBoard.shared.retain(config.probes.map(\.name))
        for e in runner.update(config.probes) { log.error("probes: \(e)") }
        let folders = runner.certificateFolders
        if folders.isEmpty {
            certificateWatcher = nil
        } else if certificateWatcher?.watchedDirectories != folders {
            do {
                certificateWatcher = try FileWatcher(loop: loop, directories: folders) { [unowned self] in
                    self.probeRunner?.certificateFilesChanged()
                }
            } catch { log.warning("probes: cannot watch \(folders.joined(separator: ", ")) (\(error)); certificate files are read at start and reload only") }
        }
    }
}
