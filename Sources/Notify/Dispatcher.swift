// The delivery queue: spool first, then one attempt at a time per channel with backoff, Retry-After, TTL and rate limit.
// Over 400 lines: one class whose queues and channel states enqueue, recovery, compaction, pump and finish share privately.
import Alerting
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// Tuning of the delivery queue. The defaults are the production ones; tests shorten the backoff.
public struct DispatcherOptions {
    /// First retry delay in seconds; doubles per failed attempt up to `backoffCap`.
    public var backoffBase: Double
    /// Longest delay between two attempts (also caps a server's Retry-After).
    public var backoffCap: Double
    /// Fraction of the delay taken off at random (0.5: a delay lands in [d/2, d]), so hosts that failed together
    /// do not retry together.
    public var jitter: Double
    /// Give up after this many attempts (nil: retry until the channel's TTL). `shd notify test` uses 1.
    public var maxAttempts: Int?
    /// Where the daemon writes report.json, named in Slack messages and e-mails (default: next to the spool folder).
    public var reportPath: String?
    /// Called after every attempt (tests and `shd notify test` watch outcomes here).
    public var onOutcome: ((DeliveryOutcome) -> Void)?
    /// Loads libcurl when a channel needs it: nil when usable, else why not. Tests replace it to see a failure.
    public var loadCurl: () -> String?
    /// STATE_DIR, when the alert state and the notifications are committed together through `STATE_DIR/journal`
    /// (the daemon); nil: every notification is its own spool file (`shd notify test`, tests).
    public var journalDirectory: String?

    public init(backoffBase: Double = 2, backoffCap: Double = 600, jitter: Double = 0.5, maxAttempts: Int? = nil,
                reportPath: String? = nil, onOutcome: ((DeliveryOutcome) -> Void)? = nil,
                loadCurl: @escaping () -> String? = CurlLibrary.load, journalDirectory: String? = nil) {
        self.loadCurl = loadCurl
        self.journalDirectory = journalDirectory
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.jitter = jitter
        self.maxAttempts = maxAttempts
        self.reportPath = reportPath
        self.onOutcome = onOutcome
    }
}

/// What one delivery attempt came to.
public struct DeliveryOutcome: Sendable, CustomStringConvertible {
    public enum Status: Sendable, Equatable {
        case delivered
        /// Failed; the next attempt is in `after` seconds.
        case retrying(after: Double)
        /// Failed for good (a 4xx other than 408/429, a program that cannot start, or `maxAttempts` reached).
        case failed
        /// Dropped because the notification is older than the channel's TTL.
        case expired
    }

    public var channel: String
    /// Spool ids of the notifications this attempt carried.
    public var ids: [String]
    /// The rule of each notification, in the order of `ids`.
    public var rules: [String]
    public var status: Status
    /// HTTP status or SMTP reply code, when there was one.
    public var code: Int?
    /// Why it failed, scrubbed of secrets.
    public var detail: String

    public var description: String {
        switch status {
        case .delivered: return "delivered"
        case .retrying(let s): return "failed (\(detail)); retrying in \(Payloads.displayNumber(s)) s"
        case .failed: return "failed: \(detail)"
        case .expired: return "expired: \(detail)"
        }
    }
}

/// Delivers alert events to the configured channels without ever blocking the host loop, and without losing one:
/// each (event, channel) is written to the spool before the first attempt and deleted only after success.
///
/// One attempt per channel is in flight at a time, so a channel's messages arrive in order (firing before resolved).
/// All methods must be called on the host loop's thread.
/// One channel as `shd status` shows it.
public struct ChannelStatus: Sendable, Equatable {
    /// The delivery target: the channel, or `CHANNEL@KEY` for one of its targets (an Alertmanager peer).
    public var name: String
    /// The declared channel the target belongs to.
    public var channel: String
    /// The channel's kind (`webhook`, …); nil for a channel no longer configured that still has queued notifications.
    public var kind: String?
    /// Notifications waiting (the spool depth), the one in flight included.
    public var queued: Int
    /// Failed attempts since the last delivery: above 0, the channel is failing.
    public var consecutiveFailures: Int
    public var lastDelivery: Timestamp?
    public var lastError: String?
}

