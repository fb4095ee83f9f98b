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
        // Nodes s_j = e^(first + j·h), 24 at a time (three independent recurrences for the
        // divider to overlap); a last partial group repeats its last node with weight 0.
        let ratio = Foundation.exp(step)
        var node = Foundation.exp(first)
        var start = 0
        while start < count {
            var s = (SIMD8<Double>(), SIMD8<Double>(), SIMD8<Double>())
            var weight = (SIMD8<Double>(), SIMD8<Double>(), SIMD8<Double>())
            for slot in 0..<24 {
                let used = start + slot < count
                let value = node
                if used && start + slot < count - 1 { node *= ratio }
                let w = used ? step * value : 0
                switch slot / 8 {
                case 0: (s.0[slot % 8], weight.0[slot % 8]) = (value, w)
                case 1: (s.1[slot % 8], weight.1[slot % 8]) = (value, w)
                default: (s.2[slot % 8], weight.2[slot % 8]) = (value, w)
                }
            }
            guard let f = fractions(diagonal, squares, n: n, c: (s.0 * s.0, s.1 * s.1, s.2 * s.2)) else {
                return nil
            }
            if start == 0 { fractionAtFirst = f.0[0] }
            total += (weight.0 * f.0 + weight.1 * f.1 + weight.2 * f.2).sum()
            start += 24
        }
        // The nodes beyond the last: λ/s each, a geometric series in e^(−h).
        let last = first + Double(count - 1) * step
        let geometric = step / Foundation.expm1(step)
        total += trace * Foundation.exp(-last) * geometric
        // The nodes below the first: s each for every eigenvalue well above s².
        total += fractionAtFirst * lowest * geometric
        return 2 / Double.pi * total * bound.squareRoot()
    }

    /// `Σᵢ λᵢ/(λᵢ + c) = n − c·trace((T + cI)⁻¹)` for 24 nodes `c` at once; nil when a
    /// pivot is not positive.
    @inline(__always)
    static func fractions(
        _ diagonal: UnsafeMutablePointer<Double>, _ squares: UnsafeMutablePointer<Double>, n: Int,
        c: (SIMD8<Double>, SIMD8<Double>, SIMD8<Double>)
    ) -> (SIMD8<Double>, SIMD8<Double>, SIMD8<Double>)? {
        let d0 = SIMD8(repeating: diagonal[0])
        var pivot = (d0 + c.0, d0 + c.1, d0 + c.2)
        let one = SIMD8<Double>(repeating: 1)
        var slope = (one, one, one)
        var inverseTrace = (SIMD8<Double>(), SIMD8<Double>(), SIMD8<Double>())
        var smallest = pointwiseMin(pointwiseMin(pivot.0, pivot.1), pivot.2)
        for i in 1..<n {
            let r = (one / pivot.0, one / pivot.1, one / pivot.2)
            inverseTrace.0.addProduct(slope.0, r.0)
            inverseTrace.1.addProduct(slope.1, r.1)
            inverseTrace.2.addProduct(slope.2, r.2)
            let e = SIMD8(repeating: squares[i - 1])
            let t = (e * r.0, e * r.1, e * r.2)
            slope.0 = one + t.0 * r.0 * slope.0
            slope.1 = one + t.1 * r.1 * slope.1
            slope.2 = one + t.2 * r.2 * slope.2
            let d = SIMD8(repeating: diagonal[i])
            pivot = (d + c.0 - t.0, d + c.1 - t.1, d + c.2 - t.2)
            smallest = pointwiseMin(smallest, pointwiseMin(pointwiseMin(pivot.0, pivot.1), pivot.2))
        }
        inverseTrace.0 += slope.0 / pivot.0
        inverseTrace.1 += slope.1 / pivot.1
        inverseTrace.2 += slope.2 / pivot.2
        guard all(smallest .> 0) else { return nil }
        let size = SIMD8(repeating: Double(n))
        return (size - c.0 * inverseTrace.0, size - c.1 * inverseTrace.1, size - c.2 * inverseTrace.2)
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
