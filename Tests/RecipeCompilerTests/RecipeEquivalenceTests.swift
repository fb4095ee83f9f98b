import Foundation
import RecipeLanguage
import TensorRuntime
import Testing
import Training

@testable import RecipeCompiler

/// A small model's worth of parameters: every role, square, tall and wide matrices, a vector.
enum Fixture {
    static let metas: [ParameterMeta] = [
        ParameterMeta(name: "embed.tokens", role: .embedding, layer: nil, shape: [11, 8]),
        ParameterMeta(name: "blocks.0.ln1.weight", role: .norm, layer: 0, shape: [8]),
        ParameterMeta(name: "blocks.0.attn.wq", role: .attention, layer: 0, shape: [8, 8]),
        ParameterMeta(name: "blocks.0.mlp.fc", role: .mlp, layer: 0, shape: [12, 8]),
        ParameterMeta(name: "blocks.0.mlp.proj", role: .mlp, layer: 0, shape: [8, 12]),
        ParameterMeta(name: "blocks.1.attn.wo", role: .attention, layer: 1, shape: [8, 8]),
        ParameterMeta(name: "head", role: .head, layer: nil, shape: [11, 8]),
    ]

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Recipes").standardized.path

    static func compile(_ name: String, overrides: [String: Double] = [:]) throws -> CompiledOptimizer {
        let output = Checker.check(Checker.readFile(folder + "/" + name)!)
        let recipe = try #require(output.recipe, "\(name) does not check")
        return try CompiledOptimizer(recipe: recipe, overrides: overrides)
    }

    /// Deterministic pseudo-random values in (−1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in rng.nextUniform() * 2 - 1 }
    }

    static func initialParameters() -> [Tensor] {
        metas.enumerated().map { i, m in
            try! Tensor(
                shape: Shape(m.shape), scalars: values(m.shape.reduce(1, *), seed: UInt64(100 + i)).map { $0 * 0.5 })
        }
    }

    static func gradients(step: Int) -> [Tensor] {
        metas.enumerated().map { i, m in
            try! Tensor(shape: Shape(m.shape), scalars: values(m.shape.reduce(1, *), seed: UInt64(1000 * step + i)))
        }
    }

    /// Runs the compiled optimizer and a reference side by side and compares every
    /// parameter after every step: elementwise |a − b| ≤ 1e-5·max(1, |b|), and the
    /// displacement from the start within 1e-5 relative (so errors in small updates show).
    static func compare(
        _ optimizer: CompiledOptimizer, steps: Int = 4,
        reference: (
            _ t: Int, _ params: inout [Reference.Param], _ grads: [[Double]],
            _ state: inout [String: [String: [Double]]]
        ) -> Void
    ) throws {
        try optimizer.prepare(metas, totalSteps: steps)
        var compiled = initialParameters()
        var ref = zip(metas, compiled).map { m, t in
            Reference.Param(name: m.name, role: m.role.rawValue, shape: m.shape, x: t.scalars.map(Double.init))
        }
        var state: [String: [String: [Double]]] = [:]
        let start = ref.map(\.x)
        for t in 1...steps {
            let g = gradients(step: t)
            try optimizer.step(parameters: &compiled, gradients: g, step: t)
            reference(t, &ref, g.map { $0.scalars.map(Double.init) }, &state)
            for ((c, r), x0) in zip(zip(compiled, ref), start) {
                let worst = zip(c.scalars, r.x).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
                #expect(worst <= 1e-5, "step \(t), \(r.name): relative error \(worst)")
                let moved = zip(r.x, x0).map { $0 - $1 }
                let error = zip(c.scalars, r.x).map { Double($0) - $1 }
                // Float32 parameters round each step by up to half an ulp: allow that on top.
                let rounding = Double(Float.ulpOfOne) * Double(t) * Reference.frobenius(r.x)
                let allowed = 1e-5 * Reference.frobenius(moved) + rounding
                #expect(
                    Reference.frobenius(error) <= allowed,
                    "step \(t), \(r.name): displacement error \(Reference.frobenius(error)) > \(allowed)")
            }
        }
    }
}