public final class Dispatcher {
    private final class ChannelState {
        var config: ChannelConfig
        var busy = false
        var failures = 0
        /// Monotonic time before which no attempt starts (backoff, Retry-After).
        var notBefore: Double = 0
        /// Monotonic times of recent messages, for `rate_limit` per minute.
        var sent: [Double] = []
        var timer: TimerID?
        var lastResend: Double
        var resendBusy = false
        /// For `shd status`: the last message delivered, and why the last attempt failed (cleared by a delivery).
        var lastDelivery: Timestamp?
        var lastError: String?
        /// The channel was removed by a reload: it delivers what it owes (its queue, and the resolved notices of
        /// alerts it announced) with its last configuration, takes nothing new, and is forgotten once idle and empty.
        var retired = false
        init(config: ChannelConfig, now: Double) {
            self.config = config
            lastResend = now
        }
    }

    private let host: EventHost
    private let log: LogSink
    private let hostname: String
    private var options: DispatcherOptions
    private let spool: Spool
    /// Made when the first channel that sends through libcurl is configured (libcurl is loaded then, not before).
    private var curl: CurlMulti?
    private let exec: ExecRunner
    private let reportPath: String
    /// One state per delivery target (`ChannelConfig.targets`), by target name.
    private var states: [String: ChannelState] = [:]
    /// The delivery targets of each declared channel, by channel name.
    private var routes: [String: [String]] = [:]
    /// Queued entries by channel name, oldest first; the head is in flight while the channel is busy.
    /// Entries of a channel no longer configured stay here (and on disk) until it comes back.
    private var queues: [String: [SpoolEntry]] = [:]
    private var shuttingDown = false
    private var shutdownDone: (() -> Void)?
    private var graceTimer: TimerID?
    private var random = SystemRandomNumberGenerator()
    /// The declarations in force: re-expanded into targets when a `resolve_peers` name resolves differently.
    private var declarations: [ChannelDeclaration] = []
    private var resolver: PeerResolver?

    /// - Parameters:
    ///   - channels: the checked declarations; secret files (`file "…"` values) are read here.
    ///   - spoolDirectory: STATE_DIR/spool, created with mode 0700 if missing.
    /// - Throws: `NotifyError` naming the file when a secret file is readable by group or others, missing or empty,
    ///   or when an option is malformed, or the spool folder cannot be created.
    public init(channels: [ChannelDeclaration], spoolDirectory: String, host: EventHost, log: LogSink, hostname: String,
                options: DispatcherOptions = .init()) throws {
        let configs = try Dispatcher.configs(channels, resolved: [:])
        declarations = channels
        self.host = host
        self.log = log
        self.hostname = hostname
        self.options = options
        spool = try Spool(directory: spoolDirectory)
        if let dir = options.journalDirectory {
            do { spool.journal = try Journal(directory: dir) } catch { throw NotifyError(.spool(error.description)) }
        }
        exec = ExecRunner(host: host)
        let parent = spoolDirectory.lastIndex(of: "/").map { String(spoolDirectory[..<$0]) } ?? "."
        reportPath = options.reportPath ?? (parent.isEmpty ? "" : parent) + "/report.json"
        let now = monotonicSeconds()
        for c in configs { states[c.name] = ChannelState(config: c, now: now) }
        routes = Dispatcher.routes(configs)
        prepareCurl(for: configs)
        followLookups(configs)
    }

    /// Starts, changes or stops the lookups of `resolve_peers` names the channels need.
    private func followLookups(_ configs: [ChannelConfig]) {
        let wanted = configs.flatMap { $0.kind.lookups }
        if wanted.isEmpty && resolver == nil { return }
        if resolver == nil {
            resolver = PeerResolver(host: host, log: log) { [unowned self] in
                // The channels are the same; their targets follow the new addresses (queues of peers that are gone
                // go to the others, as after a reload).
                do { try self.updateChannels(self.declarations) } catch {
                    self.log.log(.error, "notify: resolve_peers: \(error)")
                }
            }
        }
        resolver!.update(wanted)
    }

    /// The delivery targets of each channel, in declaration order.
    private static func routes(_ configs: [ChannelConfig]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for c in configs { out[c.channel, default: []].append(c.name) }
        return out
    }

    /// The names of the delivery targets `channel` expands into (itself, or one per Alertmanager peer); empty for
    /// a channel that is not configured.
    public func targets(of channel: String) -> [String] { routes[channel] ?? [] }

    /// Every `resolve_peers` name has been looked up once since the channels were set (true when there is none).
    public var lookupsSettled: Bool { resolver?.settled ?? true }

