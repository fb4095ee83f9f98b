import Dispatch
import Foundation
import Synchronization

/// Static work splitting over the machine's cores.
///
/// Work is always divided into the same pieces for the same sizes, and each piece writes
/// only its own outputs, so results never depend on thread timing.
public enum Parallel {
    /// The number of worker threads (the active processor count, at least 1).
    /// Set `OPTLANG_THREADS` to override (1 disables threading).
    public static var threadCount: Int { configuredThreads.value }

    /// Sets the number of worker threads (at least 1); meant for start-up, before work runs.
    public static func setThreadCount(_ n: Int) { configuredThreads.value = max(1, n) }

    private static let configuredThreads = ThreadSetting(
        {
            if let text = ProcessInfo.processInfo.environment["OPTLANG_THREADS"], let n = Int(text), n >= 1 {
                return n
            }
            return max(1, ProcessInfo.processInfo.activeProcessorCount)
        }())

    /// Runs `body(i)` for every `i` in `0..<count`, concurrently when `count > 1` and more
    /// than one thread is available. `body` must only write state owned by its index.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        Subnormals.flushOnThisThread()
        let threads = threadCount
        if count == 1 || threads == 1 {
            for i in 0..<count { body(i) }
            return
        }
        activeJobs.add(1, ordering: .relaxed)
        pool(threads).run(count: count, threads: threads, body)
        activeJobs.subtract(1, ordering: .relaxed)
    }

    /// True while a parallel loop is running: work started now (from inside that loop)
    /// runs serially, so kernels should not split themselves.
    public static var isBusy: Bool { activeJobs.load(ordering: .relaxed) > 0 }

    private static let activeJobs = Atomic<Int>(0)

    /// The shared worker pool, grown when more threads are configured.
    private static func pool(_ threads: Int) -> WorkerPool {
        poolLock.lock()
        defer { poolLock.unlock() }
        if let existing = sharedPool, existing.workerCount >= threads - 1 { return existing }
        let created = WorkerPool(workers: threads - 1)
        sharedPool = created
        return created
    }

    private static let poolLock = NSLock()
    nonisolated(unsafe) private static var sharedPool: WorkerPool?  // guarded by `poolLock`

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
final class ThreadSetting: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var stored: Int
    init(_ value: Int) { stored = value }
    var value: Int {
        get {
            lock.lock()
            defer { lock.unlock() }
            return stored
        }
        set {
            lock.lock()
            stored = newValue
            lock.unlock()
        }
    }
}
