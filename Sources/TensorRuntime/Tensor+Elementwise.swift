import Foundation

// MARK: - Binary arithmetic

/// Elementwise arithmetic between tensors of the same shape, and between a tensor and a scalar.
///
/// Tensor ⊕ tensor can fail on a shape mismatch, so it is spelled as throwing methods
/// (`a.adding(b)`); tensor ⊕ scalar cannot fail, so it also has operators (`a * 2`, `1 - a`).
extension Tensor {
    /// Throws `op: shapes differ: [a] vs [b]` unless `other` has this tensor's shape.
    func checkSameShape(as other: Tensor, _ op: String) throws(TensorError) {
        guard shape == other.shape else { throw TensorError(op, "shapes differ: \(shape) vs \(other.shape)") }
    }

    private func combined(_ other: Tensor, _ op: Elementwise.BinaryOp, _ name: String) throws(TensorError) -> Tensor {
        try checkSameShape(as: other, name)
        return Tensor(unchecked: shape, Elementwise.binary(op, scalars, other.scalars))
    }

    private func combined(_ s: Float, _ op: Elementwise.BinaryOp, scalarFirst: Bool = false) -> Tensor {
        Tensor(unchecked: shape, Elementwise.binary(op, scalars, scalar: s, scalarFirst: scalarFirst))
    }

    /// The elementwise sum `self + other`.
    /// - Throws: `add: shapes differ: …` when the shapes differ.
    public func adding(_ other: Tensor) throws(TensorError) -> Tensor { try combined(other, .add, "add") }

    /// The elementwise difference `self − other`.
    /// - Throws: `subtract: shapes differ: …` when the shapes differ.
    public func subtracting(_ other: Tensor) throws(TensorError) -> Tensor {
        try combined(other, .subtract, "subtract")
    }

    /// The elementwise (Hadamard) product `self ⊙ other`.
    /// - Throws: `multiply: shapes differ: …` when the shapes differ.
    public func multiplying(_ other: Tensor) throws(TensorError) -> Tensor {
        try combined(other, .multiply, "multiply")
    }

    /// The elementwise quotient `self / other` (IEEE semantics: `x / 0` is ±∞ or NaN).
    /// - Throws: `divide: shapes differ: …` when the shapes differ.
    public func dividing(_ other: Tensor) throws(TensorError) -> Tensor { try combined(other, .divide, "divide") }

    /// `self + s` for every element.
    public func adding(_ s: Float) -> Tensor { combined(s, .add) }
    /// `self − s` for every element.
    public func subtracting(_ s: Float) -> Tensor { combined(s, .subtract) }
    /// `self · s` for every element.
    public func multiplying(_ s: Float) -> Tensor { combined(s, .multiply) }
    /// `self / s` for every element.
    public func dividing(_ s: Float) -> Tensor { combined(s, .divide) }

    /// Adds a scalar to every element.
    public static func + (lhs: Tensor, rhs: Float) -> Tensor { lhs.combined(rhs, .add) }
    /// Adds a scalar to every element.
    public static func + (lhs: Float, rhs: Tensor) -> Tensor { rhs.combined(lhs, .add) }
    /// Subtracts a scalar from every element.
    public static func - (lhs: Tensor, rhs: Float) -> Tensor { lhs.combined(rhs, .subtract) }
    /// Subtracts every element from a scalar.
    public static func - (lhs: Float, rhs: Tensor) -> Tensor { rhs.combined(lhs, .subtract, scalarFirst: true) }
    /// Multiplies every element by a scalar.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs.combined(rhs, .multiply) }
    /// Multiplies every element by a scalar.
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { rhs.combined(lhs, .multiply) }
    /// Divides every element by a scalar.
    public static func / (lhs: Tensor, rhs: Float) -> Tensor { lhs.combined(rhs, .divide) }
    /// Divides a scalar by every element.
    public static func / (lhs: Float, rhs: Tensor) -> Tensor { rhs.combined(lhs, .divide, scalarFirst: true) }
    /// The elementwise negation.
    public static prefix func - (operand: Tensor) -> Tensor { operand.negated() }

