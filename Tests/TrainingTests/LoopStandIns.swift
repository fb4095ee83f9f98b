import Foundation
import TensorRuntime

@testable import Training

/// A bigram language model: logits for the next token are `embed[current] + bias`. Exact
/// gradients, tiny, and deterministic; it can be told to produce a NaN at a chosen step.
final class BigramModel: TrainableModel {
    let vocab: Int
    let parameterMetas: [ParameterMeta]
    var parameters: [Tensor]
    private(set) var gradients: [Tensor]
    /// At this trainStep call (counting from 1), make these parameters' gradients NaN.
    var poisonGradients: (call: Int, parameters: [Int])?
    /// At this trainStep call, return a NaN loss.
    var poisonLossAt: Int?
    private(set) var calls = 0

    init(vocab: Int, seed: UInt64 = 7) {
        self.vocab = vocab
        parameterMetas = [
            ParameterMeta(name: "embed", role: .embedding, layer: nil, shape: [vocab, vocab]),
            ParameterMeta(name: "bias", role: .bias, layer: nil, shape: [vocab]),
        ]
        var rng = SeededRandom(seed: seed)
        parameters = [
            Tensor.randomNormal(Shape([vocab, vocab]), std: 0.1, using: &rng), .zeros(Shape([vocab])),
        ]
        gradients = parameters.map { .zeros($0.shape) }
    }

    func trainStep(inputs: [Int32], targets: [Int32]) -> Float {
        calls += 1
        var gEmbed = [Float](repeating: 0, count: vocab * vocab)
        var gBias = [Float](repeating: 0, count: vocab)
        let scale = 1 / Float(inputs.count)
        let loss = forward(inputs: inputs, targets: targets) { x, y, p in
            for j in 0..<vocab {
                let d = (p[j] - (j == y ? 1 : 0)) * scale
                gEmbed[x * vocab + j] += d
                gBias[j] += d
            }
        }
        gradients = [try! Tensor(shape: Shape([vocab, vocab]), scalars: gEmbed), Tensor(gBias)]
        if let poison = poisonGradients, poison.call == calls {
            for i in poison.parameters {
                gradients[i].withUnsafeMutableBufferPointer { $0[$0.count / 2] = .nan }
            }
        }
        if poisonLossAt == calls { return .nan }
        return loss
    }

    func evaluate(inputs: [Int32], targets: [Int32]) -> Float {
        forward(inputs: inputs, targets: targets) { _, _, _ in }
    }

    /// Mean cross-entropy; `visit` sees each position's token, target and probabilities.
    private func forward(inputs: [Int32], targets: [Int32], visit: (Int, Int, [Float]) -> Void) -> Float {
        var total: Float = 0
        let (w, b) = (parameters[0].scalars, parameters[1].scalars)
        var p = [Float](repeating: 0, count: vocab)
        for (x32, y32) in zip(inputs, targets) {
            let (x, y) = (Int(x32), Int(y32))
            var m = -Float.infinity
            for j in 0..<vocab {
                p[j] = w[x * vocab + j] + b[j]
                m = max(m, p[j])
            }
            var sum: Float = 0
            for j in 0..<vocab {
                p[j] = exp(p[j] - m)
                sum += p[j]
            }
            for j in 0..<vocab { p[j] /= sum }
            total -= log(p[y])
            visit(x, y, p)
        }
        return total / Float(inputs.count)
    }
}

/// Tokens from a fixed Markov chain: a training stream and a separate validation stream, and
/// the exact best loss on the validation windows (the chain's own cross-entropy).
struct MarkovData: Dataset {
    let vocabularySize: Int
    let transitions: [[Double]]
    let train: [Int32]
    let validation: [Int32]
    var summary: String { "markov chain (\(vocabularySize) tokens)" }

    init(vocab: Int = 8, seed: UInt64 = 3, trainTokens: Int = 4096, validationTokens: Int = 2048) {
        vocabularySize = vocab
        var rng = SeededRandom(seed: seed)
        // Peaked rows: each token strongly prefers a few successors.
        let transitions = (0..<vocab).map { _ in
            let raw = (0..<vocab).map { _ in exp(3 * Double(rng.nextNormal())) }
            let sum = raw.reduce(0, +)
            return raw.map { $0 / sum }
        }
        self.transitions = transitions
        func stream(_ n: Int, _ rng: inout SeededRandom) -> [Int32] {
            var out: [Int32] = [0]
            while out.count < n {
                let row = transitions[Int(out.last!)]
                var u = Double(rng.nextUniform())
                var next = vocab - 1
                for (j, p) in row.enumerated() {
                    if u < p {
                        next = j
                        break
                    }
                    u -= p
                }
                out.append(Int32(next))
            }
            return out
        }
        train = stream(trainTokens, &rng)
        validation = stream(validationTokens, &rng)
    }

