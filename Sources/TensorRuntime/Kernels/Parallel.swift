import Dispatch
import Foundation
import Synchronization

/// Static work splitting over the machine's cores.
///
/// Work is always divided into the same pieces for the same sizes, and each piece writes
/// only its own outputs, so results never depend on thread timing.
public enum Parallel {
    /// The number of worker threads for work started on the calling thread: the count of
    /// an enclosing ``withThreadCount(_:_:)`` on this thread, else the process-wide setting
    /// (the active processor count, at least 1; `OPTLANG_THREADS` overrides it, 1 disables
    /// threading).
    public static var threadCount: Int { ThreadState.current.threads ?? configuredThreads.value }

    /// Sets the process-wide number of worker threads (at least 1); meant for start-up,
    /// before work runs. Tests use ``withThreadCount(_:_:)`` instead.
    public static func setThreadCount(_ n: Int) { configuredThreads.value = max(1, n) }

    private static let configuredThreads = ThreadSetting(
        {
            if let text = ProcessInfo.processInfo.environment["OPTLANG_THREADS"], let n = Int(text), n >= 1 {
                return n
            }
            return max(1, ProcessInfo.processInfo.activeProcessorCount)
        }())

    /// Runs `body` with `threads` worker threads for the work it starts on this thread, on a
    /// pool of its own (so other threads' work neither shares nor blocks it), and reports how
    /// many parallel loops really ran on more than one thread. Other threads keep their
    /// setting, so tests that compare thread counts can run side by side.
    public static func withThreadCount<R>(_ threads: Int, _ body: () throws -> R) rethrows -> (
        result: R, parallelLoops: Int
    ) {
        let state = ThreadState.current
        let saved = (state.threads, state.pool, state.parallelLoops)
        let pool = threads > 1 ? WorkerPool(workers: threads - 1) : nil
        state.threads = max(1, threads)
        state.pool = pool
        state.parallelLoops = 0
        defer {
            (state.threads, state.pool, state.parallelLoops) = saved
            pool?.shutDown()
        }
        let result = try body()
        return (result, state.parallelLoops)
    }

    /// Runs `body(i)` for every `i` in `0..<count`, concurrently when `count > 1` and more
    /// than one thread is available. `body` must only write state owned by its index.
    /// Inside another parallel loop (on any of its threads) it runs serially.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        Subnormals.flushOnThisThread()
        let state = ThreadState.current
        let threads = state.threads ?? configuredThreads.value
        if count == 1 || threads == 1 || state.inLoop {
            for i in 0..<count { body(i) }
            return
        }
        state.inLoop = true
        let pool = state.pool ?? sharedPool(threads)
        if pool.run(count: count, threads: threads, body) { state.parallelLoops += 1 }
        state.inLoop = false
    }

    /// True on a thread that is running a parallel loop's body: work started there runs
    /// serially, so kernels should not split themselves.
    public static var isBusy: Bool { ThreadState.current.inLoop }

    /// The shared worker pool, grown when more threads are configured.
    private static func sharedPool(_ threads: Int) -> WorkerPool {
        poolLock.lock()
        defer { poolLock.unlock() }
        if let existing = sharedPoolStorage, existing.workerCount >= threads - 1 { return existing }
        let created = WorkerPool(workers: threads - 1)
        sharedPoolStorage = created
        return created
    }

    private static let poolLock = NSLock()
    nonisolated(unsafe) private static var sharedPoolStorage: WorkerPool?  // guarded by `poolLock`

    /// Splits `0..<total` into `threadCount` contiguous ranges (at least `grain` elements
    /// each, except when `total` is smaller) and runs `body` on each concurrently.
    public static func forRanges(_ total: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        if total <= 0 { return }
        Subnormals.flushOnThisThread()
        let pieces = max(1, min(threadCount, total / max(grain, 1)))
        if pieces == 1 {
            body(0..<total)
            return
        }
        forEach(pieces) { p in
            let lo = total * p / pieces
            let hi = total * (p + 1) / pieces
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Carries a non-`Sendable` value into `concurrentPerform`.
/// Safe here because `Parallel`'s callers write disjoint outputs per index and the value
/// does not outlive the call.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The configured thread count. Written once at start-up by the command line, read by kernels.
final class ThreadSetting: Sendable {
    private let stored: Atomic<Int>
    init(_ value: Int) { stored = Atomic(value) }
    var value: Int {
        get { stored.load(ordering: .relaxed) }
        set { stored.store(newValue, ordering: .relaxed) }
    }
}

/// What ``Parallel`` knows about one thread: the thread count and pool of an enclosing
/// ``Parallel/withThreadCount(_:_:)``, and whether the thread is running a parallel loop's
/// body. Kept in a POSIX thread-specific slot: each thread reads and writes only its own.
final class ThreadState {
    var threads: Int?
    var pool: WorkerPool?
    /// Parallel loops started in the enclosing scope that ran on more than one thread.
    var parallelLoops = 0
    /// Set while this thread runs a parallel loop's body (a pool's workers always are).
    var inLoop = false

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<ThreadState>.fromOpaque(pointer).release() }
        }
        precondition(status == 0, "pthread_key_create failed with \(status)")
        return key
    }()

    /// This thread's state, created on first use.
    static var current: ThreadState {
        if let pointer = pthread_getspecific(key) {
            return Unmanaged<ThreadState>.fromOpaque(pointer).takeUnretainedValue()
        }
        let state = ThreadState()
        pthread_setspecific(key, Unmanaged.passRetained(state).toOpaque())
        return state
    }
}