@Suite struct RecipeEquivalenceTests {
    // The references take literal values from their sources, never from the compiled recipe:
    // a default that drifted from its source fails as surely as a wrong formula.

    /// torch.optim.AdamW's defaults: betas (0.9, 0.999), eps 1e-8 (lr and weight_decay set).
    @Test func adamwMatchesPyTorchSemantics() throws {
        let opt = try Fixture.compile("adamw.opt", overrides: ["wd": 0.1, "lr": 0.01])
        try Fixture.compare(opt) { t, params, grads, state in
            for i in params.indices {
                Reference.adamw(
                    &params[i].x, grads[i], &state[params[i].name, default: [:]], t: t,
                    lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.1)
            }
        }
    }

    @Test(arguments: [0.0, 1.0])
    func sgdMatchesPyTorchWithAndWithoutNesterov(_ nesterov: Double) throws {
        let opt = try Fixture.compile("sgd.opt", overrides: ["mu": 0.9, "nesterov": nesterov, "wd": 0.01, "lr": 0.1])
        try Fixture.compare(opt) { _, params, grads, state in
            for i in params.indices {
                Reference.sgd(
                    &params[i].x, grads[i], &state[params[i].name, default: [:]], lr: 0.1, mu: 0.9,
                    nesterov: nesterov == 1, wd: 0.01)
            }
        }
    }

    /// lion-pytorch's defaults: betas (0.9, 0.99) (lr and weight_decay set).
    @Test func lionUpdatesMomentumAfterTheSignStep() throws {
        let opt = try Fixture.compile("lion.opt", overrides: ["wd": 0.1, "lr": 0.01])
        try Fixture.compare(opt) { _, params, grads, state in
            for i in params.indices {
                Reference.lion(
                    &params[i].x, grads[i], &state[params[i].name, default: [:]], lr: 0.01, beta1: 0.9,
                    beta2: 0.99, wd: 0.1)
            }
        }
    }

    /// Hidden matrices (attention, mlp) go to `hidden`; the rest to AdamW with Muon's settings.
    static func isHidden(_ p: Reference.Param) -> Bool { p.role == "attention" || p.role == "mlp" }

    /// muon.py's defaults: lr 0.02, momentum 0.95 (Nesterov); its auxiliary Adam: lr 3e-4,
    /// betas (0.9, 0.95), eps 1e-10, no decay (weight_decay set).
    @Test func muonMatchesTheReference() throws {
        let opt = try Fixture.compile("muon.opt", overrides: ["wd": 0.01])
        try Fixture.compare(opt) { t, params, grads, state in
            for i in params.indices {
                if Self.isHidden(params[i]) {
                    Reference.muon(
                        &params[i], grads[i], &state[params[i].name, default: [:]], lr: 0.02, beta: 0.95, wd: 0.01)
                } else {
                    Reference.adamw(
                        &params[i].x, grads[i], &state[params[i].name, default: [:]], t: t,
                        lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0)
                }
            }
        }
    }

    /// normuon.py's defaults: lr 0.02, momentum 0.95, beta2 0.95; auxiliary Adam as Muon's.
    @Test func normuonMatchesTheReference() throws {
        let opt = try Fixture.compile("normuon.opt", overrides: ["wd": 0.01])
        try Fixture.compare(opt) { t, params, grads, state in
            for i in params.indices {
                if Self.isHidden(params[i]) {
                    Reference.normuon(
                        &params[i], grads[i], &state[params[i].name, default: [:]], lr: 0.02, beta: 0.95,
                        beta2: 0.95, wd: 0.01)
                } else {
                    Reference.adamw(
                        &params[i].x, grads[i], &state[params[i].name, default: [:]], t: t,
                        lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0)
                }
            }
        }
    }

    /// optax's AdaGO defaults: momentum 0.95, min_step_size 1e-6 (the recipe's lr 0.02; gamma
    /// set); auxiliary Adam as Muon's.
    @Test func adagoMatchesTheReference() throws {
        let opt = try Fixture.compile("adago.opt", overrides: ["gamma": 2])
        try Fixture.compare(opt) { t, params, grads, state in
            for i in params.indices {
                if Self.isHidden(params[i]) {
                    Reference.adago(
                        &params[i], grads[i], &state[params[i].name, default: [:]], lr: 0.02, beta: 0.95, gamma: 2,
                        eps: 1e-6)
                } else {
                    Reference.adamw(
                        &params[i].x, grads[i], &state[params[i].name, default: [:]], t: t,
                        lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0)
                }
            }
        }
    }

