// The systemd manager followed over sd-bus: one connection, matches for its signals, a table of units.
// Over 400 lines: the connection's life (connect, list, follow, lose, reconnect) is one state machine.
import CLinux
import CSystemd
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's loop as a worker that follows events sees it (the daemon's EventLoop conforms).
public protocol WorkerLoop: AnyObject {
    /// Watches `fd` (read and/or write); calling again replaces the interest and handler.
    func watchDescriptor(_ fd: Int32, read: Bool, write: Bool, handler: @escaping () -> Void)
    func unwatchDescriptor(_ fd: Int32)
    /// Runs `handler` once after `seconds`; the id cancels it.
    func addOneShot(after seconds: Double, handler: @escaping () -> Void) -> Int
    func cancelOneShot(_ id: Int)
}

/// Where a worker that follows events writes its log lines (the daemon's logger).
public struct WorkerLog {
    public var notice: (String) -> Void
    public var warning: (String) -> Void
    public init(notice: @escaping (String) -> Void, warning: @escaping (String) -> Void) {
        self.notice = notice
        self.warning = warning
    }
    public static var silent: WorkerLog { WorkerLog(notice: { _ in }, warning: { _ in }) }
}

/// A worker's source of events: started once on the daemon's loop, it calls `changed` when its rows changed
/// (the daemon then collects the worker and evaluates the rules at once, without waiting for a tick).
public protocol WorkerEventSource: AnyObject {
    func start(on loop: WorkerLoop, roots: SourceRoots, log: WorkerLog, changed: @escaping () -> Void)
    func stop()
}

private let systemdService = "org.freedesktop.systemd1"
private let managerPath = "/org/freedesktop/systemd1"
private let managerInterface = "org.freedesktop.systemd1.Manager"
private let unitInterface = "org.freedesktop.systemd1.Unit"

/// One interface of one unit, as a property read asks for it.
private struct FetchKey: Hashable {
    let path: String
    let interface: String
}

/// One method call in flight; its box is the sd-bus userdata until the reply (or the connection's end).
private final class PendingCall {
    let handle: (Result<[BusValue], BusDecodingError>) -> Void
    var slot: OpaquePointer?
    init(_ handle: @escaping (Result<[BusValue], BusDecodingError>) -> Void) { self.handle = handle }
}

private let replyHandler: sd_bus_message_handler_t = { m, userdata, _ in
    guard let m, let userdata else { return 0 }
    let call = Unmanaged<PendingCall>.fromOpaque(userdata).takeRetainedValue()
    if call.slot != nil { shd_bus_slot_unref(call.slot); call.slot = nil }
    if let e = shd_bus_message_get_error(m) {
        let name = e.pointee.name.map { String(cString: $0) } ?? "error"
        let message = e.pointee.message.map { String(cString: $0) } ?? ""
        call.handle(.failure(BusDecodingError("\(name): \(message)")))
    } else {
        do throws(BusDecodingError) { call.handle(.success(try readBusBody(m))) } catch { call.handle(.failure(error)) }
    }
    return 0
}

private let signalHandler: sd_bus_message_handler_t = { m, userdata, _ in
    guard let m, let userdata else { return 0 }
    Unmanaged<SystemdManagerClient>.fromOpaque(userdata).takeUnretainedValue().signal(m)
    return 0
}

/// Follows systemd's manager: ListUnits and each unit's properties at start and after every reconnect, then
/// UnitNew / UnitRemoved / JobRemoved / Reloading and units' PropertiesChanged as they come. No polling.
public final class SystemdManagerClient: WorkerEventSource {
    public enum Status: Equatable {
        /// No systemd on this host (no /run/systemd/system and no bus address given): no data.
        case noSystemd
        /// Not connected yet, or waiting to reconnect; the message says why.
        case unavailable(String)
        /// Connected, the listing in flight.
        case listing
        case ready
    }

