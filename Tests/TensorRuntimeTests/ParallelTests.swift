import Foundation
import Synchronization
import Testing

@testable import TensorRuntime

/// Thread counts set for one thread's work: what a scope sees, what runs in parallel, and
/// that other threads are not affected.
@Suite struct ParallelTests {
    /// The distinct threads that ran the indices of one loop.
    static func threadsRunning(_ count: Int) -> Int {
        let ids = Mutex<Set<UInt>>([])
        Parallel.forEach(count) { _ in
            let id = UInt(pthread_self())
            ids.withLock { _ = $0.insert(id) }
            usleep(2000)  // long enough that the indices do not all finish on one thread
        }
        return ids.withLock { $0.count }
    }

    @Test func aScopeSetsTheCountForItsThreadAndCountsItsParallelLoops() {
        let outside = Parallel.threadCount
        let scoped = Parallel.withThreadCount(3) { (Parallel.threadCount, Self.threadsRunning(3)) }
        #expect(scoped.result.0 == 3)
        #expect(scoped.result.1 == 3, "three indices ran on three threads")
        #expect(scoped.parallelLoops == 1)
        #expect(Parallel.threadCount == outside, "the count is restored after the scope")
        let serial = Parallel.withThreadCount(1) { Self.threadsRunning(4) }
        #expect(serial.result == 1)
        #expect(serial.parallelLoops == 0)
    }

    @Test func aLoopInsideALoopRunsSeriallyAndIsNotCounted() {
        let run = Parallel.withThreadCount(2) {
            let inner = Mutex<[Int]>([])
            Parallel.forEach(2) { i in
                #expect(Parallel.isBusy, "a loop body knows it is inside a loop")
                let threads = Self.threadsRunning(2)
                inner.withLock { $0.append(threads) }
            }
            return inner.withLock { $0 }
        }
        #expect(run.result == [1, 1])
        #expect(run.parallelLoops == 1)
        #expect(!Parallel.isBusy)
    }

    @Test func anotherThreadKeepsTheProcessWideCount() throws {
        let global = Parallel.threadCount
        let scoped = global + 3
        let seen = Mutex<Int>(0)
        let done = DispatchSemaphore(value: 0)
        let run = Parallel.withThreadCount(scoped) {
            Thread {
                seen.withLock { $0 = Parallel.threadCount }
                done.signal()
            }.start()
            done.wait()
            return Parallel.threadCount
        }
        #expect(run.result == scoped)
        #expect(seen.withLock { $0 } == global, "a thread outside the scope sees the process-wide count")
    }
}