    /// Loads libcurl if some channel needs it and it is not loaded yet (at startup the daemon gets here before
    /// any thread exists). A failure is logged once here; the channels' notifications stay spooled and every
    /// attempt tries to load it again and fails with the same reason (see `curlTransport`).
    private func prepareCurl(for configs: [ChannelConfig]) {
        let needing = configs.filter { type(of: $0.kind).usesCurl }.map(\.name)
        guard curl == nil, !needing.isEmpty else { return }
        if case .failure(let reason) = curlTransport() {
            log.log(.error, "notify: channel\(needing.count == 1 ? "" : "s") \(needing.sorted().joined(separator: ", ")) "
                + "cannot send: \(reason.text); notifications stay spooled")
        }
    }

    private struct CurlUnavailable: Error { var text: String }

    /// The multi handle, loading libcurl first if needed.
    private func curlTransport() -> Result<CurlMulti, CurlUnavailable> {
        if let curl { return .success(curl) }
        if let reason = options.loadCurl() { return .failure(CurlUnavailable(text: reason)) }
        guard let multi = CurlMulti(host: host) else { return .failure(CurlUnavailable(text: "curl_multi_init failed")) }
        curl = multi
        return .success(multi)
    }

    /// Checked configs, plus the built-in channel (`log`, the default route) when none of its name is declared,
    /// one per delivery target (`ChannelConfig.targets`).
    private static func configs(_ channels: [ChannelDeclaration], resolved: [String: [String]]) throws(NotifyError) -> [ChannelConfig] {
        var configs: [ChannelConfig] = []
        for d in channels { configs += try ChannelConfig(d).targets(resolved: resolved) }
        let builtIn = ChannelRegistry.builtIn
        if !configs.contains(where: { $0.channel == builtIn.name }) { configs.append(try ChannelConfig(builtIn)) }
        return configs
    }

    /// Pending spool entries (including those in flight) and in-flight re-sends (`ChannelKind.resend`).
    public var pendingCount: Int {
        queues.values.reduce(0) { $0 + $1.count } + states.values.filter(\.resendBusy).count
    }

    /// Every channel's queue and delivery state (`shd status`), in name order; channels no longer configured whose
    /// notifications are still queued are listed with kind nil.
    public var channelStatuses: [ChannelStatus] {
        var out: [ChannelStatus] = []
        for name in Set(states.keys).union(queues.keys).sorted() {
            let st = states[name]
            out.append(ChannelStatus(name: name, channel: st?.config.channel ?? ChannelConfig.channel(ofTarget: name),
                                     kind: st.flatMap { $0.retired ? nil : type(of: $0.config.kind).name }, queued: queues[name]?.count ?? 0,
                                     consecutiveFailures: st?.failures ?? 0, lastDelivery: st?.lastDelivery, lastError: st?.lastError))
        }
        return out
    }

    // MARK: the daemon's entry points

