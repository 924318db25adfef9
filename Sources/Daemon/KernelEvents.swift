// The kernel's notifications on the loop: which sources open, what the rules' PSI thresholds become, who is polled.
import Rules
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// A PSI trigger one or more rules imply (docs/rules.md, "Kernel events").
public struct PressureTriggerSpec: Equatable, Sendable {
    public var resource: String
    public var kind: String
    public var stallMicroseconds: Int
    public var windowMicroseconds: Int
    public var line: String { "\(kind) \(stallMicroseconds) \(windowMicroseconds)" }
}

/// The kernel's longest PSI window, and a multiple of 2 s, which unprivileged triggers need (Linux 6.5+).
let psiWindowMicroseconds = 10_000_000

/// Rules on `pressure.{cpu,memory,io}` whose condition needs `avg10`, `avg60` or `avg300` above T percent
/// (`warn avg60 > 10`) become the trigger `KIND T%×10s 10s`: the kernel says when tasks were stalled for
/// T percent of some 10 s window. An average over 60 or 300 s can only pass T after some 10 s window
/// did (nearly: the kernel's averages are decaying ones), so the trigger wakes shd when the rule may have
/// become true; the rule's own condition, read from the file at that moment, still decides, and the
/// poll at the rules' interval stays (it ends a breach, and catches what a trigger could miss).
/// KIND is the rule's `where kind == "…"`, else `some` (a `full` stall is also a `some` stall). At most
/// four triggers per resource, the lowest thresholds.
public func pressureTriggers(for rules: [AlertRule]) -> [PressureTriggerSpec] {
    var out: [PressureTriggerSpec] = []
    for r in rules where r.worker == "pressure" && ["cpu", "memory", "io"].contains(r.function) {
        for t in r.risingThresholds where ["avg10", "avg60", "avg300"].contains(t.field) && t.value >= 0 && t.value < 100 {
            let kind = t.labels["kind"] ?? "some"
            guard kind == "some" || kind == "full" else { continue }
            let stall = max(1, min(psiWindowMicroseconds, Int(t.value / 100 * Double(psiWindowMicroseconds))))
            let spec = PressureTriggerSpec(resource: r.function, kind: kind, stallMicroseconds: stall, windowMicroseconds: psiWindowMicroseconds)
            if !out.contains(spec) { out.append(spec) }
        }
    }
    var kept: [PressureTriggerSpec] = []
    for res in ["cpu", "memory", "io"] {
        kept += out.filter { $0.resource == res }.sorted { ($0.kind, $0.stallMicroseconds) < ($1.kind, $1.stallMicroseconds) }.prefix(4)
    }
    return kept
}

/// Re-reads of `pressure.*` after a PSI trigger. The kernel updates the averages rules read (avg10, avg60, avg300) every
/// 2 s, not when it fires a trigger: read at the trigger's event, the average may not show the stall yet (BENCHMARKS
/// §15c: one round waited 2.8 s for the next tick). So the functions a trigger named are read again each `step` for
/// one trigger window; a trigger within the window extends it. The kernel fires a trigger at most once per window,
/// so this is at most window/step reads per trigger.
struct PressureFollowUp: Equatable {
    static let step = 1.0
    static let window = Double(psiWindowMicroseconds) / 1e6
    /// Monotonic time until which each function is re-read.
    private(set) var until: [String: Double] = [:]
    /// When the next re-read is due; nil when none is.
    private(set) var next: Double?

    /// A trigger for `functions` fired at `now`.
    mutating func triggered(_ functions: [String], now: Double) {
        for f in functions { until[f] = max(until[f] ?? 0, now + Self.window) }
        if next == nil { next = now + Self.step }
    }

    /// The functions to read at `now` (the re-read that was due); schedules the next one while any window lasts.
    mutating func due(now: Double) -> [String] {
        guard let n = next, now >= n - 0.001 else { return [] }
        let read = until.filter { $0.value >= n - 0.001 }.keys.sorted()
        // A window that ends before the next step has had its last read.
        until = until.filter { $0.value >= now + Self.step - 0.001 }
        next = until.isEmpty ? nil : now + Self.step
        return read
    }
}

