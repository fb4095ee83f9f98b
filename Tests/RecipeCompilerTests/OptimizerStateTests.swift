import Foundation
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
        #expect(throws: CompileError.self) { try only.prepare(Fixture.metas, totalSteps: 1) }
    }
}

import RecipeLanguage

enum RecipeLanguageFixture {
    static func check(_ text: String) -> CheckedRecipe {
        Checker.check(SourceFile(path: "inline.opt", text: text)).recipe!
    }
}
