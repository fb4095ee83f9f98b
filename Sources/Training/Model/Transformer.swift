import Foundation
import TensorRuntime

/// The built-in decoder-only transformer, `gpt` or `llama` (see `docs/model.md`).
///
/// Forward and backward are written out per layer, llm.c style, on buffers allocated once
/// at creation: a training step allocates nothing. Work is split statically over the
/// threads, so a seed and a batch give bitwise-identical results at any thread count.
public final class Transformer: TrainableModel {
    /// The sizes this model was built for; `batch` is the most sequences per forward pass.
    public let config: ModelConfig
    /// Names, roles, layers and shapes of ``parameters``, in storage order (`docs/model.md`).
    public let parameterMetas: [ParameterMeta]
    /// The weights, in the order of ``parameterMetas``; update them in place.
    public var parameters: [Tensor]
    /// The gradients of the last ``trainStep(inputs:targets:)``. Written in place: a copy
    /// still held when the next step starts costs that step one copy of each tensor.
    public private(set) var gradients: [Tensor]

    let attentionShape: Fused.AttentionShape
    /// Row stride of the logits: the vocabulary rounded up to 16.
    let vocabStride: Int
    let buffers: TransformerBuffers
    /// Base addresses of `parameters` and `gradients`, valid during a step.
    let parameterPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let gradientPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>

    /// Creates a model with GPT-2 style initial values drawn from `seed`: normal(0, 0.02)
    /// for embeddings and matrices, the residual projections (`wo`, `mlp.proj`/`mlp.down`)
    /// scaled by 1/√(2·layers), and norm weights 1.
    /// - Precondition: positive sizes, `d` a multiple of `heads`, an even head size for llama.
    public init(config: ModelConfig, seed: UInt64) {
        precondition(config.vocab > 0 && config.d > 0 && config.layers > 0 && config.context > 0 && config.batch > 0)
        precondition(config.heads > 0 && config.d % config.heads == 0, "transformer: d must split into heads")
        let hd = config.d / config.heads
        precondition(config.architecture == .gpt || hd % 2 == 0, "transformer: llama needs an even head size")
        self.config = config
        parameterMetas = Self.metas(config)
        var rng = SeededRandom(seed: seed)
        let residualStd = 0.02 / Float(2 * config.layers).squareRoot()
        parameters = parameterMetas.map { meta in
            let shape = Shape(meta.shape)
            if meta.role == .norm { return Tensor.ones(shape) }
            let projection = meta.name.hasSuffix(".wo") || meta.name.hasSuffix(".proj") || meta.name.hasSuffix(".down")
            return Tensor.randomNormal(shape, std: projection ? residualStd : 0.02, using: &rng)
        }
        gradients = parameterMetas.map { Tensor.zeros(Shape($0.shape)) }
        attentionShape = Fused.AttentionShape(
            batch: config.batch, context: config.context, heads: config.heads, headSize: hd)
        vocabStride = (config.vocab + 15) / 16 * 16
        buffers = TransformerBuffers(
            config, attention: attentionShape, vocabStride: vocabStride, parts: max(1, Parallel.threadCount))
        parameterPointers = .allocate(capacity: parameterMetas.count)
        gradientPointers = .allocate(capacity: parameterMetas.count)
        if config.architecture == .llama {
            // θᵢ = 10000^(−2i/hd); position t turns pair i by t·θᵢ.
            for t in 0..<config.context {
                for i in 0..<(hd / 2) {
                    let angle = Double(t) * pow(10_000, -2 * Double(i) / Double(hd))
                    buffers.cos[t * hd / 2 + i] = Float(Foundation.cos(angle))
                    buffers.sin[t * hd / 2 + i] = Float(Foundation.sin(angle))
                }
            }
        }
    }

    deinit {
        parameterPointers.deallocate()
        gradientPointers.deallocate()
    }

