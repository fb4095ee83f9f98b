/// A handle to a value recorded on a ``Tape``: the index of the node that produced it.
///
/// A handle is only meaningful on the tape that returned it, until that tape is reset.
public struct Variable: Hashable, Sendable, CustomStringConvertible {
    /// The node's position on its tape.
    public let index: Int

    init(_ index: Int) { self.index = index }

    /// The handle as `%index`, as it appears in error messages.
    public var description: String { "%\(index)" }
}

/// A reverse-mode autodiff tape: a list of nodes in the order they were computed.
///
/// Every operation evaluates eagerly, records an ``Op`` naming its operands, and returns a
/// ``Variable``. ``backward(from:)`` then walks the nodes in reverse through one gradient
/// switch. A training step reads like the algorithm:
///
/// ```swift
/// var tape = Tape()
/// let w = tape.parameter(weights)
/// let loss = try tape.crossEntropy(logits: tape.linear(tape.constant(x), weight: w), targets: y)
/// try tape.backward(from: loss)
/// let dw = tape.gradient(of: w)
/// ```
public struct Tape: Sendable {
    /// One recorded value.
    struct Node: Sendable {
        var op: Op
        var value: Tensor
        /// True when a parameter lies upstream, so gradients must flow through this node.
        var needsGradient: Bool
    }

    var nodes: [Node] = []
    /// The latest backward pass's gradients, by node; `nil` where nothing flowed.
    var gradients: [Tensor?] = []
    /// The previous step's gradient buffers, reused by the next backward pass when shapes match.
    var spareGradients: [Tensor?] = []

    /// Creates an empty tape.
    public init() {}

    /// The number of recorded nodes.
    public var count: Int { nodes.count }

    /// Forgets every node and gradient but keeps the storage, so that the next step's
    /// backward pass reuses gradient buffers of the same shapes instead of allocating.
    public mutating func reset() {
        nodes.removeAll(keepingCapacity: true)
        spareGradients = gradients
        gradients.removeAll(keepingCapacity: true)
    }

    // MARK: Leaves and results

    /// Records a value to differentiate with respect to.
    /// - Returns: its handle; ``gradient(of:)`` gives its gradient after ``backward(from:)``.
    public mutating func parameter(_ value: Tensor) -> Variable {
        record(.leaf, value, needsGradient: true)
    }

    /// Records a value that gradients do not flow into (inputs, fixed weights).
    public mutating func constant(_ value: Tensor) -> Variable {
        record(.leaf, value, needsGradient: false)
    }

    /// The value of a recorded node.
    public func value(of variable: Variable) -> Tensor {
        nodes[checked(variable)].value
    }

    /// The operation that produced a recorded node.
    public func op(of variable: Variable) -> Op {
        nodes[checked(variable)].op
    }

    /// The gradient of the latest ``backward(from:)``'s loss with respect to `variable`:
    /// zeros shaped like its value when no gradient reached it (a constant, or unused).
    public func gradient(of variable: Variable) -> Tensor {
        let i = checked(variable)
        if i < gradients.count, let g = gradients[i] { return g }
        return .zeros(nodes[i].value.shape)
    }

    // MARK: Operations

    /// The matrix product `a·b` of `[m, k]` and `[k, n]` matrices.
    /// - Throws: when either is not a matrix or the inner dimensions differ.
    public mutating func matmul(_ a: Variable, _ b: Variable) throws(TensorError) -> Variable {
        let y = try value(of: a).matmul(value(of: b))
        return record(.matmul(a, b), y, from: a, b)
    }

    /// A linear layer without bias, `x·Wᵀ`, with `weight` in `[out, in]` layout.
    /// - Throws: as ``NN/linear(_:weight:)``.
    public mutating func linear(_ input: Variable, weight: Variable) throws(TensorError) -> Variable {
        let y = try NN.linear(value(of: input), weight: value(of: weight))
        return record(.linear(input: input, weight: weight), y, from: input, weight)
    }

    /// Elementwise `a + b`.
    /// - Throws: when the shapes differ (there is no broadcasting; see ``addBias(_:_:)``).
    public mutating func add(_ a: Variable, _ b: Variable) throws(TensorError) -> Variable {
        let (x, y) = try sameShape("add", a, b)
        var out = x
        out.withUnsafeMutableBufferPointer { o in
            y.withUnsafeBufferPointer { yb in
                for i in 0..<o.count { o[i] += yb[i] }
            }
        }
        return record(.add(a, b), out, from: a, b)
    }

    /// Elementwise `a·b`.
    /// - Throws: when the shapes differ.
    public mutating func mul(_ a: Variable, _ b: Variable) throws(TensorError) -> Variable {
        let (x, y) = try sameShape("mul", a, b)
        var out = x
        out.withUnsafeMutableBufferPointer { o in
            y.withUnsafeBufferPointer { yb in
                for i in 0..<o.count { o[i] *= yb[i] }
            }
        }
        return record(.mul(a, b), out, from: a, b)
    }

