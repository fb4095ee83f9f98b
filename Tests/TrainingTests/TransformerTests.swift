import Foundation
import TensorRuntime
import Testing

@testable import Training

/// A model small enough to check every gradient: d = 24 covers both a 16-lane body and a
/// tail in every row kernel; heads of 12 channels cover a padded head.
private func tinyConfig(_ architecture: ModelConfig.Architecture) -> ModelConfig {
    ModelConfig(architecture: architecture, d: 24, layers: 2, heads: 2, context: 5, batch: 2, vocab: 7)
}

/// Seeded random tokens and next-token targets for `sequences` sequences.
private func batch(_ c: ModelConfig, sequences: Int, seed: UInt64) -> (inputs: [Int32], targets: [Int32]) {
    var rng = SeededRandom(seed: seed)
    let count = sequences * c.context
    let inputs = (0..<count).map { _ in Int32(rng.nextInt(below: c.vocab)) }
    let targets = (0..<count).map { _ in Int32(rng.nextInt(below: c.vocab)) }
    return (inputs, targets)
}

@Suite(.serialized) struct TransformerTests {
    @Test(arguments: ModelConfig.Architecture.allCases)
    func everyGradientMatchesCentralDifferences(architecture: ModelConfig.Architecture) {
        let config = tinyConfig(architecture)
        let model = Transformer(config: config, seed: 7)
        // Larger weights than the initial 0.02 make every path's gradient visible.
        for i in model.parameters.indices where model.parameterMetas[i].role != .norm {
            model.parameters[i].withUnsafeMutableBufferPointer { p in
                for j in p.indices { p[j] *= 10 }
            }
        }
        let (inputs, targets) = batch(config, sequences: config.batch, seed: 3)
        _ = model.trainStep(inputs: inputs, targets: targets)
        let analytic = model.gradients
        let h: Float = 1e-2
        var worst: (String, Int, Float, Float) = ("", 0, 0, 0)
        var worstRatio: Float = 0
        for i in model.parameters.indices {
            for j in 0..<model.parameters[i].count {
                let original = model.parameters[i].scalars[j]
                model.parameters[i].withUnsafeMutableBufferPointer { $0[j] = original + h }
                let up = model.evaluate(inputs: inputs, targets: targets)
                model.parameters[i].withUnsafeMutableBufferPointer { $0[j] = original - h }
                let down = model.evaluate(inputs: inputs, targets: targets)
                model.parameters[i].withUnsafeMutableBufferPointer { $0[j] = original }
                let numeric = (up - down) / (2 * h)
                let exact = analytic[i].scalars[j]
                let ratio = abs(numeric - exact) / (2e-4 + 0.05 * abs(exact))
                if ratio > worstRatio {
                    worstRatio = ratio
                    worst = (model.parameterMetas[i].name, j, numeric, exact)
                }
            }
        }
        #expect(worstRatio <= 1, "worst: \(worst)")
    }
}

extension TransformerTests {
    @Test(arguments: ModelConfig.Architecture.allCases)
    func initialLossIsNearLogVocabulary(architecture: ModelConfig.Architecture) {
        var config = tinyConfig(architecture)
        config.vocab = 50
        let model = Transformer(config: config, seed: 1)
        let (inputs, targets) = batch(config, sequences: config.batch, seed: 2)
        let loss = model.trainStep(inputs: inputs, targets: targets)
        #expect(abs(loss - log(50)) < 0.1)
        #expect(abs(model.evaluate(inputs: inputs, targets: targets) - loss) < 1e-6)
    }

    @Test(arguments: ModelConfig.Architecture.allCases)
    func evaluateTakesMoreSequencesThanABatch(architecture: ModelConfig.Architecture) {
        let config = tinyConfig(architecture)
        let model = Transformer(config: config, seed: 4)
        let (inputs, targets) = batch(config, sequences: 3, seed: 6)
        let t = config.context
        let each = (0..<3).map { s in
            model.evaluate(
                inputs: Array(inputs[(s * t)..<((s + 1) * t)]), targets: Array(targets[(s * t)..<((s + 1) * t)]))
        }
        #expect(abs(model.evaluate(inputs: inputs, targets: targets) - each.reduce(0, +) / 3) < 1e-5)
    }

    @Test(arguments: ModelConfig.Architecture.allCases)
    func sgdOnARepeatedSequenceDrivesTheLossDown(architecture: ModelConfig.Architecture) {
        let config = tinyConfig(architecture)
        let model = Transformer(config: config, seed: 5)
        let sequence: [Int32] = [1, 4, 2, 6, 3, 5]
        let inputs = Array(repeating: Array(sequence.dropLast()), count: config.batch).flatMap { $0 }
        let targets = Array(repeating: Array(sequence.dropFirst()), count: config.batch).flatMap { $0 }
        let first = model.trainStep(inputs: inputs, targets: targets)
        var loss = first
        for _ in 0..<300 {
            for i in model.parameters.indices {
                let grad = model.gradients[i]
                model.parameters[i].withUnsafeMutableBufferPointer { p in
                    grad.withUnsafeBufferPointer { g in
                        for j in p.indices { p[j] -= 0.5 * g[j] }
                    }
                }
            }
            loss = model.trainStep(inputs: inputs, targets: targets)
        }
        #expect(first > 1.5)
        #expect(loss < 0.1)
    }

