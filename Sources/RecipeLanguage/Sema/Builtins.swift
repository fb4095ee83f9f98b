/// The language's built-in functions. Their exact meaning is in `docs/language.md`.
public enum Builtin: String, Sendable, CaseIterable {
    // The five primitives.
    case momentum
    case emaVariance = "ema_variance"
    case orthogonalize, dualnorm
    case layerLR = "layer_lr"
    // Group reductions: per-layer scalar → global scalar.
    case groupMax = "group_max"
    case groupMean = "group_mean"
    case groupSum = "group_sum"
    // Element-wise math.
    case sqrt, rsqrt, abs, sign, exp, log, square, min, max, clamp, lerp
    // Reductions and norms.
    case sum, mean, rms, norm
    // Schedules of t and T.
    case constant
    case linearWarmup = "linear_warmup"
    case cosineDecay = "cosine_decay"
    case wsd
    // Constant tensors.
    case zeros, ones

    /// True for built-ins that keep per-parameter state of their own.
    public var isStateful: Bool { self == .momentum || self == .emaVariance }
}

/// Norm kinds for `norm`, `dualnorm` and the per-row/per-column reductions.
public enum NormKind: String, Sendable, CaseIterable {
    case l2, frobenius, spectral, nuclear, l1, linf, row, col
    /// Dual-norm kinds.
    case rmsToRms = "rms_to_rms"
    case l1ToLinf = "l1_to_linf"

    /// True when computing this norm needs a matrix.
    var needsMatrix: Bool { self == .spectral || self == .nuclear || self == .rmsToRms }
}

/// Compile-time options of a call (named arguments that are not values).
public struct BuiltinOptions: Sendable, Equatable {
    public var nesterov = false
    public var ema = true
    public var steps = 5
    public var kind: NormKind?
    /// `layer_lr(…, by: mean)` normalises by the group mean instead of the max.
    public var byMean = false
    public init() {}
}

/// What a built-in accepts.
struct Signature {
    /// A parameter: a value, or an option spelled as a constant.
    enum Parameter {
        case value(String)
        case optionalValue(String, Double)
        case flag(String, Bool)
        case count(String, Int)
        case kind(String, [NormKind], default: NormKind?)
        case optionalKind(String, [NormKind])
        case normaliser(String)
    }
    var parameters: [Parameter]

    static func of(_ b: Builtin) -> Signature {
        switch b {
        case .momentum:
            return Signature(parameters: [.value("x"), .value("beta"), .flag("nesterov", false), .flag("ema", true)])
        case .emaVariance: return Signature(parameters: [.value("x"), .value("beta")])
        case .orthogonalize: return Signature(parameters: [.value("x"), .count("steps", 5)])
        case .dualnorm:
            return Signature(parameters: [
                .value("x"), .kind("kind", [.rmsToRms, .spectral, .l1ToLinf, .frobenius], default: nil),
            ])
        case .layerLR: return Signature(parameters: [.value("alpha"), .normaliser("by")])
        case .groupMax, .groupMean, .groupSum, .sqrt, .rsqrt, .abs, .sign, .exp, .log, .square:
            return Signature(parameters: [.value("x")])
        case .min, .max: return Signature(parameters: [.value("a"), .value("b")])
        case .clamp: return Signature(parameters: [.value("x"), .value("lo"), .value("hi")])
        case .lerp: return Signature(parameters: [.value("a"), .value("b"), .value("w")])
        case .sum, .mean, .rms: return Signature(parameters: [.value("x"), .optionalKind("per", [.row, .col])])
        case .norm:
            return Signature(parameters: [
                .value("x"),
                .kind("kind", [.l2, .frobenius, .spectral, .nuclear, .l1, .linf, .row, .col], default: .l2),
            ])
        case .constant: return Signature(parameters: [])
        case .linearWarmup: return Signature(parameters: [.value("steps")])
        case .cosineDecay: return Signature(parameters: [.optionalValue("final", 0)])
        case .wsd: return Signature(parameters: [.value("warmup"), .value("decay")])
        case .zeros, .ones: return Signature(parameters: [.optionalKind("per", [.row, .col])])
        }
    }

    var names: [String] {
        parameters.map {
            switch $0 {
            case .value(let n), .optionalValue(let n, _), .flag(let n, _), .count(let n, _), .kind(let n, _, _),
                .optionalKind(let n, _), .normaliser(let n):
                return n
            }
        }
    }

    /// The number of arguments that must be given.
    var required: Int {
        parameters.filter {
            if case .value = $0 { return true }
            if case .kind(_, _, nil) = $0 { return true }
            return false
        }.count
    }
}
