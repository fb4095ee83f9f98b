import TensorRuntime

/// Where each parameter sits in ``Transformer/parameters``.
struct ParameterIndex {
    let gpt: Bool
    let count: Int
    var tokens: Int { 0 }
    var positions: Int { 1 }
    var finalNorm: Int { count - 2 }
    var head: Int { count - 1 }
    private var perBlock: Int { gpt ? 8 : 9 }
    /// Block `l`'s first parameter (ln1); then wq, wk, wv, wo, ln2, and the MLP's.
    func block(_ l: Int) -> Int { (gpt ? 2 : 1) + l * perBlock }
}

// Linear layers, y = x·Wᵀ with W stored (out, in).
extension Transformer {
    /// y (N,out) (+)= x (N,in) · Wᵀ, W is (out,in); y's rows are `ldy` apart.
    @inline(__always) func linearForward(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, in k: Int,
        out n: Int, ldy: Int? = nil, accumulate: Bool = false
    ) {
        Matmul.multiply(
            m: rows, n: n, k: k, a: x, lda: k, transposeA: false, b: w, ldb: k, transposeB: true, c: y, ldc: ldy ?? n,
            accumulate: accumulate)
    }

    /// dx (N,in) (+)= dy (N,out) · W (out,in).
    @inline(__always) func linearBackwardInput(
        _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, in n: Int,
        out k: Int, ldy: Int? = nil, accumulate: Bool = false
    ) {
        Matmul.multiply(
            m: rows, n: n, k: k, a: dy, lda: ldy ?? k, transposeA: false, b: w, ldb: n, transposeB: false, c: dx,
            ldc: n, accumulate: accumulate)
    }

    /// dW (out,in) = dyᵀ (out,N) · x (N,in).
    @inline(__always) func linearBackwardWeight(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>, rows: Int,
        in n: Int, out m: Int, ldy: Int? = nil
    ) {
        Matmul.multiply(
            m: m, n: n, k: rows, a: dy, lda: ldy ?? m, transposeA: true, b: x, ldb: n, transposeB: false, c: dw,
            ldc: n, accumulate: false)
    }
}

// The whole model, forward then backward. Rows are N = B·T; C = d, H = hidden, V = vocab.
extension Transformer {
    var index: ParameterIndex { ParameterIndex(gpt: config.architecture == .gpt, count: parameterMetas.count) }

    /// Parameter `i`'s storage (bound for the current step).
    @inline(__always) func w(_ i: Int) -> UnsafePointer<Float> { UnsafePointer(parameterPointers[i]) }
    /// Gradient `i`'s storage (bound for the current step).
    @inline(__always) func g(_ i: Int) -> UnsafeMutablePointer<Float> { gradientPointers[i] }