/// Opens the kernel event sources on the loop and hands their events to the daemon.
final class KernelEvents {
    private let loop: EventLoop
    private let log: Logger
    private let onEvent: ([String], KernelEventSource) -> Void
    /// rtnetlink links, uevents, mdstat: opened once.
    private(set) var fixed: [KernelEventSource] = []
    /// PSI triggers: follow the rules, replaced on reload.
    private(set) var triggers: [PressureTrigger] = []
    private var triggerFailures: Set<String> = []

    init(loop: EventLoop, log: Logger, onEvent: @escaping ([String], KernelEventSource) -> Void) {
        self.loop = loop
        self.log = log
        self.onEvent = onEvent
    }

    var sources: [KernelEventSource] { fixed + triggers }

    /// `SHD_KERNEL_EVENTS=0` in the environment opens none: every function is polled as before the
    /// kernel events existed (for comparing the two, BENCHMARKS.md §9, and as a way out should a source misbehave).
    static let disabled: Bool = getenv("SHD_KERNEL_EVENTS").map { String(cString: $0) == "0" } ?? false

    /// The sources that do not depend on the rules, on the live system only (a fixture tree has no kernel).
    func openFixed(workers: [Worker], roots: SourceRoots) {
        guard roots.live, roots.rootFS == nil, !Self.disabled else { return }
        let names = Set(workers.map(\.name))
        for w in workers {
            for case let f as InterfacesFunction in w.functions {
                if let m = f.openEventSource(roots) { add(m) } else {
                    log.info("rtnetlink unavailable (\(SystemError("socket(AF_NETLINK)").description)); link state is read from sysfs each tick")
                }
            }
        }
        if !names.isDisjoint(with: ["disk", "network", "hardware"]) {
            if let u = UeventMonitor() { add(u) } else {
                log.info("uevents unavailable (\(SystemError("socket(NETLINK_KOBJECT_UEVENT)").description)); devices are found at the next tick")
            }
        }
        if names.contains("hardware"), let m = MdstatMonitor(proc: roots.proc) { add(m) }
    }

    /// Replaces the PSI triggers with those `rules` imply. A trigger the kernel refuses (EACCES before
    /// Linux 6.5 without CAP_SYS_RESOURCE, no PSI) is logged once and its function stays polled.
    func openTriggers(rules: [AlertRule], roots: SourceRoots) {
        for t in triggers { loop.unwatch(fd: t.fd) }
        triggers = []
        guard roots.live, roots.rootFS == nil, !Self.disabled else { return }
        for s in pressureTriggers(for: rules) {
            do {
                let t = try PressureTrigger(proc: roots.proc, resource: s.resource, kind: s.kind,
                                            stallMicroseconds: s.stallMicroseconds, windowMicroseconds: s.windowMicroseconds)
                triggers.append(t)
                watch(t)
            } catch {
                if triggerFailures.insert("\(s.resource) \(s.line)").inserted {
                    log.info("PSI trigger \"\(s.line)\" on \(error.path) refused (\(error.message)); pressure.\(s.resource) is polled")
                }
            }
        }
    }

    private func add(_ s: KernelEventSource) {
        fixed.append(s)
        watch(s)
    }

    private func watch(_ s: KernelEventSource) {
        loop.watch(fd: s.fd, interest: s.priority ? .priority : .read) { [unowned self, unowned s] _ in
            let stale = s.drain()
            if !stale.isEmpty { self.onEvent(stale, s) }
        }
    }

    func close() {
        for s in sources { loop.unwatch(fd: s.fd) }
        fixed = []
        triggers = []
    }

    /// Every function of `workers` as `system.sources` shows it: polled at its interval (or every
    /// report_interval when no rule reads it), plus one row per kernel source that follows it.
    func modes(workers: [Worker], settings: DaemonSettings, inUse: [String: Set<String>], events: [String: Int64]) -> [SourceMode] {
        var out: [SourceMode] = []
        for w in workers {
            for f in w.functions where f.isActive {
                let name = w.name + "." + f.name
                let used = settings.textfileDir != nil || inUse[w.name]?.contains(f.name) == true
                let interval = used ? settings.interval(of: w.name) : max(settings.interval(of: w.name), settings.reportInterval)
                out.append(SourceMode(function: name, mode: "poll", mechanism: "timerfd", intervalSeconds: interval))
                for s in sources where s.functions.contains(name) {
                    out.append(SourceMode(function: name, mode: "event", mechanism: s.mechanism, events: events[s.mechanism] ?? 0))
                }
            }
        }
        return out
    }
}
