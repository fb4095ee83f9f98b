import Foundation

/// Fused, in-place forward/backward kernels for the built-in transformer, on raw buffers.
///
/// These are llm.c-style pairs: each forward kernel sits beside its backward, with the
/// shapes in comments. They allocate nothing; callers own every buffer (the model
/// allocates them once). Activations are rows, `(N, C)` row-major.
///
/// Deterministic by construction: a row is always handled whole by one thread, any sum
/// across rows adds fixed chunks of ``chunkRows`` rows in order, and elementwise kernels
/// run the same 16-lane code on every element (a short tail is padded into a vector), so
/// no result depends on the thread count.
public enum Fused {
    typealias V = SIMD16<Float>

    /// Rows per chunk of a reduction across rows (norm weight gradients, the loss).
    public static let chunkRows = 64

    /// Chunks of ``chunkRows`` rows covering `rows`.
    public static func chunkCount(rows: Int) -> Int { (rows + chunkRows - 1) / chunkRows }

    // MARK: Vector helpers

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// The first `n` (≤ 16) values at `p`, zero-padded.
    @inline(__always) static func loadPartial(_ p: UnsafePointer<Float>, _ n: Int) -> V {
        if n == 16 { return load(p) }
        var v = V()
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @inline(__always) static func storePartial(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n == 16 { return store(v, p) }
        for i in 0..<n { p[i] = v[i] }
    }

    /// Lane indices 0…15 as floats, for masks.
    static let laneIndex = V(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

    /// Lane-wise maximum (a blend; the library's `pointwiseMax` goes lane by lane).
    @inline(__always) static func maximum(_ a: V, _ b: V) -> V { a.replacing(with: b, where: a .< b) }

    /// The sum of the lanes, added as a fixed tree.
    @inline(__always) static func sum(_ v: V) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// The largest lane.
    @inline(__always) static func maximum(_ v: V) -> Float {
        let a = maximum8(v.lowHalf, v.highHalf)
        let b = a.lowHalf.replacing(with: a.highHalf, where: a.lowHalf .< a.highHalf)
        let c = b.lowHalf.replacing(with: b.highHalf, where: b.lowHalf .< b.highHalf)
        return Swift.max(c[0], c[1])
    }

    @inline(__always) static func maximum8(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        a.replacing(with: b, where: a .< b)
    }

    /// `eˣ` on 16 lanes: Cody–Waite reduction by ln 2 and the Cephes `expf` polynomial
    /// (relative error about 2e-7), inputs clamped to [-87.3, 88.3].
    @inline(__always) public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let (lo, hi) = (V(repeating: -87.3), V(repeating: 88.3))
        let x = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        // n = round(x / ln 2) by adding 1.5·2²³: the sum's low mantissa bits hold n.
        let magic = V(repeating: 12_582_912)
        let shifted = magic.addingProduct(x, V(repeating: 1.442_695_04))
        let n = shifted - magic
        var r = x.addingProduct(n, V(repeating: -0.693_359_375))
        r = r.addingProduct(n, V(repeating: 2.121_944_4e-4))
        var p = V(repeating: 1.987_569_15e-4)
        p = V(repeating: 1.398_199_95e-3).addingProduct(p, r)
        p = V(repeating: 8.333_451_9e-3).addingProduct(p, r)
        p = V(repeating: 4.166_579_59e-2).addingProduct(p, r)
        p = V(repeating: 1.666_666_55e-1).addingProduct(p, r)
        p = V(repeating: 5.000_000_12e-1).addingProduct(p, r)
        p = (r + 1).addingProduct(p, r * r)
        let bits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        return p * unsafeBitCast((bits &+ 127) &<< 23, to: V.self)
    }

    /// Splits `count` elements into 16-wide blocks over the threads and calls `full(i)` for
    /// each whole block at element `i`, `tail(i, width)` for a last, short one. Kept apart so
    /// that the whole blocks compile to straight vector code.
    @inline(__always) static func blocks(_ count: Int, full: (Int) -> Void, tail: (Int, Int) -> Void) {
        let blockCount = (count + 15) / 16
        let whole = count / 16
        Parallel.forRanges(blockCount, grain: 1024) { range in
            for b in range.lowerBound..<min(range.upperBound, whole) { full(b * 16) }
            if range.upperBound > whole { tail(whole * 16, count - whole * 16) }
        }
    }

    /// out = f(a), elementwise over `count`; out may alias a.
    @inline(__always) static func map(
        _ count: Int, _ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ f: (V) -> V
    ) {
        blocks(count) { i in
            store(f(load(a + i)), out + i)
        } tail: { i, w in
            storePartial(f(loadPartial(a + i, w)), out + i, w)
        }
    }

    /// out = f(a, b), elementwise over `count`; out may alias a or b.
    @inline(__always) static func map(
        _ count: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        _ f: (V, V) -> V
    ) {
        blocks(count) { i in
            store(f(load(a + i), load(b + i)), out + i)
        } tail: { i, w in
            storePartial(f(loadPartial(a + i, w), loadPartial(b + i, w)), out + i, w)
        }
    }

    // MARK: Normalisation (LayerNorm without bias, RMSNorm)

    /// LayerNorm (`centered`) or RMSNorm forward, with a weight and no bias.
    /// x is (N,C), weight is (C); writes y (N,C), mean (N) (zero for RMSNorm) and rstd (N).
    /// When `copy` is given, x is also copied there (the start of the next residual sum).
    public static func normForward(
        centered: Bool, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, copy: UnsafeMutablePointer<Float>?,
        rows: Int, columns c: Int, eps: Float = 1e-5
    ) {
        let whole = c / 16 * 16
        Parallel.forRanges(rows, grain: 16) { range in
            for n in range {
                let xr = x + n * c
                let yr = y + n * c
                var m: Float = 0
                if centered {
                    var s = V()
                    for j in stride(from: 0, to: whole, by: 16) { s += load(xr + j) }
                    var t = sum(s)
                    for j in whole..<c { t += xr[j] }
                    m = t / Float(c)
                }
                let mv = V(repeating: m)
                var q = V()
                for j in stride(from: 0, to: whole, by: 16) {
                    let d = load(xr + j) - mv
                    q.addProduct(d, d)
                }
                var t = sum(q)
                for j in whole..<c { t += (xr[j] - m) * (xr[j] - m) }
                let s = 1 / (t / Float(c) + eps).squareRoot()
                mean[n] = m
                rstd[n] = s
                let sv = V(repeating: s)
                for j in stride(from: 0, to: whole, by: 16) {
                    store((load(xr + j) - mv) * sv * load(weight + j), yr + j)
                }
                for j in whole..<c { yr[j] = (xr[j] - m) * s * weight[j] }
                if let copy { (copy + n * c).update(from: xr, count: c) }
            }
        }
    }

    /// The backward of ``normForward``. dy, x are (N,C); adds the input gradient into dx
    /// (N,C) and writes the weight gradient dweight (C), using `partials`
    /// (``chunkCount(rows:)``·C floats) as scratch.
    ///
    /// With n̂ = (x−mean)·rstd and g = dy⊙w: dx += rstd·(g − mean(g) − n̂·mean(g⊙n̂)), the
    /// mean(g) term only when centered; dweight = Σ_rows dy⊙n̂.
    public static func normBackward(
        centered: Bool, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
        dweight: UnsafeMutablePointer<Float>, partials: UnsafeMutablePointer<Float>, rows: Int, columns c: Int
    ) {
        let whole = c / 16 * 16
        let chunks = chunkCount(rows: rows)
        Parallel.forRanges(chunks) { chunkRange in
            for chunk in chunkRange {
                let dw = partials + chunk * c
                dw.update(repeating: 0, count: c)
                for n in (chunk * chunkRows)..<min(rows, (chunk + 1) * chunkRows) {
                    let (xr, dyr, dxr) = (x + n * c, dy + n * c, dx + n * c)
                    let (m, s) = (mean[n], rstd[n])
                    let (mv, sv) = (V(repeating: m), V(repeating: s))
                    var sg = V()
                    var sgn = V()
                    for j in stride(from: 0, to: whole, by: 16) {
                        let nh = (load(xr + j) - mv) * sv
                        let g = load(dyr + j) * load(weight + j)
                        sg += g
                        sgn.addProduct(g, nh)
                    }
                    var (tg, tgn) = (sum(sg), sum(sgn))
                    for j in whole..<c {
                        let nh = (xr[j] - m) * s
                        let g = dyr[j] * weight[j]
                        tg += g
                        tgn += g * nh
                    }
                    let mg = centered ? tg / Float(c) : 0
                    let mgn = tgn / Float(c)
                    let (mgv, mgnv) = (V(repeating: mg), V(repeating: mgn))
                    for j in stride(from: 0, to: whole, by: 16) {
                        let nh = (load(xr + j) - mv) * sv
                        let d = load(dyr + j)
                        let g = d * load(weight + j)
                        store(load(dxr + j) + sv * (g - mgv - nh * mgnv), dxr + j)
                        store(load(dw + j).addingProduct(d, nh), dw + j)
                    }
                    for j in whole..<c {
                        let nh = (xr[j] - m) * s
                        let g = dyr[j] * weight[j]
                        dxr[j] += s * (g - mg - nh * mgn)
                        dw[j] += dyr[j] * nh
                    }
                }
            }
        }
        sumChunks(partials, chunks: chunks, columns: c, into: dweight)
    }

    /// out (C) = Σ over chunks of partials (chunks, C), in chunk order.
    static func sumChunks(
        _ partials: UnsafePointer<Float>, chunks: Int, columns c: Int, into out: UnsafeMutablePointer<Float>
    ) {
        out.update(repeating: 0, count: c)
        for chunk in 0..<chunks {
            let p = partials + chunk * c
            for j in 0..<c { out[j] += p[j] }
        }
    }

    // MARK: GELU (tanh approximation)

    static let geluC: Float = 0.797_884_56  // √(2/π)
    static let geluA: Float = 0.044_715

    /// tanh(u) = 1 − 2/(e²ᵘ + 1).
    @inline(__always) static func tanh(_ u: V) -> V {
        1 - 2 / (exp(u + u) + 1)
    }

    /// gelu(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    @inline(__always) static func gelu(_ x: V) -> V {
        let u = V(repeating: geluC) * x.addingProduct(V(repeating: geluA) * x * x, x)
        return 0.5 * x * (1 + tanh(u))
    }

