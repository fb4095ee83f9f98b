import Dispatch
import Foundation

/// A flag that asks a running loop to stop after its current step. Set from any thread: a
/// test, another task, or the Ctrl-C handler.
final class StopFlag: @unchecked Sendable {  // @unchecked: every access goes through `lock`
    private let lock = NSLock()
    private var raised = false

    func raise() { lock.withLock { raised = true } }
    func lower() { lock.withLock { raised = false } }
    var isRaised: Bool { lock.withLock { raised } }
}

/// Turns Ctrl-C (SIGINT) into stop requests for the loops that are running.
///
/// The first loop to start installs the handler and the last one to finish restores the
/// previous disposition, so loops running side by side (as tests do) share one handler. A
/// second Ctrl-C while a stop is pending exits at once with status 130; checkpoints are
/// written atomically, so that is safe.
enum InterruptMonitor {
    private struct State: @unchecked Sendable {  // @unchecked: DispatchSource is thread-safe; guarded by `lock`
        var flags: [ObjectIdentifier: StopFlag] = [:]
        var source: DispatchSourceSignal?
        var previous: sighandler_t?
        var interrupts = 0
    }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var state = State()  // guarded by `lock`

    /// Starts delivering Ctrl-C to `flag` until ``unregister(_:)``.
    static func register(_ flag: StopFlag) {
        lock.withLock {
            state.flags[ObjectIdentifier(flag)] = flag
            guard state.source == nil else { return }
            state.interrupts = 0
            // Dispatch sees the signal only when the default action (termination) is off.
            state.previous = signal(SIGINT, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
            source.setEventHandler { InterruptMonitor.interrupted() }
            source.resume()
            state.source = source
        }
    }

    /// Stops delivering Ctrl-C to `flag`; the last one out restores the previous handler.
    static func unregister(_ flag: StopFlag) {
        lock.withLock {
            state.flags[ObjectIdentifier(flag)] = nil
            guard state.flags.isEmpty, let source = state.source else { return }
            source.cancel()
            state.source = nil
            signal(SIGINT, state.previous ?? SIG_DFL)
        }
    }

    private static func interrupted() {
        let flags = lock.withLock {
            state.interrupts += 1
            return state.interrupts > 1 ? nil : Array(state.flags.values)
        }
        guard let flags else { exit(130) }
        for flag in flags { flag.raise() }
    }
}