    public private(set) var status: Status = .unavailable("not connected yet")
    /// Units by object path.
    public private(set) var units: [String: SystemdUnit] = [:]
    private var pathByName: [String: String] = [:]

    /// A bus address (a test's private bus) instead of the system bus.
    let address: String?
    private var bus: OpaquePointer?
    private var fd: Int32 = -1
    private var loop: WorkerLoop?
    private var log = WorkerLog.silent
    private var changed: () -> Void = {}
    private var roots = SourceRoots()
    private var pending: [ObjectIdentifier: PendingCall] = [:]
    private var matches: [OpaquePointer] = []
    private var timeoutTimer: Int?
    private var reconnectTimer: Int?
    private var backoff = 0.5
    /// Replies still expected for the current listing (ListUnits, then two GetAll per unit).
    private var outstanding = 0
    /// Property reads (GetAll of one interface of one unit) waiting to be sent, in order, each at most once.
    private var fetchQueue: [FetchKey] = []
    private var fetchHead = 0
    private var queued: Set<FetchKey> = []
    private var inFlight: Set<FetchKey> = []
    /// Asked for again while its read was in flight: read once more after the reply (the signal may be newer).
    private var again: Set<FetchKey> = []
    /// The reads the current listing waits for.
    private var listingKeys: Set<FetchKey> = []
    /// Property reads in flight at most. dbus-daemon refuses a connection's calls beyond 128 awaiting replies
    /// (max_replies_per_connection), and every call is work for PID 1: a listing of 300 units, or a burst of
    /// signals while systemd runs jobs, is sent 32 at a time, and a unit signalled 50 times while queued is read once.
    static let maxInFlight = 32
    /// Reads sent since start, and signals received: the cost of following systemd (tests and bench read them).
    public private(set) var propertyReads = 0
    public private(set) var signalsReceived = 0
    private var generation = 0
    private let oom = CgroupOOMWatcher()
    private var noSystemdLogged = false

    public init(address: String? = nil) { self.address = address }

    deinit { teardown() }

    // MARK: Life

    public func start(on loop: WorkerLoop, roots: SourceRoots, log: WorkerLog, changed: @escaping () -> Void) {
        self.loop = loop
        self.roots = roots
        self.log = log
        self.changed = changed
        oom.start(on: loop) { [unowned self] path, count in
            guard var u = self.units[path] else { return }
            let before = u.oomKills
            u.noteOOMKills(count)
            self.units[path] = u
            if u.oomKills != before { self.changed() }
        } ignored: { [unowned self] path in
            self.units[path]?.oomKillsSeen = nil
        }
        connect()
    }

    public func stop() {
        teardown()
        oom.stop()
        loop = nil
    }

    /// The system bus, unless there is no systemd; a private address as given.
    static func systemdRuns(address: String?) -> Bool {
        address != nil || access("/run/systemd/system", F_OK) == 0 || getenv("DBUS_SYSTEM_BUS_ADDRESS") != nil
    }

    private func connect() {
        guard Self.systemdRuns(address: address) else {
            status = .noSystemd
            if !noSystemdLogged { log.notice("systemd: no systemd on this host (no /run/systemd/system): the systemd worker reports no data") }
            noSystemdLogged = true
            return
        }
        var err = [CChar](repeating: 0, count: 512)
        if shd_bus_load(&err, err.count) != 0 {
            let message = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            status = .unavailable(message)
            log.warning("systemd: \(message); the systemd worker reports no data")
            return
        }
        var b: OpaquePointer?
        let r = address.map { shd_bus_open_address(&b, $0) } ?? shd_bus_open_system(&b)
        guard r >= 0, let b else {
            lose("cannot connect to the system bus: \(String(cString: strerror(-r)))")
            return
        }
        bus = b
        fd = shd_bus_get_fd(b)
        let me = Unmanaged.passUnretained(self).toOpaque()
        let rules = [
            "type='signal',sender='\(systemdService)',path='\(managerPath)',interface='\(managerInterface)'",
            "type='signal',sender='\(systemdService)',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='\(managerPath)/unit'",
            "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='\(systemdService)'",
        ]
        for rule in rules {
            var slot: OpaquePointer?
            if shd_bus_add_match_async(b, &slot, rule, signalHandler, nil, me) >= 0, let slot { matches.append(slot) }
        }
        resync()
        pump()
    }

