/// Singular values of matrices of one shape, fast enough to run every optimizer step:
/// the Gram matrix of the short side (accumulated in `Double`), then its eigenvalues by
/// Householder tridiagonalisation and the implicit QL algorithm.
///
/// All scratch space is allocated in `init`, so repeated calls allocate nothing.
/// - Complexity: `p²q` multiply-adds for the Gram matrix plus about `4p³/3` for the
///   eigenvalues, for `p = min(rows, columns)`, `q = max(rows, columns)`.
public struct SingularValueWorkspace: Sendable {
    public let rows: Int
    public let columns: Int
    private let short: Int
    private let long: Int
    /// The wide copy of the input (`short × long`), used when the input is tall.
    private var wide: [Float]
    /// The Gram matrix (`short × short`), then its tridiagonal form.
    private var gram: [Double]
    private var diagonal: [Double]
    private var offDiagonal: [Double]
    /// The singular values of the last call, descending.
    public private(set) var values: [Double]

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        short = min(rows, columns)
        long = max(rows, columns)
        wide = rows > columns ? [Float](repeating: 0, count: rows * columns) : []
        gram = [Double](repeating: 0, count: short * short)
        diagonal = [Double](repeating: 0, count: short)
        offDiagonal = diagonal
        values = diagonal
    }

    /// Computes the singular values of the `rows × columns` matrix at `input` into ``values``.
    public mutating func compute(_ input: UnsafePointer<Float>) {
        let p = short
        let q = long
        if p == 0 { return }
        if rows > columns {
            wide.withUnsafeMutableBufferPointer { w in
                Layout.transpose(input, rows: rows, columns: columns, into: w.baseAddress!)
            }
            wide.withUnsafeBufferPointer { w in gramOfRows(w.baseAddress!, p, q) }
        } else {
            gramOfRows(input, p, q)
        }
        SymmetricEigen.tridiagonalize(&gram, n: p, diagonal: &diagonal, offDiagonal: &offDiagonal)
        SymmetricEigen.eigenvaluesOfTridiagonal(&diagonal, &offDiagonal, n: p)
        for i in 0..<p { values[i] = Swift.max(diagonal[i], 0).squareRoot() }
        values.sort(by: >)
    }

    /// The sum of the singular values of the last call.
    public var nuclearNorm: Double { values.reduce(0, +) }
    /// The largest singular value of the last call.
    public var spectralNorm: Double { values.first ?? 0 }

    /// `gram = A·Aᵀ` for the `p × q` row-major `a`, in `Double` with 8-lane accumulators.
    private mutating func gramOfRows(_ a: UnsafePointer<Float>, _ p: Int, _ q: Int) {
        gram.withUnsafeMutableBufferPointer { g in
            for i in 0..<p {
                let ri = a + i * q
                for j in 0...i {
                    let rj = a + j * q
                    var acc = SIMD8<Double>(repeating: 0)
                    var k = 0
                    while k + 8 <= q {
                        let x = SIMD8<Double>(
                            Double(ri[k]), Double(ri[k + 1]), Double(ri[k + 2]), Double(ri[k + 3]), Double(ri[k + 4]),
                            Double(ri[k + 5]), Double(ri[k + 6]), Double(ri[k + 7]))
                        let y = SIMD8<Double>(
                            Double(rj[k]), Double(rj[k + 1]), Double(rj[k + 2]), Double(rj[k + 3]), Double(rj[k + 4]),
                            Double(rj[k + 5]), Double(rj[k + 6]), Double(rj[k + 7]))
                        acc.addProduct(x, y)
                        k += 8
                    }
                    var s = acc.sum()
                    while k < q {
                        s += Double(ri[k]) * Double(rj[k])
                        k += 1
                    }
                    g[i * p + j] = s
                    g[j * p + i] = s
                }
            }
        }
    }
}

/// Eigenvalues of real symmetric matrices (EISPACK's tred1 and tql1, in Golub and Van Loan's
/// formulation): Householder reduction to tridiagonal form, then implicit QL with shifts.
public enum SymmetricEigen {
    /// Reduces the symmetric `n × n` matrix `a` (row-major, overwritten) to tridiagonal
    /// form: `diagonal[i]` and `offDiagonal[i]` (the element below the diagonal in row `i`,
    /// `offDiagonal[0] = 0`).
    public static func tridiagonalize(
        _ a: inout [Double], n: Int, diagonal d: inout [Double], offDiagonal e: inout [Double]
    ) {
        if n == 0 { return }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let l = i - 1
            var h = 0.0
            if l > 0 {
                var scale = 0.0
                for k in 0...l { scale += Swift.abs(a[i * n + k]) }
                if scale == 0 {
                    e[i] = a[i * n + l]
                } else {
                    for k in 0...l {
                        a[i * n + k] /= scale
                        h += a[i * n + k] * a[i * n + k]
                    }
                    var f = a[i * n + l]
                    let g = f >= 0 ? -h.squareRoot() : h.squareRoot()
                    e[i] = scale * g
                    h -= f * g
                    a[i * n + l] = f - g
                    f = 0
                    for j in 0...l {
                        var g2 = 0.0
                        for k in 0...j { g2 += a[j * n + k] * a[i * n + k] }
                        if j < l { for k in (j + 1)...l { g2 += a[k * n + j] * a[i * n + k] } }
                        e[j] = g2 / h
                        f += e[j] * a[i * n + j]
                    }
                    let hh = f / (h + h)
                    for j in 0...l {
                        let fj = a[i * n + j]
                        let gj = e[j] - hh * fj
                        e[j] = gj
                        for k in 0...j { a[j * n + k] -= fj * e[k] + gj * a[i * n + k] }
                    }
                }
            } else {
                e[i] = a[i * n + l]
            }
            d[i] = h
        }
        e[0] = 0
        for i in 0..<n { d[i] = a[i * n + i] }
    }

    /// Overwrites `d` with the eigenvalues of the symmetric tridiagonal matrix (`d` its
    /// diagonal, `e[1...]` its sub-diagonal; `e` is destroyed). Unordered.
    public static func eigenvaluesOfTridiagonal(_ d: inout [Double], _ e: inout [Double], n: Int) {
        if n <= 1 { return }
        for i in 1..<n { e[i - 1] = e[i] }
        e[n - 1] = 0
        for l in 0..<n {
            var iterations = 0
            while true {
                var m = l
                while m < n - 1 {
                    let dd = Swift.abs(d[m]) + Swift.abs(d[m + 1])
                    if Swift.abs(e[m]) <= Double.ulpOfOne * dd { break }
                    m += 1
                }
                if m == l { break }
                iterations += 1
                if iterations > 60 { break }
                var g = (d[l + 1] - d[l]) / (2 * e[l])
                var r = (g * g + 1).squareRoot()
                g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r))
                var s = 1.0
                var c = 1.0
                var p = 0.0
                var i = m - 1
                var underflow = false
                while i >= l {
                    var f = s * e[i]
                    let b = c * e[i]
                    r = (f * f + g * g).squareRoot()
                    e[i + 1] = r
                    if r == 0 {
                        d[i + 1] -= p
                        e[m] = 0
                        underflow = true
                        break
                    }
                    s = f / r
                    c = g / r
                    g = d[i + 1] - p
                    r = (d[i] - g) * s + 2 * c * b
                    p = s * r
                    d[i + 1] = g + p
                    g = c * r - b
                    f = 0
                    i -= 1
                }
                if underflow { continue }
                d[l] -= p
                e[l] = g
                e[m] = 0
            }
        }
    }
}