    /// Adds a scalar to every element in place.
    public static func += (lhs: inout Tensor, rhs: Float) {
        Elementwise.binary(.add, inPlace: &lhs.scalars, scalar: rhs)
    }
    /// Subtracts a scalar from every element in place.
    public static func -= (lhs: inout Tensor, rhs: Float) {
        Elementwise.binary(.subtract, inPlace: &lhs.scalars, scalar: rhs)
    }
    /// Multiplies every element by a scalar in place.
    public static func *= (lhs: inout Tensor, rhs: Float) { lhs.scale(by: rhs) }
    /// Divides every element by a scalar in place.
    public static func /= (lhs: inout Tensor, rhs: Float) {
        Elementwise.binary(.divide, inPlace: &lhs.scalars, scalar: rhs)
    }
}

// MARK: - In-place updates

/// In-place updates for optimisers and accumulators: they write into this tensor's storage
/// (copying it first only when it is shared).
extension Tensor {
    /// `self += alpha · other` (BLAS axpy), one fused multiply-add per element.
    /// - Throws: `add: shapes differ: …` when the shapes differ.
    /// - Complexity: O(count), threaded above 32 768 elements.
    public mutating func add(_ other: Tensor, scaledBy alpha: Float = 1) throws(TensorError) {
        try checkSameShape(as: other, "add")
        if alpha == 1 {
            Elementwise.binary(.add, inPlace: &scalars, other.scalars)
        } else {
            Elementwise.axpy(alpha, other.scalars, &scalars)
        }
    }

    /// `self ⊙= other`, the elementwise product in place.
    /// - Throws: `multiply: shapes differ: …` when the shapes differ.
    public mutating func multiply(by other: Tensor) throws(TensorError) {
        try checkSameShape(as: other, "multiply")
        Elementwise.binary(.multiply, inPlace: &scalars, other.scalars)
    }

    /// `self *= s` for every element.
    public mutating func scale(by s: Float) { Elementwise.binary(.multiply, inPlace: &scalars, scalar: s) }

    /// Moves every element a fraction `w` of the way toward `other`: `self += w · (other − self)`.
    /// This is the exponential-moving-average update (`w = 1 − β`).
    /// - Throws: `lerp: shapes differ: …` when the shapes differ.
    public mutating func lerp(toward other: Tensor, weight w: Float) throws(TensorError) {
        try checkSameShape(as: other, "lerp")
        Elementwise.lerp(w, other.scalars, &scalars)
    }

    /// Negates every element in place.
    public mutating func negate() { Elementwise.unary(.negate, inPlace: &scalars) }

    /// Squares every element in place.
    public mutating func formSquare() { Elementwise.unary(.square, inPlace: &scalars) }

    /// Clamps every element into `lower...upper` in place; NaN stays NaN.
    /// - Precondition: `lower <= upper`.
    public mutating func clamp(min lower: Float, max upper: Float) {
        precondition(lower <= upper, "clamp: min \(lower) exceeds max \(upper)")
        Elementwise.unary(.clamp(lower: lower, upper: upper), inPlace: &scalars)
    }

    /// Replaces every element `x` by `f(x)`, in order, on the calling thread.
    public mutating func mapInPlace(_ f: (Float) throws -> Float) rethrows {
        for i in scalars.indices { scalars[i] = try f(scalars[i]) }
    }
}

// MARK: - Unary functions

/// Elementwise functions. Each returns a new tensor of the same shape.
extension Tensor {
    private func applying(_ op: Elementwise.UnaryOp) -> Tensor {
        Tensor(unchecked: shape, Elementwise.unary(op, scalars))
    }

    /// A tensor of `f(x)` for every element `x`, computed in order on the calling thread
    /// (so `f` may keep state). For the rarely used functions that have no method here.
    public func map(_ f: (Float) throws -> Float) rethrows -> Tensor {
        Tensor(unchecked: shape, try scalars.map(f))
    }

