/// The quintic Newton–Schulz iteration that Muon uses to approximately orthogonalise an
/// update (KellerJordan/Muon, `zeropower_via_newtonschulz5`).
///
/// For a matrix `G = U·diag(σ)·Vᵀ` the iteration leaves `U` and `V` alone and maps each
/// normalised singular value `x = σ / ‖G‖_F` through `f(x) = a·x + b·x³ + c·x⁵` once per
/// step, with `(a, b, c) = (3.4445, −4.7750, 2.0315)`. These coefficients trade exactness
/// for speed: after five steps every `x` in roughly `[0.001, 1]` lands in about
/// `[0.68, 1.13]` rather than exactly on 1, which Muon found good enough and much cheaper
/// than an exact polar factor (see ``Tensor/polarFactor()`` for that).
///
/// One step on the wide orientation `X` (`p×q`, `p ≤ q`):
/// ```
/// A = X·Xᵀ            // p×p   2p²q FLOPs
/// B = b·A + c·A·A     // p×p   2p³ FLOPs
/// X = a·X + B·X       // p×q   2p²q FLOPs
/// ```
enum NewtonSchulz {
    /// The coefficients of `f(x) = a·x + b·x³ + c·x⁵`.
    static let a: Float = 3.4445
    static let b: Float = -4.7750
    static let c: Float = 2.0315
    /// Added to the Frobenius norm before dividing, so a zero matrix stays zero.
    static let normEpsilon: Double = 1e-7
}

/// Reusable buffers for orthogonalising matrices of one shape with Newton–Schulz.
///
/// The optimizer calls this every step on the same parameter shapes, so all scratch
/// space is allocated once in ``init(rows:columns:)`` and reused.
public struct NewtonSchulzWorkspace: Sendable {
    /// Rows of the matrices this workspace accepts.
    public let rows: Int
    /// Columns of the matrices this workspace accepts.
    public let columns: Int

    /// The short side `p` and long side `q`: the iteration runs on the wide `p×q` orientation.
    private let short: Int
    private let long: Int
    /// The iterate `X` and the next iterate, swapped after each step (`p×q` each).
    private var x: [Float]
    private var next: [Float]
    /// `A = X·Xᵀ` and `B = b·A + c·A·A` (`p×p` each).
    private var gram: [Float]
    private var poly: [Float]

    /// Creates a workspace for `rows × columns` matrices.
    /// - Parameters:
    ///   - rows: the matrices' first extent (non-negative).
    ///   - columns: the matrices' second extent (non-negative).
    public init(rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0, "orthogonalize: negative extent in [\(rows), \(columns)]")
        self.rows = rows
        self.columns = columns
        short = min(rows, columns)
        long = max(rows, columns)
        x = [Float](repeating: 0, count: short * long)
        next = x
        gram = [Float](repeating: 0, count: short * short)
        poly = gram
    }

    /// Writes the Newton–Schulz approximation of the polar factor of `input` into `output`.
    ///
    /// Allocates nothing when `output` already has the workspace's shape and holds the only
    /// reference to its storage; otherwise `output` is replaced by a tensor of that shape.
    /// - Parameters:
    ///   - input: a `rows × columns` matrix.
    ///   - output: receives the `rows × columns` result.
    ///   - steps: the number of iterations (Muon uses 5).
    /// - Throws: when `input` does not have the workspace's shape or `steps` is negative.
    /// - Complexity: `steps · (4p²q + 2p³)` FLOPs for `p = min(rows, columns)`,
    ///   `q = max(rows, columns)`.
    public mutating func orthogonalize(_ input: Tensor, into output: inout Tensor, steps: Int = 5) throws(TensorError) {
        let expected = Shape([rows, columns])
        guard input.shape == expected else {
            throw TensorError("orthogonalize", "workspace is for shape \(expected), got shape \(input.shape)")
        }
        guard steps >= 0 else { throw TensorError("orthogonalize", "steps must be non-negative, got \(steps)") }
        if output.shape != expected { output = .zeros(expected) }
        if short == 0 { return }

        let tall = rows > columns
        let scale = Float(NewtonSchulz.frobeniusNorm(input.scalars) + NewtonSchulz.normEpsilon)
        NewtonSchulz.load(input.scalars, rows: rows, columns: columns, transposing: tall, dividingBy: scale, into: &x)
        for _ in 0..<steps {
            NewtonSchulz.step(x: x, next: &next, gram: &gram, poly: &poly, p: short, q: long)
            swap(&x, &next)
        }
        NewtonSchulz.store(x, rows: short, columns: long, transposing: tall, into: &output.scalars)
    }
}

