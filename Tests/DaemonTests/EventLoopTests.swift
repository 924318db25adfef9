// The epoll loop: file handlers, timers, and work queued for the end of a batch.
import Testing
import Daemon
#if canImport(Glibc)
import Glibc
#endif

@Suite struct EventLoopTests {
    @Test func workQueuedByHandlersOfOneBatchRunsOnceAfterThem() throws {
        let loop = try EventLoop()
        var a: [Int32] = [0, 0], b: [Int32] = [0, 0]
        #expect(pipe(&a) == 0 && pipe(&b) == 0)
        defer { for fd in a + b { close(fd) } }
        var order: [String] = []
        var queued = false
        func ask(_ who: String) {
            order.append(who)
            // As the daemon's worker timers ask for one evaluation.
            if !queued {
                queued = true
                loop.runSoon { queued = false; order.append("evaluate") }
            }
        }
        loop.watch(fd: a[0], interest: .read) { _ in var c: UInt8 = 0; _ = read(a[0], &c, 1); ask("a") }
        loop.watch(fd: b[0], interest: .read) { _ in var c: UInt8 = 0; _ = read(b[0], &c, 1); ask("b") }
        var one: UInt8 = 1
        _ = write(a[1], &one, 1)
        _ = write(b[1], &one, 1)
        loop.run(until: { order.contains("evaluate") }, timeout: 2)
        // Both fds were ready in the same epoll_wait: one evaluation, after both handlers.
        #expect(order.sorted() == ["a", "b", "evaluate"])
        #expect(order.last == "evaluate")
    }

    @Test func workQueuedBeforeRunningRunsWithoutWaitingForAnEvent() throws {
        let loop = try EventLoop()
        var ran = 0
        loop.runSoon { ran += 1; loop.runSoon { ran += 1 } }
        loop.run(until: { ran == 2 }, timeout: 5)
        #expect(ran == 2)
    }

    /// A chain of queued work (as the journal's backlog is read, one batch a turn) leaves each turn to the
    /// descriptors and timers: a due timer and a readable pipe are served after its first step, not after its end.
    @Test func aChainOfQueuedWorkDoesNotHoldOffTimersOrDescriptors() throws {
        let loop = try EventLoop()
        var p: [Int32] = [0, 0]
        #expect(pipe(&p) == 0)
        defer { for fd in p { close(fd) } }
        var steps = 0, timerAt = -1, readAt = -1
        func step() {
            steps += 1
            if steps < 10_000 && (timerAt < 0 || readAt < 0) { loop.runSoon(step) }
        }
        loop.runSoon(step)
        loop.addTimer(after: 0) { timerAt = steps }
        loop.watch(fd: p[0], interest: .read) { _ in
            var b: UInt8 = 0
            _ = read(p[0], &b, 1)
            readAt = steps
        }
        var one: UInt8 = 1
        #expect(write(p[1], &one, 1) == 1)
        loop.run(until: { timerAt >= 0 && readAt >= 0 }, timeout: 5)
        #expect(timerAt >= 1 && timerAt <= 2, "the due timer ran after step \(timerAt)")
        #expect(readAt >= 1 && readAt <= 2, "the readable pipe was handled after step \(readAt)")
        #expect(steps < 10)
    }

    @Test func timersFireInDeadlineOrder() throws {
        let loop = try EventLoop()
        var fired: [Int] = []
        loop.addTimer(after: 0.03) { fired.append(3) }
        loop.addTimer(after: 0.01) { fired.append(1) }
        loop.addTimer(after: 0.02) { fired.append(2) }
        loop.run(until: { fired.count == 3 }, timeout: 2)
        #expect(fired == [1, 2, 3])
    }
}
