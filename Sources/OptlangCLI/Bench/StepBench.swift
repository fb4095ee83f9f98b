import Foundation
import RecipeCompiler
import RecipeLanguage
import TensorRuntime
import Training

/// `optlang bench step RECIPE`: the compiled optimizer step against a hand-written twin, and
/// with `--against BASELINE` against another recipe's step, the two measured alternately.
struct StepBench {
    let recipe: String
    let baseline: String?
    let model: String
    let json: Bool
    let budget: Double

    func run(console: Console) throws -> Int32 {
        guard let checked = try RecipeLoading.checkedRecipe(recipe, console: console) else { return 1 }
        var checkedBaseline: CheckedRecipe?
        if let baseline {
            guard let b = try RecipeLoading.checkedRecipe(baseline, console: console) else { return 1 }
            checkedBaseline = b
        }
        var config = try RecipeLoading.modelConfig(model)
        config.vocab = 65
        let metas = Transformer.metas(config)
        var rng = SeededRandom(seed: 7)
        var parameters = metas.map { Tensor.randomNormal(Shape($0.shape), std: 0.02, using: &rng) }
        let gradients = metas.map { Tensor.randomNormal(Shape($0.shape), std: 0.01, using: &rng) }

        let optimizer = try RecipeLoading.compile(checked, overrides: [:])
        try optimizer.prepare(metas, totalSteps: 1_000_000)
        var t = 0
        let compiled: Double
        var against: Double?
        if let checkedBaseline {
            let other = try RecipeLoading.compile(checkedBaseline, overrides: [:])
            try other.prepare(metas, totalSteps: 1_000_000)
            var otherParameters = parameters
            var u = 0
            let pair = try Stopwatch.bestAlternating(budget: 2 * budget) {
                t += 1
                try optimizer.step(parameters: &parameters, gradients: gradients, step: t)
            } _: {
                u += 1
                try other.step(parameters: &otherParameters, gradients: gradients, step: u)
            }
            (compiled, against) = (pair.a, pair.b)
        } else {
            compiled = try Stopwatch.best(budget: budget) {
                t += 1
                try optimizer.step(parameters: &parameters, gradients: gradients, step: t)
            }
        }
        var hand: Double?
        var twin: (any HandWrittenStep)?
        switch checked.name {
        case "adamw": twin = HandAdamW(metas: metas, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.01)
        case "muon": twin = HandMuon(metas: metas)
        default: twin = nil
        }
        if var twin {
            var u = 0
            hand = Stopwatch.best(budget: budget) {
                u += 1
                twin.step(parameters: &parameters, gradients: gradients, t: u)
            }
        }
        if json {
            var fields: [(String, JSON)] = [
                ("recipe", .string(checked.name)), ("model", .string(model)),
                ("compiled_ms", .value((compiled * 1e6).rounded() / 1e3)),
            ]
            if let hand {
                fields.append(("hand_ms", .value((hand * 1e6).rounded() / 1e3)))
                fields.append(("ratio", .value((compiled / hand * 1000).rounded() / 1000)))
            }
            if let against, let checkedBaseline {
                fields.append(("baseline", .string(checkedBaseline.name)))
                fields.append(("baseline_ms", .value((against * 1e6).rounded() / 1e3)))
                fields.append(("baseline_ratio", .value((compiled / against * 1000).rounded() / 1000)))
            }
            console.print(JSON.object(fields).compact)
        } else {
            var line = String(
                format: "%@ on %@ (%d tensors): compiled step %.3f ms", checked.name, model, metas.count, compiled * 1e3
            )
            if let hand { line += String(format: ", hand-written %.3f ms, ratio %.3f", hand * 1e3, compiled / hand) }
            if let against, let checkedBaseline {
                line += String(
                    format: ", %@ %.3f ms (alternating), ratio %.3f", checkedBaseline.name, against * 1e3,
                    compiled / against)
            }
            console.print(line)
        }
        return 0
    }
}
