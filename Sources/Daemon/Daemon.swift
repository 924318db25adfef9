// The daemon: the composition root that wires workers, rules, notifications and outputs onto the loop.
// Over 400 lines: start, ticks, state commits, reload and signals all act on the same composed parts.
import Alerting
import CLinux
import Kit
import Notify
import Probes
import Reports
import Rules
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `shd run`. One thread, one loop; everything below runs in loop handlers.
public final class Daemon {
    let flags: RunFlags
    let log: Logger
    var settings: DaemonSettings
    let loop: EventLoop
    let notifier: SystemdNotifier
    var snapshot: Snapshot!
    var engine: Engine!
    var configuration: Configuration!
    var dispatcher: Dispatcher!
    var signals: SignalSource?
    var watcher: FileWatcher?
    /// Declared probes (DaemonProbes.swift) and the inotify watch on their certificate folders.
    var probeRunner: ProbeRunner?
    var certificateWatcher: FileWatcher?
    /// Declared watches (DaemonWatches.swift): pidfds of watched processes, the discovery timer, inotify.
    let watchLoop = WatchLoopState()
    var workerTimers: [TimerID] = []
    /// rtnetlink, uevents, PSI triggers, mdstat: kernel events that collect a function at once.
    var kernelEvents: KernelEvents?
    /// Re-reads of pressure functions after a PSI trigger, until the kernel's averages have caught up.
    var pressureFollowUp = PressureFollowUp()
    /// Workers whose event source reported a change that is not collected yet (one collection per loop turn).
    var sourcesDue: Set<String> = []
    var evaluationScheduled = false
    var firstTickDone = false
    var onReady: (() -> Void)?
    /// Set while the files on disk do not check: the rules in force are the last good ones.
    var configInvalid: AlertEvent?
    /// The texts of the files last loaded (good or bad), to ignore events that changed nothing.
    var loadedSources: [String: String] = [:]
    /// The texts saved as the last good configuration.
    var lastGoodSources: [String: String]?
    /// Functions some rule reads, by worker: collected every tick; the others every report_interval.
    var functionsInUse: [String: Set<String>] = [:]
    /// Keeps each exported field's name and HELP/TYPE lines between scrapes and textfile writes.
    lazy var metricsRenderer = MetricsRenderer(catalog: WorkerRegistry.catalog)
    /// The size of the last /metrics answer: the next one reserves that much at once.
    var metricsSize = 0
    /// A full collection happened since report.json was last written.
    var outputsDue = true
    var ticks: UInt64 = 0
    var missedTicks: UInt64 = 0
    var stopping = false
    var exitStatus: Int32 = 0
    /// The last state write failed (disk full, read-only): retried every evaluation until it succeeds, so a
    /// crash after the disk recovers does not forget alerts that fired (and re-send them under new ids).
    var stateUnsaved = false
    /// STATE_DIR/history.jsonl (``AlertLog``): transitions, deliveries, silences, acks, reloads.
    var alertLog: AlertLog?
    /// The kernel log reader while some event rule reads the journal source (DaemonEvents.swift).
    var kmsg: KmsgSource?
    /// The journal reader (preferred to /dev/kmsg where libsystemd and a journal are there), its matches, and the
    /// cursor saved with the alert state (restored at start, kept while no reader is open).
    var journal: JournalSource?
    var journalMatchesKey = ""
    /// While set, the journal's descriptor is out of the loop until this timer reads again (`readJournal`).
    var journalPause: TimerID?
    var journalCursor: String?
    /// Each event source's rate limit (`journal`, `file`), made on its first entries.
    var eventAdmission: [String: EventAdmission] = [:]
    /// Transitions of a backlog's batches not committed yet, and the timer that commits them (DaemonEvents: a backlog
    /// commits every `backlogCommitDelay`, not after each batch). Every commit takes them first, so no committed state
    /// holds a transition whose notifications are not committed with it.
    var heldEvents: [AlertEvent] = []
    var heldCommit: TimerID?
    /// The text files the `file` rules follow (FileTails.swift), and their offsets as saved with the alert state
    /// (restored at start, handed to the tails when they open).
    var fileTails: FileTails?
    var fileTailState: JSONValue?
    /// The control socket (`shd status`, `reload`, …); nil when off or when it could not be made.
    var control: ControlServer?
    /// What the last reload did, for `shd status`.
    var lastReload: ReloadOutcome?
    /// The HTTP endpoint, when `http_listen` is set.
    var http: HTTPEndpoint?
    var counters = DaemonCounters()