    /// gelu′(x).
    @inline(__always) static func geluDerivative(_ x: V) -> V {
        let x2 = x * x
        let u = V(repeating: geluC) * x.addingProduct(V(repeating: geluA) * x2, x)
        let t = tanh(u)
        let du = V(repeating: geluC) * V(repeating: 1).addingProduct(V(repeating: 3 * geluA), x2)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    }

    /// g = gelu(h); h, g are (count) and may alias.
    public static func geluForward(_ h: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>, count: Int) {
        map(count, h, g) { gelu($0) }
    }

    /// dh = gelu′(h)⊙dg; dh may alias h or dg.
    public static func geluBackward(
        _ h: UnsafePointer<Float>, _ dg: UnsafePointer<Float>, _ dh: UnsafeMutablePointer<Float>, count: Int
    ) {
        map(count, h, dg, dh) { x, d in geluDerivative(x) * d }
    }

    // MARK: SwiGLU

    /// h = silu(gate)⊙up, silu(z) = z·σ(z); gate, up, h are (count).
    public static func swigluForward(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int
    ) {
        map(count, gate, up, h) { z, u in z / (1 + exp(-z)) * u }
    }

    /// dgate = dh⊙up⊙σ(z)(1 + z(1 − σ(z))), dup = dh⊙silu(z), written over gate and up.
    public static func swigluBackward(
        dh: UnsafePointer<Float>, gate: UnsafeMutablePointer<Float>, up: UnsafeMutablePointer<Float>, count: Int
    ) {
        @inline(__always) func pair(_ z: V, _ u: V, _ d: V) -> (V, V) {
            let sig = 1 / (1 + exp(-z))
            return (d * u * sig * (1 + z * (1 - sig)), d * z * sig)
        }
        blocks(count) { i in
            let (dg, du) = pair(load(gate + i), load(up + i), load(dh + i))
            store(dg, gate + i)
            store(du, up + i)
        } tail: { i, w in
            let (dg, du) = pair(loadPartial(gate + i, w), loadPartial(up + i, w), loadPartial(dh + i, w))
            storePartial(dg, gate + i, w)
            storePartial(du, up + i, w)
        }
    }