    /// Subscribe (systemd sends unit signals only to subscribers), then the full listing.
    private func resync() {
        generation += 1
        let gen = generation
        status = .listing
        // Reads queued for signals are covered by the listing's; replies of the last generation are ignored.
        fetchQueue = []
        fetchHead = 0
        queued = []
        again = []
        listingKeys = []
        outstanding = 1
        call(managerPath, managerInterface, "Subscribe") { [unowned self] result in
            // Already subscribed (after a reexec) is an error that changes nothing.
            if case .failure(let e) = result, !e.message.contains("AlreadySubscribed") { self.log.warning("systemd: Subscribe: \(firstLine(e.message))") }
        }
        call(managerPath, managerInterface, "ListUnits") { [unowned self] result in
            guard gen == self.generation else { return }
            switch result {
            case .failure(let e):
                let why = firstLine(e.message)
                if e.message.hasPrefix("org.freedesktop.DBus.Error.ServiceUnknown") || e.message.hasPrefix("org.freedesktop.DBus.Error.NameHasNoOwner") {
                    // A bus without systemd's manager (a container's dbus): nothing to follow until its name appears.
                    self.status = .unavailable("systemd's manager is not on the system bus (\(why))")
                } else {
                    // The manager is there but did not answer (starting, re-executing): ask again, with the backoff.
                    self.status = .unavailable("ListUnits: \(why)")
                    self.retryListing(why)
                }
                self.outstanding = 0
                self.changed()
            case .success(let body):
                do {
                    let listed = try decodeListUnits(body)
                    self.replaceUnits(listed)
                    self.outstanding -= 1
                    for u in listed { self.fetchProperties(path: u.path, type: u.typeInterface, gen: gen) }
                    self.finishIfListed(gen)
                } catch {
                    self.status = .unavailable("\(error)")
                    self.outstanding = 0
                    self.changed()
                }
            }
        }
    }

    /// Lists again after the backoff, while the connection stands.
    private func retryListing(_ why: String) {
        guard let loop, reconnectTimer == nil else { return }
        let delay = backoff
        backoff = min(backoff * 2, 30)
        log.warning("systemd: ListUnits: \(why); listing again in \(delay) s")
        reconnectTimer = loop.addOneShot(after: delay) { [weak self] in
            guard let self else { return }
            self.reconnectTimer = nil
            if self.bus != nil { self.resync() }
        }
    }

    /// The new listing, keeping what shd counted itself (OOM kills, the last success) for units it knew.
    private func replaceUnits(_ listed: [SystemdUnit]) {
        var next: [String: SystemdUnit] = [:]
        var names: [String: String] = [:]
        for var u in listed {
            if let old = pathByName[u.name].flatMap({ units[$0] }) {
                u.oomKills = old.oomKills
                u.oomKillsSeen = old.oomKillsSeen
                u.lastSuccessUsec = old.lastSuccessUsec
                u.controlGroup = old.controlGroup
            }
            next[u.path] = u
            names[u.name] = u.path
        }
        for path in units.keys where next[path] == nil { oom.unwatch(path: path) }
        units = next
        pathByName = names
    }

    /// Queues a read of the unit's properties (its Unit interface and `type`'s); `gen`: the listing waits for it.
    private func fetchProperties(path: String, type: String?, gen: Int?) {
        for iface in [unitInterface] + (type.map { [$0] } ?? []) {
            let key = FetchKey(path: path, interface: iface)
            if let gen, gen == generation, listingKeys.insert(key).inserted { outstanding += 1 }
            if inFlight.contains(key) {
                // A reply already due answers the listing (systemd answers in order); a signal wants a newer read.
                if gen == nil { again.insert(key) }
            } else if queued.insert(key).inserted {
                fetchQueue.append(key)
            }
        }
        sendQueued()
    }

