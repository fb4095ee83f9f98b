import Foundation
import RecipeCompiler
import RecipeLanguage
import TensorRuntime
import Training

/// `optlang bench step RECIPE`: the compiled optimizer step against a hand-written twin.
struct StepBench {
    let recipe: String
    let model: String
    let json: Bool
    let budget: Double

    func run(console: Console) throws -> Int32 {
        guard let checked = try RecipeLoading.checkedRecipe(recipe, console: console) else { return 1 }
        var config = try RecipeLoading.modelConfig(model)
        config.vocab = 65
        let metas = ModelParameters.metas(config)
        var rng = SeededRandom(seed: 7)
        var parameters = metas.map { Tensor.randomNormal(Shape($0.shape), std: 0.02, using: &rng) }
        let gradients = metas.map { Tensor.randomNormal(Shape($0.shape), std: 0.01, using: &rng) }

        let optimizer = try RecipeLoading.compile(checked, overrides: [:])
        try optimizer.prepare(metas, totalSteps: 1_000_000)
        var t = 0
        let compiled = Stopwatch.best(budget: budget) {
            t += 1
            try? optimizer.step(parameters: &parameters, gradients: gradients, step: t)
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
            console.print(JSON.object(fields).compact)
        } else {
            var line = String(
                format: "%@ on %@ (%d tensors): compiled step %.3f ms", checked.name, model, metas.count, compiled * 1e3
            )
            if let hand { line += String(format: ", hand-written %.3f ms, ratio %.3f", hand * 1e3, compiled / hand) }
            console.print(line)
        }
        return 0
    }
}

/// The built-in model's parameter list for a configuration, without building the model.
enum ModelParameters {
    static func metas(_ c: ModelConfig) -> [ParameterMeta] {
        var m: [ParameterMeta] = [
            ParameterMeta(name: "embed.tokens", role: .embedding, layer: nil, shape: [c.vocab, c.d])
        ]
        if c.architecture == .gpt {
            m.append(ParameterMeta(name: "embed.positions", role: .position, layer: nil, shape: [c.context, c.d]))
        }
        for l in 0..<c.layers {
            let p = "blocks.\(l)."
            m.append(ParameterMeta(name: p + "ln1.weight", role: .norm, layer: l, shape: [c.d]))
            for w in ["wq", "wk", "wv", "wo"] {
                m.append(ParameterMeta(name: p + "attn." + w, role: .attention, layer: l, shape: [c.d, c.d]))
            }
            m.append(ParameterMeta(name: p + "ln2.weight", role: .norm, layer: l, shape: [c.d]))
            if c.architecture == .gpt {
                m.append(ParameterMeta(name: p + "mlp.fc", role: .mlp, layer: l, shape: [c.hidden, c.d]))
                m.append(ParameterMeta(name: p + "mlp.proj", role: .mlp, layer: l, shape: [c.d, c.hidden]))
            } else {
                m.append(ParameterMeta(name: p + "mlp.gate", role: .mlp, layer: l, shape: [c.hidden, c.d]))
                m.append(ParameterMeta(name: p + "mlp.up", role: .mlp, layer: l, shape: [c.hidden, c.d]))
                m.append(ParameterMeta(name: p + "mlp.down", role: .mlp, layer: l, shape: [c.d, c.hidden]))
            }
        }
        m.append(ParameterMeta(name: "final_norm.weight", role: .norm, layer: nil, shape: [c.d]))
        m.append(ParameterMeta(name: "head", role: .head, layer: nil, shape: [c.vocab, c.d]))
        return m
    }
}