    // MARK: Rotary positions

    /// Rotates, in place, each head's channel pairs (2i, 2i+1) of x (N,C) at position
    /// t = n mod T by angle t·θᵢ; `inverse` rotates back (the backward pass). cos and sin are
    /// (T, hd/2) tables. Eight pairs at a time, split into even and odd lanes and zipped back.
    public static func rope(
        _ x: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, rows: Int,
        context: Int, columns c: Int, headSize hd: Int, inverse: Bool
    ) {
        typealias V8 = SIMD8<Float>
        let half = hd / 2
        let sign: Float = inverse ? -1 : 1
        // Unzipping a vector into itself rotates each lane index right by one bit; three
        // times rotates it left by one: lanes [a0…a7, b0…b7] become [a0, b0, a1, b1, …].
        @inline(__always) func unzip(_ v: V) -> V { V(lowHalf: v.evenHalf, highHalf: v.oddHalf) }
        Parallel.forRanges(rows, grain: 32) { range in
            for n in range {
                let t = n % context
                let (cr, sr) = (cos + t * half, sin + t * half)
                let xr = x + n * c
                for h in stride(from: 0, to: c, by: hd) {
                    var i = 0
                    while i + 8 <= half {
                        let v = load(xr + h + 2 * i)
                        let (a, b) = (v.evenHalf, v.oddHalf)
                        let co = UnsafeRawPointer(cr + i).loadUnaligned(as: V8.self)
                        let si = UnsafeRawPointer(sr + i).loadUnaligned(as: V8.self) * sign
                        let rotated = V(lowHalf: a * co - b * si, highHalf: a * si + b * co)
                        store(unzip(unzip(unzip(rotated))), xr + h + 2 * i)
                        i += 8
                    }
                    while i < half {
                        let (a, b) = (xr[h + 2 * i], xr[h + 2 * i + 1])
                        let (co, si) = (cr[i], sign * sr[i])
                        xr[h + 2 * i] = a * co - b * si
                        xr[h + 2 * i + 1] = a * si + b * co
                        i += 1
                    }
                }
            }
        }
    }

