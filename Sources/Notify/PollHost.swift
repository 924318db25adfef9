// A poll(2)-based EventHost for one-shot commands (`shd notify test`) and tests.
import Kit
#if canImport(Glibc)
import Glibc
#endif

/// A single-threaded event loop over poll(2): file-descriptor watches and one-shot timers.
///
/// The daemon has its own epoll loop; this one serves commands that run outside the daemon and tests.
/// Handlers run on the thread that calls `run`.
public final class PollHost: EventHost {
    private struct Watch {
        var interest: IOInterest
        var handler: (IOInterest) -> Void
        /// Changes on every `watch`, so a handler replaced during one poll round is not called with stale readiness.
        var generation: Int
    }

    private struct PendingTimer {
        var deadline: Double
        var handler: () -> Void
    }

    private var watches: [Int32: Watch] = [:]
    private var timers: [Int: PendingTimer] = [:]
    private var nextID = 1

    public init() {}

    /// Number of file descriptors watched (tests check that nothing leaks).
    public var watchCount: Int { watches.count }
    /// Number of timers pending.
    public var timerCount: Int { timers.count }

    public func watch(fd: Int32, interest: IOInterest, handler: @escaping (IOInterest) -> Void) {
        nextID += 1
        watches[fd] = Watch(interest: interest, handler: handler, generation: nextID)
    }

    public func unwatch(fd: Int32) { watches[fd] = nil }

    @discardableResult
    public func addTimer(after seconds: Double, handler: @escaping () -> Void) -> TimerID {
        nextID += 1
        timers[nextID] = PendingTimer(deadline: monotonicSeconds() + max(0, seconds), handler: handler)
        return TimerID(raw: nextID)
    }

    public func cancelTimer(_ id: TimerID) { timers[id.raw] = nil }

    /// Runs the loop until `done()` is true (checked after every turn) or `timeout` seconds passed.
    /// Returns whether `done()` became true.
    @discardableResult
    public func run(until done: () -> Bool, timeout: Double) -> Bool {
        let end = monotonicSeconds() + timeout
        while !done() {
            let now = monotonicSeconds()
            if now >= end { return false }
            turn(maxWait: end - now)
        }
        return true
    }

    /// One turn: waits for readiness or the next timer (at most `maxWait` seconds), then runs what is due.
    public func turn(maxWait: Double) {
        var wait = maxWait
        let now = monotonicSeconds()
        for t in timers.values { wait = min(wait, t.deadline - now) }
        let ms = wait <= 0 ? 0 : Int32(min((wait * 1000).rounded(.up), 3_600_000))

        let fds = Array(watches.keys)
        var polls = fds.map { fd -> pollfd in
            let w = watches[fd]!
            var ev: Int16 = 0
            if w.interest.contains(.read) { ev |= Int16(POLLIN) }
            if w.interest.contains(.write) { ev |= Int16(POLLOUT) }
            if w.interest.contains(.priority) { ev |= Int16(POLLPRI) }
            return pollfd(fd: fd, events: ev, revents: 0)
        }
        let generations = fds.map { watches[$0]!.generation }
        let n = poll(&polls, nfds_t(polls.count), ms)
        if n > 0 {
            for (i, p) in polls.enumerated() where p.revents != 0 {
                // Skip a watch removed or replaced by an earlier handler of this round.
                guard let w = watches[p.fd], w.generation == generations[i] else { continue }
                var ready: IOInterest = []
                if p.revents & Int16(POLLIN) != 0 { ready.insert(.read) }
                if p.revents & Int16(POLLOUT) != 0 { ready.insert(.write) }
                if p.revents & Int16(POLLPRI) != 0 { ready.insert(.priority) }
                if p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { ready = [.read, .write] }
                w.handler(ready)
            }
        }
        runDueTimers()
    }

    private func runDueTimers() {
        let now = monotonicSeconds()
        let due = timers.filter { $0.value.deadline <= now }.sorted {
            ($0.value.deadline, $0.key) < ($1.value.deadline, $1.key)
        }
        for (id, _) in due {
            // A handler may have cancelled a later one.
            guard let t = timers.removeValue(forKey: id) else { continue }
            t.handler()
        }
    }
}
