extension NN {
    /// Looks up rows of an embedding table.
    /// - Parameters:
    ///   - table: the table, `[V, C]`.
    ///   - ids: `N` token ids, each in `0..<V`.
    /// - Returns: `[N, C]`, where row `i` is `table[ids[i]]`.
    /// - Throws: when `table` is not a matrix or an id is out of range.
    public static func embedding(_ table: Tensor, ids: [Int32]) throws(TensorError) -> Tensor {
        guard table.shape.isMatrix else {
            throw TensorError("embedding", "expects a [vocabulary, channels] table, got \(table.shape)")
        }
        let (v, c) = (table.shape[0], table.shape[1])
        if let bad = ids.firstIndex(where: { $0 < 0 || Int($0) >= v }) {
            throw TensorError("embedding", "token id \(ids[bad]) at position \(bad) is out of range 0..<\(v)")
        }
        let n = ids.count
        if n == 0 || c == 0 { return .zeros(Shape([n, c])) }
        // table is (V,C), ids is (N), out is (N,C)
        return Tensor(shape: Shape([n, c])) { out in
            table.withUnsafeBufferPointer { t in
                for i in 0..<n {
                    let row = Int(ids[i]) * c
                    for j in 0..<c { out[i * c + j] = t[row + j] }
                }
            }
        }
    }

    /// Scatter-adds the output gradient into the table's gradient: `dTable[ids[i]] += dOut[i]`.
    ///
    /// Rows are added in the order of `ids`, so repeated ids accumulate deterministically.
    /// - Parameters:
    ///   - dOut: the gradient of ``embedding(_:ids:)``'s output, `[N, C]`.
    ///   - ids: the ids given to the forward pass.
    ///   - dTable: the table's gradient, `[V, C]`, accumulated into.
    public static func embeddingBackward(_ dOut: Tensor, ids: [Int32], dTable: inout Tensor) {
        let c = dTable.columns
        precondition(dOut.count == ids.count * c, "embedding: gradient of shape \(dOut.shape) for \(ids.count) ids")
        if dOut.count == 0 { return }
        // dout is (N,C), dtable is (V,C)
        dOut.withUnsafeBufferPointer { d in
            dTable.withUnsafeMutableBufferPointer { t in
                for i in 0..<ids.count {
                    let row = Int(ids[i]) * c
                    for j in 0..<c { t[row + j] += d[i * c + j] }
                }
            }
        }
    }
}