    /// Writes one spool entry per (event, delivery target) before any attempt, then starts delivery. Events of one call
    /// for one channel go out as one message where the channel's kind allows it (`ChannelKind.maxBatch`).
    /// Channels whose kind does not spool (`log`) write their line once the entries are durable.
    ///
    /// With a journal (`DispatcherOptions.journalDirectory`) and a `state`, the entries and the state are one commit:
    /// one journal write, one fdatasync, and no attempt starts before it (`Journal`). Call it with no events and the
    /// state to commit a state alone.
    /// - Returns: nil, or why the notifications (or the state) could not be made durable: they are then attempted
    ///   from memory, and the caller commits its state again later.
    @discardableResult
    public func enqueue(_ events: [AlertEvent], report: DaemonReport, state: JSONValue? = nil) -> String? {
        let now = Timestamp.now()
        let batch = "b" + spool.newID(now: now)
        let journal = state == nil ? nil : spool.journal
        var reportText: String?
        var fresh: [SpoolEntry] = []
        var lines: [[UInt8]] = []
        var logLines: [(LogLevel, String)] = []
        var failure: String?
        for event in events {
            var seen: Set<String> = []
            var targets: [String] = []
            for channel in event.channels where seen.insert(channel).inserted {
                guard let t = routes[channel] ?? (event.kind == .resolved ? retiredTargets(of: channel) : nil) else {
                    log.log(.warning, "notify: alert \(event.rule) is routed to channel \(channel), which is not configured")
                    continue
                }
                targets += t
            }
            for name in targets {
                guard let st = states[name], st.config.accepts(event) else { continue }
                if !type(of: st.config.kind).spools {
                    if let line = st.config.kind.deliverNow(event, host: hostname, channel: name) { logLines.append(line) }
                    continue
                }
                if reportText == nil { reportText = report.json.encoded() }
                if journal != nil {
                    let (entry, bytes) = spool.encode(channel: name, batch: batch, event: event, reportText: reportText!, now: now)
                    fresh.append(entry)
                    lines.append(bytes)
                } else {
                    let (entry, error) = spool.write(channel: name, batch: batch, event: event, reportText: reportText!, now: now)
                    if let error {
                        failure = error.description
                        log.log(.error, "notify: cannot spool a notification for channel \(name) (\(error)); "
                            + "sending it from memory, it will be lost if shd stops first")
                    }
                    fresh.append(entry)
                }
            }
        }
        if let journal, let state {
            switch journal.commit(lines: lines, state: state) {
            case .success(let ranges):
                for i in fresh.indices { fresh[i].journal = ranges[i] }
            case .failure(let error):
                failure = error.description
                for i in fresh.indices { fresh[i].unsaved = lines[i] }
                if !fresh.isEmpty {
                    log.log(.error, "notify: cannot commit \(fresh.count) notification(s) to \(journal.path) (\(error)); "
                        + "sending them from memory, they will be lost if shd stops first")
                }
            }
        } else if !fresh.isEmpty {
            spool.syncDirectory()
        }
        for (level, line) in logLines { log.log(level, line) }
        var touched: Set<String> = []
        for e in fresh {
            queues[e.channel, default: []].append(e)
            touched.insert(e.channel)
        }
        if let journal, journal.size > Journal.compactBytes { compact() }
        for name in touched.sorted() { pump(name) }
        return failure
    }

    /// Re-reads the spool folder and the journal (after a restart or crash) and delivers what is there. Call once
    /// after `init`.
    /// - Parameter committedThrough: the `"commit"` number of the state.json the caller restored (0: none).
    /// - Returns: the state object of the newest commit in the journal when it is newer than that state.json: the
    ///   caller restores it instead, since it is the state the recovered notifications agree with.
    @discardableResult
    public func recoverSpool(committedThrough: Int64 = 0) -> JSONValue? {
        let known = Set(queues.values.flatMap { $0.map(\.id) })
        var entries = spool.scan { path, reason in
            log.log(.error, "notify: spool file \(path) is corrupt (\(reason)); moved aside to \(path).corrupt")
        }
        var newer: JSONValue?
        if let journal = spool.journal {
            let r = journal.recover(committedThrough: committedThrough)
            for c in r.corrupt { log.log(.error, "notify: journal: \(c); that notification is dropped") }
            if r.discardedBytes > 0 {
                log.log(.notice, "notify: \(journal.path): cut off \(r.discardedBytes) bytes of a commit that was not complete "
                    + "(shd stopped while writing it); its alert transitions were never committed and are evaluated again")
            }
            for e in entries where r.done.contains(e.id) { unlink(e.path) }
            entries.removeAll { r.done.contains($0.id) }
            // A compaction interrupted after writing some spool files leaves the same entry in both places.
            let files = Set(entries.map(\.id))
            for var e in r.entries where !files.contains(e.id) {
                e.path = spool.filePath(e.id, e.channel)
                entries.append(e)
            }
            entries.sort(by: SpoolEntry.inOrder)
            newer = r.state
        }
        var recovered: [String: Int] = [:]
        for e in entries where !known.contains(e.id) {
            queues[e.channel, default: []].append(e)
            recovered[e.channel, default: 0] += 1
        }
        for (name, n) in adoptOrphans() { recovered[name, default: 0] += n }
        for name in recovered.keys.sorted() {
            guard queues[name] != nil else { continue }
            queues[name]!.sort(by: SpoolEntry.inOrder)
            if states[name] == nil {
                log.log(.warning, "notify: \(recovered[name]!) spooled notification(s) for channel \(name), which is not "
                    + "configured; kept until it is")
            } else {
                log.log(.notice, "notify: \(recovered[name]!) spooled notification(s) for channel \(name) recovered")
            }
            pump(name)
        }
        return newer
    }

    /// Whether the journal holds anything (a compaction would empty it).
    public var journalIsEmpty: Bool { (spool.journal?.size ?? 0) == 0 }

