import RecipeLanguage
import TensorRuntime
import Testing
import Training

@testable import RecipeCompiler

/// Elementwise expressions that mix a scaled tensor with a scalar compile and compute what
/// they say (a product of a tensor and a scalar added to a scalar, and a scalar over a root
/// denominator, once made the compiler trap).
@Suite struct ScalarOperandTests {
    /// One step of `X -= <update>` on a 3×4 matrix, against the same update in Double.
    static func check(_ update: String, _ expected: (Double) -> Double) throws {
        let text = """
            optimizer probe "one elementwise update"

            hyper lr  = 0.5
            hyper eps = 0.25

            group w: all {
                X -= \(update)
            }
            """
        let output = Checker.check(SourceFile(path: "probe.opt", text: text))
        let recipe = try #require(output.recipe, "\(update) does not check")
        let optimizer = try CompiledOptimizer(recipe: recipe)
        try optimizer.prepare([ParameterMeta(name: "w", role: .mlp, layer: 0, shape: [3, 4])], totalSteps: 1)
        let g = (0..<12).map { Float($0 - 5) / 4 }
        var parameters = [Tensor.zeros(Shape([3, 4]))]
        try optimizer.step(parameters: &parameters, gradients: [try Tensor(shape: Shape([3, 4]), scalars: g)], step: 1)
        for (x, gi) in zip(parameters[0].scalars, g) {
            let want = -expected(Double(gi))
            #expect(abs(Double(x) - want) <= 1e-6 * max(1, abs(want)), "\(update) at G = \(gi): \(x), want \(want)")
        }
    }

    @Test func scaledTensorPlusScalar() throws {
        try Self.check("lr * G / (abs(G) * 2 + eps)") { g in 0.5 * g / (abs(g) * 2 + 0.25) }
    }

    @Test func scalarMinusScaledTensorAndScaledTensorMinusScalar() throws {
        try Self.check("eps - G * lr") { g in 0.25 - g * 0.5 }
        try Self.check("G / 2 - eps") { g in g / 2 - 0.25 }
        try Self.check("lr + G * eps") { g in 0.5 + g * 0.25 }
    }

    @Test func adamDenominatorAsAUserTranscribesIt() throws {
        // PyTorch's form: sqrt(v) / sqrt(1 − β2ᵗ) + eps, with v = G² at t = 1.
        try Self.check("lr * G / (sqrt(G * G) / sqrt(1 - 0.999 ^ t) + eps)") { g in
            0.5 * g / ((g * g).squareRoot() / (1 - 0.999).squareRoot() + 0.25)
        }
    }

    @Test func scalarOverRootDenominator() throws {
        // A scalar numerator of the fused `x / (sqrt(y) + e)` pattern had no register slot.
        try Self.check("lr / (sqrt(abs(G)) + eps)") { g in 0.5 / (abs(g).squareRoot() + 0.25) }
        try Self.check("lr / (sqrt(G * G * eps) + eps)") { g in 0.5 / ((g * g * 0.25).squareRoot() + 0.25) }
    }
}
