/// The operation that produced a value on a ``Tape``, with its operands and whatever the
/// backward pass needs from the forward pass (normalisation statistics, probabilities).
///
/// One enum holds every differentiable operation, and one exhaustive switch in
/// `Gradient.swift` defines their gradients, in the manner of candle's `op.rs` and
/// `backprop.rs`: adding a case without a gradient does not compile.
public enum Op: Sendable {
    /// A leaf: a parameter (differentiated) or a constant (not).
    case leaf
    /// `a·b` of two matrices, `[m, k]·[k, n]`.
    case matmul(Variable, Variable)
    /// `x·Wᵀ` with `W` in `[out, in]` layout; see ``NN/linear(_:weight:)``.
    case linear(input: Variable, weight: Variable)
    /// Elementwise `a + b` of equal shapes.
    case add(Variable, Variable)
    /// Elementwise `a·b` of equal shapes.
    case mul(Variable, Variable)
    /// `x·factor` for a constant factor.
    case scale(Variable, by: Float)
    /// `x + bias` with a `[C]` bias added to every row; see ``NN/addBias(_:_:)``.
    case addBias(Variable, bias: Variable)
    /// Rows of a `[V, C]` table picked by ids; see ``NN/embedding(_:ids:)``.
    case embedding(table: Variable, ids: [Int32])
    /// Layer normalisation without bias, with the forward pass's per-row statistics.
    case layerNorm(Variable, weight: Variable, mean: Tensor, rstd: Tensor)
    /// RMS normalisation, with the forward pass's per-row reciprocal root mean squares.
    case rmsNorm(Variable, weight: Variable, rstd: Tensor)
    /// GELU (tanh approximation).
    case gelu(Variable)
    /// SiLU, `x·σ(x)`.
    case silu(Variable)
    /// `silu(gate)·up`.
    case swiglu(gate: Variable, up: Variable)
    /// Rotary position embedding over `heads` heads with frequency base `base`.
    case rope(Variable, heads: Int, base: Float)
    /// Causal self-attention, with the forward pass's `[B, H, T, T]` probabilities.
    case attention(q: Variable, k: Variable, v: Variable, heads: Int, probabilities: Tensor)
    /// Row softmax over the last dimension (the node's value is the output the gradient needs).
    case softmax(Variable)
    /// Mean cross-entropy of logits against targets, with the forward pass's probabilities.
    case crossEntropy(logits: Variable, targets: [Int32], probabilities: Tensor)
    /// The sum of all elements, a scalar.
    case sum(Variable)
    /// The mean of all elements, a scalar.
    case mean(Variable)
    /// The same elements under another shape.
    case reshape(Variable)
}