    @Test(arguments: ModelConfig.Architecture.allCases)
    func resultsAreBitwiseIdenticalOnOneAndTwoThreads(architecture: ModelConfig.Architecture) {
        // Large enough that the matmuls and row kernels split over threads.
        let config = ModelConfig(
            architecture: architecture, d: 64, layers: 2, heads: 4, context: 64, batch: 4, vocab: 37)
        let (inputs, targets) = batch(config, sequences: config.batch, seed: 9)
        var runs: [(Float, [Tensor])] = []
        for threads in [1, 2] {
            let run = Parallel.withThreadCount(threads) {
                let model = Transformer(config: config, seed: 11)
                let loss = model.trainStep(inputs: inputs, targets: targets)
                return (loss, model.gradients)
            }
            #expect((run.parallelLoops > 0) == (threads > 1), "\(threads) threads: \(run.parallelLoops) parallel loops")
            runs.append(run.result)
        }
        #expect(runs[0].0 == runs[1].0)
        #expect(runs[0].1 == runs[1].1)
    }

    @Test func parameterMetadataNamesRolesLayersAndShapes() {
        let gpt = Transformer(config: tinyConfig(.gpt), seed: 0).parameterMetas
        #expect(gpt.count == 2 + 2 * 8 + 2)
        #expect(gpt[0] == ParameterMeta(name: "embed.tokens", role: .embedding, layer: nil, shape: [7, 24]))
        #expect(gpt[1] == ParameterMeta(name: "embed.positions", role: .position, layer: nil, shape: [5, 24]))
        #expect(
            gpt[2..<10].map(\.name) == [
                "blocks.0.ln1.weight", "blocks.0.attn.wq", "blocks.0.attn.wk", "blocks.0.attn.wv", "blocks.0.attn.wo",
                "blocks.0.ln2.weight", "blocks.0.mlp.fc", "blocks.0.mlp.proj",
            ])
        #expect(gpt[9] == ParameterMeta(name: "blocks.0.mlp.proj", role: .mlp, layer: 0, shape: [24, 96]))
        #expect(gpt[11] == ParameterMeta(name: "blocks.1.attn.wq", role: .attention, layer: 1, shape: [24, 24]))
        #expect(gpt[15] == ParameterMeta(name: "blocks.1.ln2.weight", role: .norm, layer: 1, shape: [24]))
        #expect(gpt[18] == ParameterMeta(name: "final_norm.weight", role: .norm, layer: nil, shape: [24]))
        #expect(gpt[19] == ParameterMeta(name: "head", role: .head, layer: nil, shape: [7, 24]))

        let llama = Transformer(config: tinyConfig(.llama), seed: 0).parameterMetas
        #expect(llama.count == 1 + 2 * 9 + 2)
        #expect(!llama.contains { $0.role == .position })
        #expect(
            llama[6..<10].map(\.name) == [
                "blocks.0.ln2.weight", "blocks.0.mlp.gate", "blocks.0.mlp.up", "blocks.0.mlp.down",
            ])
        #expect(llama[7].shape == [64, 24] && llama[9].shape == [24, 64])
    }

    @Test func initialisationIsSeededAndScalesResidualProjections() {
        let a = Transformer(config: tinyConfig(.gpt), seed: 3)
        let b = Transformer(config: tinyConfig(.gpt), seed: 3)
        #expect(a.parameters == b.parameters)
        func std(_ name: String) -> Float {
            let t = a.parameters[a.parameterMetas.firstIndex { $0.name == name }!]
            return (t.scalars.map { $0 * $0 }.reduce(0, +) / Float(t.count)).squareRoot()
        }
        #expect(abs(std("blocks.0.mlp.fc") - 0.02) < 0.003)
        #expect(abs(std("blocks.0.mlp.proj") - 0.01) < 0.0015)
        #expect(a.parameters[a.parameterMetas.firstIndex { $0.name == "final_norm.weight" }!] == .ones([24]))
    }
}

extension TransformerTests {
    @Test func trainBenchmarkReportsPositiveRates() {
        var config = tinyConfig(.gpt)
        config.vocab = 0  // the benchmark's default, 65
        let result = TrainBenchmark.run(config: config, steps: 1, warmup: 0)
        #expect(result.tokensPerSecond > 0 && result.stepMilliseconds > 0 && result.gflops > 0)
    }
}