extension NewtonSchulzWorkspace {
    /// The same as ``orthogonalize(_:into:steps:)`` on raw row-major buffers of
    /// `rows × columns` floats, for executors that own their memory. Allocates nothing.
    /// `input` and `output` may be the same buffer.
    public mutating func orthogonalize(
        _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, steps: Int = 5
    ) {
        let count = rows * columns
        if short == 0 { return }
        let tall = rows > columns
        var sum: Double = 0
        for i in 0..<count { sum += Double(input[i]) * Double(input[i]) }
        let scale = Float(sum.squareRoot() + NewtonSchulz.normEpsilon)
        x.withUnsafeMutableBufferPointer { dst in
            if tall {
                Layout.transpose(input, rows: rows, columns: columns, into: dst.baseAddress!)
                for i in 0..<count { dst[i] /= scale }
            } else {
                for i in 0..<count { dst[i] = input[i] / scale }
            }
        }
        for _ in 0..<steps {
            NewtonSchulz.step(x: x, next: &next, gram: &gram, poly: &poly, p: short, q: long)
            swap(&x, &next)
        }
        x.withUnsafeBufferPointer { src in
            if tall {
                Layout.transpose(src.baseAddress!, rows: short, columns: long, into: output)
            } else {
                output.update(from: src.baseAddress!, count: count)
            }
        }
    }
}

extension Tensor {
    /// The Newton–Schulz approximation of this matrix's orthogonal polar factor, as used by
    /// the Muon optimizer: same shape, same singular vectors, singular values pushed towards 1.
    ///
    /// A zero or empty matrix gives zeros. For repeated calls on one shape, keep a
    /// ``NewtonSchulzWorkspace`` instead; this method builds one per call.
    /// - Parameter steps: the number of iterations (Muon uses 5).
    /// - Returns: a matrix of the same shape.
    /// - Throws: when `self` is not a matrix or `steps` is negative.
    /// - Complexity: `steps · (4p²q + 2p³)` FLOPs for `p = min(rows, columns)`,
    ///   `q = max(rows, columns)`.
    public func orthogonalized(steps: Int = 5) throws(TensorError) -> Tensor {
        guard shape.isMatrix else { throw TensorError("orthogonalize", "needs a matrix, got shape \(shape)") }
        var workspace = NewtonSchulzWorkspace(rows: shape[0], columns: shape[1])
        var output = Tensor.zeros(shape)
        try workspace.orthogonalize(self, into: &output, steps: steps)
        return output
    }
}

// MARK: - Private helpers (the only pointer code in this file)

extension NewtonSchulz {
    /// The Frobenius norm, accumulated in `Double`.
    static func frobeniusNorm(_ values: [Float]) -> Double {
        var sum: Double = 0
        for v in values { sum += Double(v) * Double(v) }
        return sum.squareRoot()
    }

    /// `x ← input / scale`, transposed into the wide orientation when `transposing`.
    fileprivate static func load(
        _ input: [Float], rows: Int, columns: Int, transposing: Bool, dividingBy scale: Float, into x: inout [Float]
    ) {
        if transposing {
            input.withUnsafeBufferPointer { src in
                x.withUnsafeMutableBufferPointer { dst in
                    Layout.transpose(src.baseAddress!, rows: rows, columns: columns, into: dst.baseAddress!)
                }
            }
        } else {
            for i in x.indices { x[i] = input[i] }
        }
        for i in x.indices { x[i] /= scale }
    }

    /// `output ← x`, transposed back from the wide orientation when `transposing`.
    /// `rows × columns` is the shape of `x`.
    fileprivate static func store(
        _ x: [Float], rows: Int, columns: Int, transposing: Bool, into output: inout [Float]
    ) {
        if transposing {
            x.withUnsafeBufferPointer { src in
                output.withUnsafeMutableBufferPointer { dst in
                    Layout.transpose(src.baseAddress!, rows: rows, columns: columns, into: dst.baseAddress!)
                }
            }
        } else {
            for i in x.indices { output[i] = x[i] }
        }
    }

    /// One iteration: `next = a·X + (b·A + c·A·A)·X` with `A = X·Xᵀ`, for `X` of shape `p×q`.
    fileprivate static func step(
        x: [Float], next: inout [Float], gram: inout [Float], poly: inout [Float], p: Int, q: Int
    ) {
        x.withUnsafeBufferPointer { xb in
            let xp = xb.baseAddress!
            gram.withUnsafeMutableBufferPointer { gb in
                let gp = gb.baseAddress!
                // A = X·Xᵀ: the transpose flag reads X's rows as Xᵀ's columns, no copy needed.
                Matmul.multiply(
                    m: p, n: p, k: q, a: xp, lda: q, transposeA: false, b: xp, ldb: q, transposeB: true,
                    c: gp, ldc: p, accumulate: false)
                poly.withUnsafeMutableBufferPointer { pb in
                    let pp = pb.baseAddress!
                    // B = c·A·A + b·A
                    Matmul.multiply(
                        m: p, n: p, k: p, a: gp, lda: p, transposeA: false, b: gp, ldb: p, transposeB: false,
                        c: pp, ldc: p, accumulate: false)
                    for i in 0..<(p * p) { pp[i] = c * pp[i] + b * gp[i] }
                    next.withUnsafeMutableBufferPointer { nb in
                        let np = nb.baseAddress!
                        // next = a·X, then next += B·X
                        for i in 0..<(p * q) { np[i] = a * xp[i] }
                        Matmul.multiply(
                            m: p, n: q, k: p, a: pp, lda: p, transposeA: false, b: xp, ldb: q, transposeB: false,
                            c: np, ldc: q, accumulate: true)
                    }
                }
            }
        }
    }
}