    /// Compaction: writes the notifications still in the journal as spool files, then `state` (default: the last
    /// committed one) as state.json with the commit number, then empties the journal (`Journal`). At start, at
    /// shutdown and when the journal passes 4 MiB. On failure nothing changes and the error text is returned.
    @discardableResult
    public func compact(state: JSONValue? = nil) -> String? {
        guard let journal = spool.journal, let snapshot = state ?? journal.lastState else { return nil }
        var moved: [(channel: String, index: Int, entry: SpoolEntry)] = []
        var failure: FileError?
        for name in queues.keys.sorted() {
            for (i, e) in queues[name]!.enumerated() where e.journal != nil && e.unsaved == nil {
                var copy = e
                do { try spool.writeFile(&copy) } catch {
                    failure = error
                    break
                }
                moved.append((name, i, copy))
            }
            if failure != nil { break }
        }
        if failure == nil {
            if !moved.isEmpty { spool.syncDirectory() }
            failure = journal.compact(state: snapshot)
        }
        if let failure {
            for m in moved { unlink(m.entry.path) }
            return failure.description
        }
        for m in moved { queues[m.channel]![m.index] = m.entry }
        return nil
    }

    /// Re-send of the currently firing alerts: call it every tick with the engine's firing alerts; each channel whose
    /// kind has a `resendInterval` posts them that often (Alertmanager: `resend_interval`, default 1m, shorter than
    /// Alertmanager's default 5m resolve_timeout). Re-sends are not spooled: the next one replaces a lost one.
    public func refreshFiring(_ alerts: [AlertEvent], report: DaemonReport) {
        guard !shuttingDown else { return }
        let now = monotonicSeconds()
        for (name, st) in states where !st.resendBusy && !st.retired {
            guard let interval = st.config.kind.resendInterval, now - st.lastResend >= interval else { continue }
            st.lastResend = now
            let firing = alerts.filter { $0.kind != .resolved && $0.channels.contains(st.config.channel) && st.config.accepts($0) }
            guard !firing.isEmpty else { continue }
            let curl: CurlMulti
            switch curlTransport() {
            case .success(let c): curl = c
            case .failure(let reason):
                log.log(.info, "notify: channel \(name) (\(st.config.target)): re-send of \(firing.count) firing alert(s) "
                    + "skipped (\(reason.text))")
                continue
            }
            guard let request = st.config.kind.resend(firing, host: hostname, st.config) else { continue }
            st.resendBusy = true
            curl.start(request) { [weak self, weak st] r in
                guard let self, let st else { return }
                st.resendBusy = false
                if case .delivered = st.config.kind.classify(.transfer(r), st.config) {} else {
                    self.log.log(.info, "notify: channel \(name) (\(st.config.target)): re-send of \(firing.count) firing "
                        + "alert(s) failed (\(st.config.failureText(r))); the next one follows in "
                        + "\(Payloads.displayNumber(interval)) s")
                }
                self.checkShutdown()
            }
        }
    }

    /// Replaces the channels after a reload. In-flight deliveries go on. A channel the reload removed retires: with
    /// its last configuration it delivers what is queued for it and the resolved notices the caller enqueues for it
    /// (an alert it announced ends there, whatever the reload did), takes nothing else, and is forgotten once its
    /// queue is empty (``sweepRetired()``, after the caller's turn of the loop). Its notifications still expire after
    /// its `ttl`. After a restart, notifications of a channel that is not configured stay spooled until it is.
    /// - Throws: `NotifyError` as `init` does; on error nothing changes.
    public func updateChannels(_ channels: [ChannelDeclaration]) throws {
        let configs = try Dispatcher.configs(channels, resolved: resolver?.resolved ?? [:])
        declarations = channels
        var next: [String: ChannelState] = [:]
        let now = monotonicSeconds()
        for c in configs {
            if let old = states[c.name] {
                old.config = c
                old.retired = false
                next[c.name] = old
            } else {
                next[c.name] = ChannelState(config: c, now: now)
            }
        }
        let nextRoutes = Dispatcher.routes(configs)
        var retiring: [String] = []
        for (name, st) in states where next[name] == nil {
            if nextRoutes[st.config.channel] == nil {
                // The whole channel is gone (not one peer of a channel that stays: its queue goes to the others).
                if !st.retired { retiring.append(name) }
                st.retired = true
                next[name] = st
            } else if let t = st.timer {
                host.cancelTimer(t)
            }
        }
        states = next
        // A target that is gone and owes nothing (a peer that left its name or list) is no more listed.
        for (name, q) in queues where next[name] == nil && q.isEmpty { queues[name] = nil }
        routes = nextRoutes
        for name in retiring.sorted() {
            let owed = queues[name]?.count ?? 0
            log.log(.notice, "notify: channel \(name) (\(states[name]!.config.target)) was removed; it delivers "
                + (owed > 0 ? "its \(owed) queued notification(s) and " : "") + "the resolved notices of alerts it announced, then stops")
        }
        prepareCurl(for: configs)
        followLookups(configs)
        adoptOrphans()
        for name in queues.keys.sorted() { pump(name) }
        if states.values.contains(where: \.retired) { host.addTimer(after: 0) { [weak self] in self?.sweepRetired() } }
    }

