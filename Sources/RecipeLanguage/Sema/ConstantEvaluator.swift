import Foundation

/// Evaluates global-level expressions that do not depend on the step: hyperparameter
/// defaults and constant state initial values.
public struct ConstantEvaluator: Sendable {
    /// Current hyperparameter values, by index.
    public var hypers: [Double]

    public init(hypers: [Double]) { self.hypers = hypers }

    /// The value, or nil when the expression is not a constant.
    public func evaluate(_ e: TypedExpr) -> Double? {
        switch e.kind {
        case .constant(let v): return v
        case .hyper(let i): return i < hypers.count ? hypers[i] : nil
        case .unary(.negate, let a): return evaluate(a).map { -$0 }
        case .unary(.not, let a): return evaluate(a).map { $0 == 0 ? 1 : 0 }
        case .binary(let op, let a, let b):
            guard let x = evaluate(a), let y = evaluate(b) else { return nil }
            return ConstantEvaluator.apply(op, x, y)
        case .conditional(let c, let a, let b):
            guard let cv = evaluate(c) else { return nil }
            return cv != 0 ? evaluate(a) : evaluate(b)
        case .call(let b, let args, _, _):
            let values = args.compactMap(evaluate)
            guard values.count == args.count else { return nil }
            switch b {
            case .sqrt: return Foundation.sqrt(values[0])
            case .rsqrt: return 1 / Foundation.sqrt(values[0])
            case .abs: return Swift.abs(values[0])
            case .sign: return ConstantEvaluator.sign(values[0])
            case .exp: return Foundation.exp(values[0])
            case .log: return Foundation.log(values[0])
            case .square: return values[0] * values[0]
            case .min: return ConstantEvaluator.minimum(values[0], values[1])
            case .max: return ConstantEvaluator.maximum(values[0], values[1])
            case .clamp: return ConstantEvaluator.minimum(ConstantEvaluator.maximum(values[0], values[1]), values[2])
            case .lerp: return values[0] + values[2] * (values[1] - values[0])
            default: return nil
            }
        default: return nil
        }
    }

    // The scalar semantics of the language, shared by constant folding here and in the
    // compiler and by the executor's scalar code: NaN propagates through `sign`, `min` and
    // `max` (Swift's `min` and `max` would drop it), as it does through arithmetic.

    /// −1, 0 or +1; NaN for NaN.
    public static func sign(_ x: Double) -> Double { x > 0 ? 1 : x < 0 ? -1 : (x.isNaN ? x : 0) }

    /// The smaller; NaN when either is NaN.
    public static func minimum(_ x: Double, _ y: Double) -> Double { x.isNaN || y.isNaN ? .nan : Swift.min(x, y) }

    /// The larger; NaN when either is NaN.
    public static func maximum(_ x: Double, _ y: Double) -> Double { x.isNaN || y.isNaN ? .nan : Swift.max(x, y) }

    /// A binary operator on numbers (booleans are 0 and 1).
    public static func apply(_ op: BinaryOperator, _ x: Double, _ y: Double) -> Double {
        switch op {
        case .add: return x + y
        case .subtract: return x - y
        case .multiply: return x * y
        case .divide: return x / y
        case .power: return Foundation.pow(x, y)
        case .equal: return x == y ? 1 : 0
        case .notEqual: return x != y ? 1 : 0
        case .less: return x < y ? 1 : 0
        case .lessEqual: return x <= y ? 1 : 0
        case .greater: return x > y ? 1 : 0
        case .greaterEqual: return x >= y ? 1 : 0
        case .and: return (x != 0 && y != 0) ? 1 : 0
        case .or: return (x != 0 || y != 0) ? 1 : 0
        }
    }

    /// A number as a person would write it: 0.02, 1e-08 → 1e-8, 3 → 3.
    public static func format(_ v: Double) -> String {
        if v == v.rounded() && Swift.abs(v) < 1e15 { return String(Int(v)) }
        var s = "\(v)"
        if let e = s.range(of: "e-0") { s.replaceSubrange(e, with: "e-") }
        return s
    }
}