    /// `−x`.
    public func negated() -> Tensor { applying(.negate) }
    /// `x²`.
    public func square() -> Tensor { applying(.square) }
    /// `|x|`.
    public func abs() -> Tensor { applying(.function { $0.magnitude }) }
    /// −1, 0 or 1 by the sign of `x`; `sign(0) = 0` (keeping the zero's sign), `sign(NaN) = NaN`.
    public func sign() -> Tensor { applying(.function { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }) }
    /// `√x` (NaN for negative `x`).
    public func sqrt() -> Tensor { applying(.function { $0.squareRoot() }) }
    /// `1 / √x`, as in RMSNorm (∞ at 0).
    public func rsqrt() -> Tensor { applying(.function { 1 / $0.squareRoot() }) }
    /// `eˣ`.
    public func exp() -> Tensor { applying(.function { Foundation.exp($0) }) }
    /// The natural logarithm (−∞ at 0, NaN for negative `x`).
    public func log() -> Tensor { applying(.function { Foundation.log($0) }) }
    /// The hyperbolic tangent.
    public func tanh() -> Tensor { applying(.function { Foundation.tanh($0) }) }
    /// The logistic sigmoid `1 / (1 + e⁻ˣ)`.
    public func sigmoid() -> Tensor { applying(.function(Tensor.logistic)) }
    /// SiLU (swish), `x · σ(x)`.
    public func silu() -> Tensor { applying(.function { $0 * Tensor.logistic($0) }) }

    /// GELU with GPT-2's tanh approximation: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    public func gelu() -> Tensor {
        applying(
            .function { x in
                let inner = Tensor.sqrtTwoOverPi * (x + 0.044715 * x * x * x)
                return 0.5 * x * (1 + Foundation.tanh(inner))
            })
    }

    /// `xᵖ` for every element (C `powf` semantics); `p == 1` and `p == 2` are exact.
    public func pow(_ p: Float) -> Tensor {
        switch p {
        case 1: return self
        case 2: return square()
        default: return applying(.function { Foundation.pow($0, p) })
        }
    }

    /// `min(x, s)` for every element; NaN elements stay NaN.
    public func minimum(_ s: Float) -> Tensor { applying(.clamp(lower: -.infinity, upper: s)) }
    /// `max(x, s)` for every element; NaN elements stay NaN.
    public func maximum(_ s: Float) -> Tensor { applying(.clamp(lower: s, upper: .infinity)) }

    /// Every element clamped into `lower...upper`; NaN stays NaN.
    /// - Precondition: `lower <= upper`.
    public func clamped(min lower: Float, max upper: Float) -> Tensor {
        precondition(lower <= upper, "clamped: min \(lower) exceeds max \(upper)")
        return applying(.clamp(lower: lower, upper: upper))
    }

    /// The elementwise minimum of two tensors; NaN on either side gives NaN.
    /// - Throws: `minimum: shapes differ: …` when the shapes differ.
    public func minimum(_ other: Tensor) throws(TensorError) -> Tensor {
        try checkSameShape(as: other, "minimum")
        return Tensor(unchecked: shape, Elementwise.extremum(maximum: false, scalars, other.scalars))
    }

    /// The elementwise maximum of two tensors; NaN on either side gives NaN.
    /// - Throws: `maximum: shapes differ: …` when the shapes differ.
    public func maximum(_ other: Tensor) throws(TensorError) -> Tensor {
        try checkSameShape(as: other, "maximum")
        return Tensor(unchecked: shape, Elementwise.extremum(maximum: true, scalars, other.scalars))
    }

    private static let sqrtTwoOverPi = Float((2 / Double.pi).squareRoot())

    /// σ(x) written so that neither branch overflows: for x < 0 it uses eˣ / (1 + eˣ).
    private static func logistic(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }
}

// MARK: - Broadcasting a vector over a matrix