    /// Sends queued reads while fewer than `maxInFlight` are in flight.
    private func sendQueued() {
        while inFlight.count < Self.maxInFlight, fetchHead < fetchQueue.count, bus != nil {
            let key = fetchQueue[fetchHead]
            fetchHead += 1
            queued.remove(key)
            inFlight.insert(key)
            propertyReads += 1
            // A reply is applied whatever listing it was sent for: on one connection, systemd answers in order,
            // so it is never older than what shd knows (a lost connection drops the calls without replies).
            let sent = call(key.path, "org.freedesktop.DBus.Properties", "GetAll", [key.interface]) { [unowned self] result in
                self.inFlight.remove(key)
                switch result {
                case .success(let body):
                    if let props = try? decodeProperties(body) { self.update(path: key.path, props) }
                case .failure(let e):
                    // Refused for a limit (another client's load on the bus) or timed out: read it again later.
                    if e.message.hasPrefix("org.freedesktop.DBus.Error.LimitsExceeded") || e.message.hasPrefix("org.freedesktop.DBus.Error.NoReply") {
                        self.again.insert(key)
                    }
                }
                if self.listingKeys.remove(key) != nil {
                    self.outstanding -= 1
                    self.finishIfListed(self.generation)
                } else {
                    self.changed()
                }
                if self.again.remove(key) != nil, self.units[key.path] != nil, self.queued.insert(key).inserted {
                    self.fetchQueue.append(key)
                }
                self.sendQueued()
            }
            if !sent {
                inFlight.remove(key)
                if listingKeys.remove(key) != nil { outstanding -= 1 }
            }
        }
        if fetchHead == fetchQueue.count {
            fetchQueue.removeAll(keepingCapacity: true)
            fetchHead = 0
        }
    }

    /// Forgets every queued read (a new listing reads everything again; a lost connection reads nothing).
    private func clearFetches() {
        fetchQueue = []
        fetchHead = 0
        queued = []
        inFlight = []
        again = []
        listingKeys = []
    }

    private func finishIfListed(_ gen: Int) {
        guard gen == generation, outstanding == 0, status == .listing else { return }
        status = .ready
        backoff = 0.5
        changed()
    }

    private func update(path: String, _ props: [(String, BusValue)]) {
        guard var u = units[path] else { return }
        let wasFailed = u.activeState == "failed"
        u.apply(props)
        if u.activeState == "failed" {
            // Once per failure, and only in the daemon (a one-shot `shd report` does not read the journal).
            if !wasFailed || u.failureLog == nil, loop != nil { u.failureLog = UnitJournal.lastLines(unit: u.name) }
        } else {
            u.failureLog = nil
        }
        units[path] = u
        if let cg = u.controlGroup, u.activeState != "inactive", u.activeState != "failed" {
            oom.watch(path: path, file: roots.sys + "/fs/cgroup" + cg + "/memory.events")
        }
    }

    /// The connection is gone (or never came): keep the last rows, retry with a doubling backoff up to 30 s.
    private func lose(_ why: String) {
        teardown()
        guard let loop else {
            status = .unavailable(why)
            return
        }
        status = .unavailable("\(why); reconnecting")
        log.warning("systemd: \(why); reconnecting in \(backoff) s")
        changed()
        let delay = backoff
        backoff = min(backoff * 2, 30)
        reconnectTimer = loop.addOneShot(after: delay) { [weak self] in
            self?.reconnectTimer = nil
            self?.connect()
        }
    }

