#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

/// Neural-network kernels as fused forward/backward pairs, in the manner of llm.c.
///
/// Each forward function validates its operands and throws a ``TensorError`` led by the
/// operation's name; it returns its output together with whatever the backward pass needs
/// (means, reciprocal standard deviations, attention probabilities). Each backward function
/// takes the upstream gradient and **adds** into the gradient buffers it is given (`+=`), so a
/// value used twice collects both contributions. Backward functions trust shapes that a
/// successful forward call produced and only check them with preconditions.
///
/// Row-wise operations (normalisations, softmax, cross-entropy) work over the last dimension
/// and treat every leading dimension as rows.
public enum NN {}

extension NN {
    /// The number of rows of `x` when its last dimension, of extent `columns`, is the row.
    static func rowCount(_ x: Tensor, columns: Int) -> Int {
        columns == 0 ? 0 : x.count / columns
    }

    /// Rows per parallel task so that each task touches at least a few thousand elements.
    static func grain(columns: Int) -> Int {
        max(1, 4096 / max(columns, 1))
    }

    /// Writes the softmax of `count` values at `x` into `y` (which may alias `x`), subtracting
    /// the maximum first so that large logits do not overflow.
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for j in 0..<count { maximum = max(maximum, x[j]) }
        var sum: Float = 0
        for j in 0..<count {
            let e = exp(x[j] - maximum)
            y[j] = e
            sum += e
        }
        let inverse = 1 / sum
        for j in 0..<count { y[j] *= inverse }
    }

    /// Checks that `incoming` has the same shape as `expected`, for the backward preconditions.
    static func checkSame(_ op: String, _ incoming: Tensor, _ expected: Shape) {
        precondition(incoming.shape == expected, "\(op): gradient of shape \(incoming.shape), expected \(expected)")
    }
}
