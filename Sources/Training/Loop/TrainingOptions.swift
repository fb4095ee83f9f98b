import Foundation

/// How a training run proceeds and where it writes: everything the loop needs besides the
/// model, the optimizer and the data.
public struct TrainingOptions: Sendable, Equatable {
    /// The step to stop at (counting from 1); a resumed run continues up to it.
    public var steps: Int
    /// Evaluate on the validation windows every this many steps (0: only at the end).
    public var evalEvery: Int
    /// How many validation windows to evaluate on (0: never evaluate).
    public var evalWindows: Int
    /// Write a checkpoint every this many steps (0: only at the end).
    public var checkpointEvery: Int
    /// Scale the gradients down so that their global L2 norm is at most this; nil: never clip.
    public var clipNorm: Double?
    /// Seeds the generator that draws training windows.
    public var seed: UInt64
    /// The run folder (`config.json`, `metrics.jsonl`, `checkpoint.ckpt`); created if missing.
    public var outDirectory: URL
    /// Report no progress at all.
    public var quiet: Bool
    /// Write a `metrics.jsonl` line (and a plain progress line off a terminal) every this
    /// many steps; evaluation steps and the last step are always written.
    public var logEvery: Int

    /// Options with the defaults a command line would offer.
    public init(
        steps: Int, evalEvery: Int = 100, evalWindows: Int = 32, checkpointEvery: Int = 500, clipNorm: Double? = nil,
        seed: UInt64 = 0, outDirectory: URL, quiet: Bool = false, logEvery: Int = 10
    ) {
        self.steps = steps
        self.evalEvery = evalEvery
        self.evalWindows = evalWindows
        self.checkpointEvery = checkpointEvery
        self.clipNorm = clipNorm
        self.seed = seed
        self.outDirectory = outDirectory
        self.quiet = quiet
        self.logEvery = logEvery
    }

    /// Rejects values the loop cannot honour, naming the option.
    public func validate() throws(TrainingError) {
        func fail(_ message: String) -> TrainingError { .invalidOptions(message) }
        guard steps > 0 else { throw fail("steps must be positive, got \(steps)") }
        guard evalEvery >= 0 else { throw fail("eval-every must be 0 or more, got \(evalEvery)") }
        guard evalWindows >= 0 else { throw fail("eval-windows must be 0 or more, got \(evalWindows)") }
        guard checkpointEvery >= 0 else { throw fail("checkpoint-every must be 0 or more, got \(checkpointEvery)") }
        guard logEvery > 0 else { throw fail("log-every must be positive, got \(logEvery)") }
        if let c = clipNorm, !(c > 0 && c.isFinite) { throw fail("clip-norm must be a positive number, got \(c)") }
    }

    /// True when step `s` is a multiple of `every` (never for `every` 0).
    static func isMultiple(_ s: Int, of every: Int) -> Bool { every > 0 && s % every == 0 }

    var json: JSON {
        .object([
            ("steps", .int(steps)),
            ("eval_every", .int(evalEvery)),
            ("eval_windows", .int(evalWindows)),
            ("checkpoint_every", .int(checkpointEvery)),
            ("clip_norm", clipNorm.map(JSON.double) ?? .null),
            ("seed", .int(seed)),
            ("log_every", .int(logEvery)),
            ("quiet", .bool(quiet)),
        ])
    }
}

/// What the caller knows about a run that the loop cannot see: the recipe and its settings.
/// Recorded in `config.json` so that a run can be reproduced from its folder alone.
public struct RunDescription: Sendable, Equatable {
    /// Where the recipe came from (a path or a built-in name), for people reading the file.
    public var recipeName: String
    /// The recipe's full source text.
    public var recipeText: String
    /// The recipe's hyperparameters after command-line overrides.
    public var hyperparameters: [String: Double]
    /// The optlang version that ran it.
    public var optlangVersion: String

    public init(recipeName: String, recipeText: String, hyperparameters: [String: Double], optlangVersion: String) {
        self.recipeName = recipeName
        self.recipeText = recipeText
        self.hyperparameters = hyperparameters
        self.optlangVersion = optlangVersion
    }
}

/// Why a run stopped early or could not start. Descriptions are one line, led by what failed.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// The loss of `step` was NaN or infinite.
    case nonFiniteLoss(step: Int)
    /// The gradient of `parameter` (the first in model order) held a NaN or an infinity.
    case nonFiniteGradient(step: Int, parameter: String)
    /// A checkpoint could not be read, or does not fit the model or optimizer.
    case checkpoint(String)
    /// An option is out of range.
    case invalidOptions(String)
    /// The run folder could not be written.
    case io(String)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let step): return "step \(step): non-finite loss"
        case .nonFiniteGradient(let step, let parameter): return "step \(step): non-finite gradient in '\(parameter)'"
        case .checkpoint(let message): return "checkpoint: \(message)"
        case .invalidOptions(let message): return "options: \(message)"
        case .io(let message): return "run folder: \(message)"
        }
    }
}
