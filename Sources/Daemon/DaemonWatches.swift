// The daemon's watches: declarations decoded for the workers, a pidfd per watched main process on the loop, the
// timer of the next discovery, inotify on the pid files' folders and on the watched files' folders.
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
    /// `system.sources` mechanisms of the watches' inotify descriptors.
    static let pidfileMechanism = "inotify on pid files' folders"
    static let filesMechanism = "inotify on watched folders"

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

    var files: WatchedFilesFunction?
    var filesWorker: Worker?
    var fileWatcher: FileWatcher?
    var fileCollectionQueued = false
    /// `files.watched` collections when the folders were last synced (globs and new folders change them).
    var filesSyncedAt = -1
}

/// The specs of a configuration's file and directory watches.
func fileWatchSpecs(_ config: Configuration) -> [FileWatchSpec] {
    config.watches.compactMap { d in
        guard let kind = FileWatchSpec.Kind(rawValue: d.kind) else { return nil }
        var spec = FileWatchSpec(name: d.name, kind: kind, paths: d.paths)
        if case .bool(let b)? = d.value(WatchKinds.checksum) { spec.checksum = b }
        if case .number(let n)? = d.value(WatchKinds.maxChecksum) { spec.maxChecksum = Int64(clamping: Int(exactly: n.rounded()) ?? Int.max) }
        spec.match = d[WatchKinds.match]?.stringValue
        return spec
    }
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
        // The files worker joins the snapshot with the first file or directory watch, as the probes worker does.
        let files = fileWatchSpecs(config)
        if !files.isEmpty && !snapshot.workers.contains(where: { $0.name == "files" }), let w = WorkerRegistry.make("files") {
            snapshot.add(w)
            if !workerTimers.isEmpty {
                do { try scheduleWorkers(settings) } catch { log.error("watches: cannot create the files worker's timer: \(error)") }
            }
        }
        if let w = snapshot.workers.first(where: { $0.name == "files" }),
           let f = w.functions.lazy.compactMap({ $0 as? WatchedFilesFunction }).first {
            f.configure(files)
            watchLoop.files = f
            watchLoop.filesWorker = w
            watchLoop.filesSyncedAt = -1
            if firstTickDone { collectWatchedFiles() }
        }
        syncWatches()
    }

    /// Queues one collection of `files.watched` (several inotify events, one collection), then an evaluation. Unlike a
    /// process's exit, it does not rewrite report.json by itself: a folder written without pause would rewrite it 50
    /// times a second (an alert change still does, as does the next report_interval).
    func collectWatchedFiles() {
        guard !watchLoop.fileCollectionQueued else { return }
        watchLoop.fileCollectionQueued = true
        loop.runSoon { [unowned self] in
            self.watchLoop.fileCollectionQueued = false
            guard !self.stopping, let w = self.watchLoop.filesWorker else { return }
            self.snapshot.collect(w)
            self.scheduleEvaluation()
        }
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
        syncWatchedFiles()
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
                    SourceModes.shared.noteEvent(mechanism: WatchLoopState.pidfileMechanism)
                    self.watchLoop.processes?.pidfilesChanged()
                    self.collectWatchedProcesses(outputs: true)
                }
            } catch { log.warning("watches: cannot watch \(folders.joined(separator: ", ")) (\(error)); pid files are read every interval") }
        }
    }

    /// inotify on the folders of the watched files, made again when a collection changed them (a glob's new match,
    /// a folder that appeared).
    func syncWatchedFiles() {
        guard let f = watchLoop.files, f.collections != watchLoop.filesSyncedAt else { return }
        watchLoop.filesSyncedAt = f.collections
        let folders = f.isActive ? f.folders(settings.roots) : []
        if folders.isEmpty {
            watchLoop.fileWatcher = nil
        } else if watchLoop.fileWatcher?.configuredDirectories != folders {
            let replacing = watchLoop.fileWatcher != nil
            do {
                watchLoop.fileWatcher = try FileWatcher(loop: loop, directories: folders, debounce: 0.02, contents: true) { [unowned self] in
                    SourceModes.shared.noteEvent(mechanism: WatchLoopState.filesMechanism)
                    self.watchLoop.files?.foldersChanged()
                    self.collectWatchedFiles()
                }
                // A file created in a new folder between the collection that found the folder and this watch would
                // otherwise wait for the next tick: one more look (it finds the same folders, so it ends there).
                if replacing { collectWatchedFiles() }
            } catch { log.warning("watches: cannot watch \(folders.joined(separator: ", ")) (\(error)); watched files are read every interval.files") }
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
        var out: [SourceMode] = []
        if let f = watchLoop.processes, f.isActive {
            out.append(SourceMode(function: "processes.watched", mode: "event", mechanism: "pidfd", events: events["pidfd"] ?? 0))
            if !f.pidfileFolders(settings.roots).isEmpty {
                let m = WatchLoopState.pidfileMechanism
                out.append(SourceMode(function: "processes.watched", mode: "event", mechanism: m, events: events[m] ?? 0))
            }
        }
        if let f = watchLoop.files, f.isActive {
            let m = WatchLoopState.filesMechanism
            out.append(SourceMode(function: "files.watched", mode: "event", mechanism: m, events: events[m] ?? 0))
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
        watchLoop.fileWatcher = nil
    }
}
