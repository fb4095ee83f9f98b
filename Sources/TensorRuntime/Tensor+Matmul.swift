/// Matrix products on tensors.
extension Tensor {
    /// The matrix product `op(self)·op(other)` of two matrices, where `op` transposes
    /// when the corresponding flag is set.
    /// - Throws: when either operand is not a matrix or the inner dimensions differ.
    /// - Complexity: 2·m·n·k floating-point operations.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) throws(TensorError)
        -> Tensor
    {
        guard shape.isMatrix, other.shape.isMatrix else {
            throw TensorError("matmul", "expects matrices, got \(shape) × \(other.shape)")
        }
        let (m, k) = transposeSelf ? (shape[1], shape[0]) : (shape[0], shape[1])
        let (k2, n) = transposeOther ? (other.shape[1], other.shape[0]) : (other.shape[0], other.shape[1])
        guard k == k2 else {
            throw TensorError(
                "matmul",
                "inner dimensions differ: \(Tensor.opShape(shape, transposeSelf)) × \(Tensor.opShape(other.shape, transposeOther))"
            )
        }
        if m == 0 || n == 0 || k == 0 { return .zeros(Shape([m, n])) }
        return Tensor(shape: Shape([m, n])) { out in
            scalars.withUnsafeBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    Matmul.multiply(
                        m: m, n: n, k: k,
                        a: a.baseAddress!, lda: shape[1], transposeA: transposeSelf,
                        b: b.baseAddress!, ldb: other.shape[1], transposeB: transposeOther,
                        c: out.baseAddress!, ldc: n, accumulate: false)
                }
            }
        }
    }

    /// Batched matrix product of rank-3 tensors `[batch, m, k] · [batch, k, n]`, with the
    /// same transposition flags as ``matmul(_:transposeSelf:transposeOther:)`` applied to
    /// each matrix of the batch.
    public func batchedMatmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false)
        throws(TensorError) -> Tensor
    {
        guard shape.rank == 3, other.shape.rank == 3 else {
            throw TensorError("batched_matmul", "expects rank-3 tensors, got \(shape) × \(other.shape)")
        }
        guard shape[0] == other.shape[0] else {
            throw TensorError("batched_matmul", "batch sizes differ: \(shape) × \(other.shape)")
        }
        let batch = shape[0]
        let (m, k) = transposeSelf ? (shape[2], shape[1]) : (shape[1], shape[2])
        let (k2, n) = transposeOther ? (other.shape[2], other.shape[1]) : (other.shape[1], other.shape[2])
        guard k == k2 else {
            throw TensorError("batched_matmul", "inner dimensions differ: \(shape) × \(other.shape)")
        }
        let aStride = shape[1] * shape[2]
        let bStride = other.shape[1] * other.shape[2]
        if batch == 0 || m == 0 || n == 0 || k == 0 { return .zeros(Shape([batch, m, n])) }
        return Tensor(shape: Shape([batch, m, n])) { out in
            scalars.withUnsafeBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    Matmul.multiplyBatched(
                        batch: batch, m: m, n: n, k: k,
                        a: a.baseAddress!, lda: shape[2], strideA: aStride, transposeA: transposeSelf,
                        b: b.baseAddress!, ldb: other.shape[2], strideB: bStride, transposeB: transposeOther,
                        c: out.baseAddress!, ldc: n, strideC: m * n, accumulate: false)
                }
            }
        }
    }

    private static func opShape(_ s: Shape, _ transposed: Bool) -> String {
        transposed ? "\(s)ᵀ" : "\(s)"
    }
}

extension Tensor {
    /// Overwrites `self` with `a·b` (flags as in ``matmul(_:transposeSelf:transposeOther:)``),
    /// reusing this tensor's storage: no allocation when the shape already fits.
    public mutating func assignMatmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false, accumulate: Bool = false
    ) {
        precondition(a.shape.isMatrix && b.shape.isMatrix, "matmul: expects matrices, got \(a.shape) × \(b.shape)")
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        precondition(k == k2, "matmul: inner dimensions differ: \(a.shape) × \(b.shape)")
        precondition(shape == Shape([m, n]), "matmul: output shape \(shape) does not match [\(m), \(n)]")
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
            return
        }
        scalars.withUnsafeMutableBufferPointer { c in
            a.scalars.withUnsafeBufferPointer { ap in
                b.scalars.withUnsafeBufferPointer { bp in
                    Matmul.multiply(
                        m: m, n: n, k: k,
                        a: ap.baseAddress!, lda: a.shape[1], transposeA: transposeA,
                        b: bp.baseAddress!, ldb: b.shape[1], transposeB: transposeB,
                        c: c.baseAddress!, ldc: n, accumulate: accumulate)
                }
            }
        }
    }
}
