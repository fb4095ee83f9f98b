extension Fused {
    /// The sizes of one causal self-attention: q, k, v, y are (B, T, C) with head `h`
    /// owning channels `h·hd..<(h+1)·hd`; the softmax statistics are (B, H, T, 2).
    public struct AttentionShape: Sendable {
        /// Sequences B.
        public var batch: Int
        /// Sequence length T.
        public var context: Int
        /// Heads H.
        public var heads: Int
        /// Channels per head hd; C = H·hd.
        public var headSize: Int

        /// The sizes of one attention call.
        public init(batch: Int, context: Int, heads: Int, headSize: Int) {
            self.batch = batch
            self.context = context
            self.heads = heads
            self.headSize = headSize
        }

        /// T rounded up to 16: the row stride of score tiles.
        public var paddedContext: Int { (context + 15) / 16 * 16 }
        /// hd rounded up to 16.
        var paddedHead: Int { (headSize + 15) / 16 * 16 }
        var columns: Int { heads * headSize }
        /// Floats of the softmax statistics: a row maximum and reciprocal sum per (b, h, t).
        public var statisticsCount: Int { batch * heads * context * 2 }
        /// Floats of scratch each parallel part needs.
        public var scratchPerPart: Int { 9 * paddedContext * paddedHead + 8 * paddedContext }
    }

    /// Copies `count` floats, 16 lanes at a time when `count` is a multiple of 16 (head rows
    /// are short: a library call per row costs more than the copy).
    @inline(__always) static func copyRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int)
    {
        if count % 16 == 0 {
            for j in stride(from: 0, to: count, by: 16) { store(load(src + j), dst + j) }
        } else {
            for j in 0..<count { dst[j] = src[j] }
        }
    }

    /// Gathers one head's rows of x (B,T,C) into `dst` (Tp, hp), zero-padded.
    @inline(__always) static func gatherRows(
        _ x: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ s: AttentionShape, b: Int, h: Int
    ) {
        let (t, c, hd, hp) = (s.context, s.columns, s.headSize, s.paddedHead)
        if hd == hp {
            for i in 0..<t { copyRow(x + (b * t + i) * c + h * hd, dst + i * hp, hd) }
            (dst + t * hp).update(repeating: 0, count: (s.paddedContext - t) * hp)
        } else {
            dst.update(repeating: 0, count: s.paddedContext * hp)
            for i in 0..<t { copyRow(x + (b * t + i) * c + h * hd, dst + i * hp, hd) }
        }
    }

    /// Gathers one head of x (B,T,C) transposed into `dst` (hp, Tp), zero-padded, through
    /// `rows` (Tp, hp) scratch: rows first, then a transpose within L1.
    @inline(__always) static func gatherColumns(
        _ x: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>,
        _ s: AttentionShape, b: Int, h: Int
    ) {
        gatherRows(x, rows, s, b: b, h: h)
        transpose(rows, dst, s)
    }

    /// Scatters `src` (Tp, hp) back into one head's rows of x (B,T,C).
    @inline(__always) static func scatterRows(
        _ src: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, _ s: AttentionShape, b: Int, h: Int
    ) {
        let (t, c, hd, hp) = (s.context, s.columns, s.headSize, s.paddedHead)
        for i in 0..<t { copyRow(src + i * hp, x + (b * t + i) * c + h * hd, hd) }
    }

    /// Transposes `rows` (Tp, hp) into `dst` (hp, Tp), 16×16 blocks at a time.
    @inline(__always) static func transpose(
        _ rows: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ s: AttentionShape
    ) {
        let (tp, hp) = (s.paddedContext, s.paddedHead)
        for ib in stride(from: 0, to: tp, by: 16) {
            for pb in stride(from: 0, to: hp, by: 16) {
                transpose16(rows + ib * hp + pb, hp, dst + pb * tp + ib, tp)
            }
        }
    }

    /// Even lanes of a then b, and odd lanes of a then b.
    @inline(__always) static func unzip(_ a: V, _ b: V) -> (V, V) {
        (V(lowHalf: a.evenHalf, highHalf: b.evenHalf), V(lowHalf: a.oddHalf, highHalf: b.oddHalf))
    }

    /// Transposes a 16×16 block (rows `ld` apart) into `dst` (rows `ldd` apart).
    ///
    /// Read as one 256-value array, unzipping (evens, then odds) rotates each index's 8 bits
    /// right by one; four unzips rotate by four, swapping row and column bits: a transpose,
    /// in 64 two-vector permutes.
    @inline(__always) static func transpose16(
        _ src: UnsafePointer<Float>, _ ld: Int, _ dst: UnsafeMutablePointer<Float>, _ ldd: Int
    ) {
        var (r0, r1, r2, r3) = (load(src), load(src + ld), load(src + 2 * ld), load(src + 3 * ld))
        var (r4, r5, r6, r7) = (load(src + 4 * ld), load(src + 5 * ld), load(src + 6 * ld), load(src + 7 * ld))
        var (r8, r9, r10, r11) = (load(src + 8 * ld), load(src + 9 * ld), load(src + 10 * ld), load(src + 11 * ld))
        var (r12, r13, r14, r15) = (
            load(src + 12 * ld), load(src + 13 * ld), load(src + 14 * ld), load(src + 15 * ld)
        )
        for _ in 0..<4 {
            let (n0, n8) = unzip(r0, r1)
            let (n1, n9) = unzip(r2, r3)
            let (n2, n10) = unzip(r4, r5)
            let (n3, n11) = unzip(r6, r7)
            let (n4, n12) = unzip(r8, r9)
            let (n5, n13) = unzip(r10, r11)
            let (n6, n14) = unzip(r12, r13)
            let (n7, n15) = unzip(r14, r15)
            (r0, r1, r2, r3, r4, r5, r6, r7) = (n0, n1, n2, n3, n4, n5, n6, n7)
            (r8, r9, r10, r11, r12, r13, r14, r15) = (n8, n9, n10, n11, n12, n13, n14, n15)
        }
        store(r0, dst)
        store(r1, dst + ldd)
        store(r2, dst + 2 * ldd)
        store(r3, dst + 3 * ldd)
        store(r4, dst + 4 * ldd)
        store(r5, dst + 5 * ldd)
        store(r6, dst + 6 * ldd)
        store(r7, dst + 7 * ldd)
        store(r8, dst + 8 * ldd)
        store(r9, dst + 9 * ldd)
        store(r10, dst + 10 * ldd)
        store(r11, dst + 11 * ldd)
        store(r12, dst + 12 * ldd)
        store(r13, dst + 13 * ldd)
        store(r14, dst + 14 * ldd)
        store(r15, dst + 15 * ldd)
    }

    /// Turns a 4-row tile of scores (4, Tp) for rows i0… into causal softmax probabilities in
    /// place (zero past the diagonal and in rows past T). Unless `known`, computes each row's
    /// maximum m and reciprocal sum r and saves them at `stats[2i]`, `stats[2i+1]`; with
    /// `known` it reads them back, giving bit for bit the same probabilities.
    @inline(__always) static func softmaxTile(
        _ tile: UnsafeMutablePointer<Float>, i0: Int, context t: Int, tp: Int, blocks: Int,
        stats: UnsafeMutablePointer<Float>, known: Bool
    ) {
        for r in 0..<4 {
            let row = tile + r * tp
            let i = i0 + r
            if i >= t {
                row.update(repeating: 0, count: blocks * 16)
                continue
            }
            let m: V
            if known {
                m = V(repeating: stats[2 * i])
            } else {
                var mx = V(repeating: -.infinity)
                for jb in 0..<blocks {
                    let future = laneIndex .> V(repeating: Float(i - jb * 16))
                    mx = maximum(mx, load(row + jb * 16).replacing(with: -.infinity, where: future))
                }
                m = V(repeating: maximum(mx))
            }
            var total = V()
            for jb in 0..<blocks {
                let future = laneIndex .> V(repeating: Float(i - jb * 16))
                let e = exp(load(row + jb * 16) - m).replacing(with: 0, where: future)
                total += e
                store(e, row + jb * 16)
            }
            let inverse: Float
            if known {
                inverse = stats[2 * i + 1]
            } else {
                inverse = 1 / sum(total)
                stats[2 * i] = m[0]
                stats[2 * i + 1] = inverse
            }
            let inv = V(repeating: inverse)
            for jb in 0..<blocks { store(load(row + jb * 16) * inv, row + jb * 16) }
        }
    }

    /// `out[r][jb] = Σ_p a[(i0+r)·hp + p] · bt[p·Tp + jb·16 …]` for 4 rows and `blocks` column
    /// blocks: the 4-row tile of A·Bᵀ with B given transposed. out is (4, Tp).
    @inline(__always) static func rowTile(
        _ a: UnsafePointer<Float>, _ bt: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, depth: Int, hp: Int,
        tp: Int, blocks: Int, scale: Float
    ) {
        // Two column blocks at a time when there are two: 8 accumulators share each
        // broadcast (every value still sums over p in order, so pairing never changes it).
        var jb = 0
        while jb + 1 < blocks {
            var (c0, c1, c2, c3) = (V(), V(), V(), V())
            var (d0, d1, d2, d3) = (V(), V(), V(), V())
            for p in 0..<depth {
                let bv = load(bt + p * tp + jb * 16)
                let bw = load(bt + p * tp + jb * 16 + 16)
                let (a0, a1, a2, a3) = (
                    V(repeating: a[p]), V(repeating: a[hp + p]), V(repeating: a[2 * hp + p]),
                    V(repeating: a[3 * hp + p])
                )
                c0.addProduct(a0, bv)
                d0.addProduct(a0, bw)
                c1.addProduct(a1, bv)
                d1.addProduct(a1, bw)
                c2.addProduct(a2, bv)
                d2.addProduct(a2, bw)
                c3.addProduct(a3, bv)
                d3.addProduct(a3, bw)
            }
            store(c0 * scale, out + jb * 16)
            store(c1 * scale, out + tp + jb * 16)
            store(c2 * scale, out + 2 * tp + jb * 16)
            store(c3 * scale, out + 3 * tp + jb * 16)
            store(d0 * scale, out + jb * 16 + 16)
            store(d1 * scale, out + tp + jb * 16 + 16)
            store(d2 * scale, out + 2 * tp + jb * 16 + 16)
            store(d3 * scale, out + 3 * tp + jb * 16 + 16)
            jb += 2
        }
        if jb < blocks {
            var (c0, c1, c2, c3) = (V(), V(), V(), V())
            for p in 0..<depth {
                let bv = load(bt + p * tp + jb * 16)
                c0.addProduct(V(repeating: a[p]), bv)
                c1.addProduct(V(repeating: a[hp + p]), bv)
                c2.addProduct(V(repeating: a[2 * hp + p]), bv)
                c3.addProduct(V(repeating: a[3 * hp + p]), bv)
            }
            store(c0 * scale, out + jb * 16)
            store(c1 * scale, out + tp + jb * 16)
            store(c2 * scale, out + 2 * tp + jb * 16)
            store(c3 * scale, out + 3 * tp + jb * 16)
        }
    }

    /// `out[r] = Σ_{j<count} w[r·Tp + j] · x[j·hp …]` for 4 rows, written (hd wide) to
    /// `dst + r·ld` for the rows below `rows`.
    @inline(__always) static func weightedRows(
        _ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int, hp: Int, tp: Int, hd: Int,
        dst: UnsafeMutablePointer<Float>, ld: Int, rows: Int
    ) {
        @inline(__always) func put(_ v: V, _ r: Int, _ vi: Int) {
            if r < rows { storePartial(v, dst + r * ld + vi, min(16, hd - vi)) }
        }
        // Two 16-lane column blocks at a time when there are two (as in rowTile).
        var vi = 0
        while vi + 16 < hp {
            var (c0, c1, c2, c3) = (V(), V(), V(), V())
            var (d0, d1, d2, d3) = (V(), V(), V(), V())
            for j in 0..<count {
                let xv = load(x + j * hp + vi)
                let xw = load(x + j * hp + vi + 16)
                let (w0, w1, w2, w3) = (
                    V(repeating: w[j]), V(repeating: w[tp + j]), V(repeating: w[2 * tp + j]),
                    V(repeating: w[3 * tp + j])
                )
                c0.addProduct(w0, xv)
                d0.addProduct(w0, xw)
                c1.addProduct(w1, xv)
                d1.addProduct(w1, xw)
                c2.addProduct(w2, xv)
                d2.addProduct(w2, xw)
                c3.addProduct(w3, xv)
                d3.addProduct(w3, xw)
            }
            put(c0, 0, vi)
            put(c1, 1, vi)
            put(c2, 2, vi)
            put(c3, 3, vi)
            put(d0, 0, vi + 16)
            put(d1, 1, vi + 16)
            put(d2, 2, vi + 16)
            put(d3, 3, vi + 16)
            vi += 32
        }
        if vi < hp {
            var (c0, c1, c2, c3) = (V(), V(), V(), V())
            for j in 0..<count {
                let xv = load(x + j * hp + vi)
                c0.addProduct(V(repeating: w[j]), xv)
                c1.addProduct(V(repeating: w[tp + j]), xv)
                c2.addProduct(V(repeating: w[2 * tp + j]), xv)
                c3.addProduct(V(repeating: w[3 * tp + j]), xv)
            }
            put(c0, 0, vi)
            put(c1, 1, vi)
            put(c2, 2, vi)
            put(c3, 3, vi)
        }
    }

    /// `acc[j] += Σ_r w[r·Tp + j] · x[r·hp]` over all hp lanes, for the 4 rows r and
    /// j < count, acc's rows hp apart: the rank-4 update behind dk = dSᵀ·q and dv = Pᵀ·dy.
    /// Two 16-lane blocks at a time when there are two.
    @inline(__always) static func accumulateColumns(
        _ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ acc: UnsafeMutablePointer<Float>, count: Int, hp: Int,
        tp: Int
    ) {
        let (w1, w2, w3) = (w + tp, w + 2 * tp, w + 3 * tp)
        var vi = 0
        while vi + 16 < hp {
            let (x0, x1, x2, x3) = (load(x + vi), load(x + hp + vi), load(x + 2 * hp + vi), load(x + 3 * hp + vi))
            let (y0, y1, y2, y3) = (
                load(x + vi + 16), load(x + hp + vi + 16), load(x + 2 * hp + vi + 16), load(x + 3 * hp + vi + 16)
            )
            for j in 0..<count {
                let row = acc + j * hp + vi
                let (s0, s1, s2, s3) = (
                    V(repeating: w[j]), V(repeating: w1[j]), V(repeating: w2[j]), V(repeating: w3[j])
                )
                var a = load(row)
                var b = load(row + 16)
                a.addProduct(s0, x0)
                b.addProduct(s0, y0)
                a.addProduct(s1, x1)
                b.addProduct(s1, y1)
                a.addProduct(s2, x2)
                b.addProduct(s2, y2)
                a.addProduct(s3, x3)
                b.addProduct(s3, y3)
                store(a, row)
                store(b, row + 16)
            }
            vi += 32
        }
        if vi < hp {
            let (x0, x1, x2, x3) = (load(x + vi), load(x + hp + vi), load(x + 2 * hp + vi), load(x + 3 * hp + vi))
            for j in 0..<count {
                let row = acc + j * hp + vi
                var a = load(row)
                a.addProduct(V(repeating: w[j]), x0)
                a.addProduct(V(repeating: w1[j]), x1)
                a.addProduct(V(repeating: w2[j]), x2)
                a.addProduct(V(repeating: w3[j]), x3)
                store(a, row)
            }
        }
    }

    /// Causal multi-head self-attention forward: y = softmax(mask(q·kᵀ/√hd))·v per batch
    /// element and head. q, k, v, y are (B,T,C). Instead of the (B,H,T,T) probabilities it
    /// keeps each row's maximum score and reciprocal sum in `stats` (B,H,T,2), from which the
    /// backward pass recomputes them exactly (as flash attention does): less memory traffic
    /// than writing and rereading them. Parallel over B·H in `parts` static pieces, each
    /// using its own ``AttentionShape/scratchPerPart`` floats of `scratch`.
    public static func attentionForward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        stats: UnsafeMutablePointer<Float>, shape s: AttentionShape, scratch: UnsafeMutablePointer<Float>, parts: Int
    ) {
        let (t, tp, hd, hp, c) = (s.context, s.paddedContext, s.headSize, s.paddedHead, s.columns)
        let tasks = s.batch * s.heads
        let scale = 1 / Float(hd).squareRoot()
        let parts = max(1, min(parts, tasks))
        Parallel.forEach(parts) { part in
            let base = scratch + part * s.scratchPerPart
            let qs = base
            let vs = qs + tp * hp
            let kt = vs + tp * hp
            let sc = kt + hp * tp
            let rows = sc + 4 * tp
            for task in (tasks * part / parts)..<(tasks * (part + 1) / parts) {
                let (b, h) = task.quotientAndRemainder(dividingBy: s.heads)
                gatherRows(q, qs, s, b: b, h: h)
                gatherRows(v, vs, s, b: b, h: h)
                gatherColumns(k, kt, rows: rows, s, b: b, h: h)
                let st = stats + task * t * 2
                for i0 in stride(from: 0, to: t, by: 4) {
                    let end = min(i0 + 4, t)
                    let blocks = (end + 15) / 16
                    // scores (4, Tp) = q[i0..<i0+4] (4,hd) · kᵀ (hd,Tp) / √hd
                    rowTile(qs + i0 * hp, kt, sc, depth: hd, hp: hp, tp: tp, blocks: blocks, scale: scale)
                    softmaxTile(sc, i0: i0, context: t, tp: tp, blocks: blocks, stats: st, known: false)
                    // y[i0..<i0+4] (4,hd) = P (4,end) · v (end,hd)
                    weightedRows(
                        sc, vs, count: end, hp: hp, tp: tp, hd: hd, dst: y + (b * t + i0) * c + h * hd, ld: c,
                        rows: end - i0)
                }
            }
        }
    }

    /// The backward of ``attentionForward``, writing (not adding) dq, dk, dv (B,T,C) from
    /// dy (B,T,C) and the forward pass's `stats`. With dP = dy·vᵀ and dS = P⊙(dP − rowsum(P⊙dP))/√hd:
    /// dq = dS·k, dk = dSᵀ·q, dv = Pᵀ·dy.
    public static func attentionBackward(
        dy: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        stats: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
        dv: UnsafeMutablePointer<Float>, shape s: AttentionShape, scratch: UnsafeMutablePointer<Float>, parts: Int
    ) {
        let (t, tp, hd, hp, c) = (s.context, s.paddedContext, s.headSize, s.paddedHead, s.columns)
        let tasks = s.batch * s.heads
        let scale = 1 / Float(hd).squareRoot()
        let parts = max(1, min(parts, tasks))
        Parallel.forEach(parts) { part in
            let base = scratch + part * s.scratchPerPart
            let qs = base
            let ks = qs + tp * hp
            let dys = ks + tp * hp
            let dka = dys + tp * hp
            let dva = dka + tp * hp
            let vt = dva + tp * hp
            let sp = vt + hp * tp
            let sc = sp + 4 * tp
            let rows = sc + 4 * tp
            let kt = rows + tp * hp
            for task in (tasks * part / parts)..<(tasks * (part + 1) / parts) {
                let (b, h) = task.quotientAndRemainder(dividingBy: s.heads)
                gatherRows(q, qs, s, b: b, h: h)
                gatherRows(k, ks, s, b: b, h: h)
                gatherRows(dy, dys, s, b: b, h: h)
                gatherColumns(v, vt, rows: rows, s, b: b, h: h)
                dka.update(repeating: 0, count: tp * hp)
                dva.update(repeating: 0, count: tp * hp)
                transpose(ks, kt, s)
                let st = UnsafeMutablePointer(mutating: stats + task * t * 2)  // read only: known
                for i0 in stride(from: 0, to: t, by: 4) {
                    let end = min(i0 + 4, t)
                    let blocks = (end + 15) / 16
                    // P (4, Tp) recomputed: q[i0..<i0+4] · kᵀ / √hd, then the saved softmax statistics
                    rowTile(qs + i0 * hp, kt, sp, depth: hd, hp: hp, tp: tp, blocks: blocks, scale: scale)
                    softmaxTile(sp, i0: i0, context: t, tp: tp, blocks: blocks, stats: st, known: true)
                    // dP (4, Tp) = dy[i0..<i0+4] (4,hd) · vᵀ (hd,Tp)
                    rowTile(dys + i0 * hp, vt, sc, depth: hd, hp: hp, tp: tp, blocks: blocks, scale: 1)
                    for r in 0..<4 {
                        let (pr, dr) = (sp + r * tp, sc + r * tp)
                        var dot = V()
                        for jb in 0..<blocks { dot.addProduct(load(pr + jb * 16), load(dr + jb * 16)) }
                        let d = V(repeating: sum(dot))
                        for jb in 0..<blocks {
                            store(load(pr + jb * 16) * (load(dr + jb * 16) - d) * scale, dr + jb * 16)
                        }
                    }
                    // dq[i0..<i0+4] (4,hd) = dS (4,end) · k (end,hd)
                    weightedRows(
                        sc, ks, count: end, hp: hp, tp: tp, hd: hd, dst: dq + (b * t + i0) * c + h * hd, ld: c,
                        rows: end - i0)
                    // dk[j] += Σ_r dS[r,j]·q[i0+r], dv[j] += Σ_r P[r,j]·dy[i0+r], for j < end
                    accumulateColumns(sc, qs + i0 * hp, dka, count: end, hp: hp, tp: tp)
                    accumulateColumns(sp, dys + i0 * hp, dva, count: end, hp: hp, tp: tp)
                }
                scatterRows(dka, dk, s, b: b, h: h)
                scatterRows(dva, dv, s, b: b, h: h)
            }
        }
    }
}
