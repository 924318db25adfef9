// system.sources: how each function's data reaches shd, by the kernel's event or by a timer, and how often.
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// One way a function is read: polled on a timer, or woken by a kernel event.
public struct SourceMode: Equatable, Sendable {
    public var function: String
    /// `event` or `poll`.
    public var mode: String
    /// `timerfd`, `rtnetlink RTMGRP_LINK`, `PSI trigger "full 1000000 10000000"`, …
    public var mechanism: String
    /// For a poll: seconds between reads (the rules' interval, or report_interval for a function no rule reads).
    public var intervalSeconds: Double?
    public var events: Int64

    public init(function: String, mode: String, mechanism: String, intervalSeconds: Double? = nil, events: Int64 = 0) {
        self.function = function
        self.mode = mode
        self.mechanism = mechanism
        self.intervalSeconds = intervalSeconds
        self.events = events
    }
}

/// The daemon's table of source modes; `system.sources` reads it. Empty outside `shd run`.
public final class SourceModes: @unchecked Sendable {
    public static let shared = SourceModes()
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var modes: [SourceMode] = []

    public init() {
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    public var all: [SourceMode] {
        get {
            pthread_mutex_lock(lock)
            defer { pthread_mutex_unlock(lock) }
            return modes
        }
        set {
            pthread_mutex_lock(lock)
            defer { pthread_mutex_unlock(lock) }
            modes = newValue
        }
    }

    /// Counts one event of every `event` row with this mechanism.
    public func noteEvent(mechanism: String) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        for i in modes.indices where modes[i].mechanism == mechanism && modes[i].mode == "event" { modes[i].events += 1 }
    }
}

/// `system.sources`: one row per function and way it is read.
public final class SystemSourcesFunction: MetricFunction {
    public static let schema = FunctionSchema(name: "sources", help: "How each function is read: kernel events or a timer, and how often", fields: [
        FieldSchema("function", .label, help: "worker.function"),
        FieldSchema("mode", .label, help: "event: the kernel wakes shd when the data changes; poll: read on a timer"),
        FieldSchema("mechanism", .label, help: "timerfd, rtnetlink RTMGRP_LINK, uevent NETLINK_KOBJECT_UEVENT, PSI trigger \"…\", poll(2) POLLPRI on /proc/mdstat"),
        FieldSchema("interval_seconds", .number, unit: "seconds", help: "For a poll: seconds between reads (absent for events)"),
        FieldSchema("events_total", .counter, help: "Kernel events received since start (events only)"),
    ])

    private let modes: SourceModes

    public init(modes: SourceModes = .shared) { self.modes = modes }

    public func collect(_ ctx: CollectContext) throws -> [Row] {
        modes.all.map { m in
            var r = Row()
            r.append("function", .string(m.function))
            r.append("mode", .string(m.mode))
            r.append("mechanism", .string(m.mechanism))
            if let i = m.intervalSeconds { r.append("interval_seconds", .double(i)) }
            if m.mode == "event" { r.append("events_total", .int(m.events)) }
            return r
        }
    }
}
