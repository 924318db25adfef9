// The daemon's watches: declarations decoded for the workers, a pidfd per watched main process on the loop, the
// timer of the next discovery, and inotify on the pid files' folders.
import CLinux
import Kit
import Notify
import Reports
import Rules
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// What the loop holds for the watches.
final class WatchLoopState {
    var processes: WatchedProcessesFunction?
    var processWorker: Worker?
    /// A pidfd per watched main process, in the loop's epoll set.
    var pidfds: [ProcessIdentity: Int32] = [:]
    var discovery: (id: TimerID, at: Double)?
    var pidfileWatcher: FileWatcher?
    /// A collection of `processes.watched` is queued for the end of this loop turn.
    var processCollectionQueued = false
    /// pidfd_open failed with ENOSYS (a kernel before 5.3): exits are seen at the next collection only.
    var pidfdUnsupported = false
    /// Exits seen through pidfds, for `system.sources`.
    var exits: Int64 = 0
}

/// The specs of a configuration's process watches (the checker has vetted every option).
func processWatchSpecs(_ config: Configuration) -> [ProcessWatchSpec] {
    config.watches.filter { $0.kind == "process" }.compactMap { d in
        let interval: Double
        if case .duration(let s)? = d.value(WatchKinds.processInterval) { interval = s } else { interval = 10 }
        let selector: ProcessWatchSpec.Selector
        if let p = d[WatchKinds.pidfile]?.stringValue {
            selector = .pidfile(p)
        } else if let u = d[WatchKinds.unit]?.stringValue, let unit = normalizedUnitName(u) {
            selector = .unit(unit)
        } else if let n = d[WatchKinds.name]?.stringValue {
            selector = .name(n)
        } else if let r = d[WatchKinds.cmdline]?.stringValue, let pattern = try? Pattern.regexSearch(r) {
            selector = .cmdline(r, matches: { pattern.matches($0) })
        } else {
            return nil
        }
        return ProcessWatchSpec(name: d.name, selector: selector, interval: interval)
    }
}

extension Daemon {
    /// Hands the configuration's watches to their functions (at start and on every clean reload). A configuration
    /// without watches leaves the functions inactive: it reports exactly as before.
    func applyWatches(_ config: Configuration) {
        let specs = processWatchSpecs(config)
        let worker = snapshot.workers.first { $0.name == "processes" }
        let function = worker?.functions.lazy.compactMap { $0 as? WatchedProcessesFunction }.first
        if let function, let worker {
            let had = function.isActive
            function.configure(specs)
            watchLoop.processes = function
            watchLoop.processWorker = worker
            // New watches are looked for now, not at the next tick of the processes worker.
            if (had || function.isActive) && firstTickDone { collectWatchedProcesses() }
        } else if !specs.isEmpty {
            log.warning("watches: \(specs.map(\.name).joined(separator: ", ")) need the processes worker, which `workers` leaves out")
        }
        syncWatches()
    }

    /// Queues one collection of `processes.watched` for the end of this loop turn (several events, one collection),
    /// then an evaluation.
    func collectWatchedProcesses(outputs: Bool = false) {
        if outputs { outputsDue = true }
        guard !watchLoop.processCollectionQueued else { return }
        watchLoop.processCollectionQueued = true
        loop.runSoon { [unowned self] in
            self.watchLoop.processCollectionQueued = false
            guard !self.stopping, let w = self.watchLoop.processWorker else { return }
            self.snapshot.collect(w, only: ["watched"])
            self.scheduleEvaluation()
        }
    }

