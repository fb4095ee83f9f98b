import Foundation
import RecipeLanguage
import TensorRuntime
import Testing
import Training

@testable import RecipeCompiler

/// Fused passes compiled to machine code compute exactly what the interpreter computes: every
/// shipped recipe, and generated recipes of every kind of pass, step for step, bit for bit.
@Suite(.serialized) struct NativeKernelTests {
    static let recipes = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Recipes").standardized

    /// Parameters of every role and shape kind: square, tall and wide matrices, vectors.
    static let metas = [
        ParameterMeta(name: "embed.tokens", role: .embedding, layer: nil, shape: [11, 8]),
        ParameterMeta(name: "blocks.0.ln1.weight", role: .norm, layer: 0, shape: [8]),
        ParameterMeta(name: "blocks.0.attn.wq", role: .attention, layer: 0, shape: [8, 8]),
        ParameterMeta(name: "blocks.0.mlp.fc", role: .mlp, layer: 0, shape: [37, 8]),
        ParameterMeta(name: "blocks.0.mlp.proj", role: .mlp, layer: 0, shape: [8, 37]),
        ParameterMeta(name: "head", role: .head, layer: nil, shape: [11, 8]),
        // Large enough that a pass splits its elements over the threads.
        ParameterMeta(name: "blocks.1.mlp.fc", role: .mlp, layer: 1, shape: [512, 161]),
    ]

    static func values(_ seed: UInt64, scale: Float) -> [Tensor] {
        var rng = SeededRandom(seed: seed)
        return metas.map { Tensor.randomNormal(Shape($0.shape), std: scale, using: &rng) }
    }

    /// Four steps of each recipe from the same start, with the passes interpreted and
    /// compiled (all recipes into one library); the parameters and state that differ.
    static func compare(_ recipes: [(name: String, recipe: CheckedRecipe)]) throws -> [String] {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("optlang-native-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        var pairs: [(String, CompiledOptimizer, CompiledOptimizer)] = []
        for (name, recipe) in recipes {
            let interpreted = try CompiledOptimizer(recipe: recipe)
            let compiled = try CompiledOptimizer(recipe: recipe)
            try interpreted.prepare(metas, totalSteps: 6)
            try compiled.prepare(metas, totalSteps: 6)
            pairs.append((name, interpreted, compiled))
        }
        var warnings: [String] = []
        let count = CompiledOptimizer.compileNative(pairs.map(\.2), cache: cache) { warnings.append($0) }
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(count > 0)
        var differences: [String] = []
        for (name, interpreted, compiled) in pairs {
            var a = values(1, scale: 0.5)
            var b = a
            for t in 1...4 {
                let g = values(UInt64(100 + t), scale: 1)
                try interpreted.step(parameters: &a, gradients: g, step: t)
                try compiled.step(parameters: &b, gradients: g, step: t)
            }
            for (meta, (x, y)) in zip(metas, zip(a, b)) where x.scalars.map(\.bitPattern) != y.scalars.map(\.bitPattern)
            {
                differences.append("\(name): \(meta.name) differs")
            }
            let stateA = interpreted.stateTensors()
            let stateB = compiled.stateTensors()
            for (key, x) in stateA where x.scalars.map(\.bitPattern) != stateB[key]?.scalars.map(\.bitPattern) {
                differences.append("\(name): state \(key) differs")
            }
        }
        return differences
    }

    @Test func everyShippedRecipeStepsBitForBitAsInterpreted() throws {
        var recipes: [(String, CheckedRecipe)] = []
        let enumerator = FileManager.default.enumerator(atPath: Self.recipes.path)
        while let path = enumerator?.nextObject() as? String {
            guard path.hasSuffix(".opt") else { continue }
            let file = Self.recipes.appendingPathComponent(path).path
            let source = try #require(
                FileManager.default.contents(atPath: file).map { SourceFile(path: file, bytes: Array($0)) })
            recipes.append((path, try #require(Checker.check(source).recipe, "\(path)")))
        }
        #expect(recipes.count >= 15)
        let differences = try Self.compare(recipes)
        #expect(differences.isEmpty, "\(differences)")
    }
}