    /// NALR's practical option (ALGORITHMS.md): the noise is the dual norm of G − G_prev,
    /// H is left alone at t = 1, and the rates are normalised by the group max.
    /// ALGORITHMS.md's values: lr 0.02 and β1 0.95 (Muon's), sign_lr 3e-4, auxiliary Adam as
    /// Muon's (β2 and ε set).
    @Test func nalrMatchesTheReference() throws {
        let opt = try Fixture.compile("nalr.opt", overrides: ["beta2": 0.8, "eps": 1e-6])
        let literal = ["beta1": 0.95, "beta2": 0.8, "eps": 1e-6, "lr": 0.02, "sign_lr": 3e-4, "adam_lr": 3e-4]
        let h = { literal[$0]! }
        try Fixture.compare(opt, steps: 5) { t, params, grads, state in
            func group(_ members: [Int], lr: Double, hidden: Bool) {
                var alphas: [Double] = []
                for i in members {
                    let p = params[i]
                    var s = state[p.name, default: [:]]
                    var hh = s["H"]?[0] ?? 0
                    if let previous = s["G_prev"] {
                        let diff = zip(grads[i], previous).map { $0 - $1 }
                        let noise =
                            hidden
                            ? Reference.singularValues(diff, p.rows, p.cols).reduce(0, +)
                                * (Double(p.rows) / Double(p.cols)).squareRoot()
                            : diff.reduce(0) { $0 + abs($1) }
                        hh = h("beta2") * hh + (1 - h("beta2")) * noise * noise
                    }
                    var b = s["B"] ?? [Double](repeating: 0, count: p.x.count)
                    for k in b.indices { b[k] = h("beta1") * b[k] + (1 - h("beta1")) * grads[i][k] }
                    s["B"] = b
                    s["H"] = [hh]
                    s["G_prev"] = grads[i]
                    state[p.name] = s
                    alphas.append(1 / (hh + h("eps")).squareRoot())
                }
                let top = alphas.max() ?? 1
                for (k, i) in members.enumerated() {
                    let eta = lr * alphas[k] / top
                    let b = state[params[i].name]!["B"]!
                    let p = params[i]
                    if hidden {
                        let o = Reference.newtonSchulz(b, p.rows, p.cols)
                        let scale = (Double(p.rows) / Double(p.cols)).squareRoot()
                        for k in params[i].x.indices { params[i].x[k] -= eta * scale * o[k] }
                    } else {
                        for k in params[i].x.indices { params[i].x[k] -= eta * Reference.sign(b[k]) }
                    }
                }
            }
            let hidden = params.indices.filter { Self.isHidden(params[$0]) }
            let ends = params.indices.filter { ["embedding", "position", "head"].contains(params[$0].role) }
            group(hidden, lr: h("lr"), hidden: true)
            group(ends, lr: h("sign_lr"), hidden: false)
            for i in params.indices where !hidden.contains(i) && !ends.contains(i) {
                Reference.adamw(
                    &params[i].x, grads[i], &state[params[i].name, default: [:]], t: t,
                    lr: h("adam_lr"), beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0)
            }
        }
    }

    /// The warm-up and cosine schedule every experiment recipe shares, on AdamW.
    @Test func adamwFollowsItsWarmupAndCosineSchedule() throws {
        let steps = 6
        let opt = try Fixture.compile("adamw.opt", overrides: ["lr": 0.01, "warmup": 3, "decay_to": 0.1])
        try Fixture.compare(opt, steps: steps) { t, params, grads, state in
            let warm = min(1, Double(t) / 3)
            let cosine = 0.1 + 0.9 * 0.5 * (1 + cos(Double.pi * Double(t) / Double(steps)))
            for i in params.indices {
                Reference.adamw(
                    &params[i].x, grads[i], &state[params[i].name, default: [:]], t: t,
                    lr: 0.01 * warm * cosine, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.01)
            }
        }
    }
}