    /// The parameters' names, roles, layers and shapes, in storage order, for a model with
    /// configuration `c` (without building the model).
    public static func metas(_ c: ModelConfig) -> [ParameterMeta] {
        let (d, h) = (c.d, c.hidden)
        var metas = [ParameterMeta(name: "embed.tokens", role: .embedding, layer: nil, shape: [c.vocab, d])]
        if c.architecture == .gpt {
            metas.append(ParameterMeta(name: "embed.positions", role: .position, layer: nil, shape: [c.context, d]))
        }
        for l in 0..<c.layers {
            let p = "blocks.\(l)."
            metas.append(ParameterMeta(name: p + "ln1.weight", role: .norm, layer: l, shape: [d]))
            for w in ["wq", "wk", "wv", "wo"] {
                metas.append(ParameterMeta(name: p + "attn." + w, role: .attention, layer: l, shape: [d, d]))
            }
            metas.append(ParameterMeta(name: p + "ln2.weight", role: .norm, layer: l, shape: [d]))
            switch c.architecture {
            case .gpt:
                metas.append(ParameterMeta(name: p + "mlp.fc", role: .mlp, layer: l, shape: [h, d]))
                metas.append(ParameterMeta(name: p + "mlp.proj", role: .mlp, layer: l, shape: [d, h]))
            case .llama:
                metas.append(ParameterMeta(name: p + "mlp.gate", role: .mlp, layer: l, shape: [h, d]))
                metas.append(ParameterMeta(name: p + "mlp.up", role: .mlp, layer: l, shape: [h, d]))
                metas.append(ParameterMeta(name: p + "mlp.down", role: .mlp, layer: l, shape: [d, h]))
            }
        }
        metas.append(ParameterMeta(name: "final_norm.weight", role: .norm, layer: nil, shape: [d]))
        metas.append(ParameterMeta(name: "head", role: .head, layer: nil, shape: [c.vocab, d]))
        return metas
    }

    // MARK: TrainableModel

    /// Forward, loss and backward on `batch` sequences; see ``TrainableModel``.
    public func trainStep(inputs: [Int32], targets: [Int32]) -> Float {
        let rows = config.batch * config.context
        precondition(inputs.count == rows && targets.count == rows, "trainStep: expected \(rows) inputs and targets")
        checkTokens(inputs, targets)
        return bindGradients {
            bindParameters {
                inputs.withUnsafeBufferPointer { x in
                    targets.withUnsafeBufferPointer { y in
                        let sum = forward(inputs: x.baseAddress!, targets: y.baseAddress!, sequences: config.batch)
                        backward(inputs: x.baseAddress!, targets: y.baseAddress!)
                        return Float(sum / Double(rows))
                    }
                }
            }
        }
    }

    /// The mean loss over any whole number of sequences, `batch` at a time.
    public func evaluate(inputs: [Int32], targets: [Int32]) -> Float {
        let t = config.context
        precondition(inputs.count == targets.count && inputs.count % t == 0, "evaluate: expected whole sequences")
        checkTokens(inputs, targets)
        if inputs.isEmpty { return 0 }
        let sequences = inputs.count / t
        let total = bindParameters {
            inputs.withUnsafeBufferPointer { x in
                targets.withUnsafeBufferPointer { y in
                    var sum: Double = 0
                    for first in stride(from: 0, to: sequences, by: config.batch) {
                        let count = min(config.batch, sequences - first)
                        sum += forward(
                            inputs: x.baseAddress! + first * t, targets: y.baseAddress! + first * t, sequences: count)
                    }
                    return sum
                }
            }
        }
        return Float(total / Double(inputs.count))
    }

    private func checkTokens(_ inputs: [Int32], _ targets: [Int32]) {
        let v = Int32(config.vocab)
        precondition(
            inputs.allSatisfy { $0 >= 0 && $0 < v } && targets.allSatisfy { $0 >= 0 && $0 < v },
            "transformer: token outside the vocabulary of \(config.vocab)")
    }

    // MARK: Parameter access

    /// Runs `body` with `parameterPointers` set to the parameters' storage.
    private func bindParameters<R>(from i: Int = 0, _ body: () -> R) -> R {
        if i == parameters.count { return body() }
        return parameters[i].withUnsafeBufferPointer { p in
            parameterPointers[i] = UnsafeMutablePointer(mutating: p.baseAddress!)
            return bindParameters(from: i + 1, body)
        }
    }

    /// Runs `body` with `gradientPointers` set to the gradients' (uniquely owned) storage.
    private func bindGradients<R>(_ body: () -> R) -> R {
        func bind(_ all: UnsafeMutableBufferPointer<Tensor>, _ i: Int) -> R {
            if i == all.count { return body() }
            return all[i].withUnsafeMutableBufferPointer { g in
                gradientPointers[i] = g.baseAddress!
                return bind(all, i + 1)
            }
        }
        return gradients.withUnsafeMutableBufferPointer { bind($0, 0) }
    }
}