    public init(flags: RunFlags, log: Logger) throws(SystemError) {
        self.flags = flags
        self.log = log
        self.settings = DaemonSettings.locate(flags)
        self.loop = try EventLoop()
        self.notifier = SystemdNotifier()
    }

    var statePath: String { settings.stateDir + "/state.json" }

    // MARK: Start

    /// Loads the configuration and state, registers every source on the loop. Throws a
    /// message for a person when shd cannot start (bad config and no last good one, no state folder).
    /// Files that do not check, after a clean start saved a last good configuration, start with that one
    /// and `shd_config_invalid` firing, as a reload would: a broken edit never takes monitoring down.
    public func start() throws(UsageError) {
        let loaded = RuleSetLoader.load(paths: settings.rulePaths, catalog: WorkerRegistry.catalog)
        let config: Configuration
        var brokenAtStart: LoadResult?
        if let c = loaded.configuration, !loaded.hasErrors {
            config = c
            if !loaded.diagnostics.isEmpty { log.warning(render(loaded)) }
        } else {
            let (c, savedAt) = try lastGoodConfiguration(refused: loaded)
            log.error("the configuration has errors; starting with the last configuration that checked (saved \(savedAt)), "
                + "shd_config_invalid fires until the files check again:\n" + render(loaded))
            config = c
            brokenAtStart = loaded
        }
        try settings.apply(settings: config.settings, flags: flags)
        log.level = settings.logLevel
        configuration = config
        loadedSources = loaded.sources
        noteFunctionsInUse()

        do {
            try AtomicFile.makeDirectories(settings.stateDir, mode: 0o750)
            if let t = settings.textfileDir { try AtomicFile.makeDirectories(t, mode: 0o755) }
        } catch { throw UsageError("cannot create the state folder: \(error)") }
        if brokenAtStart == nil { saveLastGood(config, sources: loaded.sources) }

        let workers = try makeWorkers(named: settings.workers)
        snapshot = Snapshot(workers: workers, roots: settings.roots, options: settings.workerOptions,
                            hostname: settings.hostname ?? kernelHostname(settings.roots))
        // The status page's sparklines are kept only for a daemon that serves the page.
        engine = Engine(configuration: config, recentValues: settings.httpListen != nil)
        applyProbes(config)
        applyWatches(config)
        removeTempFiles()
        alertLog = AlertLog(stateDir: settings.stateDir, maxSize: settings.historyMaxSize)

        do {
            dispatcher = try Dispatcher(channels: config.channels, spoolDirectory: settings.stateDir + "/spool", host: loop,
                                        log: log, hostname: snapshot.hostname ?? "localhost",
                                        options: DispatcherOptions(onOutcome: { [unowned self] in self.recordDelivery($0); self.noteOutcome($0) },
                                                                   journalDirectory: settings.stateDir))
        } catch { throw UsageError("\(error)") }
        // state.json, then the journal's commits after it: the newest is the state the spooled notifications
        // agree with (ARCHITECTURE.md, "Alert state and notifications: one commit").
        let saved = readStateFile()
        let committed = dispatcher.recoverSpool(committedThrough: saved?["commit"]?.int64 ?? 0)
        journalCursor = (committed ?? saved)?["journal_cursor"]?.string
        fileTailState = (committed ?? saved)?["file_tails"]
        var restored = (committed ?? saved).map { restoreState($0, from: committed == nil ? statePath : settings.stateDir + "/journal") } ?? []
        if !dispatcher.journalIsEmpty, let error = dispatcher.compact(state: stateObject()) {
            log.warning("cannot compact the journal into \(statePath) (\(error)); it is kept and read again at the next start")
        }
        if let broken = brokenAtStart {
            // A page opened before the restart stays open: fired once per broken episode.
            if configInvalid == nil { restored.append(firedConfigInvalid(broken)) }
        } else if let meta = configInvalid {
            // Broken when shd stopped, clean now: the receivers' page for it closes.
            configInvalid = nil
            restored.append(resolvedConfigInvalid(meta))
        }
        announce(restored)
        flushAlertLog()
        restoreCharts()

        do {
            signals = try SignalSource(loop: loop) { [unowned self] sig in self.handle(signal: sig) }
        } catch { throw UsageError("\(error)") }
        startWatching()
        startEventSources()
        startFileSources()
        startControl()
        try startHTTP()
        startWorkerSources()
        do {
            try scheduleWorkers(settings)
            if let wd = notifier.watchdogInterval {
                try loop.addRepeatingTimer(interval: wd) { [unowned self] _ in self.notifier.watchdog() }
            }
        } catch { throw UsageError("cannot create the interval timers: \(error)") }
        let events = KernelEvents(loop: loop, log: log) { [unowned self] stale, source in self.kernelEvent(stale, from: source) }
        events.openFixed(workers: workers, roots: settings.roots)
        events.openTriggers(rules: config.rules, roots: settings.roots)
        kernelEvents = events
        publishSourceModes()
        log.notice("shd started: \(workers.count) workers, \(config.rules.count) rules, \(config.channels.count) channels, state in \(settings.stateDir)")
    }

