/// Shows a run's progress: a live one-line bar redrawn with `\r` on a terminal, a plain line
/// every few steps otherwise, or nothing. Writes through an injected closure (which adds no
/// newlines of its own), so a command can point it at standard output and a test can keep it.
public struct ProgressReporter {
    /// How progress appears.
    public enum Style: Sendable, Equatable {
        /// One line redrawn in place (`\r`), for a terminal.
        case live
        /// A plain line every `logEvery` steps, for logs and pipes.
        case lines
        /// Nothing at all.
        case silent

        /// `.live` on a terminal, `.lines` elsewhere, `.silent` when `quiet`.
        public static func automatic(isTerminal: Bool, quiet: Bool) -> Style {
            quiet ? .silent : (isTerminal ? .live : .lines)
        }
    }

    /// What a progress line shows after a step.
    public struct Snapshot: Sendable, Equatable {
        public var step: Int
        public var totalSteps: Int
        public var trainLoss: Float
        public var tokensPerSecond: Double
        /// Estimated time to the last step, in seconds.
        public var secondsLeft: Double?
        public var elapsedSeconds: Double

        public init(
            step: Int, totalSteps: Int, trainLoss: Float, tokensPerSecond: Double, secondsLeft: Double?,
            elapsedSeconds: Double
        ) {
            self.step = step
            self.totalSteps = totalSteps
            self.trainLoss = trainLoss
            self.tokensPerSecond = tokensPerSecond
            self.secondsLeft = secondsLeft
            self.elapsedSeconds = elapsedSeconds
        }
    }

    public let style: Style
    private let write: (String) -> Void
    /// Length of the live line on screen, so a shorter one can blank out the rest.
    private var liveWidth = 0
    /// When the live line was last drawn (run time in seconds).
    private var lastDrawn = -Double.infinity
    /// Redraw the live line at most this often: a tiny model runs thousands of steps a second.
    static let liveInterval = 0.1

    /// - Parameters:
    ///   - style: how progress appears.
    ///   - write: receives text exactly as it should appear, newlines and `\r` included.
    public init(style: Style, write: @escaping (String) -> Void) {
        self.style = style
        self.write = write
    }

    /// A reporter that shows nothing.
    public static var silent: ProgressReporter { ProgressReporter(style: .silent, write: { _ in }) }

    /// Reports a finished step; `logged` says whether it is one of the `logEvery` steps.
    mutating func step(_ s: Snapshot, logged: Bool) {
        switch style {
        case .live:
            guard liveWidth == 0 || s.step == s.totalSteps || s.elapsedSeconds - lastDrawn >= Self.liveInterval
            else { return }
            lastDrawn = s.elapsedSeconds
            redraw(Self.line(s))
        case .lines: if logged { write(Self.line(s) + "\n") }
        case .silent: break
        }
    }

    /// Reports a validation loss, on its own line above the live bar.
    mutating func evaluation(step: Int, loss: Float, bayesLoss: Double?) {
        guard style != .silent else { return }
        var text = "step \(step): val_loss \(Self.loss(loss))"
        if let b = bayesLoss { text += " (bayes \(Self.loss(b)), gap \(Self.loss(Double(loss) - b)))" }
        clearLive()
        write(text + "\n")
    }

    /// Prints a message on its own line (e.g. that a stop was requested or a run resumed).
    mutating func note(_ text: String) {
        guard style != .silent else { return }
        clearLive()
        write(text + "\n")
    }

    /// Ends the live bar and prints the end-of-run summary.
    mutating func finish(_ summary: TrainingSummary) {
        guard style != .silent else { return }
        clearLive()
        for line in summary.lines { write(line + "\n") }
    }

    private mutating func redraw(_ text: String) {
        let padding = String(repeating: " ", count: max(0, liveWidth - text.count))
        write("\r" + text + padding)
        liveWidth = text.count
    }

    private mutating func clearLive() {
        guard liveWidth > 0 else { return }
        write("\r" + String(repeating: " ", count: liveWidth) + "\r")
        liveWidth = 0
    }

    // MARK: Formatting

    static func line(_ s: Snapshot) -> String {
        let width = String(s.totalSteps).count
        let step = String(repeating: " ", count: max(0, width - String(s.step).count)) + String(s.step)
        var text = "step \(step)/\(s.totalSteps)  loss \(loss(Double(s.trainLoss)))  \(rate(s.tokensPerSecond)) tok/s"
        text += "  elapsed \(duration(s.elapsedSeconds))"
        if let left = s.secondsLeft { text += "  eta \(duration(left))" }
        return text
    }

    /// A loss with four decimals, enough to see progress late in a run.
    static func loss(_ x: Float) -> String { loss(Double(x)) }
    static func loss(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        let scaled = (abs(x) * 10_000).rounded()
        let whole = Int(scaled) / 10_000
        let fraction = String(Int(scaled) % 10_000)
        return (x < 0 && scaled > 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: 4 - fraction.count)
            + fraction
    }

    /// A rate with a k or M suffix: `950`, `12.3k`, `1.05M`.
    static func rate(_ x: Double) -> String {
        guard x.isFinite, x >= 0 else { return "-" }
        func oneDecimal(_ v: Double) -> String {
            let tenths = Int((v * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)"
        }
        if x < 1_000 { return String(Int(x.rounded())) }
        if x < 1_000_000 { return oneDecimal(x / 1_000) + "k" }
        return oneDecimal(x / 1_000_000) + "M"
    }

    /// A duration as `42s`, `3m07s` or `2h05m`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        let s = Int(seconds.rounded())
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if s < 60 { return "\(s)s" }
        if s < 3_600 { return "\(s / 60)m\(two(s % 60))s" }
        return "\(s / 3_600)h\(two((s % 3_600) / 60))m"
    }
}

/// How a run ended, for the end-of-run summary and for callers.
public struct TrainingSummary: Sendable, Equatable {
    /// The last completed step.
    public var step: Int
    public var totalSteps: Int
    /// True when the run stopped early on request (Ctrl-C or ``Trainer/requestStop()``).
    public var stopped: Bool
    /// The validation loss of the last evaluation, if any.
    public var finalValidationLoss: Float?
    /// The lowest validation loss and its step.
    public var bestValidationLoss: Float?
    public var bestValidationStep: Int?
    public var bayesLoss: Double?
    /// Wall time of the whole run, over every session.
    public var elapsedSeconds: Double
    public var tokens: Int

    /// The summary as lines of text.
    public var lines: [String] {
        typealias P = ProgressReporter
        var out: [String] = []
        if stopped {
            out.append("stopped at step \(step) of \(totalSteps) in \(P.duration(elapsedSeconds)); checkpoint written")
        } else {
            let rate = elapsedSeconds > 0 ? Double(tokens) / elapsedSeconds : 0
            out.append("finished \(step) steps in \(P.duration(elapsedSeconds)) (\(P.rate(rate)) tok/s overall)")
        }
        if let final = finalValidationLoss {
            var text = "val_loss: final \(P.loss(final))"
            if let best = bestValidationLoss, let at = bestValidationStep {
                text += ", best \(P.loss(best)) at step \(at)"
            }
            out.append(text)
            if let b = bayesLoss { out.append("bayes_loss \(P.loss(b)): final is \(P.loss(Double(final) - b)) above") }
        }
        return out
    }
}