    /// Runs `sequences` (≤ batch) sequences forward and returns the summed loss.
    func forward(inputs: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, sequences: Int) -> Double {
        let (t, c, h, vocab) = (config.context, config.d, config.hidden, config.vocab)
        let n = sequences * t
        let gpt = config.architecture == .gpt
        let ix = index
        var attention = attentionShape
        attention.batch = sequences
        let parts = min(buffers.attentionParts, Parallel.threadCount)
        let b = buffers

        // embedding: x (N,C) = tokens[inputs] (+ positions[t] for gpt)
        let x0 = b.blocks[0].input
        let (tokens, positions) = (w(ix.tokens), gpt ? w(ix.positions) : nil)
        Parallel.forRanges(n, grain: 64) { range in
            for row in range {
                let out = x0 + row * c
                out.update(from: tokens + Int(inputs[row]) * c, count: c)
                if let positions {
                    let p = positions + (row % t) * c
                    for j in 0..<c { out[j] += p[j] }
                }
            }
        }

        for l in 0..<config.layers {
            let a = b.blocks[l]
            let p = ix.block(l)
            let next = l + 1 < config.layers ? b.blocks[l + 1].input : b.last
            // norm1 (N,C) = norm(input); middle starts as a copy of input
            Fused.normForward(
                centered: gpt, x: a.input, weight: w(p), y: a.norm1, mean: a.mean1, rstd: a.rstd1, copy: a.middle,
                rows: n, columns: c)
            // q, k, v (N,C) = norm1 · Wq/Wk/Wvᵀ
            linearForward(a.norm1, w(p + 1), a.q, rows: n, in: c, out: c)
            linearForward(a.norm1, w(p + 2), a.k, rows: n, in: c, out: c)
            linearForward(a.norm1, w(p + 3), a.v, rows: n, in: c, out: c)
            if !gpt {
                Fused.rope(
                    a.q, cos: b.cos, sin: b.sin, rows: n, context: t, columns: c, headSize: attention.headSize,
                    inverse: false)
                Fused.rope(
                    a.k, cos: b.cos, sin: b.sin, rows: n, context: t, columns: c, headSize: attention.headSize,
                    inverse: false)
            }
            Fused.attentionForward(
                q: a.q, k: a.k, v: a.v, y: a.attention, stats: a.softmaxStats, shape: attention,
                scratch: b.attentionScratch, parts: parts)
            // middle (N,C) += attention · Woᵀ
            linearForward(a.attention, w(p + 4), a.middle, rows: n, in: c, out: c, accumulate: true)
            // norm2 (N,C) = norm(middle); next starts as a copy of middle
            Fused.normForward(
                centered: gpt, x: a.middle, weight: w(p + 5), y: a.norm2, mean: a.mean2, rstd: a.rstd2, copy: next,
                rows: n, columns: c)
            if gpt {
                // pre (N,H) = norm2 · Wfcᵀ; hidden = gelu(pre); next (N,C) += hidden · Wprojᵀ
                linearForward(a.norm2, w(p + 6), a.pre, rows: n, in: c, out: h)
                Fused.geluForward(a.pre, a.hidden, count: n * h)
                linearForward(a.hidden, w(p + 7), next, rows: n, in: h, out: c, accumulate: true)
            } else {
                // pre = norm2 · Wgateᵀ, up = norm2 · Wupᵀ (N,H); hidden = silu(pre)⊙up
                linearForward(a.norm2, w(p + 6), a.pre, rows: n, in: c, out: h)
                linearForward(a.norm2, w(p + 7), a.up, rows: n, in: c, out: h)
                Fused.swigluForward(gate: a.pre, up: a.up, h: a.hidden, count: n * h)
                // next (N,C) += hidden · Wdownᵀ
                linearForward(a.hidden, w(p + 8), next, rows: n, in: h, out: c, accumulate: true)
            }
        }

        // final norm, logits (N,V) = finalNorm · headᵀ, loss
        Fused.normForward(
            centered: gpt, x: b.last, weight: w(ix.finalNorm), y: b.finalNorm, mean: b.finalMean, rstd: b.finalRstd,
            copy: nil, rows: n, columns: c)
        linearForward(b.finalNorm, w(ix.head), b.logits, rows: n, in: c, out: vocab, ldy: vocabStride)
        return Fused.crossEntropy(
            logits: b.logits, stride: vocabStride, vocab: vocab, targets: targets, rows: n, gradientScale: nil,
            partials: b.lossPartials)
    }

