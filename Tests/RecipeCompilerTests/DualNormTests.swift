import Foundation
import RecipeLanguage
import TensorRuntime
import Testing
import Training

@testable import RecipeCompiler

/// `dualnorm(G, kind)` is the dual of a norm: the largest ⟨G, S⟩ over S of unit norm, reached
/// at the norm's linear minimisation oracle. Each kind is checked against its norm's own
/// definition — the LMO is built from an exact SVD and its norm measured from first principles
/// — so a wrong factor in either the dual norm or the LMO fails, whatever the orientation.
@Suite struct DualNormTests {
    /// The norms `dualnorm` knows, as (recipe kind, primal norm from its definition, LMO).
    enum Kind: String, CaseIterable {
        case rmsToRms = "rms_to_rms"
        case spectral
        case l1ToLinf = "l1_to_linf"
        case frobenius

        /// The primal norm of the `rows × cols` matrix `s` (rows = d_out, cols = d_in).
        func norm(_ s: [Double], rows: Int, cols: Int) -> Double {
            switch self {
            // sup_x rms(S·x) / rms(x) = sup_x (‖S·x‖/√rows) / (‖x‖/√cols)
            case .rmsToRms: return largestGain(s, rows, cols) * (Double(cols) / Double(rows)).squareRoot()
            case .spectral: return largestGain(s, rows, cols)
            // sup_x ‖S·x‖_∞ / ‖x‖_1 is reached at a unit vector: the largest |entry|.
            case .l1ToLinf: return s.map(abs).max() ?? 0
            case .frobenius: return s.reduce(0) { $0 + $1 * $1 }.squareRoot()
            }
        }

        /// argmax ⟨G, S⟩ over ‖S‖ ≤ 1.
        func lmo(_ g: Tensor) throws -> [Double] {
            let rows = g.shape[0]
            let cols = g.shape[1]
            switch self {
            case .rmsToRms:
                let scale = (Double(rows) / Double(cols)).squareRoot()
                return try g.polarFactor().scalars.map { scale * Double($0) }
            case .spectral: return try g.polarFactor().scalars.map(Double.init)
            case .l1ToLinf: return g.scalars.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }
            case .frobenius:
                let n = g.scalars.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
                return g.scalars.map { Double($0) / n }
            }
        }
    }

    /// sup_x ‖S·x‖ / ‖x‖ by power iteration on SᵀS (Double), independent of the runtime's kernels.
    static func largestGain(_ s: [Double], _ rows: Int, _ cols: Int) -> Double {
        var x = (0..<cols).map { 1 + 0.01 * Double($0 % 7) }
        var gain = 0.0
        for _ in 0..<2000 {
            let y = (0..<rows).map { i in (0..<cols).reduce(0.0) { $0 + s[i * cols + $1] * x[$1] } }
            let z = (0..<cols).map { j in (0..<rows).reduce(0.0) { $0 + s[$1 * cols + j] * y[$1] } }
            let n = z.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if n == 0 { return 0 }
            let next = (n / x.reduce(0) { $0 + $1 * $1 }.squareRoot()).squareRoot()
            x = z.map { $0 / n }
            if abs(next - gain) <= 1e-15 * next { return next }
            gain = next
        }
        return gain
    }

    /// The value `dualnorm(G, kind)` takes in a compiled recipe, for one `rows × cols` parameter.
    static func dualNorm(_ kind: Kind, of g: Tensor) throws -> Double {
        let text = """
            optimizer probe "logs a dual norm"

            group w: matrix {
                log dual = dualnorm(G, \(kind.rawValue))
                X -= 0 * G
            }
            """
        let output = Checker.check(SourceFile(path: "probe.opt", text: text))
        let optimizer = try CompiledOptimizer(recipe: try #require(output.recipe))
        let meta = ParameterMeta(name: "w", role: .mlp, layer: 0, shape: g.shape.dims)
        try optimizer.prepare([meta], totalSteps: 1)
        var parameters = [Tensor.zeros(g.shape)]
        try optimizer.step(parameters: &parameters, gradients: [g], step: 1)
        return try #require(optimizer.logs["dual"]?["w"])
    }

    static let shapes = [(5, 9), (9, 5), (12, 4), (4, 12), (7, 7)]

    @Test(arguments: Kind.allCases, shapes)
    func dualNormEqualsInnerProductWithTheLMO(_ kind: Kind, _ shape: (Int, Int)) throws {
        let (rows, cols) = shape
        var rng = SeededRandom(seed: UInt64(rows * 100 + cols))
        let g = Tensor.randomNormal([rows, cols], using: &rng)
        let lmo = try kind.lmo(g)
        // The LMO lies on the unit sphere of the norm, measured from its definition.
        #expect(abs(kind.norm(lmo, rows: rows, cols: cols) - 1) <= 1e-5, "\(kind) \(rows)×\(cols): ‖LMO‖ ≠ 1")
        let inner = zip(g.scalars, lmo).reduce(0.0) { $0 + Double($1.0) * $1.1 }
        let dual = try Self.dualNorm(kind, of: g)
        #expect(abs(dual - inner) <= 1e-5 * inner, "\(kind) \(rows)×\(cols): dualnorm \(dual), ⟨G, LMO⟩ \(inner)")
        // No other matrix of unit norm does better (the sup in the dual norm's definition).
        for _ in 0..<20 {
            let s = Tensor.randomNormal([rows, cols], using: &rng).scalars.map(Double.init)
            let unit = kind.norm(s, rows: rows, cols: cols)
            let value = zip(g.scalars, s).reduce(0.0) { $0 + Double($1.0) * $1.1 } / unit
            #expect(value <= dual * (1 + 1e-5), "\(kind) \(rows)×\(cols): ⟨G, S⟩ = \(value) > \(dual)")
        }
    }

    /// `U·diag(s)·Vᵀ` with U, V taken from orthonormal DCT-II bases (no random generator).
    static func matrix(singularValues s: [Double], rows: Int, cols: Int) -> Tensor {
        func dct(_ n: Int, _ k: Int, _ i: Int) -> Double {
            let scale = (k == 0 ? 1.0 : 2.0).squareRoot() / Double(n).squareRoot()
            return scale * cos(Double.pi * (Double(i) + 0.5) * Double(k) / Double(n))
        }
        var a = [Float](repeating: 0, count: rows * cols)
        for i in 0..<rows {
            for j in 0..<cols {
                a[i * cols + j] = Float(s.indices.reduce(0.0) { $0 + dct(rows, $1, i) * s[$1] * dct(cols, $1, j) })
            }
        }
        return try! Tensor(shape: Shape([rows, cols]), scalars: a)
    }

    @Test(arguments: [(6, 10), (10, 6)])
    func matrixDualNormsHaveExactValuesOnKnownSpectra(_ shape: (Int, Int)) throws {
        let (rows, cols) = shape
        let s: [Double] = [4, 2, 1, 0.5, 0, 0]  // rank 4 of 6
        let g = Self.matrix(singularValues: s, rows: rows, cols: cols)
        let nuclear = s.reduce(0, +)
        let rms = try Self.dualNorm(.rmsToRms, of: g)
        #expect(abs(rms - (Double(rows) / Double(cols)).squareRoot() * nuclear) <= 1e-5 * nuclear)
        #expect(abs(try Self.dualNorm(.spectral, of: g) - nuclear) <= 1e-5 * nuclear)
    }
}
