// Host names of channels whose peers are what a name resolves to (`resolve_peers`), looked up off the loop.
import CLinux
import Kit
import Reports
#if canImport(Glibc)
import Glibc
#endif

/// Looks up each wanted host name on a thread of its own (`shd_resolve_start`: getaddrinfo, which may wait seconds
/// for a DNS server that does not answer) and hands the addresses back on the loop, through a socket pair the loop
/// watches.
/// One lookup per name is in flight at a time; the next starts `every` seconds after the last one ended. A failed or
/// empty lookup keeps the addresses the name had (a DNS hiccup does not take the peers away); `changed` is called
/// only when a lookup brings a different set.
final class PeerResolver {
    private final class Name {
        var every: Double
        /// Sorted, without duplicates; nil until a lookup succeeds.
        var addresses: [String]?
        var readFD: Int32 = -1
        var buffer: [UInt8] = []
        var timer: TimerID?
        var lastFailure: String?
        /// A lookup has ended (with addresses or not).
        var looked = false
        init(every: Double) { self.every = every }
    }

    private let host: EventHost
    private let log: LogSink
    private let changed: () -> Void
    private var names: [String: Name] = [:]

    init(host: EventHost, log: LogSink, changed: @escaping () -> Void) {
        self.host = host
        self.log = log
        self.changed = changed
    }

    deinit { update([]) }

    /// The addresses of every name looked up so far.
    var resolved: [String: [String]] {
        var out: [String: [String]] = [:]
        for (n, s) in names { if let a = s.addresses { out[n] = a } }
        return out
    }

    /// Every name has been looked up once (`shd notify test` waits for it, so it tries every peer).
    var settled: Bool { names.values.allSatisfy(\.looked) }

    /// The names to follow now (a name given twice follows the shortest interval); lookups of names no longer
    /// wanted stop (a thread in getaddrinfo finishes into a socket nobody reads), new names are looked up at once.
    func update(_ wanted: [(host: String, every: Double)]) {
        var every: [String: Double] = [:]
        for w in wanted { every[w.host] = min(every[w.host] ?? .infinity, w.every) }
        for (n, s) in names where every[n] == nil {
            stop(s)
            names[n] = nil
        }
        for (n, e) in every {
            if let s = names[n] { s.every = e; continue }
            let s = Name(every: e)
            names[n] = s
            start(n, s)
        }
    }

    private func stop(_ s: Name) {
        if let t = s.timer { host.cancelTimer(t) }
        s.timer = nil
        if s.readFD >= 0 {
            host.unwatch(fd: s.readFD)
            close(s.readFD)
            s.readFD = -1
        }
    }

    private func start(_ name: String, _ s: Name) {
        s.timer = nil
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            finish(name, s, failure: "socketpair: \(String(cString: strerror(errno)))")
            return
        }
        let rc = shd_resolve_start(name, fds[1])
        if rc != 0 {
            close(fds[0])
            close(fds[1])
            finish(name, s, failure: "cannot start a lookup thread: \(String(cString: strerror(rc)))")
            return
        }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        s.readFD = fds[0]
        s.buffer = []
        host.watch(fd: fds[0], interest: .read) { [unowned self, unowned s] _ in self.readable(name, s) }
    }

    private func readable(_ name: String, _ s: Name) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(s.readFD, $0.baseAddress, $0.count) }
            if n > 0 {
                // A name has a few addresses; a lookup that writes more than 64 KiB is cut there.
                if s.buffer.count < 65536 { s.buffer += chunk[0..<n] }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            break
        }
        // End of the thread's answer.
        host.unwatch(fd: s.readFD)
        close(s.readFD)
        s.readFD = -1
        let lines = s.buffer.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
        if let first = lines.first, first.hasPrefix("!") {
            finish(name, s, failure: String(first.dropFirst()))
        } else if lines.isEmpty {
            finish(name, s, failure: "no address")
        } else {
            finish(name, s, addresses: Array(Set(lines)).sorted())
        }
    }

    private func finish(_ name: String, _ s: Name, addresses: [String]? = nil, failure: String? = nil) {
        s.looked = true
        if let failure {
            if failure != s.lastFailure {
                let keeping = s.addresses.map { "its peers stay \($0.joined(separator: ", "))" } ?? "sending to \(name) as one peer"
                log.log(.warning, "notify: resolve_peers: cannot look up \(name) (\(failure)); \(keeping)")
            }
            s.lastFailure = failure
        } else if let addresses {
            if s.lastFailure != nil { log.log(.notice, "notify: resolve_peers: \(name) resolves again") }
            s.lastFailure = nil
            if addresses != s.addresses {
                log.log(.notice, "notify: resolve_peers: \(name) is \(addresses.joined(separator: ", "))"
                    + (s.addresses.map { " (was \($0.joined(separator: ", ")))" } ?? ""))
                s.addresses = addresses
                changed()
            }
        }
        // `changed` may have replaced the channels; the name is followed still if it is still wanted.
        guard names[name] === s else { return }
        s.timer = host.addTimer(after: s.every) { [unowned self, unowned s] in
            guard self.names[name] === s else { return }
            self.start(name, s)
        }
    }
}
