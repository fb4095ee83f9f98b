import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A flag that asks a running loop to stop after its current step. Set from any thread.
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    func raise() { raised.store(true, ordering: .releasing) }
    func lower() { raised.store(false, ordering: .releasing) }
    var isRaised: Bool { raised.load(ordering: .acquiring) }
}

/// Turns Ctrl-C (SIGINT) into stop requests for the loops that are running.
///
/// The handler only counts presses in an atomic (all a signal handler may safely do); loops
/// compare the count with its value when they registered, after every step. The first loop
/// to register installs the handler and the last to leave restores the previous one, so
/// loops side by side share it. A second Ctrl-C exits at once with status 130; checkpoints
/// are written atomically, so that is safe.
///
/// Not Dispatch: on Linux a signal source installs its own process-wide handler once and
/// stops seeing the signal after anyone restores the previous disposition.
enum InterruptMonitor {
    typealias Handler = @convention(c) (Int32) -> Void

    /// Ctrl-C presses since the process started.
    private static let presses = Atomic<Int>(0)
    /// `presses` when the handler was last installed, so that a second press is counted per installation.
    private static let pressesAtInstall = Atomic<Int>(0)
    private static let lock = NSLock()
    nonisolated(unsafe) private static var registered = 0  // guarded by `lock`
    nonisolated(unsafe) private static var previous: Handler?  // guarded by `lock`

    /// Starts counting Ctrl-C for a loop. Returns the mark to pass to ``interrupted(since:)``.
    static func register() -> Int {
        lock.withLock {
            registered += 1
            // A parent may have started this process with SIGINT blocked (Foundation's
            // Process does, from a thread that blocks it), and the mask is inherited by
            // every thread made since: then Ctrl-C would stay pending for ever. The thread
            // that listens takes it.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            if registered == 1 {
                pressesAtInstall.store(presses.load(ordering: .acquiring), ordering: .releasing)
                previous = signal(SIGINT) { _ in
                    let n = InterruptMonitor.presses.add(1, ordering: .acquiringAndReleasing).newValue
                    if n - InterruptMonitor.pressesAtInstall.load(ordering: .acquiring) >= 2 { _exit(130) }
                }
            }
            return presses.load(ordering: .acquiring)
        }
    }

    /// Stops counting for one loop; the last one out restores the previous handler.
    static func unregister() {
        lock.withLock {
            registered -= 1
            if registered == 0 { signal(SIGINT, previous) }
        }
    }

    /// True when Ctrl-C was pressed after `mark` was taken.
    static func interrupted(since mark: Int) -> Bool { presses.load(ordering: .acquiring) > mark }
}

/// Where a run hears Ctrl-C: the process's SIGINT (``process``, through ``InterruptMonitor``),
/// or a source of its own, pressed with ``press()``, so that a test can interrupt one run
/// without signalling every run in the process.
public final class InterruptSource: Sendable {
    /// SIGINT for the whole process.
    public static let process = InterruptSource(process: true)
    private let isProcess: Bool
    private let presses = Atomic<Int>(0)

    /// A source no signal reaches; only ``press()`` does.
    public convenience init() { self.init(process: false) }
    private init(process: Bool) { isProcess = process }

    /// One press for the runs listening to this source. On ``process`` it does what a
    /// Ctrl-C would do to every run of the process, so only a source of one's own should be pressed.
    public func press() {
        precondition(!isProcess, "press a source of your own; the process's is pressed by SIGINT")
        presses.add(1, ordering: .acquiringAndReleasing)
    }

    /// Starts listening; returns the mark for ``interrupted(since:)``.
    func register() -> Int { isProcess ? InterruptMonitor.register() : presses.load(ordering: .acquiring) }

    func unregister() { if isProcess { InterruptMonitor.unregister() } }

    func interrupted(since mark: Int) -> Bool {
        isProcess ? InterruptMonitor.interrupted(since: mark) : presses.load(ordering: .acquiring) > mark
    }
}
