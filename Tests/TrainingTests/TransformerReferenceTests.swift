import Testing

@testable import TensorRuntime
@testable import Training

/// The model's fused forward and backward passes against the same network built from tape
/// operations, each of which is checked against finite differences (`AutodiffTests`): the
/// loss and every gradient, for both architectures.
@Suite struct TransformerReferenceTests {
    /// The loss and gradients of `model`'s network on one batch, from tape operations.
    static func tapeLossAndGradients(_ model: Transformer, inputs: [Int32], targets: [Int32]) throws -> (
        Float, [Tensor]
    ) {
        let c = model.config
        let llama = c.architecture == .llama
        var tape = Tape()
        let w = model.parameters.map { tape.parameter($0) }
        var i = 0
        func next() -> Variable {
            defer { i += 1 }
            return w[i]
        }
        var x = try tape.reshaped(tape.embedding(next(), ids: inputs), to: [c.batch, c.context, c.d])
        if !llama {
            let positions = (0..<(c.batch * c.context)).map { Int32($0 % c.context) }
            x = try tape.add(x, tape.reshaped(tape.embedding(next(), ids: positions), to: [c.batch, c.context, c.d]))
        }
        func norm(_ x: Variable, _ weight: Variable) throws -> Variable {
            llama ? try tape.rmsNorm(x, weight: weight) : try tape.layerNorm(x, weight: weight)
        }
        for _ in 0..<c.layers {
            let n1 = try norm(x, next())
            let (wq, wk, wv, wo) = (next(), next(), next(), next())
            var q = try tape.linear(n1, weight: wq)
            var k = try tape.linear(n1, weight: wk)
            if llama {
                q = try tape.rope(q, heads: c.heads)
                k = try tape.rope(k, heads: c.heads)
            }
            let attended = try tape.attention(q: q, k: k, v: tape.linear(n1, weight: wv), heads: c.heads)
            x = try tape.add(x, tape.linear(attended, weight: wo))
            let n2 = try norm(x, next())
            if llama {
                let (gate, up, down) = (next(), next(), next())
                let hidden = try tape.swiglu(gate: tape.linear(n2, weight: gate), up: tape.linear(n2, weight: up))
                x = try tape.add(x, tape.linear(hidden, weight: down))
            } else {
                let (fc, proj) = (next(), next())
                x = try tape.add(x, tape.linear(tape.gelu(tape.linear(n2, weight: fc)), weight: proj))
            }
        }
        let final = try norm(x, next())
        let logits = try tape.reshaped(tape.linear(final, weight: next()), to: [c.batch * c.context, c.vocab])
        #expect(i == w.count, "every parameter used once")
        let loss = try tape.crossEntropy(logits: logits, targets: targets)
        try tape.backward(from: loss)
        return (try tape.value(of: loss).scalar, w.map { tape.gradient(of: $0) })
    }

    @Test(arguments: ModelConfig.Architecture.allCases)
    func fusedPassesMatchTheTapeBuiltNetwork(_ architecture: ModelConfig.Architecture) throws {
        let config = ModelConfig(
            architecture: architecture, d: 16, layers: 2, heads: 2, context: 6, batch: 3, vocab: 13)
        let model = Transformer(config: config, seed: 7)
        // Weights of a trained model's size, not 0.02, so that every path carries signal.
        var rng = SeededRandom(seed: 8)
        model.parameters = model.parameters.map { p in
            p.shape.rank == 1 ? p.map { 1 + 0.3 * $0 } : Tensor.randomNormal(p.shape, std: 0.4, using: &rng)
        }
        let rows = config.batch * config.context
        let inputs = (0..<rows).map { Int32(($0 * 5 + 3) % 13) }
        let targets = (0..<rows).map { Int32(($0 * 7 + 1) % 13) }
        let loss = model.trainStep(inputs: inputs, targets: targets)
        let (expected, gradients) = try Self.tapeLossAndGradients(model, inputs: inputs, targets: targets)
        #expect(abs(loss - expected) <= 1e-5 * abs(expected), "loss \(loss), tape \(expected)")
        for (meta, (fused, tape)) in zip(model.parameterMetas, zip(model.gradients, gradients)) {
            let scale = tape.scalars.map(abs).max() ?? 0
            let worst = zip(fused.scalars, tape.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(scale > 0, "\(meta.name): the gradient carries signal")
            #expect(worst <= 1e-4 * scale, "\(meta.name): largest difference \(worst) of \(scale)")
        }
    }
}
