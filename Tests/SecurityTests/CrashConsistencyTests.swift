// SIGKILL at every durability point of an evaluation (SHD_TEST_CRASH_AT, CrashPoint): after the restarts the
// receiver got every committed transition, none twice under two ids, and every firing its resolved.
import Kit
import Testing
import Reports
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The points the daemon's crash hook knows (Sources/Notify/Journal.swift, `CrashPoint.names`).
let crashPoints = ["commit-write", "commit-sync", "commit-done", "delivered", "remove-step",
                   "compact-files", "compact-state", "state-tmp", "report-tmp"]

/// One alert's transitions as a receiver saw them: per-alert id, kind, starts_at, in arrival order.
func alertTransitions(_ server: LocalHTTPServer) -> [String: [(id: String, kind: String, startsAt: String)]] {
    var out: [String: [(id: String, kind: String, startsAt: String)]] = [:]
    for r in server.requests {
        for a in (try? JSONValue.parse(bytes: r.body))?["alerts"]?.array ?? [] {
            out[a["rule"]?.string ?? "?", default: []].append((a["id"]?.string ?? "", a["kind"]?.string ?? "", a["starts_at"]?.string ?? ""))
        }
    }
    return out
}

@Suite(.serialized) struct CrashConsistencyTests {
    static let rules = ["mem_a", "mem_b"]

    struct Run: CustomStringConvertible {
        /// `point:n` for the first life, and for the second (nil: the second life runs without the hook).
        var first: String
        var second: String?
        /// When the first life dies before the condition cleared: clear it while shd is down (else after the restart).
        var clearWhileDown: Bool
        var description: String { first + (second.map { " then " + $0 } ?? "") + (clearWhileDown ? ", cleared while down" : ", cleared after restart") }
    }

    /// Every point, at its first and second time (the firing's commit and delivery, then the resolved's), with the
    /// condition clearing while shd is down or after it is back (a kill after the clear covers "before the kill");
    /// plus a kill between the unlinks of a two-alert batch that a compaction moved into spool files.
    static var runs: [Run] {
        var out: [Run] = []
        for p in crashPoints {
            out.append(Run(first: "\(p):1", second: "\(p):1", clearWhileDown: true))
            out.append(Run(first: "\(p):1", second: nil, clearWhileDown: false))
            // One life compacts at most once (at its stop), so the compaction points have no second time.
            if !p.hasPrefix("compact") && p != "state-tmp" { out.append(Run(first: "\(p):2", second: nil, clearWhileDown: true)) }
        }
        out.append(Run(first: "commit-done:1", second: "remove-step:2", clearWhileDown: false))
        out.append(Run(first: "delivered:1", second: "remove-step:1", clearWhileDown: true))
        return out
    }

