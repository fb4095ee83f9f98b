/// Singular values of matrices of one shape, fast enough to run every optimizer step.
///
/// The Gram matrix of the short side in `Double` (``Gram``), its reduction to tridiagonal
/// form (``Tridiagonalization``), then either the nuclear norm directly
/// (``SquareRootTrace``, no eigenvalues) or every eigenvalue by the implicit QL algorithm.
/// Products are exact and sums rounded in `Double`, so singular values far below
/// `√ε_float·σ_max` keep their size: the nuclear norm is exact to about 1e-7 relative on
/// rank-deficient and badly conditioned matrices too (tested on known spectra).
///
/// All scratch space is allocated in `init`, so repeated calls allocate nothing.
public struct SingularValueWorkspace: Sendable {
    public let rows: Int
    public let columns: Int
    private let layout: Gram.Layout
    /// Buffers of `Double`s with ``Layout/alignmentSlack`` to spare: kernels use them from
    /// their first cache-line boundary.
    private var packed: [Double]
    /// The Gram matrix (upper triangle, leading dimension `layout.ld`), then scratch.
    private var gram: [Double]
    private var scratch: [Double]
    private var diagonal: [Double]
    /// The off-diagonal from index 1 (index 0 is 0), as the QL algorithm takes it.
    private var offDiagonal: [Double]
    /// The singular values of the last ``compute(_:)``, descending.
    public private(set) var values: [Double]

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        layout = Gram.Layout(rows: rows, columns: columns)
        let p = layout.p
        packed = [Double](repeating: 0, count: layout.packedCount + Layout.alignmentSlack)
        gram = [Double](repeating: 0, count: layout.gramCount + Layout.alignmentSlack)
        scratch = [Double](
            repeating: 0,
            count: Swift.max(Tridiagonalization.scratchCount(ld: layout.ld), SquareRootTrace.scratchCount(p))
                + Layout.alignmentSlack)
        diagonal = [Double](repeating: 0, count: Swift.max(p, 1))
        offDiagonal = [Double](repeating: 0, count: p + 1)
        values = [Double](repeating: 0, count: p)
    }

    /// The sum of the singular values of the `rows × columns` matrix at `input`.
    /// - Complexity: about `p²q/2 + 2p³/3` multiply-adds in `Double` and `9p` eight-lane
    ///   divisions, for `p ≤ q` the matrix's sides.
    public mutating func nuclearNorm(_ input: UnsafePointer<Float>) -> Double {
        let p = layout.p
        if p == 0 { return 0 }
        reduce(input)
        let direct = diagonal.withUnsafeBufferPointer { d in
            offDiagonal.withUnsafeBufferPointer { e in
                scratch.withUnsafeMutableBufferPointer { s in
                    SquareRootTrace.ofTridiagonal(
                        diagonal: d.baseAddress!, offDiagonal: e.baseAddress! + 1, n: p, scratch: s.baseAddress!)
                }
            }
        }
        if let direct { return direct }
        eigenvalues()
        return values.reduce(0, +)
    }

    /// Computes the singular values of the `rows × columns` matrix at `input` into ``values``.
    public mutating func compute(_ input: UnsafePointer<Float>) {
        if layout.p == 0 { return }
        reduce(input)
        eigenvalues()
    }

    /// The largest singular value of the last ``compute(_:)``.
    public var spectralNorm: Double { values.first ?? 0 }

    /// The Gram matrix of `input`, reduced to the tridiagonal `diagonal`, `offDiagonal`.
    private mutating func reduce(_ input: UnsafePointer<Float>) {
        let (p, ld) = (layout.p, layout.ld)
        let layout = self.layout
        packed.withUnsafeMutableBufferPointer { packed in
            gram.withUnsafeMutableBufferPointer { g in
                Gram.upper(
                    input, rows: rows, columns: columns, layout: layout,
                    packed: Layout.cacheLineAligned(packed.baseAddress!),
                    into: Layout.cacheLineAligned(g.baseAddress!))
                diagonal.withUnsafeMutableBufferPointer { d in
                    offDiagonal.withUnsafeMutableBufferPointer { e in
                        scratch.withUnsafeMutableBufferPointer { s in
                            Tridiagonalization.reduce(
                                Layout.cacheLineAligned(g.baseAddress!), n: p, ld: ld, diagonal: d.baseAddress!,
                                offDiagonal: e.baseAddress! + 1, scratch: Layout.cacheLineAligned(s.baseAddress!))
                        }
                    }
                }
            }
        }
    }

    /// ``values`` from the tridiagonal form, by QL (which destroys it).
    private mutating func eigenvalues() {
        let p = layout.p
        offDiagonal[0] = 0
        SymmetricEigen.eigenvaluesOfTridiagonal(&diagonal, &offDiagonal, n: p)
        for i in 0..<p { values[i] = Swift.max(diagonal[i], 0).squareRoot() }
        values.sort(by: >)
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
