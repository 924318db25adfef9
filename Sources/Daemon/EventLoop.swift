// The single-threaded epoll loop: file handlers, one-shot timers and repeating timerfds.
import Kit
import CLinux
import Notify
import Reports
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// One epoll instance run on one thread. In the spirit of chrony's scheduler: add a file
/// handler, add a timer, remove either. Everything shd does happens in a handler.
///
/// - Important: handlers must not block. A slow receiver is a curl socket here; a hung
///   statvfs runs on a helper thread with a deadline (see the disk worker).
public final class EventLoop: EventHost {
    private let epfd: Int32
    private var handlers: [Int32: (IOInterest, (IOInterest) -> Void)] = [:]

    /// One-shot timers share one timerfd, armed for the earliest deadline once a loop turn, just before the loop
    /// waits (libcurl moves its timeout at nearly every call: arming at each change was a timerfd_settime per
    /// change, 11 % of the daemon's CPU with 1,000 HTTP probes, BENCHMARKS §9b). A timer already due when the loop is
    /// about to wait is run after a wait of zero, so file handlers ready meanwhile still get their turn.
    private let timerFD: Int32
    private var timers: [Int: (deadline: Double, handler: () -> Void)] = [:]
    private var nextTimerID = 1
    private var armedDeadline: Double = .infinity

    /// Repeating timers each own a timerfd (worker intervals).
    private var repeating: [Int: Int32] = [:]

    /// Work queued by `runSoon`, run once the current batch of ready fds has been handled. What that work queues in
    /// turn runs in the next loop turn, after a look (without waiting) at the descriptors and timers.
    private var soon: [() -> Void] = []

    private var running = false

