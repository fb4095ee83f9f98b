import Dispatch
import TensorRuntime

/// Throughput of the built-in transformer's training step (forward + backward, no optimizer).
public enum TrainBenchmark {
    /// Times `steps` training steps on random tokens after `warmup` untimed ones.
    ///
    /// Flops per token are counted as 6·parameters + 12·layers·context·d (the usual
    /// estimate for forward plus backward, attention included).
    /// - Parameters:
    ///   - config: the model; a vocabulary of 0 means 65 (a character-level corpus).
    ///   - steps: timed steps (at least 1).
    ///   - warmup: untimed steps first.
    /// - Returns: tokens per second, milliseconds per step and achieved GFLOP/s, over the
    ///   timed steps.
    public static func run(config: ModelConfig, steps: Int, warmup: Int) -> (
        tokensPerSecond: Double, stepMilliseconds: Double, gflops: Double
    ) {
        var config = config
        if config.vocab <= 0 { config.vocab = 65 }
        let model = Transformer(config: config, seed: 1)
        var rng = SeededRandom(seed: 2)
        let count = config.tokensPerStep
        let inputs = (0..<count).map { _ in Int32(rng.nextInt(below: config.vocab)) }
        let targets = (0..<count).map { _ in Int32(rng.nextInt(below: config.vocab)) }
        for _ in 0..<warmup { _ = model.trainStep(inputs: inputs, targets: targets) }
        let steps = max(1, steps)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps { _ = model.trainStep(inputs: inputs, targets: targets) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let parameters = model.parameters.reduce(0) { $0 + $1.count }
        let flopsPerToken = Double(6 * parameters + 12 * config.layers * config.context * config.d)
        let tokensPerSecond = Double(steps * count) / seconds
        return (tokensPerSecond, seconds * 1000 / Double(steps), tokensPerSecond * flopsPerToken / 1e9)
    }
}