    /// `x·factor`.
    public mutating func scale(_ x: Variable, by factor: Float) -> Variable {
        var out = value(of: x)
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<o.count { o[i] *= factor }
        }
        return record(.scale(x, by: factor), out, from: x)
    }

    /// `x + bias`, with a `[C]` bias added to every row of `x`, `[…, C]`.
    /// - Throws: as ``NN/addBias(_:_:)``.
    public mutating func addBias(_ x: Variable, _ bias: Variable) throws(TensorError) -> Variable {
        let y = try NN.addBias(value(of: x), value(of: bias))
        return record(.addBias(x, bias: bias), y, from: x, bias)
    }

    /// Rows of a `[V, C]` embedding table picked by `ids`, giving `[N, C]`.
    /// - Throws: as ``NN/embedding(_:ids:)``, for instance on an out-of-range id.
    public mutating func embedding(_ table: Variable, ids: [Int32]) throws(TensorError) -> Variable {
        let y = try NN.embedding(value(of: table), ids: ids)
        return record(.embedding(table: table, ids: ids), y, from: table)
    }

    /// Layer normalisation without bias over the last dimension.
    /// - Throws: as ``NN/layerNorm(_:weight:eps:)``.
    public mutating func layerNorm(_ x: Variable, weight: Variable, eps: Float = 1e-5) throws(TensorError) -> Variable {
        let r = try NN.layerNorm(value(of: x), weight: value(of: weight), eps: eps)
        return record(.layerNorm(x, weight: weight, mean: r.mean, rstd: r.rstd), r.output, from: x, weight)
    }

    /// RMS normalisation over the last dimension.
    /// - Throws: as ``NN/rmsNorm(_:weight:eps:)``.
    public mutating func rmsNorm(_ x: Variable, weight: Variable, eps: Float = 1e-5) throws(TensorError) -> Variable {
        let r = try NN.rmsNorm(value(of: x), weight: value(of: weight), eps: eps)
        return record(.rmsNorm(x, weight: weight, rstd: r.rstd), r.output, from: x, weight)
    }

    /// GELU (tanh approximation), elementwise.
    public mutating func gelu(_ x: Variable) -> Variable {
        record(.gelu(x), NN.gelu(value(of: x)), from: x)
    }

    /// SiLU, elementwise.
    public mutating func silu(_ x: Variable) -> Variable {
        record(.silu(x), NN.silu(value(of: x)), from: x)
    }

    /// `silu(gate)·up`, elementwise.
    /// - Throws: when the shapes differ.
    public mutating func swiglu(gate: Variable, up: Variable) throws(TensorError) -> Variable {
        let y = try NN.swiglu(gate: value(of: gate), up: value(of: up))
        return record(.swiglu(gate: gate, up: up), y, from: gate, up)
    }

    /// Rotary position embedding of a `[B, T, C]` or `[B, T, H, hd]` value.
    /// - Throws: as ``NN/rope(_:heads:base:)``.
    public mutating func rope(_ x: Variable, heads: Int, base: Float = 10_000) throws(TensorError) -> Variable {
        let y = try NN.rope(value(of: x), heads: heads, base: base)
        return record(.rope(x, heads: heads, base: base), y, from: x)
    }

    /// Causal multi-head self-attention of `[B, T, C]` queries, keys and values.
    /// - Throws: as ``NN/attention(q:k:v:heads:)``.
    public mutating func attention(q: Variable, k: Variable, v: Variable, heads: Int) throws(TensorError) -> Variable {
        let r = try NN.attention(q: value(of: q), k: value(of: k), v: value(of: v), heads: heads)
        return record(
            .attention(q: q, k: k, v: v, heads: heads, probabilities: r.probabilities), r.output, from: q, k, v)
    }

    /// Row softmax over the last dimension.
    public mutating func softmax(_ x: Variable) -> Variable {
        record(.softmax(x), NN.softmax(value(of: x)), from: x)
    }

    /// The mean cross-entropy of `[N, V]` logits against `N` target ids, a scalar.
    /// - Throws: as ``NN/crossEntropy(logits:targets:)``, for instance on an out-of-range target.
    public mutating func crossEntropy(logits: Variable, targets: [Int32]) throws(TensorError) -> Variable {
        let r = try NN.crossEntropy(logits: value(of: logits), targets: targets)
        return record(
            .crossEntropy(logits: logits, targets: targets, probabilities: r.probabilities), Tensor(r.loss),
            from: logits)
    }

    /// The sum of all elements, a scalar (summed in `Double`).
    public mutating func sum(_ x: Variable) -> Variable {
        let total = value(of: x).scalars.reduce(0.0) { $0 + Double($1) }
        return record(.sum(x), Tensor(Float(total)), from: x)
    }

    /// The mean of all elements, a scalar (0 for an empty value).
    public mutating func mean(_ x: Variable) -> Variable {
        let v = value(of: x)
        let total = v.scalars.reduce(0.0) { $0 + Double($1) }
        return record(.mean(x), Tensor(v.count == 0 ? 0 : Float(total / Double(v.count))), from: x)
    }

    /// The same elements under another shape; one extent may be -1.
    /// - Throws: as ``Tensor/reshaped(_:)``.
    public mutating func reshaped(_ x: Variable, to shape: [Int]) throws(TensorError) -> Variable {
        let y = try value(of: x).reshaped(shape)
        return record(.reshape(x), y, from: x)
    }

    // MARK: Recording

    private mutating func record(_ op: Op, _ value: Tensor, from inputs: Variable...) -> Variable {
        record(op, value, needsGradient: inputs.contains { nodes[$0.index].needsGradient })
    }

    private mutating func record(_ op: Op, _ value: Tensor, needsGradient: Bool) -> Variable {
        nodes.append(Node(op: op, value: value, needsGradient: needsGradient))
        return Variable(nodes.count - 1)
    }

    private func checked(_ variable: Variable) -> Int {
        precondition(variable.index >= 0 && variable.index < nodes.count, "tape: \(variable) is not on this tape")
        return variable.index
    }

    private func sameShape(_ op: String, _ a: Variable, _ b: Variable) throws(TensorError) -> (Tensor, Tensor) {
        let (x, y) = (value(of: a), value(of: b))
        guard x.shape == y.shape else { throw TensorError(op, "shapes differ: \(x.shape) vs \(y.shape)") }
        return (x, y)
    }
}
