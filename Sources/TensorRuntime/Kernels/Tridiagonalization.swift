/// Householder reduction of a symmetric matrix to tridiagonal form, in `Double`.
///
/// Step k reflects row k's part right of the diagonal, `x`, onto its first axis with
/// `H = I − τ·v·vᵀ` (`H·x = α·e₁`); the trailing matrix becomes `A₂₂ − v·wᵀ − w·vᵀ` with
/// `p = τ·A₂₂·v` and `w = p − (τ/2)(pᵀv)·v`. `A₂₂·v` comes by symmetry from the upper
/// triangle alone (`pᵢ += aᵢⱼ·vⱼ` along the row, `pⱼ += aᵢⱼ·vᵢ` across it). Two schedules,
/// each chosen where it was measured faster (``VectorRegisters``):
/// - **One pass a step** (AVX-512): LAPACK's `dsytd2` reads `A₂₂` for the product and again
///   for the update; here the update of step k is deferred into step k+1's product, so each
///   step reads and writes every trailing element once, with four fused multiply-adds. Four
///   rows go together so that the loads of `v`, `w` and `p` are shared. On the Xeon
///   (Emerald Rapids) this beat the panel schedule at n = 128 and tied at 256.
/// - **Panels** (AVX2, LAPACK's `dsytrd`/`dlatrd` scheme): within a panel of ``panel`` steps
///   the trailing matrix is not written; step k's product reads it as the panel found it and
///   subtracts the panel's earlier reflectors, `A₂₂·v − Σ (vₜ·(wₜᵀv) + wₜ·(vₜᵀv))`, row k is
///   brought up to date just before its reflector is formed, and when the panel ends one
///   register-blocked pass applies all its rank-2 updates to the rows below. Each step then
///   only *reads* the trailing triangle. On Zen 1, whose stores are 128 bits a cycle, the
///   one-pass schedule ran at 44 % of the double peak, bound by stores; panels took the
///   reduction of the `tiny` model's matrices from 6.4 to 5.8 ms and `small`'s from 66 to
///   53 ms (one thread). Past the diagonal's vector its loops run on 4-lane vectors, which
///   keep four rows' operands in AVX2's 16 registers.
///
/// Only the upper triangle is stored (`a[i·ld + j]`, `j ≥ i`), with its diagonal halved so
/// that the two symmetric contributions of `aᵢᵢ·vᵢ` add up to one. Rows are read in whole
/// 8-lane vectors from the aligned vector that holds the diagonal: lanes left of it are kept
/// at zero, and columns past `n` are zero too, so no loop has a scalar tail or corner.
/// ``SymmetricEigen/tridiagonalize(_:n:diagonal:offDiagonal:)`` (EISPACK's tred1) is the
/// reference both schedules are tested against.
public enum Tridiagonalization {
    /// Lanes of a vector.
    static let lanes = 8
    /// Steps whose updates are applied to the trailing matrix together (the panel schedule).
    static let panel = 8

    /// Doubles of scratch the reduction of an `n × n` matrix stored with leading dimension
    /// `ld` needs (either schedule).
    public static func scratchCount(ld: Int) -> Int { (2 * panel + 2) * Swift.max(ld, lanes) + 8 * panel }

    /// The smallest leading dimension the reduction accepts for `n` (a whole number of
    /// vectors).
    public static func leadingDimension(_ n: Int) -> Int { (n + lanes - 1) / lanes * lanes }

    /// Reduces the symmetric matrix to the tridiagonal `T` with `diagonal[0..<n]` and
    /// `offDiagonal[0..<n-1]` (`T[i, i+1]`), orthogonally similar to it.
    /// - Parameters:
    ///   - a: the matrix's upper triangle, row-major with leading dimension `ld` (a multiple of
    ///     8, at least `leadingDimension(n)`); destroyed. Other entries are ignored.
    ///   - scratch: `scratchCount(ld:)` doubles.
    /// - Complexity: about `2n³/3` multiply-adds.
    public static func reduce(
        _ a: UnsafeMutablePointer<Double>, n: Int, ld: Int, diagonal d: UnsafeMutablePointer<Double>,
        offDiagonal e: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>
    ) {
        reduce(a, n: n, ld: ld, diagonal: d, offDiagonal: e, scratch: scratch, registers: .current)
    }

