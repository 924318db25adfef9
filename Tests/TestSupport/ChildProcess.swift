// Starting the built shd binary (or any program) as a child process from a test, with its output in files.
import Kit
#if canImport(Glibc)
import Glibc
#endif

/// A child process whose stdout and stderr go to files in a temp folder. Stopped by its own pid.
public final class ChildProcess {
    public let pid: pid_t
    public let stdoutPath: String
    public let stderrPath: String
    public private(set) var exitStatus: Int32?

    /// Starts `argv[0]` (a path) with `argv`, in `environment` (nil = inherit), optionally with stdin from a file.
    public init(_ argv: [String], environment: [String: String]? = nil, outputDirectory: String, stdinPath: String? = nil) throws {
        stdoutPath = outputDirectory + "/stdout-\(UInt32.random(in: 0...UInt32.max))"
        stderrPath = stdoutPath.replacingFirst("stdout", "stderr")
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fa, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // The child starts with no blocked signals, whatever the test runner blocks.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var def = sigset_t()
        sigemptyset(&def)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGPIPE] { sigaddset(&def, s) }
        posix_spawnattr_setsigdefault(&attr, &def)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let env = environment ?? ChildProcess.inheritedEnvironment()
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var p: pid_t = 0
        let rc = posix_spawn(&p, argv[0], &fa, &attr, cArgs, cEnv)
        guard rc == 0 else { throw ChildProcessError(message: "posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        pid = p
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var st: Int32 = 0
            waitpid(pid, &st, 0)
        }
    }

    public static func inheritedEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let e = p.pointee {
            let s = String(cString: e)
            if let i = s.firstIndex(of: "=") { env[String(s[..<i])] = String(s[s.index(after: i)...]) }
            p += 1
        }
        return env
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits up to `timeout` seconds; returns the exit status (128+signal for a signal), or nil on timeout.
    @discardableResult
    public func wait(timeout: Double) -> Int32? {
        if let s = exitStatus { return s }
        let end = monotonicSeconds() + timeout
        // At least one waitpid: with timeout 0 (`isRunning`) the loop below would otherwise never look.
        repeat {
            var st: Int32 = 0
            let r = waitpid(pid, &st, WNOHANG)
            if r == pid {
                let code = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
                exitStatus = code
                return code
            }
            if monotonicSeconds() >= end { break }
            usleep(10_000)
        } while true
        return nil
    }

    /// True while the process has not exited.
    public var isRunning: Bool { exitStatus == nil && wait(timeout: 0) == nil }

    public var stdout: String { readText(stdoutPath) }
    public var stderr: String { readText(stderrPath) }

    /// Polls `condition` every 10 ms for up to `timeout` seconds.
    public static func waitFor(_ timeout: Double, _ condition: () -> Bool) -> Bool {
        let end = monotonicSeconds() + timeout
        while monotonicSeconds() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The whole file as text ("" when missing).
public func readText(_ path: String) -> String {
    (try? readWholeFile(path, limit: .max)).map { String(decoding: $0, as: UTF8.self) } ?? ""
}

/// Writes text to a file (replacing it).
public func writeText(_ path: String, _ text: String) {
    guard let f = fopen(path, "wb") else { return }
    _ = text.withCString { fputs($0, f) }
    fclose(f)
}

/// A fresh temp folder under /tmp.
public func makeTempDirectory(_ prefix: String = "shd-test") -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

/// `cp -a src dst` for fixture trees that a test will modify.
public func copyTree(_ src: String, _ dst: String) {
    _ = runShell("cp -a '\(src)' '\(dst)'")
}

/// Runs a shell command synchronously; returns its exit status.
@discardableResult
public func runShell(_ command: String) -> Int32 {
    guard let p = try? ChildProcess(["/bin/sh", "-c", command], outputDirectory: "/tmp") else { return -1 }
    let st = p.wait(timeout: 600) ?? -1
    unlink(p.stdoutPath); unlink(p.stderrPath)
    return st
}

/// Path of the built shd binary next to the test bundle (.build/<config>/shd).
public var shdBinary: String {
    var candidates: [String] = []
    if let e = getenv("SHD_BINARY") { candidates.append(String(cString: e)) }
    // The test binary lives in .build/<triple>/<config>/shdPackageTests.xctest; shd sits beside it.
    var exe = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &exe, 4095)
    if n > 0 {
        let path = String(decoding: exe[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var dir = path
        for _ in 0..<3 {
            if let i = dir.lastIndex(of: "/") { dir = String(dir[..<i]) }
            candidates.append(dir + "/shd")
        }
    }
    candidates.append(TestPaths.packageRoot + "/.build/debug/shd")
    return candidates.first { access($0, X_OK) == 0 } ?? candidates.last!
}

extension String {
    public func replacingFirst(_ a: String, _ b: String) -> String {
        guard let r = firstRange(of: a) else { return self }
        return String(self[..<r.lowerBound]) + b + String(self[r.upperBound...])
    }
}