/// A vector applied to every row or every column of a matrix: bias and positional adds,
/// norm gains, per-row scaling. A tensor of rank > 2 is viewed as `[count / C, C]`, with
/// `C` its last dimension.
extension Tensor {
    /// This tensor viewed as `[rows, columns]`: the last dimension against all the others.
    /// - Throws: `op: needs …, got shape …` below `minimumRank`.
    func matrixView(_ op: String, minimumRank: Int = 2) throws(TensorError) -> (rows: Int, columns: Int) {
        guard rank >= minimumRank else {
            let needs = minimumRank == 2 ? "a matrix" : "a tensor of rank ≥ \(minimumRank)"
            throw TensorError(op, "needs \(needs), got shape \(shape)")
        }
        let columns = shape[rank - 1]
        return (shape.dims.dropLast().reduce(1, *), columns)
    }

    private func rowBroadcast(_ v: Tensor, _ op: Elementwise.BinaryOp, _ name: String) throws(TensorError) -> Tensor {
        let (r, c) = try matrixView(name, minimumRank: 1)
        guard v.rank == 1, v.count == c else {
            throw TensorError(name, "vector \(v.shape) does not match the last dimension of \(shape) (expected [\(c)])")
        }
        return Tensor(unchecked: shape, Elementwise.rowVector(op, scalars, v.scalars, rows: r, columns: c))
    }

    private func columnBroadcast(_ v: Tensor, _ op: Elementwise.BinaryOp, _ name: String) throws(TensorError) -> Tensor
    {
        let (r, c) = try matrixView(name)
        guard v.rank == 1, v.count == r else {
            throw TensorError(name, "vector \(v.shape) does not match the \(r) rows of \(shape) (expected [\(r)])")
        }
        return Tensor(unchecked: shape, Elementwise.columnVector(op, scalars, v.scalars, rows: r, columns: c))
    }

    /// `self[r, c] + v[c]`: the vector added to every row (a bias or positional add).
    /// - Parameter v: a vector whose length is this tensor's last dimension.
    /// - Throws: `addRowVector: …` when `v` is not such a vector or `self` is a scalar.
    public func addingRowVector(_ v: Tensor) throws(TensorError) -> Tensor {
        try rowBroadcast(v, .add, "addRowVector")
    }

    /// `self[r, c] · v[c]`: every row scaled elementwise by the vector (a norm gain).
    /// - Parameter v: a vector whose length is this tensor's last dimension.
    /// - Throws: `multiplyRowVector: …` when `v` is not such a vector or `self` is a scalar.
    public func multiplyingRowVector(_ v: Tensor) throws(TensorError) -> Tensor {
        try rowBroadcast(v, .multiply, "multiplyRowVector")
    }

    /// `self[r, c] + v[r]`: `v[r]` added to every element of row `r`.
    /// - Parameter v: a vector with one element per row (`count / C` rows for rank > 2).
    /// - Throws: `addColumnVector: …` for rank < 2 or a mismatched vector.
    public func addingColumnVector(_ v: Tensor) throws(TensorError) -> Tensor {
        try columnBroadcast(v, .add, "addColumnVector")
    }

    /// `self[r, c] − v[r]`: `v[r]` subtracted from row `r` (e.g. a row maximum before `exp`).
    /// - Throws: `subtractColumnVector: …` for rank < 2 or a mismatched vector.
    public func subtractingColumnVector(_ v: Tensor) throws(TensorError) -> Tensor {
        try columnBroadcast(v, .subtract, "subtractColumnVector")
    }

    /// `self[r, c] · v[r]`: row `r` scaled by `v[r]`.
    /// - Throws: `multiplyColumnVector: …` for rank < 2 or a mismatched vector.
    public func multiplyingColumnVector(_ v: Tensor) throws(TensorError) -> Tensor {
        try columnBroadcast(v, .multiply, "multiplyColumnVector")
    }

    /// `self[r, c] / v[r]`: row `r` divided by `v[r]` (e.g. softmax normalisation).
    /// - Throws: `divideColumnVector: …` for rank < 2 or a mismatched vector.
    public func dividingColumnVector(_ v: Tensor) throws(TensorError) -> Tensor {
        try columnBroadcast(v, .divide, "divideColumnVector")
    }
}