    @Test func sigkillAtEveryPointOfAnEvaluationKeepsStateAndReceiversInAgreement() throws {
        var problems: [String] = []
        var killed = 0, lives = 0
        var reached: Set<String> = []
        // SHD_CRASH_ONLY=text runs only the runs whose description contains it (when chasing one failure).
        let only = getenv("SHD_CRASH_ONLY").map { String(cString: $0) }
        let runs = Self.runs.filter { only == nil || $0.description.contains(only!) }
        for run in runs {
            let started = monotonicSeconds()
            let r = try Self.play(run)
            print("crash run \(run): \(r.kills) kill(s), \(r.lives) lives, \(seconds(monotonicSeconds() - started)) s")
            killed += r.kills
            lives += r.lives
            if r.kills > 0 { reached.insert(String(run.first.prefix { $0 != ":" })) }
            problems += r.problems.map { "\(run): \($0)" }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        #expect(reached == Set(crashPoints), "points never reached: \(Set(crashPoints).subtracting(reached).sorted())")
        recordCase("signals", "SIGKILL at \(crashPoints.count) named points of an evaluation (1st and 2nd time each; SHD_TEST_CRASH_AT), \(runs.count) runs, webhook receiver answering 200",
                   "\(killed) kills in \(lives) daemon lives; every committed transition delivered, none doubled under a new id, "
                   + "every firing followed by its resolved, final state agrees, no temp file left: "
                   + (problems.isEmpty ? "all held" : "\(problems.count) problems"))
    }

    struct Outcome { var kills = 0; var lives = 0; var problems: [String] = [] }

    static func play(_ run: Run) throws -> Outcome {
        let h = try DaemonHarness("shd-crash", webhook: false, textfile: true)
        let hook = try LocalHTTPServer()
        defer { hook.stop() }
        let rules = Self.rules.enumerated().map { i, name in
            "rule \(name) on memory.usage {\n  warn available_percent < \(50 + 10 * i)\n  notify hook\n}\n"
        }.joined()
        h.writeRules("channel hook webhook { url \"\(hook.url)/hook\" timeout 2s include_report false }\n" + rules)
        h.setAvailable(kB: 2_000_000)
        var out = Outcome()
        var cleared = false
        func told(_ kind: String) -> Bool {
            let t = alertTransitions(hook)
            return Self.rules.allSatisfy { t[$0]?.last?.kind == kind }
        }
        func clear() {
            h.setAvailable(kB: 20_000_000)
            cleared = true
        }
        /// One life; true when the hook killed it.
        func live(_ point: String?) throws -> Bool {
            out.lives += 1
            var env = ChildProcess.inheritedEnvironment()
            if let point { env["SHD_TEST_CRASH_AT"] = point }
            try h.start(environment: env)
            func died() -> Bool { !h.process!.isRunning }
            if !cleared {
                _ = h.waitFor(10) { died() || told("firing") }
                if died() { return h.process!.wait(timeout: 5) == 128 + SIGKILL }
                if point == nil {
                    // Resumed with the condition still true: shd must hold both alerts firing, as receivers were told.
                    usleep(300_000)
                    h.process!.signal(SIGUSR1)
                    if !h.waitFor(5, { h.log.contains("alert states: 2 firing") }) {
                        out.problems.append("resumed state disagrees with the receiver: \(h.log.split(separator: "\n").filter { $0.contains("alert states") })")
                    }
                }
                clear()
            }
            // Nothing was ever told (the firing was never committed): there is no resolved to wait for.
            let quiet = hook.requests.isEmpty
            _ = h.waitFor(quiet ? 1.5 : 10) { died() || (told("resolved") && h.spoolFiles().isEmpty) }
            if died() { return h.process!.wait(timeout: 5) == 128 + SIGKILL }
            usleep(300_000)
            h.process!.signal(SIGTERM)
            let rc = h.process!.wait(timeout: 10)
            if rc == nil { h.process!.signal(SIGKILL); _ = h.process!.wait(timeout: 5) }
            return rc == 128 + SIGKILL
        }

        // A life the hook did not kill runs to the end (firing, clear, resolved, SIGTERM).
        if try live(run.first) {
            out.kills += 1
            if !cleared && run.clearWhileDown { clear() }
            if try live(run.second) {
                out.kills += 1
                if !cleared && run.clearWhileDown { clear() }
                _ = try live(nil)
            }
        }

        // 1. Every alert: exactly one firing and one resolved (by per-alert id), in that order, same starts_at.
        // Killed before the first commit was written, with the condition gone when shd came back: the firing was
        // never committed, so receivers must hear nothing at all.
        let neverCommitted = run.first == "commit-write:1" && run.clearWhileDown
        let t = alertTransitions(hook)
        for rule in Self.rules {
            var distinct: [(id: String, kind: String, startsAt: String)] = []
            for e in t[rule] ?? [] where !distinct.contains(where: { $0.id == e.id }) { distinct.append(e) }
            if distinct.map(\.kind) != (neverCommitted ? [] : ["firing", "resolved"]) {
                out.problems.append("\(rule): receiver got \(distinct.map { "\($0.kind) \($0.id)" })")
            } else if !neverCommitted && distinct[0].startsAt != distinct[1].startsAt {
                out.problems.append("\(rule): resolved starts_at \(distinct[1].startsAt) was never announced (firing \(distinct[0].startsAt))")
            }
        }
        // 2. The state shd ends with agrees: nothing firing, nothing pending in the journal or spool.
        let state = (try? JSONValue.parse(readText(h.state + "/state.json"))) ?? .null
        let firing = (state["engine"]?["rules"]?.array ?? []).flatMap { $0["instances"]?.array ?? [] }.filter { $0["state"]?.string == "firing" }
        if state["engine"] == nil || !firing.isEmpty { out.problems.append("final state.json: \(firing.count) firing, engine \(state["engine"] == nil ? "missing" : "present")") }
        if !h.spoolFiles().isEmpty { out.problems.append("spool left: \(h.spoolFiles())") }
        if !readText(h.state + "/journal").isEmpty { out.problems.append("journal not emptied by the clean stop") }
        // 3. Temp files of atomic writes a kill left are gone.
        let temps = (listFiles(h.state) + listFiles(h.state + "/spool") + listFiles(h.textfile)).filter { $0.contains(".tmp") }
        if !temps.isEmpty { out.problems.append("temp files left: \(temps)") }
        if !out.problems.isEmpty {
            out.problems.append("logs:\n" + h.outputs.filter { $0.contains("/stderr-") }.map { readText($0) }.joined(separator: "\n----\n"))
        }
        return out
    }
}
