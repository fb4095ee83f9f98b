import RecipeLanguage
import TensorRuntime
import Testing
import Training

@testable import RecipeCompiler

/// Compiled steps that the differential fuzzer found wrong or trapping: a value read twice
/// by one instruction, a tensor state written with a lower-level value, a conditional that
/// folds to a lower-level branch. Each is checked against the same step in Double.
@Suite struct FoldingAndRegisterTests {
    /// One step of the group `body` on a 3×4 matrix with X = 1/2 and G from −5/4 to 3/2;
    /// returns (X after the step, G).
    static func step(_ body: String) throws -> (x: [Double], g: [Double]) {
        let text = """
            optimizer probe "one step"

            hyper lr = 0.5
            hyper h  = 0.5

            group w: all {
            \(body)
            }
            """
        let output = Checker.check(SourceFile(path: "probe.opt", text: text))
        let recipe = try #require(output.recipe, "\(body) does not check")
        let optimizer = try CompiledOptimizer(recipe: recipe)
        try optimizer.prepare([ParameterMeta(name: "w", role: .mlp, layer: 0, shape: [3, 4])], totalSteps: 1)
        let g = (0..<12).map { Float($0 - 5) / 4 }
        var parameters = [try Tensor(shape: Shape([3, 4]), scalars: [Float](repeating: 0.5, count: 12))]
        try optimizer.step(parameters: &parameters, gradients: [try Tensor(shape: Shape([3, 4]), scalars: g)], step: 1)
        return (parameters[0].scalars.map(Double.init), g.map(Double.init))
    }

    static func expectClose(_ x: [Double], _ want: [Double], _ what: String) {
        for (i, (a, b)) in zip(x, want).enumerated() {
            #expect(abs(a - b) <= 1e-6 * max(1, abs(b)), "\(what) [\(i)]: \(a), want \(b)")
        }
    }

    @Test func aValueReadTwiceByOneInstructionKeepsItsRegister() throws {
        // `b + b` freed b's register twice, so two later values shared one register.
        let (x, g) = try Self.step("    b = G + 0.5\n    X *= 1 - lr * lerp(b + b, G, 0.3)")
        Self.expectClose(
            x, g.map { 0.5 * (1 - 0.5 * ((2 * ($0 + 0.5)) + 0.3 * ($0 - 2 * ($0 + 0.5)))) }, "lerp(b + b, G)")
    }

    @Test func aTensorStateWrittenWithALayerValueHoldsATensor() throws {
        // norm(s) of a tensor state set to norm(G) is |norm(G)|·√numel, not norm(G).
        let (x, g) = try Self.step("    state s = zeros\n    s = norm(G)\n    X -= lr * norm(s) / 100")
        let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
        Self.expectClose(x, [Double](repeating: 0.5 - 0.5 * norm * 12.0.squareRoot() / 100, count: 12), "norm(s)")
    }

    @Test func aConditionalThatFoldsToAScalarStillReducesAsATensor() throws {
        // With h = 0.5 the condition is false at compile time: the value is the tensor of 1s.
        let (x, _) = try Self.step("    v = if h > 0.5 then G else 1\n    X -= lr * sum(v, col) / 100")
        Self.expectClose(x, [Double](repeating: 0.5 - 0.5 * 3 / 100, count: 12), "sum(v, col)")
    }
}
