import Foundation
import Testing

@testable import OptlangCLI

/// The recipes under `Recipes/torch/` against torch.optim itself (`References/torch_optim.py`,
/// float64, `foreach=False`): with every hyperparameter at its default on both sides, which
/// proves that the recipes' defaults are torch's, and with settings that reach each variant
/// (weight decay, centring, momentum, decays). 10 steps, so that RAdam's rectified branch
/// (from the sixth step at torch's β2) runs as well as its first steps.
@Suite(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)))
struct TorchOptimReplayTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("References/torch_optim.py").path

    static let names = ["adam", "adamax", "nadam", "radam", "adagrad", "rmsprop", "adadelta"]

    @Test(arguments: names)
    func recipeWithItsDefaultsStepsAsTorchOptimWithItsDefaults(_ name: String) throws {
        try ReferenceReplayTests.compare("torch/" + name, reference: name, hyper: [:], steps: 10, script: Self.script)
    }

    static let settings: [(String, [String: Double])] = [
        ("adam", ["lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "wd": 0.05]),
        ("adamax", ["lr": 0.01, "beta1": 0.85, "beta2": 0.95, "eps": 1e-5, "wd": 0.05]),
        ("nadam", ["lr": 0.01, "beta1": 0.85, "beta2": 0.99, "psi": 0.02, "wd": 0.05]),
        ("radam", ["lr": 0.01, "beta1": 0.85, "beta2": 0.9, "eps": 1e-6, "wd": 0.05]),
        ("adagrad", ["lr": 0.05, "lr_decay": 0.1, "a0": 0.1, "eps": 1e-8, "wd": 0.05]),
        ("rmsprop", ["lr": 0.005, "alpha": 0.9, "centered": 1, "mu": 0.9, "wd": 0.05]),
        ("rmsprop", ["lr": 0.005, "mu": 0.5]),
        ("rmsprop", ["centered": 1, "eps": 1e-4]),
        ("adadelta", ["lr": 0.5, "rho": 0.8, "eps": 1e-5, "wd": 0.05]),
    ]

    @Test(arguments: settings)
    func recipeWithSettingsStepsAsTorchOptimWithTheSame(_ name: String, _ hyper: [String: Double]) throws {
        try ReferenceReplayTests.compare("torch/" + name, reference: name, hyper: hyper, steps: 10, script: Self.script)
    }
}