    /// The backward pass of the full-batch ``forward``, writing every gradient.
    func backward(inputs: UnsafePointer<Int32>, targets: UnsafePointer<Int32>) {
        let (t, c, h, vocab) = (config.context, config.d, config.hidden, config.vocab)
        let n = config.batch * t
        let gpt = config.architecture == .gpt
        let ix = index
        let parts = min(buffers.attentionParts, Parallel.threadCount)
        let b = buffers

        // dlogits (N,V) = (softmax − onehot)/N, in place of the logits
        _ = Fused.crossEntropy(
            logits: b.logits, stride: vocabStride, vocab: vocab, targets: targets, rows: n,
            gradientScale: 1 / Float(n), partials: b.lossPartials)
        linearBackwardWeight(b.logits, b.finalNorm, g(ix.head), rows: n, in: c, out: vocab, ldy: vocabStride)
        linearBackwardInput(b.logits, w(ix.head), b.dScratch, rows: n, in: c, out: vocab, ldy: vocabStride)
        b.dResidual.update(repeating: 0, count: n * c)
        Fused.normBackward(
            centered: gpt, dy: b.dScratch, x: b.last, weight: w(ix.finalNorm), mean: b.finalMean, rstd: b.finalRstd,
            dx: b.dResidual, dweight: g(ix.finalNorm), partials: b.normPartials, rows: n, columns: c)

        for l in (0..<config.layers).reversed() {
            let a = b.blocks[l]
            let p = ix.block(l)
            // dResidual holds d(next) (N,C)
            if gpt {
                linearBackwardWeight(b.dResidual, a.hidden, g(p + 7), rows: n, in: h, out: c)
                linearBackwardInput(b.dResidual, w(p + 7), b.dHidden, rows: n, in: h, out: c)
                Fused.geluBackward(a.pre, b.dHidden, a.pre, count: n * h)  // pre now holds dpre
                linearBackwardWeight(a.pre, a.norm2, g(p + 6), rows: n, in: c, out: h)
                linearBackwardInput(a.pre, w(p + 6), b.dScratch, rows: n, in: c, out: h)
            } else {
                linearBackwardWeight(b.dResidual, a.hidden, g(p + 8), rows: n, in: h, out: c)
                linearBackwardInput(b.dResidual, w(p + 8), b.dHidden, rows: n, in: h, out: c)
                Fused.swigluBackward(dh: b.dHidden, gate: a.pre, up: a.up, count: n * h)  // now dgate, dup
                linearBackwardWeight(a.pre, a.norm2, g(p + 6), rows: n, in: c, out: h)
                linearBackwardWeight(a.up, a.norm2, g(p + 7), rows: n, in: c, out: h)
                linearBackwardInput(a.pre, w(p + 6), b.dScratch, rows: n, in: c, out: h)
                linearBackwardInput(a.up, w(p + 7), b.dScratch, rows: n, in: c, out: h, accumulate: true)
            }
            // dResidual += norm2′(dScratch): now d(middle)
            Fused.normBackward(
                centered: gpt, dy: b.dScratch, x: a.middle, weight: w(p + 5), mean: a.mean2, rstd: a.rstd2,
                dx: b.dResidual, dweight: g(p + 5), partials: b.normPartials, rows: n, columns: c)
            // dWo = dResidualᵀ · attention; dScratch = d(attention)
            linearBackwardWeight(b.dResidual, a.attention, g(p + 4), rows: n, in: c, out: c)
            linearBackwardInput(b.dResidual, w(p + 4), b.dScratch, rows: n, in: c, out: c)
            Fused.attentionBackward(
                dy: b.dScratch, q: a.q, k: a.k, v: a.v, stats: a.softmaxStats, dq: b.dq, dk: b.dk, dv: b.dv,
                shape: attentionShape, scratch: b.attentionScratch, parts: parts)
            if !gpt {
                let hd = attentionShape.headSize
                Fused.rope(b.dq, cos: b.cos, sin: b.sin, rows: n, context: t, columns: c, headSize: hd, inverse: true)
                Fused.rope(b.dk, cos: b.cos, sin: b.sin, rows: n, context: t, columns: c, headSize: hd, inverse: true)
            }
            linearBackwardWeight(b.dq, a.norm1, g(p + 1), rows: n, in: c, out: c)
            linearBackwardWeight(b.dk, a.norm1, g(p + 2), rows: n, in: c, out: c)
            linearBackwardWeight(b.dv, a.norm1, g(p + 3), rows: n, in: c, out: c)
            linearBackwardInput(b.dq, w(p + 1), b.dScratch, rows: n, in: c, out: c)
            linearBackwardInput(b.dk, w(p + 2), b.dScratch, rows: n, in: c, out: c, accumulate: true)
            linearBackwardInput(b.dv, w(p + 3), b.dScratch, rows: n, in: c, out: c, accumulate: true)
            // dResidual += norm1′(dScratch): now d(input)
            Fused.normBackward(
                centered: gpt, dy: b.dScratch, x: a.input, weight: w(p), mean: a.mean1, rstd: a.rstd1,
                dx: b.dResidual, dweight: g(p), partials: b.normPartials, rows: n, columns: c)
        }

        // embedding: dtokens[inputs[n]] += dResidual[n]; dpositions[n mod T] += dResidual[n]
        let dTokens = g(ix.tokens)
        dTokens.update(repeating: 0, count: vocab * c)
        for row in 0..<n {
            let src = b.dResidual + row * c
            let dst = dTokens + Int(inputs[row]) * c
            for j in 0..<c { dst[j] += src[j] }
        }
        if gpt {
            let dPositions = g(ix.positions)
            dPositions.update(repeating: 0, count: t * c)
            for row in 0..<n {
                let src = b.dResidual + row * c
                let dst = dPositions + (row % t) * c
                for j in 0..<c { dst[j] += src[j] }
            }
        }
    }
}
