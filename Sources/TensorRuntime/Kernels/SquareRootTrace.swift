import Foundation

/// `trace(T^½) = Σᵢ √λᵢ` for a symmetric positive semi-definite tridiagonal `T`, without its
/// eigenvalues: the nuclear norm of a matrix from the tridiagonal form of its Gram matrix.
///
/// It uses `√λ = (2/π)·∫₀^∞ λ/(λ + s²) ds`, so that
/// `trace(T^½) = (2/π)·∫₀^∞ Σᵢ λᵢ/(λᵢ + s²) ds` and, for each node `c = s²`,
/// `Σᵢ λᵢ/(λᵢ + c) = n − c·trace((T + cI)⁻¹)`. For a tridiagonal matrix that trace is the
/// derivative of `log det(T + cI)` in `c`, one forward recurrence over the pivots `δᵢ` of
/// `T + cI = LDLᵀ` and their derivatives `δ'ᵢ`:
/// ```
/// δ₀ = d₀ + c,  δᵢ = dᵢ + c − eᵢ₋₁²/δᵢ₋₁,  δ'ᵢ = 1 + eᵢ₋₁²·δ'ᵢ₋₁/δᵢ₋₁²,  trace = Σ δ'ᵢ/δᵢ
/// ```
/// With `s = eᵘ` the integrand is `Σᵢ ½√λᵢ·sech(u − ½ log λᵢ)`, analytic in a strip of half
/// width π/2, so the trapezoidal rule in `u` converges geometrically: its error is about
/// `4π·e^(−π²/h)` relative (3·10⁻⁹ at the step `h` used here). The sum is cut where the
/// remaining nodes are geometric series, and those are added in closed form. Eight nodes
/// share one `SIMD8<Double>` recurrence, so the cost is about `n·⌈nodes/8⌉` vector divisions
/// (about 70 nodes cover singular values from 10⁻⁹·σ_max/n to σ_max).
///
/// Rounding in the Gram matrix and its reduction can leave eigenvalues slightly below zero;
/// when a Sturm count finds some, the lowest node is raised above them, and true
/// eigenvalues of that size (which rounding has already blurred) count as zero.
public enum SquareRootTrace {
    /// The trapezoidal step in `u = log s`.
    static let step = 0.45
    /// The largest node is `e^6` times the largest possible singular value.
    static let upperMargin = 6.0
    /// The smallest node, relative to the largest singular value, divided by `n`: the
    /// singular values it misses add at most `n·s_min` in all.
    static let lowestNode = 1e-9
    /// Negative eigenvalues down to this (relative to the largest) are taken for rounding;
    /// beyond it the matrix is not semi-definite and the caller must decide.
    static let roundingLimit = 1e-8

    /// Doubles of scratch for an `n × n` matrix.
    public static func scratchCount(_ n: Int) -> Int { 2 * Swift.max(n, 1) }

