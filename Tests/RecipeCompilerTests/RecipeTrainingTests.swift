import Foundation
import TensorRuntime
import Testing
import Training

@testable import RecipeCompiler

/// One table drives every shipped recipe through check, lowering and a short training run
/// of a small model on the built-in data: the loss must come down.
@Suite struct RecipeTrainingTests {
    static let recipes = [
        "sgd.opt", "adamw.opt", "lion.opt", "muon.opt", "normuon.opt", "adago.opt", "nalr.opt", "dmuon.opt",
        "ablations/nalr-momentum.opt", "ablations/nalr-mean.opt", "ablations/nalr-none.opt",
        "ablations/nalr-dmuon.opt", "examples/signsgd.opt", "examples/lamb.opt", "examples/adabelief.opt",
        "examples/adan.opt", "torch/adam.opt", "torch/adamax.opt", "torch/nadam.opt", "torch/radam.opt",
        "torch/adagrad.opt", "torch/rmsprop.opt", "torch/adadelta.opt",
    ]

    /// Learning rates large enough to move a small model in a few dozen steps.
    static let overrides: [String: [String: Double]] = [
        "sgd.opt": ["lr": 0.5, "mu": 0.9], "lion.opt": ["lr": 3e-3], "adamw.opt": ["lr": 1e-2],
        "examples/adabelief.opt": ["lr": 1e-2], "examples/lamb.opt": ["lr": 1e-2], "examples/adan.opt": ["lr": 1e-2],
        "examples/signsgd.opt": ["lr": 3e-3], "dmuon.opt": ["lr": 1e-2, "warmup": 0],
        "ablations/nalr-dmuon.opt": ["lr": 1e-2], "ablations/nalr-momentum.opt": ["lr": 0.05],
        "ablations/nalr-none.opt": ["lr": 0.02, "sign_lr": 0.02], "torch/adam.opt": ["lr": 1e-2],
        "torch/adamax.opt": ["lr": 1e-2], "torch/nadam.opt": ["lr": 1e-2], "torch/radam.opt": ["lr": 1e-2],
        "torch/adagrad.opt": ["lr": 5e-2], "torch/rmsprop.opt": ["lr": 1e-3],
    ]

    @Test(arguments: recipes)
    func trainingWithTheRecipeLowersTheLoss(_ name: String) throws {
        var config = try ModelConfig.parse("tiny,d=32,layers=2,heads=2,context=16,batch=8")
        let data = SyntheticHMM()
        config.vocab = data.vocabularySize
        let model = Transformer(config: config, seed: 3)
        let optimizer = try Fixture.compile(name, overrides: Self.overrides[name] ?? [:])
        let steps = 40
        try optimizer.prepare(model.parameterMetas, totalSteps: steps)
        var rng = SeededRandom(seed: 5)
        var inputs = [Int32](repeating: 0, count: config.batch * config.context)
        var targets = inputs
        var losses: [Float] = []
        for t in 1...steps {
            data.trainBatch(batch: config.batch, context: config.context, inputs: &inputs, targets: &targets) {
                rng.nextInt(below: $0)
            }
            losses.append(model.trainStep(inputs: inputs, targets: targets))
            try optimizer.step(parameters: &model.parameters, gradients: model.gradients, step: t)
        }
        let first = losses.prefix(5).reduce(0, +) / 5
        let last = losses.suffix(5).reduce(0, +) / 5
        #expect(last.isFinite && last < first - 0.1, "\(name): loss \(first) → \(last)")
    }
}