    private func teardown() {
        if let t = timeoutTimer { loop?.cancelOneShot(t) }
        timeoutTimer = nil
        if let t = reconnectTimer { loop?.cancelOneShot(t) }
        reconnectTimer = nil
        for s in matches { shd_bus_slot_unref(s) }
        matches = []
        for call in pending.values {
            // The reply will not come: the reference sd-bus held is released here.
            guard let s = call.slot else { continue }
            shd_bus_slot_unref(s)
            call.slot = nil
            Unmanaged.passUnretained(call).release()
        }
        pending = [:]
        clearFetches()
        if fd >= 0 { loop?.unwatchDescriptor(fd) }
        fd = -1
        if let b = bus { _ = shd_bus_flush_close_unref(b) }
        bus = nil
    }

    // MARK: Calls and signals

    /// Sends a method call; false when it could not be sent (no connection, no memory).
    @discardableResult
    private func call(_ path: String, _ interface: String, _ member: String, _ args: [String] = [],
                      then: @escaping (Result<[BusValue], BusDecodingError>) -> Void) -> Bool {
        guard let bus else { return false }
        var m: OpaquePointer?
        guard shd_bus_message_new_method_call(bus, &m, systemdService, path, interface, member) >= 0, let m else { return false }
        defer { _ = shd_bus_message_unref(m) }
        for a in args { _ = a.withCString { shd_bus_message_append_basic(m, CChar(UInt8(ascii: "s")), $0) } }
        let box = PendingCall(then)
        let opaque = Unmanaged.passRetained(box).toOpaque()
        var slot: OpaquePointer?
        if shd_bus_call_async(bus, &slot, m, replyHandler, opaque, 25_000_000) < 0 {
            Unmanaged<PendingCall>.fromOpaque(opaque).release()
            return false
        }
        box.slot = slot
        // The table keeps the box while its reply is due (the reply handler takes sd-bus's reference back).
        pending[ObjectIdentifier(box)] = box
        return true
    }

    fileprivate func signal(_ m: OpaquePointer) {
        signalsReceived += 1
        let member = shd_bus_message_get_member(m).map { String(cString: $0) } ?? ""
        let path = shd_bus_message_get_path(m).map { String(cString: $0) } ?? ""
        guard let body = try? readBusBody(m) else { return }
        switch member {
        case "PropertiesChanged":
            guard let (iface, changedProps, invalidated) = try? decodePropertiesChanged(body) else { return }
            if units[path] == nil {
                // A unit shd has not listed (UnitNew came before the listing): learn it whole.
                guard let id = changedProps.first(where: { $0.0 == "Id" })?.1.string ?? unitName(fromPath: path) else { return }
                units[path] = SystemdUnit(name: id, path: path)
                pathByName[id] = path
                fetchProperties(path: path, type: units[path]?.typeInterface, gen: nil)
                return
            }
            if iface == unitInterface, units[path]?.activeState != "failed",
               changedProps.contains(where: { $0.0 == "ActiveState" && $0.1.string == "failed" }) {
                // systemd 252 passes a failing unit with Restart= through "failed" and on into "activating
                // (auto-restart)" in one step, and can send the change signal in between: a crash loop would be seen
                // as failed. The state is read back instead: PID 1 answers once that step is done (one round trip).
                fetchProperties(path: path, type: units[path]?.typeInterface, gen: nil)
                return
            }
            update(path: path, changedProps)
            if !invalidated.isEmpty { fetchProperties(path: path, type: iface == unitInterface ? nil : iface, gen: nil) } else { changed() }
        case "UnitNew":
            guard let (name, upath) = try? decodeUnitSignal(body), units[upath] == nil else { return }
            units[upath] = SystemdUnit(name: name, path: upath)
            pathByName[name] = upath
            fetchProperties(path: upath, type: units[upath]?.typeInterface, gen: nil)
        case "UnitRemoved":
            guard let (name, upath) = try? decodeUnitSignal(body) else { return }
            oom.unwatch(path: upath)
            if units.removeValue(forKey: upath) != nil {
                pathByName[name] = nil
                changed()
            }
        case "JobRemoved":
            // The unit's state after its job (dbusmock and older managers send no PropertiesChanged for it).
            guard let (name, _) = try? decodeJobRemoved(body), let upath = pathByName[name] else { return }
            fetchProperties(path: upath, type: units[upath]?.typeInterface, gen: nil)
        case "Reloading":
            // daemon-reload finished: load states may have changed (a fixed or broken unit file).
            if body.first?.bool == false { resync() }
        case "NameOwnerChanged":
            // systemd re-executed (or came up): subscribe and list again.
            if body.count >= 3, let owner = body[2].string, !owner.isEmpty {
                log.notice("systemd: the manager is back on the bus (daemon-reexec?); listing units again")
                resync()
            }
        default: break
        }
    }

