// What Notify needs from the daemon's event loop, so Notify never imports Daemon.

/// Readiness a file descriptor is watched for.
public struct IOInterest: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = IOInterest(rawValue: 1)
    public static let write = IOInterest(rawValue: 2)
    /// Urgent data (EPOLLPRI): a PSI trigger fired, /proc/mdstat or mountinfo changed.
    public static let priority = IOInterest(rawValue: 4)
}

/// Opaque handle of a timer set on an `EventHost`.
public struct TimerID: Hashable, Sendable {
    public let raw: Int
    public init(raw: Int) { self.raw = raw }
}

/// The single-threaded event loop that drives deliveries (curl's multi-socket API, exec children).
///
/// All callbacks run on the loop's thread. Implementations: the daemon's epoll loop, and a
/// poll(2)-based loop for one-shot commands and tests (`PollHost`).
public protocol EventHost: AnyObject {
    /// Watches `fd` for `interest`; calling again for the same fd replaces the interest and handler.
    /// The handler gets what is ready (read/write; an error or hang-up is reported as both).
    func watch(fd: Int32, interest: IOInterest, handler: @escaping (IOInterest) -> Void)
    /// Stops watching `fd` (no-op if it is not watched). Call before closing it.
    func unwatch(fd: Int32)
    /// Runs `handler` once after `seconds` (0 = on the next loop turn).
    @discardableResult
    func addTimer(after seconds: Double, handler: @escaping () -> Void) -> TimerID
    func cancelTimer(_ id: TimerID)
}
