/// Householder reduction of a symmetric matrix to tridiagonal form, in `Double`, with one
/// pass over the trailing matrix per column.
///
/// Step k reflects row k's part right of the diagonal, `x`, onto its first axis with
/// `H = I − τ·v·vᵀ` (`H·x = α·e₁`), and updates the trailing matrix `A₂₂ ← H·A₂₂·H`, which
/// is the rank-2 update `A₂₂ − v·wᵀ − w·vᵀ` with `p = τ·A₂₂·v` and `w = p − (τ/2)(pᵀv)·v`.
/// LAPACK's `dsytd2` reads `A₂₂` for the product and again for the update; here the update of
/// step k is deferred into step k+1's product, so each step reads and writes every trailing
/// element once, with four fused multiply-adds: two for the update, and `A₂₂·v` by symmetry
/// from the upper triangle alone (`pᵢ += aᵢⱼ·vⱼ` along the row, `pⱼ += aᵢⱼ·vᵢ` across it).
///
/// Only the upper triangle is stored (`a[i·ld + j]`, `j ≥ i`), with its diagonal halved so
/// that the two symmetric contributions of `aᵢᵢ·vᵢ` add up to one. Rows are read in whole
/// 8-lane vectors from the aligned vector that holds the diagonal: lanes left of it are kept
/// at zero, and columns past `n` are zero too, so no loop has a scalar tail or corner. Four
/// rows go together so that the loads of `v`, `w` and `p` are shared.
/// ``SymmetricEigen/tridiagonalize(_:n:diagonal:offDiagonal:)`` (EISPACK's tred1) is the
/// reference this is tested against.
public enum Tridiagonalization {
    /// Lanes of a vector.
    static let lanes = 8

    /// Doubles of scratch the reduction of an `n × n` matrix stored with leading dimension
    /// `ld` needs.
    public static func scratchCount(ld: Int) -> Int { 6 * Swift.max(ld, lanes) }

    /// The smallest leading dimension the reduction accepts for `n` (a whole number of
    /// vectors).
    public static func leadingDimension(_ n: Int) -> Int { (n + lanes - 1) / lanes * lanes }

    /// Reduces the symmetric matrix to the tridiagonal `T` with `diagonal[0..<n]` and
    /// `offDiagonal[0..<n-1]` (`T[i, i+1]`), orthogonally similar to it.
    /// - Parameters:
    ///   - a: the matrix's upper triangle, row-major with leading dimension `ld` (a multiple of
    ///     8, at least `leadingDimension(n)`); destroyed. Other entries are ignored.
    ///   - scratch: `scratchCount(ld:)` doubles.
    /// - Complexity: about `2n³/3` multiply-adds, one read and write of the trailing
    ///   triangle per column.
    public static func reduce(
        _ a: UnsafeMutablePointer<Double>, n: Int, ld: Int, diagonal d: UnsafeMutablePointer<Double>,
        offDiagonal e: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>
    ) {
        precondition(ld % lanes == 0 && ld >= leadingDimension(n), "tridiagonalize: leading dimension \(ld)")
        if n == 0 { return }
        if n == 1 {
            d[0] = a[0]
            return
        }
        let end = leadingDimension(n)
        scratch.update(repeating: 0, count: scratchCount(ld: ld))
        // Halve the diagonal; zero the lanes left of it in its vector, and the columns past n.
        for i in 0..<n {
            let row = a + i * ld
            for j in (i & ~(lanes - 1))..<i { row[j] = 0 }
            row[i] *= 0.5
            for j in n..<end { row[j] = 0 }
        }
        var step = Step(
            v: scratch, w: scratch + ld, vLast: scratch + 2 * ld, wLast: scratch + 3 * ld, p: scratch + 4 * ld,
            rowSums: scratch + 5 * ld,
            end: end)
        for k in 0..<(n - 1) {
            let row = a + k * ld
            step.updateRow(row, i: k)
            d[k] = 2 * row[k]
            if k == n - 2 {
                e[k] = row[k + 1]
                let last = a + (n - 1) * ld + (n - 1)
                last.pointee -= step.vLast[n - 1] * step.wLast[n - 1]
                d[n - 1] = 2 * last.pointee
                return
            }
            // The reflector of x = row[k+1..<n]. Vectors run over whole lanes from the one
            // holding k+1; lanes left of the range only ever meet zeros of the matrix.
            let first = (k + 1) & ~(lanes - 1)
            let x0 = row[k + 1]
            let rest = dot(row, row, from: k + 2, end: end)
            var tau = 0.0
            (step.v + first).update(from: row + first, count: end - first)
            if rest == 0 {
                e[k] = x0
                (step.v + first).update(repeating: 0, count: end - first)
            } else {
                let norm = (x0 * x0 + rest).squareRoot()
                let alpha = x0 >= 0 ? -norm : norm
                e[k] = alpha
                step.v[k + 1] = x0 - alpha
                tau = 2 / (step.v[k + 1] * step.v[k + 1] + rest)
            }
            (step.p + first).update(repeating: 0, count: end - first)
            step.trailingPass(a, n: n, ld: ld, from: k + 1)
            let pv = dot(step.p, step.v, from: k + 1, end: end)
            let scale = SIMD8(repeating: tau)
            let half = SIMD8(repeating: -0.5 * tau * tau * pv)
            var j = first
            while j < end {
                var wj = scale * load(step.p + j)
                wj.addProduct(half, load(step.v + j))
                store(wj, step.w + j)
                j += lanes
            }
            step.advance()
        }
    }

