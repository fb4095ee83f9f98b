extension NN {
    /// The softmax of each row (last dimension), computed stably by subtracting the row's
    /// maximum first, so logits of 1000 give the same answer as logits of 0.
    /// - Parameter input: `[…, C]`.
    /// - Returns: probabilities shaped like `input`; every row sums to 1.
    public static func softmax(_ input: Tensor) -> Tensor {
        let c = input.columns
        let n = rowCount(input, columns: c)
        if n == 0 || c == 0 { return input }
        // inp is (N,C), out is (N,C)
        return Tensor(shape: input.shape) { out in
            input.withUnsafeBufferPointer { xb in
                let (x, y) = (xb.baseAddress!, out.baseAddress!)
                Parallel.forRanges(n, grain: grain(columns: c)) { rows in
                    for i in rows { softmaxRow(x + i * c, y + i * c, count: c) }
                }
            }
        }
    }

    /// The backward pass of ``softmax(_:)``: `dx += y·(dy − Σ dy·y)` row by row.
    /// - Parameters:
    ///   - dOut: the output's gradient.
    ///   - output: the forward pass's output `y`.
    ///   - dInput: accumulated into, shaped like `output`.
    public static func softmaxBackward(_ dOut: Tensor, output: Tensor, dInput: inout Tensor) {
        checkSame("softmax", dOut, output.shape)
        checkSame("softmax", dInput, output.shape)
        let c = output.columns
        let n = rowCount(output, columns: c)
        if n == 0 || c == 0 { return }
        // dout, out and dinp are (N,C)
        dOut.withUnsafeBufferPointer { db in
            output.withUnsafeBufferPointer { yb in
                dInput.withUnsafeMutableBufferPointer { dxb in
                    let (d, y, dx) = (db.baseAddress!, yb.baseAddress!, dxb.baseAddress!)
                    Parallel.forRanges(n, grain: grain(columns: c)) { rows in
                        for i in rows {
                            let (di, yi, dxi) = (d + i * c, y + i * c, dx + i * c)
                            var dot: Float = 0
                            for j in 0..<c { dot += di[j] * yi[j] }
                            for j in 0..<c { dxi[j] += yi[j] * (di[j] - dot) }
                        }
                    }
                }
            }
        }
    }
}
