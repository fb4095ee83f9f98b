extension NN {
    /// Causal multi-head self-attention on already-projected queries, keys and values.
    ///
    /// For every batch element and head, `P = softmax(mask(q·kᵀ/√hd))` and `out = P·v`, where
    /// the mask hides future positions. Work is split over batch·heads, and each task writes
    /// only its own slice, so the result does not depend on threading.
    /// - Parameters:
    ///   - q: queries, `[B, T, C]`; head `h` owns channels `h·hd..<(h+1)·hd`, `hd = C/H`.
    ///   - k: keys, `[B, T, C]`.
    ///   - v: values, `[B, T, C]`.
    ///   - heads: the number of heads `H`; `C` must be a multiple of it.
    /// - Returns: the output, `[B, T, C]`, and the attention `probabilities`, `[B, H, T, T]`
    ///   (zero above the diagonal), which the backward pass needs.
    /// - Throws: when the shapes differ, are not rank 3, or `C` does not split into heads.
    /// - Complexity: about 4·B·T²·C floating-point operations.
    public static func attention(
        q: Tensor, k: Tensor, v: Tensor, heads: Int
    ) throws(TensorError) -> (output: Tensor, probabilities: Tensor) {
        guard q.rank == 3, q.shape == k.shape, q.shape == v.shape else {
            throw TensorError(
                "attention", "expects q, k, v of one [B, T, C] shape, got \(q.shape), \(k.shape), \(v.shape)")
        }
        let (b, t, c) = (q.shape[0], q.shape[1], q.shape[2])
        guard heads > 0, c % heads == 0 else {
            throw TensorError("attention", "\(c) channels do not split into \(heads) heads")
        }
        let hd = c / heads
        var output = Tensor.zeros(q.shape)
        var probabilities = Tensor.zeros([b, heads, t, t])
        if q.count == 0 { return (output, probabilities) }
        let scale = 1 / Float(hd).squareRoot()
        // q, k, v and out are (B,T,C) viewed as (B,T,H,hd); probs is (B,H,T,T)
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    output.withUnsafeMutableBufferPointer { ob in
                        probabilities.withUnsafeMutableBufferPointer { pb in
                            let (qp, kp, vp) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!)
                            let (op, pp) = (ob.baseAddress!, pb.baseAddress!)
                            Parallel.forEach(b * heads) { task in
                                let (bi, h) = task.quotientAndRemainder(dividingBy: heads)
                                let slice = bi * t * c + h * hd
                                let att = pp + task * t * t
                                // att (T,T) = q_bh (T,hd) · k_bhᵀ (hd,T)
                                Matmul.multiply(
                                    m: t, n: t, k: hd,
                                    a: qp + slice, lda: c, transposeA: false,
                                    b: kp + slice, ldb: c, transposeB: true,
                                    c: att, ldc: t, accumulate: false)
                                for row in 0..<t {
                                    let r = att + row * t
                                    for col in 0...row { r[col] *= scale }
                                    softmaxRow(r, r, count: row + 1)
                                    for col in (row + 1)..<t { r[col] = 0 }
                                }
                                // out_bh (T,hd) = att (T,T) · v_bh (T,hd)
                                Matmul.multiply(
                                    m: t, n: hd, k: t,
                                    a: att, lda: t, transposeA: false,
                                    b: vp + slice, ldb: c, transposeB: false,
                                    c: op + slice, ldc: c, accumulate: false)
                            }
                        }
                    }
                }
            }
        }
        return (output, probabilities)
    }

    /// The backward pass of ``attention(q:k:v:heads:)``, accumulating into `dq`, `dk` and `dv`.
    ///
    /// With `dP = dout·vᵀ` and `dS = P⊙(dP − rowsum(dP⊙P))/√hd`: `dv += Pᵀ·dout`,
    /// `dq += dS·k`, `dk += dSᵀ·q`. Parallel over batch·heads; each task writes its own slice.
    /// - Parameters:
    ///   - dOut: the output's gradient, `[B, T, C]`.
    ///   - q: the forward queries.
    ///   - k: the forward keys.
    ///   - v: the forward values.
    ///   - probabilities: the forward pass's probabilities, `[B, H, T, T]`.
    ///   - heads: the number of heads.
    ///   - dq: accumulated into, `[B, T, C]`.
    ///   - dk: accumulated into, `[B, T, C]`.
    ///   - dv: accumulated into, `[B, T, C]`.
    public static func attentionBackward(
        _ dOut: Tensor, q: Tensor, k: Tensor, v: Tensor, probabilities: Tensor, heads: Int,
        dq: inout Tensor, dk: inout Tensor, dv: inout Tensor
    ) {
        // Checked one by one: gathering the gradients into an array would copy-on-write them.
        checkSame("attention", dOut, q.shape)
        checkSame("attention", k, q.shape)
        checkSame("attention", v, q.shape)
        checkSame("attention", dq, q.shape)
        checkSame("attention", dk, q.shape)
        checkSame("attention", dv, q.shape)
        let (b, t, c) = (q.shape[0], q.shape[1], q.shape[2])
        let hd = c / heads
        checkSame("attention", probabilities, Shape([b, heads, t, t]))
        if q.count == 0 { return }
        let scale = 1 / Float(hd).squareRoot()
        dOut.withUnsafeBufferPointer { db in
            q.withUnsafeBufferPointer { qb in
                k.withUnsafeBufferPointer { kb in
                    v.withUnsafeBufferPointer { vb in
                        probabilities.withUnsafeBufferPointer { pb in
                            dq.withUnsafeMutableBufferPointer { dqb in
                                dk.withUnsafeMutableBufferPointer { dkb in
                                    dv.withUnsafeMutableBufferPointer { dvb in
                                        let (dp, qp, kp, vp, pp) = (
                                            db.baseAddress!, qb.baseAddress!, kb.baseAddress!, vb.baseAddress!,
                                            pb.baseAddress!
                                        )
                                        let (dqp, dkp, dvp) = (dqb.baseAddress!, dkb.baseAddress!, dvb.baseAddress!)
                                        Parallel.forEach(b * heads) { task in
                                            let (bi, h) = task.quotientAndRemainder(dividingBy: heads)
                                            let slice = bi * t * c + h * hd
                                            let att = pp + task * t * t
                                            var scratch = [Float](repeating: 0, count: t * t)
                                            scratch.withUnsafeMutableBufferPointer { sb in
                                                let ds = sb.baseAddress!
                                                // dP (T,T) = dout_bh (T,hd) · v_bhᵀ (hd,T)
                                                Matmul.multiply(
                                                    m: t, n: t, k: hd,
                                                    a: dp + slice, lda: c, transposeA: false,
                                                    b: vp + slice, ldb: c, transposeB: true,
                                                    c: ds, ldc: t, accumulate: false)
                                                // dv_bh (T,hd) += attᵀ (T,T) · dout_bh (T,hd)
                                                Matmul.multiply(
                                                    m: t, n: hd, k: t,
                                                    a: att, lda: t, transposeA: true,
                                                    b: dp + slice, ldb: c, transposeB: false,
                                                    c: dvp + slice, ldc: c, accumulate: true)
                                                // dS = P⊙(dP − rowsum(dP⊙P))·scale; zero above the diagonal
                                                for row in 0..<t {
                                                    let (pr, sr) = (att + row * t, ds + row * t)
                                                    var dot: Float = 0
                                                    for col in 0...row { dot += pr[col] * sr[col] }
                                                    for col in 0...row { sr[col] = pr[col] * (sr[col] - dot) * scale }
                                                    for col in (row + 1)..<t { sr[col] = 0 }
                                                }
                                                // dq_bh (T,hd) += dS (T,T) · k_bh (T,hd)
                                                Matmul.multiply(
                                                    m: t, n: hd, k: t,
                                                    a: ds, lda: t, transposeA: false,
                                                    b: kp + slice, ldb: c, transposeB: false,
                                                    c: dqp + slice, ldc: c, accumulate: true)
                                                // dk_bh (T,hd) += dSᵀ (T,T) · q_bh (T,hd)
                                                Matmul.multiply(
                                                    m: t, n: hd, k: t,
                                                    a: ds, lda: t, transposeA: true,
                                                    b: qp + slice, ldb: c, transposeB: false,
                                                    c: dkp + slice, ldc: c, accumulate: true)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
