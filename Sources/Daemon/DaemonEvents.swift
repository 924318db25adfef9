// Event sources on the daemon's loop: entries in, the engine's event rules, transitions committed like a tick's.
#if canImport(Glibc)
import Glibc
#endif
import Kit
import Reports
import Rules

enum DaemonEvents {
    /// Entries per second one source may hand the engine; more are dropped and counted (a log storm stays one
    /// alert with a growing count, and must not take a core).
    static let entriesPerSecond = 20_000.0
}

extension Daemon {
    /// Opens the kernel log while some event rule reads the `journal` source, closes it when none does.
    /// `SHD_TEST_KMSG=PATH` reads records from a FIFO instead of /dev/kmsg (process tests).
    func startEventSources() {
        guard engine.eventSources.contains("journal") else {
            if let k = kmsg {
                loop.unwatch(fd: k.fd)
                kmsg = nil
            }
            return
        }
        guard kmsg == nil else { return }
        let path = getenv("SHD_TEST_KMSG").map { String(cString: $0) } ?? "/dev/kmsg"
        do {
            let k = try KmsgSource(path: path)
            kmsg = k
            loop.watch(fd: k.fd, interest: .read) { [unowned self] _ in self.readKernelLog() }
            log.notice("event rules read kernel messages from \(path)")
        } catch {
            log.error("event rules on journal have no kernel messages: \(error) (shd needs read access to /dev/kmsg: CAP_SYSLOG or kernel.dmesg_restrict=0)")
        }
    }

    /// Records available on the kernel log: through the rate limit into the engine; transitions are committed.
    func readKernelLog() {
        guard let k = kmsg else { return }
        let now = Timestamp.now()
        let mono = monotonicSeconds()
        var entries = k.readAvailable(now: now)
        entries.removeAll { _ in !eventLimit.admit(now: mono) }
        if eventLimit.dropped > eventDropLog.count, mono - eventDropLog.at >= 60 {
            log.warning("kernel log: dropped \(eventLimit.dropped - eventDropLog.count) entries over the rate limit of \(Int(DaemonEvents.entriesPerSecond))/s (\(eventLimit.dropped) since start, \(k.lost) overwritten before shd read them)")
            eventDropLog = (eventLimit.dropped, mono)
        }
        guard !entries.isEmpty else { return }
        let events = engine.ingest(entries, now: now)
        recordEngineNotes()
        if !events.isEmpty {
            announce(events, always: true)
            flushAlertLog()
        }
    }
}