    public init() throws(SystemError) {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        if epfd < 0 { throw SystemError("epoll_create1") }
        timerFD = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC | TFD_NONBLOCK))
        if timerFD < 0 { throw SystemError("timerfd_create") }
        watch(fd: timerFD, interest: .read) { [unowned self] _ in
            drain(self.timerFD)
            self.armedDeadline = .infinity
            self.fireDueTimers()
        }
    }

    deinit {
        for fd in repeating.values { close(fd) }
        close(timerFD)
        close(epfd)
    }

    // MARK: File handlers

    public func watch(fd: Int32, interest: IOInterest, handler: @escaping (IOInterest) -> Void) {
        var ev = epoll_event()
        ev.events = (interest.contains(.read) ? EPOLLIN.rawValue : 0) | (interest.contains(.write) ? EPOLLOUT.rawValue : 0)
            | (interest.contains(.priority) ? EPOLLPRI.rawValue : 0)
        ev.data.fd = fd
        let op = handlers[fd] == nil ? EPOLL_CTL_ADD : EPOLL_CTL_MOD
        if epoll_ctl(epfd, op, fd, &ev) != 0 && op == EPOLL_CTL_MOD {
            _ = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)
        }
        handlers[fd] = (interest, handler)
    }

    public func unwatch(fd: Int32) {
        guard handlers.removeValue(forKey: fd) != nil else { return }
        var ev = epoll_event()
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev)
    }

    // MARK: Timers

    @discardableResult
    public func addTimer(after seconds: Double, handler: @escaping () -> Void) -> TimerID {
        let id = nextTimerID
        nextTimerID += 1
        let deadline = monotonicSeconds() + max(0, seconds)
        timers[id] = (deadline, handler)
        return TimerID(raw: id)
    }

    public func cancelTimer(_ id: TimerID) {
        if let r = repeating.removeValue(forKey: id.raw) {
            unwatch(fd: r)
            close(r)
            return
        }
        timers.removeValue(forKey: id.raw)
    }

    /// Calls `handler` every `interval` seconds, first after `initialDelay`, on a timerfd of its own.
    /// The handler gets the number of expirations since the last call (more than 1 = ticks were missed).
    /// Throws when the timerfd cannot be made or armed (EMFILE: out of file descriptors); nothing is left behind.
    @discardableResult
    public func addRepeatingTimer(interval: Double, initialDelay: Double? = nil,
                                  handler: @escaping (UInt64) -> Void) throws(SystemError) -> TimerID {
        let fd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC | TFD_NONBLOCK))
        if fd < 0 { throw SystemError("timerfd_create") }
        var spec = itimerspec(it_interval: timespecFrom(interval), it_value: timespecFrom(max(initialDelay ?? interval, 1e-6)))
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.fd = fd
        func fail(_ call: String) -> SystemError {
            let e = SystemError(call)
            close(fd)
            return e
        }
        if timerfd_settime(fd, 0, &spec, nil) != 0 { throw fail("timerfd_settime") }
        if epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0 { throw fail("epoll_ctl") }
        let id = nextTimerID
        nextTimerID += 1
        repeating[id] = fd
        handlers[fd] = (.read, { _ in
            let n = drain(fd)
            if n > 0 { handler(n) }
        })
        return TimerID(raw: id)
    }

    private func arm(_ deadline: Double) {
        armedDeadline = deadline
        let delta = max(deadline - monotonicSeconds(), 1e-6)
        var spec = itimerspec(it_interval: timespec(), it_value: timespecFrom(delta))
        timerfd_settime(timerFD, 0, &spec, nil)
    }

    private func fireDueTimers() {
        let now = monotonicSeconds()
        let due = timers.filter { $0.value.deadline <= now }.sorted { $0.value.deadline < $1.value.deadline }
        for (id, t) in due {
            // A handler may have cancelled a later one of this batch.
            guard timers.removeValue(forKey: id) != nil else { continue }
            t.handler()
        }
    }

    /// Before the loop waits: the epoll timeout in ms for the one-shot timers (0 when one is due now; else -1, the
    /// timerfd armed for the earliest deadline if it is not already). `cap` bounds the wait (`run(until:)`; 0 while
    /// work is queued).
    private func prepareTimers(cap: Int32 = -1) -> Int32 {
        var earliest = Double.infinity
        for t in timers.values where t.deadline < earliest { earliest = t.deadline }
        if earliest <= monotonicSeconds() { return 0 }
        if earliest != armedDeadline && (earliest.isFinite || armedDeadline.isFinite) {
            if earliest.isFinite { arm(earliest) } else { disarm() }
        }
        return cap
    }

    private func disarm() {
        armedDeadline = .infinity
        var spec = itimerspec()
        timerfd_settime(timerFD, 0, &spec, nil)
    }

    /// Calls `handler` after every handler of the current epoll batch has run (before the loop
    /// waits again): work that several handlers of one turn ask for — one rule evaluation after
    /// the worker timers that fired together — runs once, without a timer and its system calls.
    public func runSoon(_ handler: @escaping () -> Void) {
        soon.append(handler)
    }

    /// Runs the work queued so far, once; work it queues waits for the next turn. A chain of work (the journal's
    /// backlog read 2,000 entries at a time) thus leaves every turn to signals, ticks and clients between its steps,
    /// instead of running to its end first.
    private func runQueued() {
        guard !soon.isEmpty else { return }
        let batch = soon
        soon = []
        for h in batch { h() }
    }

    /// Hands the ready descriptors of one `epoll_wait` to their handlers; stops early when a handler stopped the loop.
    private func dispatch(_ events: UnsafeMutableBufferPointer<epoll_event>, _ n: Int) {
        for i in 0..<n {
            let fd = events[i].data.fd
            let e = events[i].events
            guard let h = handlers[fd] else { continue }
            var ready: IOInterest = []
            if e & EPOLLIN.rawValue != 0 { ready.insert(.read) }
            if e & EPOLLOUT.rawValue != 0 { ready.insert(.write) }
            if e & EPOLLPRI.rawValue != 0 { ready.insert(.priority) }
            if e & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { ready = [.read, .write] }
            h.1(ready)
            if !running { break }
        }
    }

    // MARK: Running

    /// Runs until `stop()` is called from a handler.
    public func run() {
        running = true
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while running {
            runQueued()
            if !running { break }
            // Work still queued: look at the descriptors without waiting.
            let wait = prepareTimers(cap: soon.isEmpty ? -1 : 0)
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, 64, wait) }
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            defer { if wait == 0 && running { fireDueTimers() } }
            events.withUnsafeMutableBufferPointer { dispatch($0, Int(n)) }
        }
    }

    /// Runs until `condition` is true or `timeout` seconds pass (commands and tests).
    public func run(until condition: () -> Bool, timeout: Double) {
        let end = monotonicSeconds() + timeout
        running = true
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while running && !condition() {
            runQueued()
            if !running || condition() { break }
            let left = end - monotonicSeconds()
            if left <= 0 { break }
            let wait = prepareTimers(cap: soon.isEmpty ? Int32(min(left, 1) * 1000) + 1 : 0)
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, 64, wait) }
            if n < 0 { if errno == EINTR { continue } else { break } }
            defer { if wait == 0 && running { fireDueTimers() } }
            events.withUnsafeMutableBufferPointer { dispatch($0, Int(n)) }
        }
        running = false
    }

    public func stop() { running = false }
}

/// Workers that follow events (the systemd worker's bus, its cgroups' inotify) are hosted like Notify's sockets.
extension EventLoop: WorkerLoop {
    public func watchDescriptor(_ fd: Int32, read: Bool, write: Bool, handler: @escaping () -> Void) {
        var interest: IOInterest = []
        if read { interest.insert(.read) }
        if write { interest.insert(.write) }
        watch(fd: fd, interest: interest) { _ in handler() }
    }
    public func unwatchDescriptor(_ fd: Int32) { unwatch(fd: fd) }
    public func addOneShot(after seconds: Double, handler: @escaping () -> Void) -> Int { addTimer(after: seconds, handler: handler).raw }
    public func cancelOneShot(_ id: Int) { cancelTimer(TimerID(raw: id)) }
}

/// A failed system call, with errno's text.
public struct SystemError: Error, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public init(_ call: String, errno e: Int32 = Glibc.errno) {
        self.call = call
        self.errno = e
    }
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

func timespecFrom(_ s: Double) -> timespec {
    let whole = Int(s)
    return timespec(tv_sec: whole, tv_nsec: Int((s - Double(whole)) * 1e9))
}

/// Reads a timerfd/eventfd counter; 0 when nothing was pending.
@discardableResult
func drain(_ fd: Int32) -> UInt64 {
    var v: UInt64 = 0
    let n = read(fd, &v, 8)
    return n == 8 ? v : 0
}