    /// ``reduce(_:n:ld:diagonal:offDiagonal:scratch:)`` with the schedule for `registers`
    /// (tests run both on every machine).
    static func reduce(
        _ a: UnsafeMutablePointer<Double>, n: Int, ld: Int, diagonal d: UnsafeMutablePointer<Double>,
        offDiagonal e: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>,
        registers: VectorRegisters
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
        if registers == .avx512 {
            reduceOnePassAStep(a, n: n, ld: ld, end: end, diagonal: d, offDiagonal: e, scratch: scratch)
        } else {
            reduceInPanels(a, n: n, ld: ld, end: end, diagonal: d, offDiagonal: e, scratch: scratch)
        }
    }

    /// The one-pass schedule, on a prepared matrix and zeroed scratch.
    static func reduceOnePassAStep(
        _ a: UnsafeMutablePointer<Double>, n: Int, ld: Int, end: Int, diagonal d: UnsafeMutablePointer<Double>,
        offDiagonal e: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>
    ) {
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

    /// The panel schedule, on a prepared matrix and zeroed scratch.
    static func reduceInPanels(
        _ a: UnsafeMutablePointer<Double>, n: Int, ld: Int, end: Int, diagonal d: UnsafeMutablePointer<Double>,
        offDiagonal e: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Double>
    ) {
        let work = Panel(reflectors: scratch, ld: ld, end: end)
        var k0 = 0
        while true {
            let k1 = Swift.min(k0 + panel, n - 1)
            for k in k0..<k1 {
                let done = k - k0
                let row = a + k * ld
                work.updateRow(row, i: k, steps: done)
                d[k] = 2 * row[k]
                if k == n - 2 {
                    e[k] = row[k + 1]
                    var last = a[(n - 1) * ld + n - 1]
                    for t in 0..<done { last -= work.v(t)[n - 1] * work.w(t)[n - 1] }
                    d[n - 1] = 2 * last
                    return
                }
                e[k] = work.reflect(a, row: k, n: n, steps: done)
            }
            work.updateTrailing(a, from: k1, n: n, steps: k1 - k0)
            k0 = k1
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

    /// Runs `one(i)` on rows `from..<n` up to a multiple of four, `four(i)` on each whole
    /// group of four rows `i..<i+4` after that, and `one` on the rows left.
    @inline(__always)
    static func inFours(from: Int, to n: Int, one: (Int) -> Void, four: (Int) -> Void) {
        var i = from
        while i < n && i % 4 != 0 {
            one(i)
            i += 1
        }
        while i + 4 <= n {
            four(i)
            i += 4
        }
        while i < n {
            one(i)
            i += 1
        }
    }

    /// `p[j] += rowSums[j]` from the vector holding `from` to `end`: a product's two halves.
    @inline(__always)
    static func addRowSums(
        _ p: UnsafeMutablePointer<Double>, _ rowSums: UnsafeMutablePointer<Double>, from: Int, end: Int
    ) {
        var j = from & ~(lanes - 1)
        while j < end {
            store(load(p + j) + load(rowSums + j), p + j)
            j += lanes
        }
    }

    /// Masks that keep the lanes from a given one on.
    static let startMasks: [SIMD8<Double>] = (0..<8).map { lane in SIMD8((0..<8).map { $0 < lane ? 0 : 1 }) }

    /// Masks for the vector that holds the diagonal, by the diagonal's lane: 0 left of it,
    /// ½ on it (the diagonal is stored halved), 1 right of it.
    static let diagonalMasks: [SIMD8<Double>] = (0..<8).map { lane in
        SIMD8((0..<8).map { $0 < lane ? 0 : $0 == lane ? 0.5 : 1 })
    }

    /// The reflectors of the current panel and the product's scratch, in vectors of `ld`
    /// doubles: `w₀, v₀, w₁, v₁, …` (so that the update's operands are one array), then `p`,
    /// the row sums, and four rows' update coefficients.
    struct Panel {
        let reflectors: UnsafeMutablePointer<Double>
        let ld: Int
        /// Columns are read up to here (a whole number of vectors).
        let end: Int

        @inline(__always) func w(_ t: Int) -> UnsafeMutablePointer<Double> { reflectors + 2 * t * ld }
        @inline(__always) func v(_ t: Int) -> UnsafeMutablePointer<Double> { reflectors + (2 * t + 1) * ld }
        /// `A₂₂·v`: the parts across the rows (`pⱼ += aᵢⱼ·vᵢ`), then the rows' own.
        var p: UnsafeMutablePointer<Double> { reflectors + 2 * Tridiagonalization.panel * ld }
        /// `Σⱼ aᵢⱼ·vⱼ` along row `i`, kept apart from `p` until the pass ends: adding a scalar
        /// into a vector just stored (and reloading it whole) stalls store forwarding.
        var rowSums: UnsafeMutablePointer<Double> { reflectors + (2 * Tridiagonalization.panel + 1) * ld }
        /// The coefficients of four rows' update, negated: `c[(2t + s)·4 + r]` for row `i + r`,
        /// `−vₜ[i + r]` (s = 0, multiplying `wₜ`) and `−wₜ[i + r]` (s = 1).
        var coefficients: UnsafeMutablePointer<Double> { reflectors + (2 * Tridiagonalization.panel + 2) * ld }

        /// Forms step `k`'s reflector from its up-to-date row (`steps` earlier steps in the
        /// panel), stores it and its `w` as the panel's next, and returns `α`.
        func reflect(_ a: UnsafeMutablePointer<Double>, row k: Int, n: Int, steps: Int) -> Double {
            let row = a + k * ld
            let v = self.v(steps)
            let w = self.w(steps)
            let first = (k + 1) & ~(lanes - 1)
            let x0 = row[k + 1]
            let rest = dot(row, row, from: k + 2, end: end)
            (v + first).update(repeating: 0, count: end - first)
            if rest == 0 {
                // Already reduced: H = I (τ = 0), so w = 0 too.
                (w + first).update(repeating: 0, count: end - first)
                return x0
            }
            (v + k + 1).update(from: row + k + 1, count: end - k - 1)
            let norm = (x0 * x0 + rest).squareRoot()
            let alpha = x0 >= 0 ? -norm : norm
            v[k + 1] = x0 - alpha
            let tau = 2 / (v[k + 1] * v[k + 1] + rest)
            // p = A₂₂·v with A₂₂ as the panel found it, then the panel's earlier updates.
            (p + first).update(repeating: 0, count: end - first)
            product(a, n: n, from: k + 1, v: v)
            for t in 0..<steps {
                let (wt, vt) = (self.w(t), self.v(t))
                let along = SIMD4(repeating: -dot(wt, v, from: k + 1, end: end))
                let across = SIMD4(repeating: -dot(vt, v, from: k + 1, end: end))
                var j = first
                while j < end {
                    var pj = load4(p + j)
                    pj.addProduct(along, load4(vt + j))
                    pj.addProduct(across, load4(wt + j))
                    store4(pj, p + j)
                    j += 4
                }
            }
            let pv = dot(p, v, from: k + 1, end: end)
            let scale = SIMD8(repeating: tau)
            let half = SIMD8(repeating: -0.5 * tau * tau * pv)
            var j = first
            while j < end {
                var wj = scale * load(p + j)
                wj.addProduct(half, load(v + j))
                store(wj, w + j)
                j += lanes
            }
            return alpha
        }

        /// `p += A₂₂·v` over rows `from..<n`, four rows at a time from a multiple of four.
        func product(_ a: UnsafeMutablePointer<Double>, n: Int, from: Int, v: UnsafeMutablePointer<Double>) {
            inFours(
                from: from, to: n, one: { i in productRow(a + i * ld, i: i, v: v) },
                four: { i in productFourRows(a + i * ld, i: i, v: v) })
            addRowSums(p, rowSums, from: from, end: end)
        }

        /// Row `i`: `p[i] += Σⱼ aᵢⱼ·vⱼ` and `p[j] += aᵢⱼ·vᵢ`.
        @inline(__always)
        func productRow(_ row: UnsafeMutablePointer<Double>, i: Int, v: UnsafeMutablePointer<Double>) {
            let vi = SIMD8(repeating: v[i])
            var sum = SIMD8<Double>()
            var j = i & ~(lanes - 1)
            while j < end {
                let x = load(row + j)
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
        func productFourRows(_ r0: UnsafeMutablePointer<Double>, i: Int, v: UnsafeMutablePointer<Double>) {
            let (r1, r2, r3) = (r0 + ld, r0 + 2 * ld, r0 + 3 * ld)
            let start = i & ~(lanes - 1)
            let (v0, v1, v2, v3) = (
                SIMD4(repeating: v[i]), SIMD4(repeating: v[i + 1]), SIMD4(repeating: v[i + 2]),
                SIMD4(repeating: v[i + 3])
            )
            var (s0, s1, s2, s3) = (SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>())
            var j = start
            while j < end {
                let (x0, x1, x2, x3) = (load4(r0 + j), load4(r1 + j), load4(r2 + j), load4(r3 + j))
                let vj = load4(v + j)
                s0.addProduct(x0, vj)
                s1.addProduct(x1, vj)
                s2.addProduct(x2, vj)
                s3.addProduct(x3, vj)
                var pj = load4(p + j)
                pj.addProduct(x0, v0)
                pj.addProduct(x1, v1)
                pj.addProduct(x2, v2)
                pj.addProduct(x3, v3)
                store4(pj, p + j)
                j += 4
            }
            rowSums[i] = s0.sum()
            rowSums[i + 1] = s1.sum()
            rowSums[i + 2] = s2.sum()
            rowSums[i + 3] = s3.sum()
        }

        /// Brings row `i` (from its diagonal on) up to date with the panel's first `steps`
        /// updates: `aᵢⱼ −= Σₜ vₜ[i]·wₜ[j] + wₜ[i]·vₜ[j]`.
        func updateRow(_ row: UnsafeMutablePointer<Double>, i: Int, steps: Int) {
            if steps == 0 { return }
            let start = i & ~(lanes - 1)
            var u = SIMD8<Double>()
            for t in 0..<steps {
                u.addProduct(SIMD8(repeating: -v(t)[i]), load(w(t) + start))
                u.addProduct(SIMD8(repeating: -w(t)[i]), load(v(t) + start))
            }
            var x = load(row + start)
            x.addProduct(Tridiagonalization.diagonalMasks[i - start], u)
            store(x, row + start)
            var j = start + lanes
            while j < end {
                var x = load(row + j)
                for t in 0..<steps {
                    x.addProduct(SIMD8(repeating: -v(t)[i]), load(w(t) + j))
                    x.addProduct(SIMD8(repeating: -w(t)[i]), load(v(t) + j))
                }
                store(x, row + j)
                j += lanes
            }
        }

        /// Applies the panel's `steps` updates to rows `from..<n`, four rows at a time.
        func updateTrailing(_ a: UnsafeMutablePointer<Double>, from: Int, n: Int, steps: Int) {
            let masks = Tridiagonalization.diagonalMasks
            inFours(
                from: from, to: n, one: { i in updateRow(a + i * ld, i: i, steps: steps) },
                four: { i in
                    let start = i & ~(lanes - 1)
                    for t in 0..<steps {
                        for r in 0..<4 {
                            coefficients[(2 * t) * 4 + r] = -v(t)[i + r]
                            coefficients[(2 * t + 1) * 4 + r] = -w(t)[i + r]
                        }
                    }
                    // The vector with the diagonals takes the update masked: updated whole, then
                    // x + mask·(x′ − x) keeps the zeros left of the diagonal and halves its update.
                    let rows = (a + i * ld, a + (i + 1) * ld, a + (i + 2) * ld, a + (i + 3) * ld)
                    let before = (
                        load(rows.0 + start), load(rows.1 + start), load(rows.2 + start), load(rows.3 + start)
                    )
                    updateFourRows(rows.0, from: start, terms: 2 * steps, coefficients: coefficients)
                    let lane = i - start
                    store(before.0 + masks[lane] * (load(rows.0 + start) - before.0), rows.0 + start)
                    store(before.1 + masks[lane + 1] * (load(rows.1 + start) - before.1), rows.1 + start)
                    store(before.2 + masks[lane + 2] * (load(rows.2 + start) - before.2), rows.2 + start)
                    store(before.3 + masks[lane + 3] * (load(rows.3 + start) - before.3), rows.3 + start)
                })
        }

        /// Four rows, columns `from..<end` (8 at a time: 8 accumulators of 4 doubles):
        /// `x[r][j] += Σₛ c[s·4 + r]·reflectors[s][j]` over the `terms` vectors `w₀, v₀, …`.
        @inline(__always)
        func updateFourRows(
            _ r0: UnsafeMutablePointer<Double>, from: Int, terms: Int, coefficients c: UnsafePointer<Double>
        ) {
            let (r1, r2, r3) = (r0 + ld, r0 + 2 * ld, r0 + 3 * ld)
            var j = from
            while j < end {
                var (x0, y0) = (load4(r0 + j), load4(r0 + j + 4))
                var (x1, y1) = (load4(r1 + j), load4(r1 + j + 4))
                var (x2, y2) = (load4(r2 + j), load4(r2 + j + 4))
                var (x3, y3) = (load4(r3 + j), load4(r3 + j + 4))
                var term = reflectors + j
                var coefficient = c
                for _ in 0..<terms {
                    let (b, b4) = (load4(term), load4(term + 4))
                    let c0 = SIMD4(repeating: coefficient[0])
                    x0.addProduct(c0, b)
                    y0.addProduct(c0, b4)
                    let c1 = SIMD4(repeating: coefficient[1])
                    x1.addProduct(c1, b)
                    y1.addProduct(c1, b4)
                    let c2 = SIMD4(repeating: coefficient[2])
                    x2.addProduct(c2, b)
                    y2.addProduct(c2, b4)
                    let c3 = SIMD4(repeating: coefficient[3])
                    x3.addProduct(c3, b)
                    y3.addProduct(c3, b4)
                    term += ld
                    coefficient += 4
                }
                store4(x0, r0 + j)
                store4(y0, r0 + j + 4)
                store4(x1, r1 + j)
                store4(y1, r1 + j + 4)
                store4(x2, r2 + j)
                store4(y2, r2 + j + 4)
                store4(x3, r3 + j)
                store4(y3, r3 + j + 4)
                j += lanes
            }
        }
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
            inFours(
                from: from, to: n, one: { i in oneRow(a + i * ld, i: i) },
                four: { i in fourRows(a + i * ld, ld: ld, i: i) })
            addRowSums(p, rowSums, from: from, end: end)
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

    @inline(__always) static func load4(_ x: UnsafeMutablePointer<Double>) -> SIMD4<Double> {
        UnsafeRawPointer(x).loadUnaligned(as: SIMD4<Double>.self)
    }

    @inline(__always) static func store4(_ value: SIMD4<Double>, _ x: UnsafeMutablePointer<Double>) {
        UnsafeMutableRawPointer(x).storeBytes(of: value, as: SIMD4<Double>.self)
    }
}
