import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Persistent worker threads with a low-latency hand-off, behind ``Parallel``.
///
/// A multiplication of two 128×128 matrices takes about 15 µs on one core; waking threads
/// through a dispatch queue costs as much again, so the workers stay alive, spin briefly
/// on an atomic generation counter after each job, and only then sleep on a condition.
///
/// Jobs never overlap: a `run` that finds the pool busy (a parallel loop nested in another)
/// runs serially on the calling thread, which gives the same results.
final class WorkerPool: @unchecked Sendable {  // `job` is written only while no worker reads it (see `run`)
    /// Extra threads beside the caller.
    let workerCount: Int
    /// `generation << 8 | parties`: a new value publishes a new job.
    private let ticket = Atomic<Int>(0)
    /// Workers still running the current job.
    private let remaining = Atomic<Int>(0)
    /// Set while a job is in flight.
    private let busy = Atomic<Bool>(false)
    /// Set by ``shutDown()``: workers return instead of waiting for the next job.
    private let stopping = Atomic<Bool>(false)
    private let sleep = NSCondition()
    private var job: ((Int) -> Void)?
    private var jobCount = 0

    /// Spin iterations before a worker goes to sleep (tens of microseconds).
    private static let spinLimit = 40_000

    init(workers: Int) {
        workerCount = workers
        for w in 0..<workers {
            let thread = Thread { [self] in
                Subnormals.flushOnThisThread()
                // A worker only ever runs loop bodies: work it starts runs serially.
                ThreadState.current.inLoop = true
                self.work(index: w + 1)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body(i)` for `i` in `0..<count` on up to `threads` threads (the caller
    /// included), returning when all are done. Index `i` runs on thread `i % parties`.
    /// - Returns: whether more than one thread ran (false when the pool was busy).
    @discardableResult
    func run(count: Int, threads: Int, _ body: (Int) -> Void) -> Bool {
        let parties = min(threads, count, workerCount + 1, 255)
        guard parties > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else {
            for i in 0..<count { body(i) }
            return false
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            jobCount = count
            remaining.store(parties - 1, ordering: .relaxed)
            let generation = (ticket.load(ordering: .relaxed) >> 8) + 1
            sleep.lock()
            ticket.store(generation << 8 | parties, ordering: .releasing)
            sleep.broadcast()
            sleep.unlock()
            var i = 0
            while i < count {
                escapable(i)
                i += parties
            }
            var spins = 0
            while remaining.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            job = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    /// Ends the workers once they are idle; the pool must not be used afterwards.
    func shutDown() {
        stopping.store(true, ordering: .releasing)
        sleep.lock()
        let generation = (ticket.load(ordering: .relaxed) >> 8) + 1
        ticket.store(generation << 8, ordering: .releasing)
        sleep.broadcast()
        sleep.unlock()
    }

    /// Runs this worker's indices. A separate function so that its reference to the job's
    /// closure is released before the worker reports completion.
    @inline(never)
    private func runShare(index: Int, parties: Int) {
        guard let body = job else { return }
        var i = index
        while i < jobCount {
            body(i)
            i += parties
        }
    }

    private func work(index: Int) {
        var seen = 0
        while true {
            var current = ticket.load(ordering: .acquiring)
            var spins = 0
            while current >> 8 == seen >> 8 {
                spins += 1
                if spins > Self.spinLimit {
                    sleep.lock()
                    while ticket.load(ordering: .acquiring) >> 8 == seen >> 8 { sleep.wait() }
                    sleep.unlock()
                }
                current = ticket.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            let parties = current & 0xFF
            guard index < parties else { continue }
            runShare(index: index, parties: parties)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}
