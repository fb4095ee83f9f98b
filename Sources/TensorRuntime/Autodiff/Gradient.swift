extension Tape {
    /// Computes the gradient of a one-element `loss` with respect to every node that a
    /// parameter lies upstream of, walking the tape in reverse.
    ///
    /// Each node's gradient accumulates with `+=`, so a value used twice (even twice by one
    /// operation, as in `mul(x, x)`) collects both contributions. Every call starts from zero:
    /// gradients from an earlier call are replaced, not added to. Read them with
    /// ``gradient(of:)``.
    /// - Throws: when `loss` has more than one element.
    public mutating func backward(from loss: Variable) throws(TensorError) {
        precondition(loss.index >= 0 && loss.index < nodes.count, "backward: \(loss) is not on this tape")
        let lossValue = nodes[loss.index].value
        guard lossValue.count == 1 else {
            throw TensorError("backward", "loss \(loss) has shape \(lossValue.shape); expected a single element")
        }
        let nodes = self.nodes
        var pass = GradientPass(nodes: nodes, spare: gradients.isEmpty ? spareGradients : gradients)
        gradients = []
        spareGradients = []
        pass.put(loss, Tensor(repeating: 1, shape: lossValue.shape))
        for i in stride(from: loss.index, through: 0, by: -1) where nodes[i].needsGradient {
            guard let dy = pass.slots[i] else { continue }
            Self.propagate(nodes[i].op, output: nodes[i].value, dy: dy, nodes: nodes, into: &pass)
        }
        gradients = pass.slots
    }

    /// The one gradient switch: adds each operand's share of `dy` into `pass`.
    private static func propagate(
        _ op: Op, output: Tensor, dy: Tensor, nodes: [Node], into pass: inout GradientPass
    ) {
        func value(_ v: Variable) -> Tensor { nodes[v.index].value }

        switch op {
        case .leaf:
            break

        case .matmul(let a, let b):
            // y = a·b: da += dy·bᵀ, db += aᵀ·dy
            if var da = pass.take(a) {
                da.assignMatmul(dy, value(b), transposeB: true, accumulate: true)
                pass.put(a, da)
            }
            if var db = pass.take(b) {
                db.assignMatmul(value(a), dy, transposeA: true, accumulate: true)
                pass.put(b, db)
            }

        case .linear(let input, let weight):
            var dx = pass.take(input)
            var dw = pass.take(weight)
            NN.linearBackward(dy, input: value(input), weight: value(weight), dInput: &dx, dWeight: &dw)
            pass.put(input, dx)
            pass.put(weight, dw)

        case .add(let a, let b):
            pass.accumulate(a) { addFlat(dy, into: &$0) }
            pass.accumulate(b) { addFlat(dy, into: &$0) }

        case .mul(let a, let b):
            pass.accumulate(a) { addProduct(dy, value(b), into: &$0) }
            pass.accumulate(b) { addProduct(dy, value(a), into: &$0) }

        case .scale(let x, let factor):
            pass.accumulate(x) { addFlat(dy, into: &$0, scale: factor) }

        case .addBias(let x, let bias):
            pass.accumulate(x) { addFlat(dy, into: &$0) }
            pass.accumulate(bias) { NN.addBiasBackward(dy, dBias: &$0) }

        case .embedding(let table, let ids):
            pass.accumulate(table) { NN.embeddingBackward(dy, ids: ids, dTable: &$0) }

        case .layerNorm(let x, let weight, let mean, let rstd):
            var dx = pass.takeOrScratch(x)
            var dw = pass.takeOrScratch(weight)
            NN.layerNormBackward(
                dy, input: value(x), weight: value(weight), mean: mean, rstd: rstd, dInput: &dx, dWeight: &dw)
            pass.put(x, dx)
            pass.put(weight, dw)

        case .rmsNorm(let x, let weight, let rstd):
            var dx = pass.takeOrScratch(x)
            var dw = pass.takeOrScratch(weight)
            NN.rmsNormBackward(dy, input: value(x), weight: value(weight), rstd: rstd, dInput: &dx, dWeight: &dw)
            pass.put(x, dx)
            pass.put(weight, dw)

        case .gelu(let x):
            pass.accumulate(x) { NN.geluBackward(dy, input: value(x), dInput: &$0) }

        case .silu(let x):
            pass.accumulate(x) { NN.siluBackward(dy, input: value(x), dInput: &$0) }

        case .swiglu(let gate, let up):
            var dGate = pass.takeOrScratch(gate)
            var dUp = pass.takeOrScratch(up)
            NN.swigluBackward(dy, gate: value(gate), up: value(up), dGate: &dGate, dUp: &dUp)
            pass.put(gate, dGate)
            pass.put(up, dUp)

        case .rope(let x, let heads, let base):
            pass.accumulate(x) { NN.ropeBackward(dy, heads: heads, base: base, dInput: &$0) }

        case .attention(let q, let k, let v, let heads, let probabilities):
            var dq = pass.takeOrScratch(q)
            var dk = pass.takeOrScratch(k)
            var dv = pass.takeOrScratch(v)
            NN.attentionBackward(
                dy, q: value(q), k: value(k), v: value(v), probabilities: probabilities, heads: heads,
                dq: &dq, dk: &dk, dv: &dv)
            pass.put(q, dq)
            pass.put(k, dk)
            pass.put(v, dv)

        case .softmax(let x):
            pass.accumulate(x) { NN.softmaxBackward(dy, output: output, dInput: &$0) }

        case .crossEntropy(let logits, let targets, let probabilities):
            pass.accumulate(logits) {
                NN.crossEntropyBackward(
                    probabilities: probabilities, targets: targets, dLoss: dy.scalars[0], dLogits: &$0)
            }

        case .sum(let x):
            pass.accumulate(x) { addConstant(dy.scalars[0], into: &$0) }

        case .mean(let x):
            let n = value(x).count
            pass.accumulate(x) { addConstant(n == 0 ? 0 : dy.scalars[0] / Float(n), into: &$0) }

        case .reshape(let x):
            // Same elements in the same order: the gradient is dy under the input's shape.
            pass.accumulate(x) { addFlat(dy, into: &$0) }
        }
    }

    /// `g += scale·dy`, element by element in row-major order (shapes may differ, counts may not).
    private static func addFlat(_ dy: Tensor, into g: inout Tensor, scale: Float = 1) {
        precondition(dy.count == g.count, "backward: gradient of \(dy.count) elements for \(g.count)")
        dy.withUnsafeBufferPointer { d in
            g.withUnsafeMutableBufferPointer { gb in
                for i in 0..<gb.count { gb[i] += scale * d[i] }
            }
        }
    }

    /// `g += dy·other`, elementwise.
    private static func addProduct(_ dy: Tensor, _ other: Tensor, into g: inout Tensor) {
        dy.withUnsafeBufferPointer { d in
            other.withUnsafeBufferPointer { o in
                g.withUnsafeMutableBufferPointer { gb in
                    for i in 0..<gb.count { gb[i] += d[i] * o[i] }
                }
            }
        }
    }

    /// `g += c` for every element.
    private static func addConstant(_ c: Float, into g: inout Tensor) {
        g.withUnsafeMutableBufferPointer { gb in
            for i in 0..<gb.count { gb[i] += c }
        }
    }
}

