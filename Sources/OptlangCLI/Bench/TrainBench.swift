import Foundation
import RecipeCompiler
import RecipeLanguage
import TensorRuntime
import Training

/// `optlang bench train`: whole training steps (forward, backward, optimizer) of the
/// built-in model, after a few warm-up steps.
struct TrainBench {
    let model: String
    let data: String?
    let recipe: String
    let json: Bool
    let budget: Double

    func run(console: Console) throws -> Int32 {
        guard let checked = try RecipeLoading.checkedRecipe(recipe, console: console) else { return 1 }
        var config = try RecipeLoading.modelConfig(model)
        let dataset: any Dataset
        do { dataset = try DataSpec.parse(data).makeDataset(context: config.context) } catch {
            throw UsageError(error.description)
        }
        config.vocab = dataset.vocabularySize
        let transformer = Transformer(config: config, seed: 1)
        let optimizer = try RecipeLoading.compile(checked, overrides: [:])
        try optimizer.prepare(transformer.parameterMetas, totalSteps: 1_000_000)
        let count = config.batch * config.context
        var inputs = [Int32](repeating: 0, count: count)
        var targets = inputs
        var rng = SeededRandom(seed: 1)
        var step = 0
        var optimizerSeconds = 0.0
        func trainingStep() throws {
            step += 1
            dataset.trainBatch(batch: config.batch, context: config.context, inputs: &inputs, targets: &targets) {
                rng.nextInt(below: $0)
            }
            _ = transformer.trainStep(inputs: inputs, targets: targets)
            let t0 = Stopwatch.now()
            try optimizer.step(parameters: &transformer.parameters, gradients: transformer.gradients, step: step)
            optimizerSeconds += Stopwatch.now() - t0
        }
        for _ in 0..<3 { try trainingStep() }
        optimizerSeconds = 0
        var steps = 0
        let start = Stopwatch.now()
        repeat {
            try trainingStep()
            steps += 1
        } while Stopwatch.now() - start < budget || steps < 3
        let seconds = (Stopwatch.now() - start) / Double(steps)
        let parameters = transformer.parameterMetas.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let flopsPerToken = Double(6 * parameters + 12 * config.layers * config.context * config.d)
        let tokensPerSecond = Double(count) / seconds
        let gflops = tokensPerSecond * flopsPerToken / 1e9
        let peak = PeakBench.measure(threads: Parallel.threadCount, budget: 0.3)
        let optimizerMs = optimizerSeconds / Double(steps) * 1e3
        if json {
            console.print(
                JSON.object([
                    ("model", .string(model)), ("recipe", .string(checked.name)), ("data", .string(dataset.summary)),
                    ("tokens_per_s", .value(tokensPerSecond.rounded())),
                    ("step_ms", .value((seconds * 1e6).rounded() / 1e3)),
                    ("optimizer_step_ms", .value((optimizerMs * 1e3).rounded() / 1e3)),
                    ("gflops", .value((gflops * 10).rounded() / 10)),
                    ("mfu", .value((gflops / peak * 1000).rounded() / 1000)),
                ]).compact)
        } else {
            console.print(
                String(
                    format:
                        "%@ with %@ on %@: %.0f tokens/s, %.1f ms per step (optimizer %.2f ms), %.1f GFLOP/s = %.0f%% of the %.0f GFLOP/s peak (%d steps)",
                    model, checked.name, dataset.summary, tokensPerSecond, seconds * 1e3, optimizerMs, gflops,
                    100 * gflops / peak,
                    peak, steps))
        }
        return 0
    }
}
