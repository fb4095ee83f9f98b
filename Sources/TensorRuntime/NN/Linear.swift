extension NN {
    /// A linear layer without bias, `y = x·Wᵀ`, with `W` in PyTorch's `[out, in]` layout.
    /// - Parameters:
    ///   - input: `[…, in]` (leading dimensions are flattened into `N` rows).
    ///   - weight: `[out, in]`.
    /// - Returns: `[…, out]`.
    /// - Throws: when `weight` is not a matrix or its `in` differs from the input's last dimension.
    /// - Complexity: 2·N·in·out floating-point operations.
    public static func linear(_ input: Tensor, weight: Tensor) throws(TensorError) -> Tensor {
        guard input.rank >= 1, weight.shape.isMatrix, weight.shape[1] == input.columns else {
            throw TensorError("linear", "input \(input.shape) does not fit weight \(weight.shape) ([out, in])")
        }
        let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
        let n = rowCount(input, columns: inFeatures)
        var dims = input.shape.dims
        dims[dims.count - 1] = outFeatures
        if n == 0 || outFeatures == 0 || inFeatures == 0 { return .zeros(Shape(dims)) }
        // inp is (N,IC), weight is (OC,IC), out is (N,OC)
        return Tensor(shape: Shape(dims)) { out in
            input.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    Matmul.multiply(
                        m: n, n: outFeatures, k: inFeatures,
                        a: x.baseAddress!, lda: inFeatures, transposeA: false,
                        b: w.baseAddress!, ldb: inFeatures, transposeB: true,
                        c: out.baseAddress!, ldc: outFeatures, accumulate: false)
                }
            }
        }
    }

    /// The backward pass of ``linear(_:weight:)``: `dx += dy·W` and `dW += dyᵀ·x`.
    /// - Parameters:
    ///   - dOut: the output's gradient, `[…, out]`.
    ///   - input: the forward input, `[…, in]`.
    ///   - weight: `[out, in]`.
    ///   - dInput: accumulated into, shaped like `input`; `nil` skips it (a constant input).
    ///   - dWeight: accumulated into, `[out, in]`; `nil` skips it (a frozen weight).
    public static func linearBackward(
        _ dOut: Tensor, input: Tensor, weight: Tensor, dInput: inout Tensor?, dWeight: inout Tensor?
    ) {
        let (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
        let n = rowCount(input, columns: inFeatures)
        precondition(
            dOut.count == n * outFeatures, "linear: gradient of shape \(dOut.shape) for \(n) rows of \(outFeatures)")
        if n == 0 || outFeatures == 0 || inFeatures == 0 { return }
        dOut.withUnsafeBufferPointer { d in
            // dinp is (N,IC) += dout (N,OC) · weight (OC,IC)
            if dInput != nil {
                checkSame("linear", dInput!, input.shape)
                weight.withUnsafeBufferPointer { w in
                    dInput!.withUnsafeMutableBufferPointer { dx in
                        Matmul.multiply(
                            m: n, n: inFeatures, k: outFeatures,
                            a: d.baseAddress!, lda: outFeatures, transposeA: false,
                            b: w.baseAddress!, ldb: inFeatures, transposeB: false,
                            c: dx.baseAddress!, ldc: inFeatures, accumulate: true)
                    }
                }
            }
            // dweight is (OC,IC) += doutᵀ (OC,N) · inp (N,IC)
            if dWeight != nil {
                checkSame("linear", dWeight!, weight.shape)
                input.withUnsafeBufferPointer { x in
                    dWeight!.withUnsafeMutableBufferPointer { dw in
                        Matmul.multiply(
                            m: outFeatures, n: inFeatures, k: n,
                            a: d.baseAddress!, lda: outFeatures, transposeA: true,
                            b: x.baseAddress!, ldb: inFeatures, transposeB: false,
                            c: dw.baseAddress!, ldc: inFeatures, accumulate: true)
                    }
                }
            }
        }
    }

    /// Adds a row vector to every row: `y[i, j] = x[i, j] + bias[j]`.
    /// - Parameters:
    ///   - input: `[…, C]`.
    ///   - bias: `[C]`.
    /// - Returns: shaped like `input`.
    /// - Throws: when `bias` is not a vector as long as the input's last dimension.
    public static func addBias(_ input: Tensor, _ bias: Tensor) throws(TensorError) -> Tensor {
        guard input.rank >= 1, bias.rank == 1, bias.count == input.columns else {
            throw TensorError("add_bias", "bias of shape \(bias.shape) does not match input \(input.shape)")
        }
        let c = bias.count
        if input.count == 0 || c == 0 { return input }
        return Tensor(shape: input.shape) { out in
            input.withUnsafeBufferPointer { x in
                bias.withUnsafeBufferPointer { b in
                    for row in 0..<(x.count / c) {
                        for j in 0..<c { out[row * c + j] = x[row * c + j] + b[j] }
                    }
                }
            }
        }
    }

    /// The bias's half of ``addBias(_:_:)``'s backward pass: `dBias += Σ_rows dy`
    /// (the input's half is `dx += dy`).
    /// - Parameters:
    ///   - dOut: the output's gradient, `[…, C]`.
    ///   - dBias: accumulated into, `[C]`.
    public static func addBiasBackward(_ dOut: Tensor, dBias: inout Tensor) {
        let c = dBias.count
        precondition(
            dOut.columns == c || dOut.count == 0, "add_bias: gradient of shape \(dOut.shape) for bias \(dBias.shape)")
        if dOut.count == 0 || c == 0 { return }
        dOut.withUnsafeBufferPointer { d in
            dBias.withUnsafeMutableBufferPointer { db in
                for row in 0..<(d.count / c) {
                    for j in 0..<c { db[j] += d[row * c + j] }
                }
            }
        }
    }
}
