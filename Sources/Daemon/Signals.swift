// Signals as events: blocked for every thread, read from a signalfd on the loop.
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The signals shd handles. They are blocked before any thread exists, so only the
/// signalfd sees them (signal handlers would run at arbitrary points; here they are just events).
public enum HandledSignals {
    public static let all: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1]

    /// Blocks the handled signals in the calling thread (call in main before any thread starts).
    public static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in all { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // A write to a closed pipe or socket must be an EPIPE error, not death: stderr piped to a reader that
        // went away, or OpenSSL writing to a TLS receiver that reset (curl runs with CURLOPT_NOSIGNAL, so it does
        // not ignore SIGPIPE itself). Exec children get the default back (Exec.swift resets it before exec).
        signal(SIGPIPE, SIG_IGN)
    }

    /// Restores the default mask (in a child before exec).
    public static func unblock() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in all { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

/// A signalfd registered on the loop; calls `handler` with each signal number.
public final class SignalSource {
    public let fd: Int32

    public init(loop: EventLoop, handler: @escaping (Int32) -> Void) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in HandledSignals.all { sigaddset(&set, s) }
        fd = signalfd(-1, &set, Int32(SFD_CLOEXEC | SFD_NONBLOCK))
        if fd < 0 { throw SystemError("signalfd") }
        let fd = self.fd
        loop.watch(fd: fd, interest: .read) { _ in
            var info = signalfd_siginfo()
            while read(fd, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
                handler(Int32(info.ssi_signo))
            }
        }
    }

    deinit { close(fd) }
}