    /// The targets of a channel a reload removed that still owe something (`ChannelState.retired`), in name order;
    /// nil when there are none. Resolved notices go there, nothing else.
    private func retiredTargets(of channel: String) -> [String]? {
        let names = states.filter { $0.value.retired && $0.value.config.channel == channel }.keys.sorted()
        return names.isEmpty ? nil : names
    }

    /// Forgets retired channels that owe nothing (nothing queued, nothing in flight).
    private func sweepRetired() {
        for (name, st) in states.sorted(by: { $0.key < $1.key }) where st.retired && !st.busy && (queues[name]?.isEmpty ?? true) {
            if let t = st.timer { host.cancelTimer(t) }
            states[name] = nil
            queues[name] = nil
            log.log(.info, "notify: channel \(name) (removed by a reload) owes nothing more; forgotten")
        }
    }

    /// Entries queued for a delivery target that is gone while its channel is still configured (`am` after its
    /// `url` became `urls`, `am@HOST:PORT` after that peer left the list or the list became one `url`) would wait
    /// forever: each is copied to every target the channel has now (a spool file created at the original's time,
    /// so it sorts where the original did and each alert's transitions stay in order), then removed. A crash
    /// between the copies and the removal sends it twice, never not at all; a copy that cannot be written keeps the
    /// original queued. Entries of a channel that is not configured at all stay as they are until it is.
    /// - Returns: how many entries each target received.
    @discardableResult
    private func adoptOrphans() -> [String: Int] {
        var adopted: [String: Int] = [:]
        for name in queues.keys.sorted() where states[name] == nil && !(queues[name]?.isEmpty ?? true) {
            let channel = ChannelConfig.channel(ofTarget: name)
            guard let targets = routes[channel], !targets.isEmpty, spools(channel) else { continue }
            var moved: [SpoolEntry] = []
            var copies: [(String, SpoolEntry)] = []
            for e in queues[name]! {
                do throws(SpoolCorruption) {
                    var made: [(String, SpoolEntry)] = []
                    for t in targets { made.append((t, try spool.copy(e, to: t))) }
                    copies += made
                    moved.append(e)
                } catch {
                    log.log(.error, "notify: cannot copy notification \(e.id) of \(name) to channel \(channel)'s targets "
                        + "(\(error.reason)); it stays queued for \(name)")
                }
            }
            guard !moved.isEmpty else { continue }
            spool.syncDirectory()
            spool.remove(moved)
            let ids = Set(moved.map(\.id))
            queues[name]!.removeAll { ids.contains($0.id) }
            if queues[name]!.isEmpty { queues[name] = nil }
            for (t, copy) in copies {
                queues[t, default: []].append(copy)
                adopted[t, default: 0] += 1
            }
            for t in targets where adopted[t] != nil {
                // The head of a busy target is in flight and stays the head.
                let from = states[t]?.busy == true ? 1 : 0
                queues[t]![from...].sort(by: SpoolEntry.inOrder)
            }
            log.log(.notice, "notify: \(moved.count) notification(s) queued for \(name), which channel \(channel) no longer has, "
                + "handed to \(targets.joined(separator: ", "))")
        }
        return adopted
    }

    private func spools(_ channel: String) -> Bool {
        routes[channel]?.first.flatMap { states[$0] }.map { type(of: $0.config.kind).spools } ?? false
    }

