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
/// The workspace stores the iterate as `Y = Xᵀ` (`q×p`, the tall orientation) and runs the
/// same step as `A = Yᵀ·Y`, `Y = a·Y + Y·B` (B is symmetric): then no product needs a
/// transposed right-hand operand, whose packing would be a slow gather.
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
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                orthogonalize(src.baseAddress!, into: dst.baseAddress!, steps: steps)
            }
        }
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
        if short == 0 || count == 0 { return }
        let inverse = Float(1 / (NewtonSchulz.frobeniusNorm(input, count) + NewtonSchulz.normEpsilon))
        let (p, q) = (short, long)
        let wide = rows < columns
        x.withUnsafeMutableBufferPointer { xb in
            next.withUnsafeMutableBufferPointer { nb in
                gram.withUnsafeMutableBufferPointer { gb in
                    poly.withUnsafeMutableBufferPointer { pb in
                        var y = xb.baseAddress!
                        var n = nb.baseAddress!
                        // Y (q×p) = the tall orientation of the input, normalised.
                        if wide {
                            Layout.transpose(input, rows: rows, columns: columns, into: y)
                            NewtonSchulz.scale(y, count, by: inverse)
                        } else {
                            NewtonSchulz.scale(input, into: y, count, by: inverse)
                        }
                        for _ in 0..<steps {
                            NewtonSchulz.step(y: y, next: n, gram: gb.baseAddress!, poly: pb.baseAddress!, p: p, q: q)
                            swap(&y, &n)
                        }
                        if wide {
                            Layout.transpose(y, rows: q, columns: p, into: output)
                        } else {
                            output.update(from: y, count: count)
                        }
                    }
                }
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
    /// The Frobenius norm, from 16-lane partial sums added up in `Double` every 256 values.
    static func frobeniusNorm(_ p: UnsafePointer<Float>, _ count: Int) -> Double {
        var total: Double = 0
        var i = 0
        while i + 256 <= count {
            var acc = SIMD16<Float>()
            for k in stride(from: i, to: i + 256, by: 16) {
                let v = UnsafeRawPointer(p + k).loadUnaligned(as: SIMD16<Float>.self)
                acc.addProduct(v, v)
            }
            for lane in 0..<16 { total += Double(acc[lane]) }
            i += 256
        }
        while i < count {
            total += Double(p[i]) * Double(p[i])
            i += 1
        }
        return total.squareRoot()
    }

    /// The Frobenius norm of an array (for callers outside the workspace).
    static func frobeniusNorm(_ values: [Float]) -> Double {
        values.withUnsafeBufferPointer { frobeniusNorm($0.baseAddress!, $0.count) }
    }

    /// `dst = src · factor`.
    static func scale(
        _ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ count: Int, by factor: Float
    ) {
        for i in 0..<count { dst[i] = src[i] * factor }
    }

    /// `x *= factor` in place.
    static func scale(_ x: UnsafeMutablePointer<Float>, _ count: Int, by factor: Float) {
        for i in 0..<count { x[i] *= factor }
    }

    /// One iteration on the tall iterate `Y` (`q×p`): `G = Yᵀ·Y`, `B = b·G + c·G·G`,
    /// `next = a·Y + Y·B`, computed as `Y·(B + a·I)` so the last step is one product.
    static func step(
        y: UnsafeMutablePointer<Float>, next: UnsafeMutablePointer<Float>, gram: UnsafeMutablePointer<Float>,
        poly: UnsafeMutablePointer<Float>, p: Int, q: Int
    ) {
        // G = Yᵀ·Y: Y read in place as a transposed left operand.
        Matmul.multiply(
            m: p, n: p, k: q, a: y, lda: p, transposeA: true, b: y, ldb: p, transposeB: false,
            c: gram, ldc: p, accumulate: false)
        // B = c·G·G + b·G
        Matmul.multiply(
            m: p, n: p, k: p, a: gram, lda: p, transposeA: false, b: gram, ldb: p, transposeB: false,
            c: poly, ldc: p, accumulate: false)
        for i in 0..<(p * p) { poly[i] = c * poly[i] + b * gram[i] }
        for i in 0..<p { poly[i * p + i] += a }
        // next = Y·(B + a·I)
        Matmul.multiply(
            m: q, n: p, k: p, a: y, lda: p, transposeA: false, b: poly, ldb: p, transposeB: false,
            c: next, ldc: p, accumulate: false)
    }
}