    // MARK: The loop

    /// One sd_bus_process per ready message until it has nothing left, then the fd's interest and the timeout again.
    private func pump() {
        guard let bus else { return }
        while true {
            let r = shd_bus_process(bus, nil)
            if r < 0 {
                lose("the system bus connection ended (\(String(cString: strerror(-r))))")
                return
            }
            if r == 0 { break }
        }
        pendingSweep()
        guard let loop else { return }
        let events = shd_bus_get_events(bus)
        loop.watchDescriptor(fd, read: events & Int32(POLLIN) != 0 || events < 0, write: events > 0 && events & Int32(POLLOUT) != 0) { [weak self] in
            self?.pump()
        }
        if let t = timeoutTimer { loop.cancelOneShot(t) }
        timeoutTimer = nil
        var usec: UInt64 = 0
        if shd_bus_get_timeout(bus, &usec) >= 0, usec != .max {
            let delay = max(0, Double(usec) / 1e6 - monotonicSeconds())
            timeoutTimer = loop.addOneShot(after: delay) { [weak self] in
                self?.timeoutTimer = nil
                self?.pump()
            }
        }
    }

    /// Forgets the calls whose replies came (their boxes went back to ARC in the reply handler).
    private func pendingSweep() {
        pending = pending.filter { $0.value.slot != nil }
    }

    // MARK: Without the loop (one-shot commands)

    /// Connects, lists and reads every unit's properties, blocking up to `timeout` seconds (shd report).
    public func refreshBlocking(roots: SourceRoots, timeout: Double = 10) {
        self.roots = roots
        connect()
        let end = monotonicSeconds() + timeout
        while let bus, status == .listing, monotonicSeconds() < end {
            let r = shd_bus_process(bus, nil)
            if r < 0 {
                status = .unavailable("the system bus connection ended (\(String(cString: strerror(-r))))")
                break
            }
            if r == 0 { _ = shd_bus_wait(bus, UInt64(max(0, end - monotonicSeconds()) * 1e6)) }
        }
        if status == .listing { status = .unavailable("no complete answer from systemd within \(Int(timeout)) s") }
        pendingSweep()
        teardown()
    }
}

/// A D-Bus error's first line (a Python service puts its whole traceback in the message).
func firstLine(_ s: String) -> String {
    String(s.prefix { $0 != "\n" })
}

/// The unit name of an object path: `/org/freedesktop/systemd1/unit/nginx_2eservice` → `nginx.service`
/// (sd-bus escapes every byte outside [A-Za-z0-9] as `_xx`).
public func unitName(fromPath path: String) -> String? {
    let prefix = "/org/freedesktop/systemd1/unit/"
    guard path.hasPrefix(prefix) else { return nil }
    var out: [UInt8] = []
    var b = Array(path.utf8.dropFirst(prefix.utf8.count))[...]
    while let c = b.first {
        if c == UInt8(ascii: "_"), b.count >= 3, let v = UInt8(String(decoding: b.dropFirst().prefix(2), as: UTF8.self), radix: 16) {
            out.append(v)
            b = b.dropFirst(3)
        } else {
            out.append(c)
            b = b.dropFirst()
        }
    }
    return String(decoding: out, as: UTF8.self)
}