    /// After every evaluation: a pidfd for each watched main process (and none for the others), the timer of the
    /// next discovery, and inotify on the pid files' folders.
    func syncWatches() {
        guard let f = watchLoop.processes else { return }
        let wanted = Set(f.mainProcesses.map(\.process))
        for (p, fd) in watchLoop.pidfds where !wanted.contains(p) {
            loop.unwatch(fd: fd)
            close(fd)
            watchLoop.pidfds[p] = nil
        }
        if !watchLoop.pidfdUnsupported {
            for p in wanted where watchLoop.pidfds[p] == nil { openPidfd(p) }
        }
        if let at = f.nextDiscovery, at.isFinite {
            if watchLoop.discovery?.at != at {
                if let d = watchLoop.discovery { loop.cancelTimer(d.id) }
                let id = loop.addTimer(after: at - monotonicSeconds()) { [unowned self] in
                    self.watchLoop.discovery = nil
                    self.collectWatchedProcesses()
                }
                watchLoop.discovery = (id, at)
            }
        } else if let d = watchLoop.discovery {
            loop.cancelTimer(d.id)
            watchLoop.discovery = nil
        }
        let folders = f.pidfileFolders(settings.roots)
        if folders.isEmpty {
            watchLoop.pidfileWatcher = nil
        } else if watchLoop.pidfileWatcher?.configuredDirectories != folders {
            do {
                watchLoop.pidfileWatcher = try FileWatcher(loop: loop, directories: folders) { [unowned self] in
                    SourceModes.shared.noteEvent(mechanism: "inotify")
                    self.watchLoop.processes?.pidfilesChanged()
                    self.collectWatchedProcesses(outputs: true)
                }
            } catch { log.warning("watches: cannot watch \(folders.joined(separator: ", ")) (\(error)); pid files are read every interval") }
        }
    }

    /// A pidfd for `p`, kept only when the process it opened is still `p` (same start time): a pid reused between the
    /// collection and this call is another process. A process already gone is collected at once.
    private func openPidfd(_ p: ProcessIdentity) {
        guard p.pid > 0, p.pid <= Int64(Int32.max) else { return }
        let fd = shd_pidfd_open(Int32(p.pid))
        if fd < 0 {
            let e = shd_errno()
            if e == ENOSYS || e == EPERM {
                // EPERM: a seccomp filter that predates pidfd_open (systemd's @system-service has it since v243).
                watchLoop.pidfdUnsupported = true
                log.warning("watches: pidfd_open: \(String(cString: strerror(e))) (it needs Linux 5.3 and a seccomp filter that allows it); a watched process's exit is seen at the next collection")
            } else if e == ESRCH {
                collectWatchedProcesses(outputs: true)
            } else {
                log.warning("watches: pidfd_open(\(p.pid)): \(String(cString: strerror(e)))")
            }
            return
        }
        guard let s = readProcessStat(proc: settings.roots.proc, pid: p.pid), s.startTime == p.startTime else {
            close(fd)
            collectWatchedProcesses(outputs: true)
            return
        }
        watchLoop.pidfds[p] = fd
        loop.watch(fd: fd, interest: .read) { [unowned self] _ in self.processExited(p) }
    }

    /// A watched main process exited: it is collected and evaluated in this loop turn.
    func processExited(_ p: ProcessIdentity) {
        if let fd = watchLoop.pidfds.removeValue(forKey: p) {
            loop.unwatch(fd: fd)
            close(fd)
        }
        watchLoop.exits += 1
        SourceModes.shared.noteEvent(mechanism: "pidfd")
        log.debug("watches: process \(p.pid) exited")
        watchLoop.processes?.exited(p, now: monotonicSeconds())
        collectWatchedProcesses(outputs: true)
    }

    /// `system.sources` rows of the watches: exits through pidfds, pid files through inotify.
    func watchSourceModes(events: [String: Int64]) -> [SourceMode] {
        guard let f = watchLoop.processes, f.isActive else { return [] }
        var out = [SourceMode(function: "processes.watched", mode: "event", mechanism: "pidfd", events: events["pidfd"] ?? 0)]
        if !f.pidfileFolders(settings.roots).isEmpty {
            out.append(SourceMode(function: "processes.watched", mode: "event", mechanism: "inotify", events: events["inotify"] ?? 0))
        }
        return out
    }

    /// Closes every pidfd and timer (at shutdown).
    func stopWatches() {
        for fd in watchLoop.pidfds.values {
            loop.unwatch(fd: fd)
            close(fd)
        }
        watchLoop.pidfds = [:]
        if let d = watchLoop.discovery { loop.cancelTimer(d.id) }
        watchLoop.discovery = nil
        watchLoop.pidfileWatcher = nil
    }
}
