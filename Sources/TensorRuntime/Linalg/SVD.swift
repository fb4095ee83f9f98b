/// A thin singular value decomposition `A = U·diag(s)·Vᵀ` of an `m×n` matrix, with
/// `r = min(m, n)`.
public struct SVD: Sendable, Equatable {
    /// The left singular vectors: an `m×r` matrix with orthonormal columns.
    public let u: Tensor
    /// The `r` singular values, non-negative and in descending order.
    public let singularValues: [Float]
    /// The right singular vectors: an `n×r` matrix with orthonormal columns.
    public let v: Tensor
}

extension Tensor {
    /// The thin singular value decomposition of a matrix, by one-sided (Hestenes) Jacobi
    /// rotations accumulated in `Double`.
    ///
    /// Meant for checking and analysis on matrices up to a few hundred on a side, not for
    /// the training loop. Singular values below `max(m, n)·ε·σ₁` are reported as 0 and their
    /// singular vectors completed to an orthonormal set, so `u` and `v` always have
    /// orthonormal columns, even for rank-deficient and zero matrices.
    /// - Returns: `u` (`m×r`), the singular values (descending) and `v` (`n×r`), `r = min(m, n)`.
    /// - Throws: when `self` is not a matrix.
    /// - Complexity: about `3·m·n²` FLOPs per sweep (for `m ≥ n`), with typically 6–10 sweeps.
    public func svd() throws(TensorError) -> SVD {
        guard shape.isMatrix else { throw TensorError("svd", "needs a matrix, got shape \(shape)") }
        let (m, n) = (shape[0], shape[1])
        if m >= n {
            let r = Jacobi.decomposeTall(scalars, rows: m, columns: n, readingTransposed: false)
            return SVD(u: r.u, singularValues: r.values, v: r.v)
        }
        // Aᵀ = U'·S·V'ᵀ, so A = V'·S·U'ᵀ.
        let r = Jacobi.decomposeTall(scalars, rows: n, columns: m, readingTransposed: true)
        return SVD(u: r.v, singularValues: r.values, v: r.u)
    }

    /// The spectral norm (largest singular value) of a matrix; 0 for an empty matrix.
    /// - Throws: when `self` is not a matrix.
    public func spectralNorm() throws(TensorError) -> Float {
        guard shape.isMatrix else { throw TensorError("spectral_norm", "needs a matrix, got shape \(shape)") }
        return try svd().singularValues.first ?? 0
    }

    /// The nuclear norm (sum of singular values) of a matrix; 0 for an empty matrix.
    /// - Throws: when `self` is not a matrix.
    public func nuclearNorm() throws(TensorError) -> Float {
        guard shape.isMatrix else { throw TensorError("nuclear_norm", "needs a matrix, got shape \(shape)") }
        return Float(try svd().singularValues.reduce(0.0) { $0 + Double($1) })
    }

    /// The orthogonal polar factor `U·Vᵀ` of an `m×n` matrix: the closest matrix with
    /// orthonormal columns (tall) or rows (wide), computed exactly through ``svd()``.
    ///
    /// When the matrix is rank-deficient the factor is not unique; this returns one valid
    /// choice, still with orthonormal columns or rows.
    /// - Returns: an `m×n` matrix.
    /// - Throws: when `self` is not a matrix.
    public func polarFactor() throws(TensorError) -> Tensor {
        guard shape.isMatrix else { throw TensorError("polar_factor", "needs a matrix, got shape \(shape)") }
        let d = try svd()
        return try d.u.matmul(d.v, transposeOther: true)
    }
}

/// One-sided Jacobi SVD on a tall matrix, in `Double`.
private enum Jacobi {
    static let maxSweeps = 60