    // MARK: Cross-entropy

    /// Softmax cross-entropy over rows of logits (N, stride ≥ V), returning the summed loss
    /// Σₙ −log pₙ[targetₙ] (in Double, added in fixed chunks). With `gradientScale`, each row
    /// of logits is replaced by its gradient scale·(p − onehot(target)).
    /// `partials` holds ``chunkCount(rows:)`` Doubles of scratch.
    public static func crossEntropy(
        logits: UnsafeMutablePointer<Float>, stride ld: Int, vocab v: Int, targets: UnsafePointer<Int32>, rows: Int,
        gradientScale: Float?, partials: UnsafeMutablePointer<Double>
    ) -> Double {
        let chunks = chunkCount(rows: rows)
        Parallel.forRanges(chunks) { chunkRange in
            for chunk in chunkRange {
                var total: Double = 0
                for n in (chunk * chunkRows)..<min(rows, (chunk + 1) * chunkRows) {
                    let row = logits + n * ld
                    var mx = V(repeating: -.infinity)
                    for j in stride(from: 0, to: v, by: 16) {
                        let x = loadPartial(row + j, min(16, v - j))
                        mx = maximum(mx, x.replacing(with: -.infinity, where: laneIndex .>= V(repeating: Float(v - j))))
                    }
                    let m = V(repeating: maximum(mx))
                    var s = V()
                    for j in stride(from: 0, to: v, by: 16) {
                        let w = min(16, v - j)
                        let e = exp(loadPartial(row + j, w) - m).replacing(
                            with: 0, where: laneIndex .>= V(repeating: Float(w)))
                        s += e
                        if gradientScale != nil { storePartial(e, row + j, w) }
                    }
                    let sum = Fused.sum(s)
                    let target = Int(targets[n])
                    let logit = row[target]
                    total += Foundation.log(Double(sum)) + Double(m[0]) - Double(logit)
                    if let scale = gradientScale {
                        let f = V(repeating: scale / sum)
                        for j in stride(from: 0, to: v, by: 16) {
                            let w = min(16, v - j)
                            storePartial(loadPartial(row + j, w) * f, row + j, w)
                        }
                        row[target] -= scale
                    }
                }
                partials[chunk] = total
            }
        }
        var loss: Double = 0
        for chunk in 0..<chunks { loss += partials[chunk] }
        return loss
    }
}
