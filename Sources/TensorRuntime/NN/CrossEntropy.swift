#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

extension NN {
    /// The mean cross-entropy of rows of logits against target ids:
    /// `loss = (1/N) Σᵢ (logsumexp(logitsᵢ) − logitsᵢ[targetᵢ])`.
    /// - Parameters:
    ///   - logits: `[N, V]` (leading dimensions are flattened into rows).
    ///   - targets: `N` ids, each in `0..<V`.
    /// - Returns: the mean loss and the softmax `probabilities`, `[N, V]` shaped like `logits`,
    ///   which ``crossEntropyBackward(probabilities:targets:dLoss:dLogits:)`` needs.
    /// - Throws: when the counts disagree or a target is out of range.
    public static func crossEntropy(
        logits: Tensor, targets: [Int32]
    ) throws(TensorError) -> (loss: Float, probabilities: Tensor) {
        guard logits.rank >= 1 else {
            throw TensorError("cross_entropy", "expects [rows, vocabulary] logits, got a scalar")
        }
        let v = logits.columns
        let n = rowCount(logits, columns: v)
        guard targets.count == n else {
            throw TensorError("cross_entropy", "\(targets.count) targets for \(n) rows of logits \(logits.shape)")
        }
        if let bad = targets.firstIndex(where: { $0 < 0 || Int($0) >= v }) {
            throw TensorError("cross_entropy", "target \(targets[bad]) at row \(bad) is out of range 0..<\(v)")
        }
        if n == 0 { return (0, logits) }
        var losses = [Float](repeating: 0, count: n)
        // logits is (N,V), probs is (N,V), targets is (N)
        let probabilities = Tensor(shape: logits.shape) { out in
            logits.withUnsafeBufferPointer { lb in
                losses.withUnsafeMutableBufferPointer { lossb in
                    let (x, p, l) = (lb.baseAddress!, out.baseAddress!, lossb.baseAddress!)
                    Parallel.forRanges(n, grain: grain(columns: v)) { rows in
                        for i in rows {
                            let xi = x + i * v
                            var maximum = -Float.infinity
                            for j in 0..<v { maximum = max(maximum, xi[j]) }
                            var sum: Float = 0
                            for j in 0..<v { sum += exp(xi[j] - maximum) }
                            softmaxRow(xi, p + i * v, count: v)
                            l[i] = log(sum) + maximum - xi[Int(targets[i])]
                        }
                    }
                }
            }
        }
        // The mean is summed in a fixed order, in Double, so it does not depend on threading.
        let total = losses.reduce(0.0) { $0 + Double($1) }
        return (Float(total / Double(n)), probabilities)
    }

    /// The backward pass of ``crossEntropy(logits:targets:)``:
    /// `dLogits += dLoss·(probabilities − onehot(targets))/N`.
    /// - Parameters:
    ///   - probabilities: the forward pass's softmax, `[N, V]`.
    ///   - targets: the forward pass's targets.
    ///   - dLoss: the gradient of the (scalar) loss, 1 when it is the final loss.
    ///   - dLogits: accumulated into, shaped like `probabilities`.
    public static func crossEntropyBackward(
        probabilities: Tensor, targets: [Int32], dLoss: Float, dLogits: inout Tensor
    ) {
        checkSame("cross_entropy", dLogits, probabilities.shape)
        let v = probabilities.columns
        let n = rowCount(probabilities, columns: v)
        precondition(targets.count == n, "cross_entropy: \(targets.count) targets for \(n) rows")
        if n == 0 { return }
        let scale = dLoss / Float(n)
        probabilities.withUnsafeBufferPointer { pb in
            dLogits.withUnsafeMutableBufferPointer { db in
                let (p, d) = (pb.baseAddress!, db.baseAddress!)
                Parallel.forRanges(n, grain: grain(columns: v)) { rows in
                    for i in rows {
                        let (pi, di) = (p + i * v, d + i * v)
                        let target = Int(targets[i])
                        for j in 0..<v {
                            let indicator: Float = j == target ? 1 : 0
                            di[j] += scale * (pi[j] - indicator)
                        }
                    }
                }
            }
        }
    }
}
