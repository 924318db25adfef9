// The exec channel's children: posix_spawn without a shell, stdin fed from the loop, a timeout, reaping.
import Kit
#if canImport(Glibc)
import Glibc
#endif

/// How a child ended.
struct ExecResult {
    /// Set when the program could not be started at all (ENOENT, EACCES): retrying will not help.
    var spawnError: String?
    /// The raw wait status, when the child was reaped.
    var waitStatus: Int32?
    var timedOut = false
    /// The first 4 KiB of stdout and stderr together.
    var output: [UInt8] = []

    var exitCode: Int32? { waitStatus.flatMap { $0 & 0x7f == 0 ? ($0 >> 8) & 0xff : nil } }
    var signal: Int32? { waitStatus.flatMap { $0 & 0x7f != 0 ? $0 & 0x7f : nil } }
    var succeeded: Bool { spawnError == nil && !timedOut && exitCode == 0 }

    var text: String {
        if let spawnError { return "cannot start: \(spawnError)" }
        if timedOut { return "killed after the timeout" }
        if let c = exitCode { return "exit status \(c)" }
        if let s = signal { return "killed by signal \(s)" }
        return "unknown end"
    }
}

/// Runs exec-channel children on an `EventHost`. Never blocks: stdin is written as the pipe drains, output is
/// read as it comes, and the exit is learnt from `childExited` (the daemon's SIGCHLD via signalfd) or, failing
/// that, from a `waitpid(pid, WNOHANG)` poll of our own children only (never `waitpid(-1)`).
final class ExecRunner {
    private final class Child {
        let pid: pid_t
        var input: [UInt8]
        var inputOffset = 0
        var inputFD: Int32
        var outputFD: Int32
        var output: [UInt8] = []
        var timedOut = false
        var timer: TimerID?
        let completion: (ExecResult) -> Void
        init(pid: pid_t, input: [UInt8], inputFD: Int32, outputFD: Int32, completion: @escaping (ExecResult) -> Void) {
            self.pid = pid
            self.input = input
            self.inputFD = inputFD
            self.outputFD = outputFD
            self.completion = completion
        }
    }

    private let host: EventHost
    private var children: [pid_t: Child] = [:]
    private var pollTimer: TimerID?
    /// How often our own children are polled with waitpid(WNOHANG) in case no SIGCHLD hook calls `childExited`.
    var pollInterval: Double = 0.05

    init(host: EventHost) { self.host = host }

    var runningCount: Int { children.count }
    var pids: [pid_t] { Array(children.keys) }

    /// Starts `argv[0]` with `argv` and exactly `environment`; `stdin` is written to its standard input.
    func run(argv: [String], environment: [String], stdin: [UInt8], timeout: Double,
             completion: @escaping (ExecResult) -> Void) {
        // A socket, not a pipe, for stdin: send(MSG_NOSIGNAL) cannot raise SIGPIPE in the daemon if the child exits early.
        var sv: [Int32] = [-1, -1]
        var out: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
            let e = errnoText(errno)
            host.addTimer(after: 0) { completion(ExecResult(spawnError: "socketpair: \(e)")) }
            return
        }
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &out) == 0 else {
            let e = errnoText(errno)
            close(sv[0]); close(sv[1])
            host.addTimer(after: 0) { completion(ExecResult(spawnError: "socketpair: \(e)")) }
            return
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, sv[1], 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, out[1], 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        // The daemon blocks SIGCHLD/SIGTERM/SIGHUP for signalfd; a child must start with a clean mask and defaults.
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGCHLD, SIGTERM, SIGHUP, SIGINT, SIGUSR1] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        // Its own process group, so a timeout kills whatever it started too.
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgv, cEnv)
        for p in cArgv { free(p) }
        for p in cEnv { free(p) }
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attr)
        close(sv[1]); close(out[1])
        guard rc == 0 else {
            close(sv[0]); close(out[0])
            let e = errnoText(rc)
            host.addTimer(after: 0) { completion(ExecResult(spawnError: "\(argv[0]): \(e)")) }
            return
        }

        _ = fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK)
        _ = fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK)
        let child = Child(pid: pid, input: stdin, inputFD: sv[0], outputFD: out[0], completion: completion)
        children[pid] = child
        host.watch(fd: child.inputFD, interest: .write) { [weak self, weak child] _ in
            if let self, let child { self.feed(child) }
        }
        host.watch(fd: child.outputFD, interest: .read) { [weak self, weak child] _ in
            if let self, let child { self.drain(child) }
        }
        child.timer = host.addTimer(after: timeout) { [weak child] in
            guard let child else { return }
            child.timedOut = true
            child.timer = nil
            kill(-child.pid, SIGKILL)
        }
        schedulePoll()
    }

    /// The daemon's SIGCHLD hook: returns true if `pid` was one of ours (and is now finished).
    @discardableResult
    func childExited(pid: pid_t, status: Int32) -> Bool {
        guard let child = children.removeValue(forKey: pid) else { return false }
        finish(child, status: status)
        return true
    }

    /// Kills every running child (shutdown after the grace period); they are reaped and reported as timed out.
    func killAll() {
        for c in children.values {
            c.timedOut = true
            kill(-c.pid, SIGKILL)
        }
    }

    private func schedulePoll() {
        guard pollTimer == nil, !children.isEmpty else { return }
        pollTimer = host.addTimer(after: pollInterval) { [weak self] in
            guard let self else { return }
            self.pollTimer = nil
            for pid in Array(self.children.keys) {
                var status: Int32 = 0
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid {
                    self.childExited(pid: pid, status: status)
                } else if r < 0 && errno == ECHILD {
                    // Reaped by someone else who did not tell us: the status is lost.
                    self.childExited(pid: pid, status: 0x7f00)
                }
            }
            self.schedulePoll()
        }
    }

    private func feed(_ c: Child) {
        while c.inputOffset < c.input.count {
            let n = c.input.withUnsafeBytes { send(c.inputFD, $0.baseAddress! + c.inputOffset, $0.count - c.inputOffset, Int32(MSG_NOSIGNAL)) }
            if n > 0 { c.inputOffset += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            break  // EPIPE: the child does not read its stdin; that is its business.
        }
        closeInput(c)
    }

    private func closeInput(_ c: Child) {
        guard c.inputFD >= 0 else { return }
        host.unwatch(fd: c.inputFD)
        close(c.inputFD)
        c.inputFD = -1
    }

    private func drain(_ c: Child) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while c.outputFD >= 0 {
            let n = buf.withUnsafeMutableBytes { read(c.outputFD, $0.baseAddress, $0.count) }
            if n > 0 {
                if c.output.count < 4096 { c.output += buf[0..<min(n, 4096 - c.output.count)] }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            host.unwatch(fd: c.outputFD)
            close(c.outputFD)
            c.outputFD = -1
        }
    }

    private func finish(_ c: Child, status: Int32) {
        if let t = c.timer { host.cancelTimer(t) }
        closeInput(c)
        if c.outputFD >= 0 {
            drain(c)
            // A grandchild may still hold the pipe open: stop listening anyway.
            if c.outputFD >= 0 { host.unwatch(fd: c.outputFD); close(c.outputFD); c.outputFD = -1 }
        }
        c.completion(ExecResult(spawnError: nil, waitStatus: status, timedOut: c.timedOut, output: c.output))
    }
}