    /// Stops starting attempts; in-flight ones get up to `grace` seconds, then are aborted and stay in the spool.
    /// `done` runs on the loop when nothing is in flight any more.
    public func shutdown(grace: Double, done: @escaping () -> Void) {
        shuttingDown = true
        shutdownDone = done
        for st in states.values {
            if let t = st.timer { host.cancelTimer(t) }
            st.timer = nil
        }
        graceTimer = host.addTimer(after: grace) { [weak self] in
            guard let self else { return }
            self.graceTimer = nil
            self.curl?.cancelAll()
            self.exec.killAll()
            for st in self.states.values { st.busy = false; st.resendBusy = false }
            self.finishShutdown()
        }
        checkShutdown()
    }

    /// The daemon's SIGCHLD hook (after its own `waitpid`): finishes an exec-channel child. Returns false for a
    /// pid that is not one of ours. Without this hook our children are still reaped, by polling their pids.
    @discardableResult
    public func childExited(pid: Int32, status: Int32) -> Bool { exec.childExited(pid: pid, status: status) }

    /// Pids of running exec-channel children.
    public var childPIDs: [Int32] { exec.pids }

    // MARK: the queue

    private func schedule(_ name: String, _ st: ChannelState, at when: Double) {
        if let t = st.timer { host.cancelTimer(t) }
        st.timer = host.addTimer(after: max(0, when - monotonicSeconds())) { [weak self, weak st] in
            st?.timer = nil
            self?.pump(name)
        }
    }

    /// Starts the next attempt of a channel if it is idle, due, within its rate limit and has work.
    private func pump(_ name: String) {
        guard !shuttingDown, let st = states[name], !st.busy, !(queues[name]?.isEmpty ?? true) else { return }
        let now = monotonicSeconds()
        if st.notBefore > now { return schedule(name, st, at: st.notBefore) }

        let wall = Timestamp.now().seconds
        while let head = queues[name]?.first, wall - head.created.seconds > st.config.ttl {
            queues[name]!.removeFirst()
            spool.remove([head])
            log.log(.error, "notify: channel \(name) (\(st.config.target)): gave up on notification \(head.id) after "
                + "its TTL of \(Payloads.displayNumber(st.config.ttl)) s")
            options.onOutcome?(DeliveryOutcome(channel: name, ids: [head.id], rules: [head.rule], status: .expired, code: nil,
                                               detail: "older than the channel's ttl"))
        }
        guard let queue = queues[name], !queue.isEmpty else {
            if st.retired { sweepRetired() }
            return
        }

        st.sent.removeAll { now - $0 >= 60 }
        if st.sent.count >= st.config.rateLimit {
            // Excess waits for the window to open; nothing is dropped.
            return schedule(name, st, at: st.sent[0] + 60)
        }

        // One message takes the queue's head and what waits behind it, up to the channel's batch size, so a backlog
        // drains at maxBatch alerts per message within the rate limit; it stops before a second transition of an
        // alert already in the message (a receiver sees each alert's transitions in order, one per message).
        var batch: [(SpoolEntry, AlertEvent, JSONValue?)] = []
        var corrupt: [String] = []
        var alertsIn: Set<String> = []
        for e in queue where batch.count < type(of: st.config.kind).maxBatch {
            if !e.fingerprint.isEmpty && !alertsIn.insert(e.fingerprint).inserted { break }
            do {
                let (event, report) = try spool.load(e)
                batch.append((e, event, report))
            } catch {
                let aside = spool.moveAside(e)
                log.log(.error, "notify: spool entry \(e.id) (\(e.journal == nil ? e.path : "journal")) is corrupt (\(error.reason)); "
                    + "moved aside to \(aside)")
                corrupt.append(e.id)
            }
            if batch.isEmpty && !corrupt.isEmpty { break }
        }
        if !corrupt.isEmpty {
            queues[name]!.removeAll { corrupt.contains($0.id) }
            host.addTimer(after: 0) { [weak self] in self?.pump(name) }
            return
        }
        st.busy = true
        st.sent.append(now)
        attempt(name, st, batch)
    }

