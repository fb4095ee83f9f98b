extension NN {
    /// Layer normalisation without bias over the last dimension: `y = (x − mean)·rstd·γ`,
    /// where `rstd = 1/√(variance + eps)` with the biased (population) variance.
    /// - Parameters:
    ///   - input: `[…, C]`, normalised row by row.
    ///   - weight: the gain `γ`, `[C]`.
    ///   - eps: added to the variance before the square root.
    /// - Returns: the output (same shape as `input`) and the per-row `mean` and `rstd`, `[N]`,
    ///   which ``layerNormBackward(_:input:weight:mean:rstd:dInput:dWeight:)`` needs.
    /// - Throws: when `weight` is not a vector as long as the input's last dimension.
    public static func layerNorm(
        _ input: Tensor, weight: Tensor, eps: Float = 1e-5
    ) throws(TensorError) -> (output: Tensor, mean: Tensor, rstd: Tensor) {
        let c = try checkNormWeight("layer_norm", input, weight)
        let n = rowCount(input, columns: c)
        var mean = Tensor.zeros([n])
        var rstd = Tensor.zeros([n])
        var output = Tensor.zeros(input.shape)
        if n == 0 || c == 0 { return (output, mean, rstd) }
        // inp is (N,C), weight is (C), out is (N,C), mean and rstd are (N)
        input.withUnsafeBufferPointer { xb in
            weight.withUnsafeBufferPointer { wb in
                output.withUnsafeMutableBufferPointer { ob in
                    mean.withUnsafeMutableBufferPointer { mb in
                        rstd.withUnsafeMutableBufferPointer { rb in
                            let (x, w, o, m, r) = (
                                xb.baseAddress!, wb.baseAddress!, ob.baseAddress!, mb.baseAddress!, rb.baseAddress!
                            )
                            Parallel.forRanges(n, grain: grain(columns: c)) { rows in
                                for i in rows {
                                    let xi = x + i * c
                                    let oi = o + i * c
                                    var sum: Float = 0
                                    for j in 0..<c { sum += xi[j] }
                                    let mu = sum / Float(c)
                                    var squares: Float = 0
                                    for j in 0..<c {
                                        let d = xi[j] - mu
                                        squares += d * d
                                    }
                                    let s = 1 / (squares / Float(c) + eps).squareRoot()
                                    for j in 0..<c { oi[j] = (xi[j] - mu) * s * w[j] }
                                    m[i] = mu
                                    r[i] = s
                                }
                            }
                        }
                    }
                }
            }
        }
        return (output, mean, rstd)
    }

    /// The backward pass of ``layerNorm(_:input:weight:eps:)``:
    /// `dx += rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))` with `dx̂ = dy·γ`, and `dγ += Σ dy·x̂`.
    /// - Parameters:
    ///   - dOut: the output's gradient, shaped like `input`.
    ///   - input: the forward input, `[…, C]`.
    ///   - weight: the gain, `[C]`.
    ///   - mean: the forward pass's per-row means, `[N]`.
    ///   - rstd: the forward pass's per-row reciprocal standard deviations, `[N]`.
    ///   - dInput: accumulated into, shaped like `input`.
    ///   - dWeight: accumulated into, `[C]`.
    public static func layerNormBackward(
        _ dOut: Tensor, input: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor,
        dInput: inout Tensor, dWeight: inout Tensor
    ) {
        normBackward(dOut, input: input, weight: weight, mean: mean, rstd: rstd, dInput: &dInput, dWeight: &dWeight)
    }

    /// Root-mean-square normalisation over the last dimension: `y = x·rstd·γ`, where
    /// `rstd = 1/√(mean(x²) + eps)`.
    /// - Parameters:
    ///   - input: `[…, C]`, normalised row by row.
    ///   - weight: the gain `γ`, `[C]`.
    ///   - eps: added to the mean square before the square root.
    /// - Returns: the output (same shape as `input`) and the per-row `rstd`, `[N]`.
    /// - Throws: when `weight` is not a vector as long as the input's last dimension.
    public static func rmsNorm(
        _ input: Tensor, weight: Tensor, eps: Float = 1e-5
    ) throws(TensorError) -> (output: Tensor, rstd: Tensor) {
        let c = try checkNormWeight("rms_norm", input, weight)
        let n = rowCount(input, columns: c)
        var rstd = Tensor.zeros([n])
        var output = Tensor.zeros(input.shape)
        if n == 0 || c == 0 { return (output, rstd) }
        // inp is (N,C), weight is (C), out is (N,C), rstd is (N)
        input.withUnsafeBufferPointer { xb in
            weight.withUnsafeBufferPointer { wb in
                output.withUnsafeMutableBufferPointer { ob in
                    rstd.withUnsafeMutableBufferPointer { rb in
                        let (x, w, o, r) = (xb.baseAddress!, wb.baseAddress!, ob.baseAddress!, rb.baseAddress!)
                        Parallel.forRanges(n, grain: grain(columns: c)) { rows in
                            for i in rows {
                                let xi = x + i * c
                                let oi = o + i * c
                                var squares: Float = 0
                                for j in 0..<c { squares += xi[j] * xi[j] }
                                let s = 1 / (squares / Float(c) + eps).squareRoot()
                                for j in 0..<c { oi[j] = xi[j] * s * w[j] }
                                r[i] = s
                            }
                        }
                    }
                }
            }
        }
        return (output, rstd)
    }

    /// The backward pass of ``rmsNorm(_:weight:eps:)``:
    /// `dx += rstd·(dx̂ − x̂·mean(dx̂·x̂))` with `dx̂ = dy·γ`, and `dγ += Σ dy·x̂`.
    /// - Parameters:
    ///   - dOut: the output's gradient, shaped like `input`.
    ///   - input: the forward input, `[…, C]`.
    ///   - weight: the gain, `[C]`.
    ///   - rstd: the forward pass's per-row reciprocal root mean squares, `[N]`.
    ///   - dInput: accumulated into, shaped like `input`.
    ///   - dWeight: accumulated into, `[C]`.
    public static func rmsNormBackward(
        _ dOut: Tensor, input: Tensor, weight: Tensor, rstd: Tensor,
        dInput: inout Tensor, dWeight: inout Tensor
    ) {
        normBackward(dOut, input: input, weight: weight, mean: nil, rstd: rstd, dInput: &dInput, dWeight: &dWeight)
    }

    /// Both normalisations' backward pass; `mean == nil` means RMSNorm (no centring).
    private static func normBackward(
        _ dOut: Tensor, input: Tensor, weight: Tensor, mean: Tensor?, rstd: Tensor,
        dInput: inout Tensor, dWeight: inout Tensor
    ) {
        let op = mean == nil ? "rms_norm" : "layer_norm"
        let c = weight.count
        let n = rowCount(input, columns: c)
        checkSame(op, dOut, input.shape)
        checkSame(op, dInput, input.shape)
        checkSame(op, dWeight, weight.shape)
        precondition(
            rstd.count == n && (mean?.count ?? n) == n, "\(op): statistics for \(rstd.count) rows, expected \(n)")
        if n == 0 || c == 0 { return }
        let means = mean?.scalars
        // dout, inp and dinp are (N,C), weight and dweight are (C), mean and rstd are (N)
        dOut.withUnsafeBufferPointer { db in
            input.withUnsafeBufferPointer { xb in
                weight.withUnsafeBufferPointer { wb in
                    rstd.withUnsafeBufferPointer { rb in
                        dInput.withUnsafeMutableBufferPointer { dxb in
                            dWeight.withUnsafeMutableBufferPointer { dwb in
                                let (d, x, w, r) = (db.baseAddress!, xb.baseAddress!, wb.baseAddress!, rb.baseAddress!)
                                let (dx, dw) = (dxb.baseAddress!, dwb.baseAddress!)
                                for i in 0..<n {
                                    let (di, xi, dxi) = (d + i * c, x + i * c, dx + i * c)
                                    let mu = means?[i] ?? 0
                                    let s = r[i]
                                    // Two row means: of dx̂, and of dx̂·x̂.
                                    var meanD: Float = 0
                                    var meanDX: Float = 0
                                    for j in 0..<c {
                                        let xhat = (xi[j] - mu) * s
                                        let dxhat = di[j] * w[j]
                                        meanD += dxhat
                                        meanDX += dxhat * xhat
                                        dw[j] += di[j] * xhat
                                    }
                                    meanD = means == nil ? 0 : meanD / Float(c)
                                    meanDX /= Float(c)
                                    for j in 0..<c {
                                        let xhat = (xi[j] - mu) * s
                                        let dxhat = di[j] * w[j]
                                        dxi[j] += s * (dxhat - meanD - xhat * meanDX)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func checkNormWeight(_ op: String, _ input: Tensor, _ weight: Tensor) throws(TensorError) -> Int {
        guard input.rank >= 1 else { throw TensorError(op, "expects at least one dimension, got a scalar") }
        guard weight.rank == 1, weight.count == input.columns else {
            throw TensorError(op, "weight of shape \(weight.shape) does not match input \(input.shape)")
        }
        return input.columns
    }
}