    /// `Σⱼ x[j]·y[j]` for `j` in `from..<end` (`end` a whole number of vectors).
    @inline(__always)
    static func dot(
        _ x: UnsafeMutablePointer<Double>, _ y: UnsafeMutablePointer<Double>, from: Int, end: Int
    ) -> Double {
        let start = from & ~(lanes - 1)
        if start >= end { return 0 }
        var sum = startMasks[from - start] * load(x + start) * load(y + start)
        var j = start + lanes
        while j < end {
            sum.addProduct(load(x + j), load(y + j))
            j += lanes
        }
        return sum.sum()
    }

    /// Masks that keep the lanes from a given one on.
    static let startMasks: [SIMD8<Double>] = (0..<8).map { lane in SIMD8((0..<8).map { $0 < lane ? 0 : 1 }) }

    /// Masks for the vector that holds the diagonal, by the diagonal's lane: 0 left of it,
    /// ½ on it (the diagonal is stored halved), 1 right of it.
    static let diagonalMasks: [SIMD8<Double>] = (0..<8).map { lane in
        SIMD8((0..<8).map { $0 < lane ? 0 : $0 == lane ? 0.5 : 1 })
    }

    /// The vectors of one step and the deferred update of the last.
    struct Step {
        /// The reflector of this step and `w`; of the last step (the deferred update).
        var v: UnsafeMutablePointer<Double>
        var w: UnsafeMutablePointer<Double>
        var vLast: UnsafeMutablePointer<Double>
        var wLast: UnsafeMutablePointer<Double>
        /// `A₂₂·v`: the parts across the rows (`pⱼ += aᵢⱼ·vᵢ`), then the rows' own.
        let p: UnsafeMutablePointer<Double>
        /// `Σⱼ aᵢⱼ·vⱼ` along row `i`, kept apart from `p` until the pass ends: adding a scalar
        /// into a vector just stored (and reloading it whole) stalls store forwarding.
        let rowSums: UnsafeMutablePointer<Double>
        /// Columns are read up to here (a whole number of vectors).
        let end: Int

        mutating func advance() {
            swap(&v, &vLast)
            swap(&w, &wLast)
        }

        /// Applies the deferred update to row `i` (from its diagonal on).
        func updateRow(_ row: UnsafeMutablePointer<Double>, i: Int) {
            let start = i & ~(lanes - 1)
            let (vl, wl) = (SIMD8(repeating: -vLast[i]), SIMD8(repeating: -wLast[i]))
            var u = vl * load(wLast + start)
            u.addProduct(wl, load(vLast + start))
            var x = load(row + start)
            x.addProduct(Tridiagonalization.diagonalMasks[i - start], u)
            store(x, row + start)
            var j = start + lanes
            while j < end {
                var x = load(row + j)
                x.addProduct(vl, load(wLast + j))
                x.addProduct(wl, load(vLast + j))
                store(x, row + j)
                j += lanes
            }
        }

        /// Rows `from..<n`: the deferred update (zero before the first step, whose `vLast`
        /// and `wLast` are zero), and `p = A₂₂·v` over the updated rows. Rows go four at a time from a multiple of four.
        func trailingPass(_ a: UnsafeMutablePointer<Double>, n: Int, ld: Int, from: Int) {
            var i = from
            while i < n && i % 4 != 0 {
                oneRow(a + i * ld, i: i)
                i += 1
            }
            while i + 4 <= n {
                fourRows(a + i * ld, ld: ld, i: i)
                i += 4
            }
            while i < n {
                oneRow(a + i * ld, i: i)
                i += 1
            }
            var j = from & ~(lanes - 1)
            while j < end {
                store(load(p + j) + load(rowSums + j), p + j)
                j += lanes
            }
        }