    /// One attempt: the kind builds it and says what its answer means; the queue does the rest.
    private func attempt(_ name: String, _ st: ChannelState, _ batch: [(SpoolEntry, AlertEvent, JSONValue?)]) {
        let c = st.config
        let alerts = batch.map { OutgoingAlert(id: $0.0.id, event: $0.1) }
        let ids = alerts.map(\.id)
        let rules = batch.map(\.1.rule)
        let done: (Verdict) -> Void = { [weak self, weak st] v in
            if let self, let st { self.finish(name, st, ids: ids, rules: rules, verdict: v) }
        }

        var curl: CurlMulti?
        if type(of: c.kind).usesCurl {
            switch curlTransport() {
            case .success(let multi): curl = multi
            case .failure(let reason):
                // Not loadable (libcurl4 missing): the entries stay spooled and the next attempt tries again.
                return done(.retry(code: nil, detail: reason.text, after: nil))
            }
        }

        let message = MessageContext(channel: name, host: hostname, reportPath: reportPath, report: batch.first?.2)
        switch c.kind.request(alerts, message, c) {
        case .none:
            done(.delivered)
        case .transfer(let request):
            guard let curl = curl ?? (try? curlTransport().get()) else {
                return done(.retry(code: nil, detail: "libcurl is not loaded", after: nil))
            }
            curl.start(request) { r in done(c.kind.classify(.transfer(r), c)) }
        case .program(let p):
            exec.run(argv: p.argv, environment: p.environment, stdin: p.stdin, timeout: p.timeout) { r in
                done(c.kind.classify(.program(r), c))
            }
        }
    }

    private func backoff(_ failures: Int) -> Double {
        let d = min(options.backoffCap, options.backoffBase * Double(1 << min(failures - 1, 30)))
        return d * (1 - options.jitter * Double.random(in: 0..<1, using: &random))
    }

    private func finish(_ name: String, _ st: ChannelState, ids: [String], rules: [String], verdict: Verdict) {
        // An attempt that ends after the grace period is ignored: its entries stay spooled for the next start.
        guard st.busy else { return }
        st.busy = false
        let target = st.config.target
        let count = ids.count == 1 ? "notification \(ids[0])" : "\(ids.count) notifications"
        func drop() {
            let set = Set(ids)
            spool.remove((queues[name] ?? []).filter { set.contains($0.id) })
            queues[name]?.removeAll { set.contains($0.id) }
        }
        switch verdict {
        case .delivered:
            CrashPoint.reach("delivered")
            drop()
            st.failures = 0
            st.notBefore = 0
            st.lastDelivery = .now()
            st.lastError = nil
            log.log(.info, "notify: channel \(name) (\(target)): delivered \(count)")
            options.onOutcome?(DeliveryOutcome(channel: name, ids: ids, rules: rules, status: .delivered, code: nil, detail: ""))
        case .permanent(let code, let detail):
            drop()
            st.failures = 0
            st.lastError = detail
            log.log(.error, "notify: channel \(name) (\(target)): \(count) refused, not retried: \(detail)")
            options.onOutcome?(DeliveryOutcome(channel: name, ids: ids, rules: rules, status: .failed, code: code, detail: detail))
        case .retry(let code, let detail, let after):
            st.failures += 1
            st.lastError = detail
            if let max = options.maxAttempts, st.failures >= max {
                drop()
                st.failures = 0
                log.log(.error, "notify: channel \(name) (\(target)): \(count) failed after \(max) attempt(s): \(detail)")
                options.onOutcome?(DeliveryOutcome(channel: name, ids: ids, rules: rules, status: .failed, code: code, detail: detail))
                break
            }
            let delay = after.map { min(max($0, 0), max(options.backoffCap, 3600)) } ?? backoff(st.failures)
            st.notBefore = monotonicSeconds() + delay
            log.log(.warning, "notify: channel \(name) (\(target)): attempt \(st.failures) for \(count) failed (\(detail)); "
                + "retrying in \(Payloads.displayNumber(delay)) s")
            options.onOutcome?(DeliveryOutcome(channel: name, ids: ids, rules: rules, status: .retrying(after: delay), code: code, detail: detail))
        }
        if shuttingDown { checkShutdown() } else { pump(name) }
        if st.retired { sweepRetired() }
    }

    private func checkShutdown() {
        guard shuttingDown, shutdownDone != nil else { return }
        if states.values.contains(where: { $0.busy || $0.resendBusy }) { return }
        if let t = graceTimer { host.cancelTimer(t) }
        graceTimer = nil
        host.addTimer(after: 0) { [weak self] in self?.finishShutdown() }
    }

    private func finishShutdown() {
        guard let done = shutdownDone else { return }
        shutdownDone = nil
        let left = queues.values.reduce(0) { $0 + $1.count }
        if left > 0 { log.log(.notice, "notify: \(left) notification(s) left in the spool for the next start") }
        done()
    }
}
