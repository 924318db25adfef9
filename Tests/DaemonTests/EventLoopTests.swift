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