    /// `Σ √max(λᵢ, 0)` over the eigenvalues of the tridiagonal matrix with `diagonal[0..<n]`
    /// and `offDiagonal[0..<n-1]`, assumed positive semi-definite up to rounding.
    /// - Returns: the sum, or `nil` when the matrix is not semi-definite beyond rounding
    ///   (an eigenvalue below −1e-8·λ_max, or a pivot that is not positive); callers then fall
    ///   back to the eigenvalues.
    /// - Complexity: about `9n` eight-lane divisions and `50n` other vector operations.
    public static func ofTridiagonal(
        diagonal d: UnsafePointer<Double>, offDiagonal e: UnsafePointer<Double>, n: Int,
        scratch: UnsafeMutablePointer<Double>
    ) -> Double? {
        if n == 0 { return 0 }
        if n == 1 { return Swift.max(d[0], 0).squareRoot() }
        // Scale by a Gershgorin bound on λ_max, so that every eigenvalue is at most 1 and the
        // largest at least 1/3 (|eᵢ| ≤ √(dᵢ·dᵢ₊₁) in a semi-definite matrix).
        var bound = 0.0
        for i in 0..<n {
            let left = i > 0 ? Swift.abs(e[i - 1]) : 0
            let right = i < n - 1 ? Swift.abs(e[i]) : 0
            bound = Swift.max(bound, d[i] + left + right)
        }
        if bound.isNaN { return .nan }
        if !(bound > 0) { return 0 }
        if bound.isInfinite { return .infinity }
        let diagonal = scratch
        let squares = scratch + n
        var trace = 0.0
        for i in 0..<n {
            diagonal[i] = d[i] / bound
            trace += diagonal[i]
            squares[i] = i < n - 1 ? (e[i] / bound) * (e[i] / bound) : 0
        }
        // Nodes below the most negative eigenvalue would cross a pole.
        var floor = 0.0
        if negativeCount(diagonal, squares, n: n, shift: 0) > 0 {
            var c = 1e-15
            while negativeCount(diagonal, squares, n: n, shift: -c) > 0 {
                c *= 4
                if c > roundingLimit { return nil }
            }
            floor = 2 * c
        }
        let lowest = Swift.max(floor.squareRoot(), lowestNode / Double(n))
        let first = Foundation.log(lowest)
        let count = Int(((upperMargin - first) / step).rounded(.up)) + 1
        var total = 0.0
        var fractionAtFirst = 0.0
        var start = 0
        while start < count {
            // Eight nodes per lane group; the last group repeats its last node with weight 0.
            var s = SIMD8<Double>()
            var weight = SIMD8<Double>()
            for lane in 0..<8 {
                let j = Swift.min(start + lane, count - 1)
                s[lane] = Foundation.exp(first + Double(j) * step)
                weight[lane] = start + lane < count ? step * s[lane] : 0
            }
            let c = s * s
            guard let fraction = fractions(diagonal, squares, n: n, c: c) else { return nil }
            if start == 0 { fractionAtFirst = fraction[0] }
            total += (weight * fraction).sum()
            start += 8
        }
        // The nodes beyond the last: λ/s each, a geometric series in e^(−h).
        let last = first + Double(count - 1) * step
        let geometric = step / Foundation.expm1(step)
        total += trace * Foundation.exp(-last) * geometric
        // The nodes below the first: s each for every eigenvalue well above s².
        total += fractionAtFirst * lowest * geometric
        return 2 / Double.pi * total * bound.squareRoot()
    }

    /// `Σᵢ λᵢ/(λᵢ + c) = n − c·trace((T + cI)⁻¹)` for eight nodes `c` at once; nil when a
    /// pivot is not positive.
    @inline(__always)
    static func fractions(
        _ diagonal: UnsafeMutablePointer<Double>, _ squares: UnsafeMutablePointer<Double>, n: Int, c: SIMD8<Double>
    ) -> SIMD8<Double>? {
        var pivot = SIMD8(repeating: diagonal[0]) + c
        var slope = SIMD8<Double>(repeating: 1)
        var inverseTrace = SIMD8<Double>()
        var smallest = pivot
        let one = SIMD8<Double>(repeating: 1)
        for i in 1..<n {
            let r = one / pivot
            inverseTrace.addProduct(slope, r)
            let t = SIMD8(repeating: squares[i - 1]) * r
            slope = one + t * r * slope
            pivot = SIMD8(repeating: diagonal[i]) + c - t
            smallest = pointwiseMin(smallest, pivot)
        }
        inverseTrace += slope / pivot
        guard all(smallest .> 0) else { return nil }
        return SIMD8(repeating: Double(n)) - c * inverseTrace
    }

    /// The number of eigenvalues below `shift` (Sturm's count of negative pivots).
    static func negativeCount(
        _ diagonal: UnsafeMutablePointer<Double>, _ squares: UnsafeMutablePointer<Double>, n: Int, shift: Double
    ) -> Int {
        var count = 0
        var q = diagonal[0] - shift
        for i in 0..<n {
            if i > 0 {
                let previous = q == 0 ? Double.leastNormalMagnitude : q
                q = diagonal[i] - shift - squares[i - 1] / previous
            }
            if q < 0 { count += 1 }
        }
        return count
    }
}