        /// Row `i`: update, then `p[i] += Σⱼ aᵢⱼ·vⱼ` and `p[j] += aᵢⱼ·vᵢ`.
        @inline(__always)
        func oneRow(_ row: UnsafeMutablePointer<Double>, i: Int) {
            let start = i & ~(lanes - 1)
            let vi = SIMD8(repeating: v[i])
            let (vl, wl) = (SIMD8(repeating: -vLast[i]), SIMD8(repeating: -wLast[i]))
            var x = load(row + start)
            var u = vl * load(wLast + start)
            u.addProduct(wl, load(vLast + start))
            x.addProduct(Tridiagonalization.diagonalMasks[i - start], u)
            store(x, row + start)
            var sum = x * load(v + start)
            var pj = load(p + start)
            pj.addProduct(x, vi)
            store(pj, p + start)
            var j = start + lanes
            while j < end {
                var x = load(row + j)
                x.addProduct(vl, load(wLast + j))
                x.addProduct(wl, load(vLast + j))
                store(x, row + j)
                sum.addProduct(x, load(v + j))
                var pj = load(p + j)
                pj.addProduct(x, vi)
                store(pj, p + j)
                j += lanes
            }
            rowSums[i] = sum.sum()
        }

        /// Rows `i..<i+4` (`i` a multiple of 4, so the four diagonals share one vector).
        @inline(__always)
        func fourRows(_ r0: UnsafeMutablePointer<Double>, ld: Int, i: Int) {
            let r1 = r0 + ld
            let r2 = r1 + ld
            let r3 = r2 + ld
            let start = i & ~(lanes - 1)
            // Negated, so that the deferred update is two fused multiply-adds per element.
            let vl0 = SIMD8(repeating: -vLast[i])
            let vl1 = SIMD8(repeating: -vLast[i + 1])
            let vl2 = SIMD8(repeating: -vLast[i + 2])
            let vl3 = SIMD8(repeating: -vLast[i + 3])
            let wl0 = SIMD8(repeating: -wLast[i])
            let wl1 = SIMD8(repeating: -wLast[i + 1])
            let wl2 = SIMD8(repeating: -wLast[i + 2])
            let wl3 = SIMD8(repeating: -wLast[i + 3])
            let v0 = SIMD8(repeating: v[i])
            let v1 = SIMD8(repeating: v[i + 1])
            let v2 = SIMD8(repeating: v[i + 2])
            let v3 = SIMD8(repeating: v[i + 3])
            // The vector with the diagonals, masked.
            var x0 = load(r0 + start)
            var x1 = load(r1 + start)
            var x2 = load(r2 + start)
            var x3 = load(r3 + start)
            do {
                let vj = load(vLast + start)
                let wj = load(wLast + start)
                let masks = Tridiagonalization.diagonalMasks
                let lane = i - start
                x0.addProduct(masks[lane], vl0 * wj + wl0 * vj)
                x1.addProduct(masks[lane + 1], vl1 * wj + wl1 * vj)
                x2.addProduct(masks[lane + 2], vl2 * wj + wl2 * vj)
                x3.addProduct(masks[lane + 3], vl3 * wj + wl3 * vj)
                store(x0, r0 + start)
                store(x1, r1 + start)
                store(x2, r2 + start)
                store(x3, r3 + start)
            }
            let vs = load(v + start)
            var s0 = x0 * vs
            var s1 = x1 * vs
            var s2 = x2 * vs
            var s3 = x3 * vs
            var ps = load(p + start)
            ps.addProduct(x0, v0)
            ps.addProduct(x1, v1)
            ps.addProduct(x2, v2)
            ps.addProduct(x3, v3)
            store(ps, p + start)
            var j = start + lanes
            while j < end {
                var x0 = load(r0 + j)
                var x1 = load(r1 + j)
                var x2 = load(r2 + j)
                var x3 = load(r3 + j)
                let vlj = load(vLast + j)
                let wlj = load(wLast + j)
                x0.addProduct(vl0, wlj)
                x0.addProduct(wl0, vlj)
                x1.addProduct(vl1, wlj)
                x1.addProduct(wl1, vlj)
                x2.addProduct(vl2, wlj)
                x2.addProduct(wl2, vlj)
                x3.addProduct(vl3, wlj)
                x3.addProduct(wl3, vlj)
                store(x0, r0 + j)
                store(x1, r1 + j)
                store(x2, r2 + j)
                store(x3, r3 + j)
                let vj = load(v + j)
                s0.addProduct(x0, vj)
                s1.addProduct(x1, vj)
                s2.addProduct(x2, vj)
                s3.addProduct(x3, vj)
                var pj = load(p + j)
                pj.addProduct(x0, v0)
                pj.addProduct(x1, v1)
                pj.addProduct(x2, v2)
                pj.addProduct(x3, v3)
                store(pj, p + j)
                j += lanes
            }
            rowSums[i] = s0.sum()
            rowSums[i + 1] = s1.sum()
            rowSums[i + 2] = s2.sum()
            rowSums[i + 3] = s3.sum()
        }
    }

    @inline(__always) static func load(_ x: UnsafeMutablePointer<Double>) -> SIMD8<Double> {
        UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Double>.self)
    }

    @inline(__always) static func store(_ value: SIMD8<Double>, _ x: UnsafeMutablePointer<Double>) {
        UnsafeMutableRawPointer(x).storeBytes(of: value, as: SIMD8<Double>.self)
    }
}
