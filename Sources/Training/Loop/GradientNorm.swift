import TensorRuntime

/// The global L2 norm of a model's gradients, the check that they are finite, and clipping.
enum GradientNorm {
    /// Per-parameter sums of squares, in `Double` so that large finite gradients cannot
    /// overflow; a sum is non-finite exactly when its tensor holds a NaN or an infinity.
    /// - Complexity: one pass over every gradient element.
    static func sumsOfSquares(_ gradients: [Tensor]) -> [Double] {
        gradients.map { tensor in
            tensor.withUnsafeBufferPointer { g in
                // Four independent accumulators let the loop vectorise; the order is fixed, so
                // the result is the same on every run.
                var acc = SIMD4<Double>(repeating: 0)
                let blocks = g.count / 4
                for b in 0..<blocks {
                    let v = SIMD4<Double>(
                        Double(g[4 * b]), Double(g[4 * b + 1]), Double(g[4 * b + 2]), Double(g[4 * b + 3]))
                    acc.addProduct(v, v)
                }
                var total = acc.sum()
                for i in (4 * blocks)..<g.count { total += Double(g[i]) * Double(g[i]) }
                return total
            }
        }
    }

    /// The global norm of `gradients`, or the index of the first (in model order) that is
    /// not finite.
    static func globalNorm(_ gradients: [Tensor]) -> Result<Double, NonFinite> {
        let sums = sumsOfSquares(gradients)
        if let bad = sums.firstIndex(where: { !$0.isFinite }) { return .failure(NonFinite(index: bad)) }
        return .success(sums.reduce(0, +).squareRoot())
    }

    struct NonFinite: Error, Equatable { var index: Int }

    /// Scales every gradient by `maxNorm / norm` when `norm` exceeds `maxNorm`, so that the
    /// clipped global norm is `maxNorm`. Returns whether it clipped.
    @discardableResult
    static func clip(_ gradients: inout [Tensor], norm: Double, maxNorm: Double) -> Bool {
        guard norm > maxNorm else { return false }
        let factor = Float(maxNorm / norm)
        for i in gradients.indices {
            gradients[i].withUnsafeMutableBufferPointer { g in
                for j in g.indices { g[j] *= factor }
            }
        }
        return true
    }
}