    /// Decomposes the `m×n` (`m ≥ n`) matrix stored row-major in `source`, or, when
    /// `readingTransposed`, the transpose of the `n×m` matrix stored there.
    static func decomposeTall(
        _ source: [Float], rows m: Int, columns n: Int, readingTransposed: Bool
    ) -> (u: Tensor, values: [Float], v: Tensor) {
        // Columns are kept contiguous (column-major) since every operation works on column pairs.
        var w = [Double](repeating: 0, count: m * n)
        for j in 0..<n {
            for i in 0..<m {
                w[j * m + i] = Double(readingTransposed ? source[j * m + i] : source[i * n + j])
            }
        }
        var v = [Double](repeating: 0, count: n * n)
        for j in 0..<n { v[j * n + j] = 1 }

        rotateToOrthogonalColumns(&w, &v, m: m, n: n)

        // Singular values are the column norms; sort them descending.
        let norms = (0..<n).map { j in column(w, j, length: m).reduce(0.0) { $0 + $1 * $1 }.squareRoot() }
        let order = (0..<n).sorted { norms[$0] > norms[$1] || (norms[$0] == norms[$1] && $0 < $1) }
        let cutoff = (norms.max() ?? 0) * Double(max(m, n)) * Double.ulpOfOne

        var values = [Float](repeating: 0, count: n)
        var uColumns: [[Double]] = []
        var vColumns: [[Double]] = []
        var nullColumns = 0
        for (k, j) in order.enumerated() {
            vColumns.append(column(v, j, length: n))
            if norms[j] > cutoff {
                values[k] = Float(norms[j])
                uColumns.append(column(w, j, length: m).map { $0 / norms[j] })
            } else {
                nullColumns += 1
            }
        }
        // Zero singular values leave their left vectors undetermined: complete the basis.
        completeOrthonormalBasis(&uColumns, adding: nullColumns, length: m)
        return (matrix(fromColumns: uColumns, rows: m), values, matrix(fromColumns: vColumns, rows: n))
    }

    /// Applies plane rotations to column pairs of `w` (and the same to `v`) until every pair
    /// is orthogonal to within `tolerance` relative to the columns' norms.
    private static func rotateToOrthogonalColumns(_ w: inout [Double], _ v: inout [Double], m: Int, n: Int) {
        let tolerance = max(1e-15, Double(m) * Double.ulpOfOne)
        for _ in 0..<maxSweeps {
            var rotated = false
            for p in 0..<n {
                for q in (p + 1)..<n {
                    var alpha = 0.0
                    var beta = 0.0
                    var gamma = 0.0
                    for i in 0..<m {
                        let x = w[p * m + i]
                        let y = w[q * m + i]
                        alpha += x * x
                        beta += y * y
                        gamma += x * y
                    }
                    // Also skips pairs with a zero column, where gamma is 0.
                    guard abs(gamma) > tolerance * (alpha * beta).squareRoot() else { continue }
                    rotated = true
                    // The rotation that zeroes the pair's off-diagonal Gram entry:
                    // t = tan θ is the smaller root of t² + 2ζt − 1 = 0.
                    let zeta = (beta - alpha) / (2 * gamma)
                    let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                    let c = 1 / (1 + t * t).squareRoot()
                    let s = c * t
                    rotate(&w, p, q, length: m, c: c, s: s)
                    rotate(&v, p, q, length: n, c: c, s: s)
                }
            }
            if !rotated { return }
        }
    }

    /// `(col p, col q) ← (c·p − s·q, s·p + c·q)` for column-major storage.
    private static func rotate(_ a: inout [Double], _ p: Int, _ q: Int, length: Int, c: Double, s: Double) {
        for i in 0..<length {
            let x = a[p * length + i]
            let y = a[q * length + i]
            a[p * length + i] = c * x - s * y
            a[q * length + i] = s * x + c * y
        }
    }

    private static func column(_ a: [Double], _ j: Int, length: Int) -> [Double] {
        Array(a[(j * length)..<((j + 1) * length)])
    }

    /// Appends `count` unit vectors orthogonal to `columns` and to each other, drawn from the
    /// standard basis by Gram–Schmidt (applied twice, for orthogonality to working precision).
    private static func completeOrthonormalBasis(_ columns: inout [[Double]], adding count: Int, length: Int) {
        var added = 0
        var candidate = 0
        while added < count && candidate < length {
            var e = [Double](repeating: 0, count: length)
            e[candidate] = 1
            candidate += 1
            for _ in 0..<2 {
                for u in columns {
                    let d = zip(u, e).reduce(0.0) { $0 + $1.0 * $1.1 }
                    for i in 0..<length { e[i] -= d * u[i] }
                }
            }
            let norm = e.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            // Columns are orthonormal, so some basis vector keeps a norm of at least 1/√length;
            // 0.5 rejects those nearly in the span already without running out of candidates.
            guard norm > 0.5 / Double(length).squareRoot() else { continue }
            columns.append(e.map { $0 / norm })
            added += 1
        }
        precondition(added == count, "svd: could not complete an orthonormal basis")
    }

    private static func matrix(fromColumns columns: [[Double]], rows: Int) -> Tensor {
        let r = columns.count
        var out = [Float](repeating: 0, count: rows * r)
        for (j, col) in columns.enumerated() {
            for i in 0..<rows { out[i * r + j] = Float(col[i]) }
        }
        return Tensor(unchecked: Shape([rows, r]), out)
    }
}