    func trainBatch(batch: Int, context: Int, inputs: inout [Int32], targets: inout [Int32], draw: (Int) -> Int) {
        for r in 0..<batch {
            let start = draw(train.count - context)
            for t in 0..<context {
                inputs[r * context + t] = train[start + t]
                targets[r * context + t] = train[start + t + 1]
            }
        }
    }

    func validationWindows(count: Int, context: Int) -> (inputs: [Int32], targets: [Int32]) {
        var inputs: [Int32] = []
        var targets: [Int32] = []
        for w in 0..<count {
            inputs += validation[(w * context)..<((w + 1) * context)]
            targets += validation[(w * context + 1)..<((w + 1) * context + 1)]
        }
        return (inputs, targets)
    }

    func bayesLoss(count: Int, context: Int) -> Double? {
        let (inputs, targets) = validationWindows(count: count, context: context)
        let total = zip(inputs, targets).reduce(0.0) { $0 - log(transitions[Int($1.0)][Int($1.1)]) }
        return total / Double(inputs.count)
    }
}

/// SGD with momentum, keeping one named state tensor per parameter.
struct MomentumSGD: Optimizer {
    var learningRate: Float = 0.5
    var beta: Float = 0.9
    private(set) var names: [String] = []
    private(set) var momentum: [Tensor] = []

    mutating func prepare(_ parameters: [ParameterMeta], totalSteps: Int) throws {
        names = parameters.map(\.name)
        momentum = parameters.map { .zeros(Shape($0.shape)) }
    }

    mutating func step(parameters: inout [Tensor], gradients: [Tensor], step: Int) throws {
        for i in parameters.indices {
            let g = gradients[i].scalars
            let (lr, beta) = (learningRate, beta)
            momentum[i].withUnsafeMutableBufferPointer { m in
                parameters[i].withUnsafeMutableBufferPointer { p in
                    for j in 0..<p.count {
                        m[j] = beta * m[j] + g[j]
                        p[j] -= lr * m[j]
                    }
                }
            }
        }
    }

    func reportedLearningRate(step: Int) -> Double? { Double(learningRate) }

    func stateTensors() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: zip(names.map { $0 + "/m" }, momentum))
    }

    struct StateError: Error, CustomStringConvertible {
        var description: String
    }

    mutating func loadState(_ tensors: [String: Tensor]) throws {
        momentum = try names.map { name in
            guard let t = tensors[name + "/m"] else { throw StateError(description: "missing '\(name)/m'") }
            return t
        }
    }
}

/// A fresh folder under the temporary directory, removed by `cleanUp()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("optlang-loop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: url) }
}

/// Builds a trainer over the stand-ins with small sizes.
func makeTrainer(
    in folder: URL, steps: Int = 20, seed: UInt64 = 11, evalEvery: Int = 5, checkpointEvery: Int = 0,
    logEvery: Int = 1, clipNorm: Double? = nil, vocab: Int = 8, model: BigramModel? = nil,
    progress: ProgressReporter = .silent, quiet: Bool = false, stopsOnInterrupt: Bool = false
) throws -> Trainer {
    let options = TrainingOptions(
        steps: steps, evalEvery: evalEvery, evalWindows: 16, checkpointEvery: checkpointEvery, clipNorm: clipNorm,
        seed: seed, outDirectory: folder, quiet: quiet, logEvery: logEvery)
    let config = ModelConfig(architecture: .gpt, d: 8, layers: 1, heads: 1, context: 16, batch: 4, vocab: vocab)
    let trainer = try Trainer(
        model: model ?? BigramModel(vocab: vocab), optimizer: MomentumSGD(), dataset: MarkovData(vocab: vocab),
        modelConfig: config, options: options,
        run: RunDescription(
            recipeName: "sgd-momentum", recipeText: "optimizer sgd { lr = 0.5 }\n",
            hyperparameters: ["lr": 0.5, "beta": 0.9],
            optlangVersion: "0.0.0-test"),
        progress: progress)
    // Tests run side by side in one process; only the signal test wants Ctrl-C.
    trainer.stopsOnInterrupt = stopsOnInterrupt
    return trainer
}

/// The bits of every parameter, for bitwise comparison.
func parameterBits(_ model: any TrainableModel) -> [[UInt32]] {
    model.parameters.map { $0.scalars.map(\.bitPattern) }
}