/// The gradients of one backward pass, one optional slot per node.
///
/// Operands' gradients are taken out of their slot, accumulated into, and put back. Putting
/// into an occupied slot adds, so an operation that uses one value twice (`mul(x, x)`), and
/// therefore takes its slot twice, still collects both contributions.
struct GradientPass {
    /// The accumulated gradients; `nil` where nothing has flowed yet.
    var slots: [Tensor?]
    /// Last step's buffers, zeroed and reused for nodes whose shapes match.
    private var spare: [Tensor?]
    private let needsGradient: [Bool]
    private let shapes: [Shape]

    init(nodes: [Tape.Node], spare: [Tensor?]) {
        slots = [Tensor?](repeating: nil, count: nodes.count)
        self.spare = spare
        needsGradient = nodes.map(\.needsGradient)
        shapes = nodes.map(\.value.shape)
    }

    /// Removes and returns `v`'s gradient so far (zeros if none), or `nil` when no gradient
    /// need flow into `v` (a constant and everything computed only from constants).
    mutating func take(_ v: Variable) -> Tensor? {
        let i = v.index
        guard needsGradient[i] else { return nil }
        if let existing = slots[i] {
            slots[i] = nil
            return existing
        }
        if i < spare.count, var reused = spare[i], reused.shape == shapes[i] {
            spare[i] = nil
            reused.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            return reused
        }
        return .zeros(shapes[i])
    }

    /// As ``take(_:)``, but a throwaway zero buffer for a value that needs no gradient, for
    /// kernels that always write every operand's gradient.
    mutating func takeOrScratch(_ v: Variable) -> Tensor {
        take(v) ?? .zeros(shapes[v.index])
    }

    /// Stores `gradient` as `v`'s, adding to whatever another use put there meanwhile.
    mutating func put(_ v: Variable, _ gradient: Tensor?) {
        let i = v.index
        guard needsGradient[i], var gradient else { return }
        if let other = slots[i] {
            gradient.withUnsafeMutableBufferPointer { g in
                other.withUnsafeBufferPointer { o in
                    for j in 0..<g.count { g[j] += o[j] }
                }
            }
        }
        slots[i] = gradient
    }

    /// Runs `body` on `v`'s gradient buffer when `v` needs one.
    mutating func accumulate(_ v: Variable, _ body: (inout Tensor) -> Void) {
        guard var g = take(v) else { return }
        body(&g)
        put(v, g)
    }
}