    /// Runs the loop until SIGTERM/SIGINT; returns the exit status.
    public func run(onReady: @escaping () -> Void = {}) -> Int32 {
        self.onReady = onReady
        loop.run()
        return exitStatus
    }

    // MARK: Ticks

    func noteFunctionsInUse() {
        var m: [String: Set<String>] = [:]
        for r in configuration.rules { m[r.worker, default: []].insert(r.function) }
        functionsInUse = m
    }

    /// One timerfd per interval that is not a whole multiple of a shorter one (``WorkerSchedule``): workers that share
    /// an interval are collected together, and a group of 10 s rides the 1 s timer every 10th expiration, so both are
    /// evaluated once (separate timers drift apart by microseconds and would each cost an evaluation and a report.json
    /// write). The new timers replace the old ones only once all of them exist: when one cannot be made (out of file
    /// descriptors), the old ones stay and the error is thrown.
    func scheduleWorkers(_ intervals: DaemonSettings) throws(SystemError) {
        let schedule = WorkerSchedule(snapshot.workers.map { ($0.name, intervals.interval(of: $0.name)) })
        let byName = Dictionary(snapshot.workers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var firstTicks: [() -> Void] = []
        var timers: [TimerID] = []
        for timer in schedule.timers {
            var groupTicks: [(group: WorkerSchedule.Group, tick: () -> Void)] = []
            for group in timer.groups {
                let workers = group.workers.compactMap { byName[$0] }
                var lastFull = -Double.infinity
                let tick = { [unowned self] in
                    // Functions no rule reads are collected only every report_interval (DESIGN: walk
                    // /proc only as often as a rule or output needs); the textfile needs them all.
                    let mono = monotonicSeconds()
                    let full = self.settings.textfileDir != nil || mono - lastFull >= self.settings.reportInterval
                    if full {
                        lastFull = mono
                        self.outputsDue = true
                    }
                    let now = Timestamp.now()
                    var collected = false
                    for w in workers {
                        let only: Set<String>? = full ? nil : (self.functionsInUse[w.name] ?? [])
                        if only?.isEmpty == true { continue }
                        self.snapshot.collect(w, now: now, only: only, tick: mono)
                        collected = true
                    }
                    if collected { self.scheduleEvaluation() }
                }
                groupTicks.append((group, tick))
                firstTicks.append(tick)
            }
            var count: UInt64 = 0
            do {
                timers.append(try loop.addRepeatingTimer(interval: timer.interval) { [unowned self] expirations in
                    for (group, tick) in groupTicks {
                        let due = WorkerSchedule.due(multiple: group.multiple, count: count, expirations: expirations)
                        if due > 1 {
                            self.missedTicks += due - 1
                            self.log.warning("\(group.workers.joined(separator: ", ")) missed \(due - 1) tick(s) of \(group.interval)s")
                        }
                        if due > 0 { tick() }
                    }
                    count += expirations
                })
            } catch {
                for t in timers { loop.cancelTimer(t) }
                throw error
            }
        }
        for t in workerTimers { loop.cancelTimer(t) }
        workerTimers = timers
        // The first collection of every group happens at once, in one loop turn, so one evaluation
        // and one report.json follow it (and READY=1 follows a full report); the timers take over
        // one interval later.
        loop.runSoon { for tick in firstTicks { tick() } }
    }

    /// A kernel event made `stale` (`worker.function`s) out of date: those some rule reads are collected now
    /// and evaluated at the end of this loop turn, not at the next tick.
    func kernelEvent(_ stale: [String], from source: KernelEventSource) {
        SourceModes.shared.noteEvent(mechanism: source.mechanism)
        if source is PressureTrigger {
            let wasIdle = pressureFollowUp.next == nil
            pressureFollowUp.triggered(stale, now: monotonicSeconds())
            if wasIdle { armPressureFollowUp() }
        }
        collectNow(stale, reason: source.mechanism)
    }

    /// The next re-read of the pressure functions a PSI trigger named (``PressureFollowUp``).
    func armPressureFollowUp() {
        guard let next = pressureFollowUp.next else { return }
        loop.addTimer(after: max(0, next - monotonicSeconds())) { [unowned self] in
            guard !self.stopping else { return }
            let due = self.pressureFollowUp.due(now: monotonicSeconds())
            if !due.isEmpty { self.collectNow(due, reason: "PSI trigger follow-up") }
            self.armPressureFollowUp()
        }
    }

    /// Collects the `worker.function`s some rule (or the textfile export) reads now, and evaluates at the end of this
    /// loop turn.
    func collectNow(_ stale: [String], reason: String) {
        var byWorker: [String: Set<String>] = [:]
        for name in stale {
            guard let dot = name.firstIndex(of: ".") else { continue }
            let worker = String(name[..<dot]), function = String(name[name.index(after: dot)...])
            if settings.textfileDir != nil || functionsInUse[worker]?.contains(function) == true { byWorker[worker, default: []].insert(function) }
        }
        guard !byWorker.isEmpty else { return }
        let now = Timestamp.now()
        for w in snapshot.workers { if let only = byWorker[w.name] { snapshot.collect(w, now: now, only: only) } }
        log.debug("\(reason): collected \(byWorker.flatMap { w, fs in fs.map { w + "." + $0 } }.sorted().joined(separator: ", ")) now")
        scheduleEvaluation()
    }

    /// What `system.sources` shows, after a start or a reload (the rules decide which functions are read
    /// each tick and which PSI triggers exist); event counts carry over.
    func publishSourceModes() {
        guard let k = kernelEvents else { return }
        var counts: [String: Int64] = [:]
        for m in SourceModes.shared.all where m.mode == "event" { counts[m.mechanism] = m.events }
        SourceModes.shared.all = k.modes(workers: snapshot.workers, settings: settings, inUse: functionsInUse, events: counts)
            + watchSourceModes(events: counts)
    }

    /// Starts the workers' event sources (the systemd manager's signals): a change is collected and evaluated in
    /// the same loop turn, so a failed unit does not wait for the next tick.
    func startWorkerSources() {
        let log = self.log
        let workerLog = WorkerLog(notice: { log.notice($0) }, warning: { log.warning($0) })
        for w in snapshot.workers {
            guard let source = w.source else { continue }
            source.start(on: loop, roots: settings.roots, log: workerLog) { [unowned self] in
                guard !self.stopping, self.sourcesDue.insert(w.name).inserted else { return }
                self.loop.runSoon { [unowned self] in
                    self.sourcesDue.remove(w.name)
                    guard !self.stopping else { return }
                    self.snapshot.collect(w)
                    // report.json shows the change (units change seldom; a tick of an hour would hide it).
                    self.outputsDue = true
                    self.scheduleEvaluation()
                }
            }
        }
    }

    /// Workers whose timers fire in the same loop turn are evaluated once, together.
    func scheduleEvaluation() {
        guard !evaluationScheduled else { return }
        evaluationScheduled = true
        loop.runSoon { [unowned self] in
            self.evaluationScheduled = false
            self.evaluate()
        }
    }

    func evaluate() {
        let now = Timestamp.now()
        let report = snapshot.report(now: now)
        ticks += 1
        // Journal writers that change files without an inotify event (systemd-journal-remote writes through mmap; sd_journal_get_timeout
        // asks for the same) are caught up at each tick: one sd_journal_next when nothing is new.
        if journal != nil { readJournal() }
        // Files grown or rotated without an inotify event, and files or folders that could not be read, looked at again.
        fileTails?.tick()
        // Event alerts resolve with time (their quiet period): every tick steps them too.
        let events = engine.evaluate(report: report, now: now) + engine.advanceEvents(now: now)
        recordEngineNotes()
        // A tick without transitions writes nothing durable: no commit, no fsync.
        if !events.isEmpty || stateUnsaved { announce(events, report: report, always: true) }
        flushAlertLog()
        dispatcher.refreshFiring(engine.announcedFiringAlerts, report: report)
        syncWatches()
        // report.json follows the full collections (every report_interval) and every alert
        // change; encoding and renaming it each tick would be the daemon's largest cost at 1 s.
        if outputsDue || !events.isEmpty || settings.textfileDir != nil {
            outputsDue = false
            writeOutputs(report)
        }
        if !firstTickDone && report.workerReports.count == snapshot.workers.count {
            firstTickDone = true
            let status = statusLine()
            notifier.ready(status: status)
            onReady?()
            onReady = nil
        } else if ticks % 10 == 0 {
            notifier.status(statusLine())
        }
    }

    func statusLine() -> String {
        let firing = engine.firingAlerts.count
        return "\(configuration.rules.count) rules, \(firing) firing, \(dispatcher.pendingCount) pending notifications"
            + (configInvalid != nil ? ", config invalid (old rules in force)" : "")
    }

    func writeOutputs(_ report: DaemonReport) {
        do {
            try AtomicFile.write(settings.stateDir + "/report.json", Array((report.json.encoded() + "\n").utf8), mode: 0o640,
                                 durable: false, beforeRename: { CrashPoint.reach("report-tmp") })
        } catch { log.warning("report.json: \(error)") }
        if let dir = settings.textfileDir {
            var text: [UInt8] = []
            metricsRenderer.render(report, into: &text)
            do { try AtomicFile.write(dir + "/shd.prom", text, mode: 0o644, durable: false) } catch {
                log.warning("textfile: \(error)")
            }
        }
    }

    // MARK: State

    /// What state.json and every journal commit hold: the engine's alert states and the meta-alert.
    func stateObject() -> JSONValue {
        var o = JSONObject()
        o.append("version", 1)
        o.append("saved_at", .string(Timestamp.now().rfc3339))
        o.append("engine", engine.exportState())
        // The meta-alert persists like any alert: its resolution must follow a restart.
        if let meta = configInvalid { o.append("config_invalid", meta.json) }
        // Where the journal source stands: a restart resumes after this entry.
        if let c = journal?.cursor ?? journalCursor { o.append("journal_cursor", .string(c)) }
        // Where each followed file stands (identity and offset): a restart resumes there.
        if let f = fileTails?.state() ?? fileTailState { o.append("file_tails", f) }
        return .object(o)
    }

    /// One atomic commit of the alert state and the notifications its transitions imply (one journal write, one
    /// fdatasync; delivery starts after it). A failure (disk full) is logged once per episode and retried every
    /// tick, so a crash after the disk recovers does not forget alerts that fired.
    func commit(_ events: [AlertEvent], report: DaemonReport) {
        if let error = dispatcher.enqueue(events, report: report, state: stateObject()) {
            if !stateUnsaved { log.error("cannot save alert state to \(settings.stateDir)/journal: \(error); retrying every tick") }
            stateUnsaved = true
        } else {
            if stateUnsaved { log.notice("alert state saved to \(settings.stateDir)/journal again") }
            stateUnsaved = false
        }
    }

    /// state.json as a JSON value: nil when missing, or unreadable as JSON (then moved aside, with an error line).
    /// The status page's sparklines (with `http_listen`): saved at a clean stop, taken back at start, so a restart
    /// (an upgrade, a reboot) does not blank the last hour. Not durable: a crash starts from the last clean stop's.
    var chartsPath: String { settings.stateDir + "/charts.json" }

    func saveCharts() {
        guard engine.keepsRecentValues else { return }
        do { try AtomicFile.write(chartsPath, Array(engine.recentValuesJSON(now: .now()).encoded().utf8), mode: 0o600, durable: false) } catch {
            log.warning("cannot save the status page's charts to \(chartsPath): \(error)")
        }
    }

    func restoreCharts() {
        guard engine.keepsRecentValues else { return }
        let bytes: [UInt8]
        do { bytes = try readOnce(chartsPath, cap: 64 << 20) } catch {
            if !error.isMissing { log.warning("cannot read \(chartsPath): \(error); the charts start empty") }
            return
        }
        guard let v = try? JSONValue.parse(bytes: bytes) else {
            log.warning("\(chartsPath) is not JSON; the charts start empty")
            return
        }
        log.info("restored \(engine.restoreRecentValues(v)) chart(s) from \(chartsPath)")
    }

    func readStateFile() -> JSONValue? {
        let bytes: [UInt8]
        do { bytes = try readOnce(statePath, cap: 256 << 20) } catch {
            if !error.isMissing { log.error("cannot read \(statePath): \(error); starting with no alert state") }
            return nil
        }
        do { return try JSONValue.parse(bytes: bytes) } catch {
            let aside = AtomicFile.moveAside(statePath)
            log.error("state file \(statePath) is corrupt (\(error)); moved it to \(aside ?? "(rename failed)") and starting with no alert state")
            return nil
        }
    }

    /// Restores a state object (state.json's, or the journal's newest commit) against the rules now loaded; returns
    /// the resolutions of alerts whose rules are gone or changed since it was saved.
    func restoreState(_ v: JSONValue, from source: String) -> [AlertEvent] {
        do {
            guard let e = v["engine"] else { throw ReportDecodingError("no 'engine' key") }
            let meta = try v["config_invalid"].map { j throws(ReportDecodingError) in try AlertEvent(json: j) }
            let events = try engine.importState(e, now: .now())
            configInvalid = meta
            log.info("restored alert state from \(source)")
            return events
        } catch {
            if source == statePath {
                let aside = AtomicFile.moveAside(statePath)
                log.error("state file \(statePath) is corrupt (\(error)); moved it to \(aside ?? "(rename failed)") and starting with no alert state")
            } else {
                log.error("the alert state committed in \(source) is invalid (\(error)); starting with no alert state")
            }
            return []
        }
    }

    /// Logs transitions (of an evaluation, or of a reload or restart: then with the latest report) and commits them
    /// with the state (`always`: commit the state even without transitions).
    func announce(_ events: [AlertEvent], report: DaemonReport? = nil, always: Bool = false) {
        var events = events
        if !heldEvents.isEmpty {
            events = heldEvents + events
            heldEvents = []
        }
        if let t = heldCommit {
            loop.cancelTimer(t)
            heldCommit = nil
        }
        guard always || !events.isEmpty else { return }
        for e in events {
            log.info("alert \(e.rule) \(e.kind.rawValue) \(e.severity.rawValue) \(labelText(e.labels)): \(e.summary)")
        }
        alertLog?.record(events, at: .now())
        commit(events, report: report ?? snapshot.report())
    }

    /// `shd_config_invalid` firing for files that do not check (the rules in force are older ones); the caller
    /// commits it.
    func firedConfigInvalid(_ loaded: LoadResult) -> AlertEvent {
        let count = loaded.errorCount
        let first = loaded.diagnostics.first { $0.severity == .error }
        let summary = "shd configuration invalid: \(count) error(s)" + (first.map { "; first: \($0.location): \($0.message)" } ?? "")
        let e = Engine.configInvalidEvent(kind: .firing, summary: summary, channels: configuration.defaultChannels,
                                          startsAt: .now(), errors: count)
        configInvalid = e
        return e
    }

    func resolvedConfigInvalid(_ meta: AlertEvent) -> AlertEvent {
        var meta = meta
        meta.kind = .resolved
        meta.endsAt = .now()
        meta.summary = "shd configuration is valid again"
        meta.reason = "configuration valid again"
        return meta
    }

    /// Temp files of atomic writes (`state.json.tmp.PID`, `report.json.tmp.PID`, …) that a kill left behind: no writer
    /// is running yet, so every one is stale.
    func removeTempFiles() {
        var removed: [String] = []
        var dirs = [settings.stateDir]
        if let t = settings.textfileDir { dirs.append(t) }
        for dir in dirs {
            for name in listDirectory(dir) {
                guard let prefix = ["state.json.tmp", "report.json.tmp", "shd.prom.tmp"].first(where: name.hasPrefix) else { continue }
                let rest = name.dropFirst(prefix.count)
                guard rest.isEmpty || (rest.hasPrefix(".") && rest.dropFirst().allSatisfy(\.isNumber)) else { continue }
                if unlink(dir + "/" + name) == 0 { removed.append(dir + "/" + name) }
            }
        }
        if !removed.isEmpty { log.notice("removed \(removed.count) temp file(s) an interrupted write left: \(removed.joined(separator: ", "))") }
    }

    // MARK: Last good configuration

    /// The saved last good configuration, if this version's checker accepts it; else the reason nothing starts.
    func lastGoodConfiguration(refused loaded: LoadResult) throws(UsageError) -> (Configuration, String) {
        let refused = "the configuration has errors; nothing was started:\n" + render(loaded)
        // The state folder of the flags (or the default): the broken files cannot say where theirs is.
        let stateDir = flags.stateDir ?? settings.stateDir
        let saved: LastGoodConfiguration?
        do { saved = try LastGoodConfiguration.read(stateDir: stateDir) } catch {
            throw UsageError(refused + "\n(the last good configuration, \(LastGoodConfiguration.path(stateDir: stateDir)), is unreadable: \(error))")
        }
        guard let saved else { throw UsageError(refused) }
        let again = saved.load()
        guard let c = again.configuration, !again.hasErrors else {
            throw UsageError(refused + "\nThe last good configuration (saved \(saved.savedAt)) does not check with this version either:\n" + render(again))
        }
        return (c, saved.savedAt)
    }

    /// Saved after every clean load whose files differ from the last saved ones.
    func saveLastGood(_ config: Configuration, sources: [String: String]) {
        guard sources != lastGoodSources else { return }
        do {
            try LastGoodConfiguration(config, sources: sources).save(stateDir: settings.stateDir)
            lastGoodSources = sources
        } catch { log.warning("cannot save the last good configuration: \(error); a restart with broken files would not start") }
    }

    // MARK: Reload

    func startWatching() {
        // The rules folder's parent too, so a rules folder that is deleted and created again is noticed.
        var dirs = [settings.rulesDir, parentDirectory(settings.rulesDir)]
        if let c = settings.configFile { dirs.append(parentDirectory(c)) }
        do {
            watcher = try FileWatcher(loop: loop, directories: dirs) { [unowned self] in self.reload(reason: "files changed", onlyIfChanged: true) }
        } catch { log.warning("cannot watch \(dirs.joined(separator: ", ")) for changes (\(error)); use SIGHUP to reload") }
    }

    /// Loads and checks the files; swaps the engine in when clean, else keeps the old rules and
    /// fires `shd_config_invalid` until the files are fixed.
    /// - Parameter onlyIfChanged: skip when the files read are the same as those in force (inotify
    ///   also reports files that are not rules, such as an editor's backup in the same folder).
    @discardableResult
    func reload(reason: String, onlyIfChanged: Bool = false) -> ReloadOutcome {
        let loaded = RuleSetLoader.load(paths: settings.rulePaths, catalog: WorkerRegistry.catalog)
        if onlyIfChanged && loaded.sources == loadedSources {
            log.debug("files changed, but not the configuration: nothing to reload")
            return ReloadOutcome(reason: reason, applied: false, message: "the files did not change")
        }
        var outcome = ReloadOutcome(reason: reason, applied: false, message: "", loaded: loaded)
        defer { lastReload = outcome }
        let previousSources = loadedSources
        loadedSources = loaded.sources
        notifier.reloading()
        defer { notifier.reloaded(status: statusLine()) }
        guard let config = loaded.configuration, !loaded.hasErrors else {
            let text = render(loaded)
            log.error("reload (\(reason)) refused; the previous rules stay in force:\n" + text)
            alertLog?.record("reload", at: .now(), ["reason": .string(reason), "result": "refused", "detail": .string(text)])
            if configInvalid == nil { announce([firedConfigInvalid(loaded)]) }
            flushAlertLog()
            outcome.message = "refused: \(loaded.errorCount) error(s); the previous rules stay in force"
            return outcome
        }
        var next = DaemonSettings.locate(flags)
        do { try next.apply(settings: config.settings, flags: flags) } catch {
            log.error("reload (\(reason)) refused; the previous rules stay in force: \(error)")
            outcome.message = "refused: \(error); the previous rules stay in force"
            return outcome
        }
        do { try applyReloadedSettings(next) } catch {
            // Not the files' fault: the same files may be tried again (SIGHUP, or the next edit).
            loadedSources = previousSources
            log.error("reload (\(reason)) refused; the previous rules and intervals stay in force: cannot create the new "
                + "interval timers (\(error)); shd needs more file descriptors (LimitNOFILE, ulimit -n)")
            outcome.message = "refused: cannot create the new interval timers (\(error)); the previous rules stay in force"
            return outcome
        }
        let old = engine!
        let newEngine = Engine(configuration: config, recentValues: http != nil)
        let ended = newEngine.adoptState(from: old, now: .now())
        engine = newEngine
        configuration = config
        noteFunctionsInUse()
        startEventSources()
        startFileSources()
        applyProbes(config)
        applyWatches(config)
        kernelEvents?.openTriggers(rules: config.rules, roots: settings.roots)
        publishSourceModes()
        do { try dispatcher.updateChannels(config.channels) } catch { log.error("channels: \(error)") }
        var events = ended
        if let meta = configInvalid {
            configInvalid = nil
            events.append(resolvedConfigInvalid(meta))
        }
        // One commit: the new engine's state (even without transitions) and what the reload ended.
        announce(events, always: true)
        log.notice("reloaded (\(reason)): \(config.rules.count) rules, \(config.channels.count) channels")
        alertLog?.maxSize = next.historyMaxSize
        alertLog?.record("reload", at: .now(), ["reason": .string(reason), "result": "ok",
                                                "detail": .string("\(config.rules.count) rules, \(config.channels.count) channels")])
        flushAlertLog()
        // After the new rules are in force: what a restart with broken files would fall back to.
        saveLastGood(config, sources: loaded.sources)
        outcome.applied = true
        outcome.message = "reloaded: \(config.rules.count) rules, \(config.channels.count) channels"
        return outcome
    }

    /// Log level and intervals change on reload; folders, roots and the worker list need a restart.
    /// Throws, changing nothing, when the new intervals' timers cannot be made.
    func applyReloadedSettings(_ next: DaemonSettings) throws(SystemError) {
        let intervalsChanged = next.interval != settings.interval || next.workerIntervals != settings.workerIntervals
        if intervalsChanged { try scheduleWorkers(next) }
        if next.stateDir != settings.stateDir || next.roots != settings.roots || next.workers != settings.workers
            || next.textfileDir != settings.textfileDir || next.workerOptions != settings.workerOptions || next.hostname != settings.hostname
            || next.controlSocket != settings.controlSocket || next.controlGroup != settings.controlGroup
            || next.httpListen != settings.httpListen || next.httpAuthFile != settings.httpAuthFile
            || next.httpTLSCertFile != settings.httpTLSCertFile || next.httpTLSKeyFile != settings.httpTLSKeyFile
        {
            log.warning("changes to state_dir, textfile_dir, proc_root, sys_root, root_fs, workers, hostname, filesystem filters, "
                + "control_socket, control_group and http_* take effect after a restart")
        }
        log.level = next.logLevel
        settings.logLevel = next.logLevel
        settings.interval = next.interval
        settings.workerIntervals = next.workerIntervals
        if intervalsChanged {
            log.notice("collection intervals changed: " + snapshot.workers.map { "\($0.name) \(settings.interval(of: $0.name))s" }.joined(separator: ", "))
        }
    }

    // MARK: Signals

    func handle(signal sig: Int32) {
        switch sig {
        case SIGTERM, SIGINT: shutdown()
        case SIGHUP: reload(reason: "SIGHUP")
        case SIGCHLD:
            var status: Int32 = 0
            while true {
                let pid = waitpid(-1, &status, WNOHANG)
                if pid <= 0 { break }
                _ = dispatcher.childExited(pid: pid, status: status)
            }
        case SIGUSR1:
            let firing = engine.firingAlerts
            log.notice("alert states: \(firing.count) firing" + (firing.isEmpty ? "" : ":"))
            for a in firing { log.notice("  \(a.rule) \(a.severity.rawValue) \(labelText(a.labels)) since \(a.startsAt.rfc3339): \(a.summary)") }
        default: break
        }
    }

    func shutdown() {
        guard !stopping else { return }
        // A backlog's transitions held for their commit are committed before the state is compacted.
        if !heldEvents.isEmpty { announce([]) }
        stopping = true
        notifier.stopping()
        log.notice("stopping")
        control?.close()
        control = nil
        for t in workerTimers { loop.cancelTimer(t) }
        workerTimers = []
        probeRunner?.stop()
        stopWatches()
        http?.stop()
        kernelEvents?.close()
        for w in snapshot.workers { w.source?.stop() }
        // The state as it is now becomes state.json and the journal is emptied (what is still undelivered stays
        // in the spool folder).
        if let error = dispatcher.compact(state: stateObject()) {
            log.error("cannot save alert state to \(statePath): \(error); the journal keeps the last commit")
        }
        flushAlertLog()
        saveCharts()
        dispatcher.shutdown(grace: 5) { [unowned self] in
            self.flushAlertLog()
            self.loop.stop()
        }
    }
}

/// Diagnostics as `file:line:col: error: …` with source lines, no colour (they go to the log).
func render(_ loaded: LoadResult) -> String {
    DiagnosticPrinter.text(loaded.diagnostics, sources: loaded.sources, color: false)
}

func labelText(_ labels: [String: String]) -> String {
    "{" + labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ",") + "}"
}

func parentDirectory(_ path: String) -> String {
    guard let i = path.lastIndex(of: "/") else { return "." }
    return i == path.startIndex ? "/" : String(path[..<i])
}

/// The host name from <proc>/sys/kernel/hostname (so fixture trees name their own host).
func kernelHostname(_ roots: SourceRoots) -> String? {
    readAttribute(roots.proc + "/sys/kernel/hostname")
}
