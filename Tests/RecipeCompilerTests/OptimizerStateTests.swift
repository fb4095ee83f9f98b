import Foundation
import RecipeLanguage
import TensorRuntime
import Testing
import Training

@testable import RecipeCompiler

@Suite struct OptimizerStateTests {
    static let recipes = ["sgd.opt", "adamw.opt", "lion.opt", "muon.opt", "normuon.opt", "adago.opt", "nalr.opt"]

    @Test(arguments: recipes)
    func restoringSavedStateContinuesBitIdentically(_ name: String) throws {
        var straight = Fixture.initialParameters()
        let a = try Fixture.compile(name)
        try a.prepare(Fixture.metas, totalSteps: 6)
        for t in 1...6 { try a.step(parameters: &straight, gradients: Fixture.gradients(step: t), step: t) }

        var resumed = Fixture.initialParameters()
        let b = try Fixture.compile(name)
        try b.prepare(Fixture.metas, totalSteps: 6)
        for t in 1...3 { try b.step(parameters: &resumed, gradients: Fixture.gradients(step: t), step: t) }
        let saved = b.stateTensors()
        let c = try Fixture.compile(name)
        try c.prepare(Fixture.metas, totalSteps: 6)
        try c.loadState(saved)
        for t in 4...6 { try c.step(parameters: &resumed, gradients: Fixture.gradients(step: t), step: t) }
        #expect(straight == resumed)
    }

    @Test func stateIsKeyedByParameterAndSlotName() throws {
        let opt = try Fixture.compile("adamw.opt")
        try opt.prepare(Fixture.metas, totalSteps: 1)
        let keys = opt.stateTensors().keys.sorted()
        #expect(keys.count == 2 * Fixture.metas.count)
        #expect(keys.contains("blocks.0.attn.wq/m") && keys.contains("head/v"))
        let bytes = opt.stateTensors().values.reduce(0) { $0 + 4 * $1.count }
        #expect(bytes == opt.stateBytes.reduce(0) { $0 + $1.bytes })
    }

    @Test func missingStateIsAnError() throws {
        let opt = try Fixture.compile("adamw.opt")
        try opt.prepare(Fixture.metas, totalSteps: 1)
        #expect(throws: CompileError("optimizer state 'embed.tokens/m' is missing from the checkpoint")) {
            try opt.loadState([:])
        }
    }

    @Test func parametersWithoutAGroupAreListed() throws {
        // A recipe with only a matrix group leaves the vectors over.
        let checked = RecipeLanguageFixture.check("optimizer m\ngroup h: matrix {\n    X -= 0.1 * G\n}\n")
        let only = try CompiledOptimizer(recipe: checked)
        let vectors = Fixture.metas.filter { $0.shape.count < 2 }
        #expect(vectors.map(\.name) == ["blocks.0.ln1.weight"])
        #expect(
            throws: CompileError(
                """
                recipe 'm' leaves 1 parameter without a group:
                  blocks.0.ln1.weight (role norm, shape [8])
                add a last group 'group rest: all { … }' or widen a selector
                """)
        ) { try only.prepare(Fixture.metas, totalSteps: 1) }
    }
}

enum RecipeLanguageFixture {
    static func check(_ text: String) -> CheckedRecipe {
        Checker.check(SourceFile(path: "inline.opt", text: text)).recipe!
    }
}

@Suite struct ScheduleTests {
    /// Runs `X -= factor · G` with G = 1 for `T` steps and returns the factor of each step.
    static func factors(_ expression: String, total: Int) throws -> [Double] {
        let recipe = RecipeLanguageFixture.check("optimizer s\ngroup all: all {\n    X -= \(expression)\n}\n")
        let opt = try CompiledOptimizer(recipe: recipe)
        let metas = [ParameterMeta(name: "w", role: .mlp, layer: 0, shape: [1])]
        try opt.prepare(metas, totalSteps: total)
        var x = [Tensor([0])]
        var out: [Double] = []
        for t in 1...total {
            let before = Double(x[0].scalars[0])
            try opt.step(parameters: &x, gradients: [Tensor([1])], step: t)
            out.append(before - Double(x[0].scalars[0]))
        }
        return out
    }

    static func close(_ a: [Double], _ b: [Double]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 }
    }

    @Test func linearWarmupRisesToOne() throws {
        #expect(Self.close(try Self.factors("linear_warmup(4) * G", total: 6), [0.25, 0.5, 0.75, 1, 1, 1]))
    }

    @Test func cosineDecayFallsToItsFloor() throws {
        let expected = (1...4).map { t in 0.1 + 0.9 * 0.5 * (1 + cos(Double.pi * Double(t) / 4)) }
        #expect(Self.close(try Self.factors("cosine_decay(final: 0.1) * G", total: 4), expected))
    }

    @Test func warmupStableDecay() throws {
        #expect(Self.close(try Self.factors("wsd(2, 2) * G", total: 6), [0.5, 1, 1, 1, 0.5, 0]))
    }

    @Test func conditionalsAndComparisonsSelectPerStep() throws {
        #expect(Self.close(try Self.factors("(if t <= 2 then 1 else 0.5) * G", total: 4), [1, 1, 0.5, 0.5]))
        #expect(Self.close(try Self.factors("(if t > 1 and t < 4 then 2 else 0) * G", total: 4), [0, 2, 2, 0]))
    }
}
