import Foundation
import Testing

/// Identities the equivalence tests' references must satisfy on inputs whose answers are
/// known in closed form, so that a formula wrong in a recipe and in its reference alike (as
/// NALR's dual norm once was) still fails somewhere.
@Suite struct ReferenceIdentityTests {
    /// Known singular values (rank-deficient), both orientations.
    static let spectrum: [Double] = [4, 2, 1, 0.5, 0, 0]

    static func matrix(_ s: [Double], _ rows: Int, _ cols: Int) -> [Double] {
        DualNormTests.matrix(singularValues: s, rows: rows, cols: cols).scalars.map(Double.init)
    }

    @Test(arguments: [(6, 10), (10, 6)])
    func singularValuesOfAKnownSpectrum(_ shape: (Int, Int)) {
        let (rows, cols) = shape
        let values = Reference.singularValues(Self.matrix(Self.spectrum, rows, cols), rows, cols).sorted(by: >)
        #expect(values.count == 6)
        for (x, y) in zip(values, Self.spectrum) { #expect(abs(x - y) <= 1e-6, "\(values)") }
    }

    /// Muon's iteration acts on each singular value alone: σ ↦ f⁵(σ/‖G‖_F) with muon.py's
    /// f(x) = 3.4445·x − 4.7750·x³ + 2.0315·x⁵, singular vectors unchanged.
    @Test(arguments: [(6, 10), (10, 6)])
    func newtonSchulzMapsEachSingularValueThroughTheQuinticFiveTimes(_ shape: (Int, Int)) {
        let (rows, cols) = shape
        let g = Self.matrix(Self.spectrum, rows, cols)
        let norm = Self.spectrum.map { $0 * $0 }.reduce(0, +).squareRoot() + 1e-7
        let mapped = Self.spectrum.map { s -> Double in
            var x = s / norm
            for _ in 0..<5 { x = 3.4445 * x - 4.7750 * pow(x, 3) + 2.0315 * pow(x, 5) }
            return x
        }
        let expected = Self.matrix(mapped, rows, cols)
        let o = Reference.newtonSchulz(g, rows, cols)
        let worst = zip(o, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-6, "largest difference \(worst)")
    }

    /// Adam's bias correction makes the first step lr·g/(|g| + ε): about lr on every entry.
    @Test func adamwFirstStepHasTheRateAsItsSize() {
        let g = [0.5, -2, 1e-3, 0]
        var x = [Double](repeating: 1, count: g.count)
        var state: [String: [Double]] = [:]
        Reference.adamw(&x, g, &state, t: 1, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0)
        for (xi, gi) in zip(x, g) { #expect(abs((1 - xi) - 0.01 * gi / (abs(gi) + 1e-8)) <= 1e-15) }
    }

    /// Lion moves every entry with a nonzero gradient by exactly lr at its first step.
    @Test func lionFirstStepMovesEveryEntryByTheRate() {
        let g = [0.5, -2, 1e-9, 0]
        var x = [Double](repeating: 1, count: g.count)
        var state: [String: [Double]] = [:]
        Reference.lion(&x, g, &state, lr: 0.01, beta1: 0.9, beta2: 0.99, wd: 0)
        #expect(x == [0.99, 1.01, 0.99, 1])
    }

    /// From an empty buffer, heavy ball steps by lr·g and Nesterov by lr·(1 + μ)·g.
    @Test(arguments: [false, true])
    func sgdFirstStepOfHeavyBallAndNesterov(_ nesterov: Bool) {
        let g = [0.5, -2]
        var x = [1.0, 1.0]
        var state: [String: [Double]] = [:]
        Reference.sgd(&x, g, &state, lr: 0.1, mu: 0.9, nesterov: nesterov, wd: 0)
        let factor = nesterov ? 1.9 : 1
        for (xi, gi) in zip(x, g) { #expect(abs((1 - xi) - 0.1 * factor * gi) <= 1e-15) }
    }

    /// NorMuon rescales its normalised update to the Frobenius norm of O = NS5(u).
    @Test func normuonKeepsTheFrobeniusNormOfTheOrthogonalisedUpdate() {
        let (rows, cols) = (6, 10)
        let g = Self.matrix(Self.spectrum, rows, cols)
        var p = Reference.Param(
            name: "w", role: "attention", shape: [rows, cols], x: [Double](repeating: 0, count: g.count))
        var state: [String: [String: [Double]]] = [:]
        Reference.normuon(&p, g, &state["w", default: [:]], lr: 0.02, beta: 0.95, beta2: 0.95, wd: 0)
        // The first step's Nesterov input: u = (1 − β)·g + β·m with m = (1 − β)·g.
        let u = g.map { (1 - 0.95) * $0 + 0.95 * (1 - 0.95) * $0 }
        let o = Reference.newtonSchulz(u, rows, cols)
        #expect(abs(Reference.frobenius(p.x) - 0.02 * Reference.frobenius(o)) <= 1e-9)
    }
}
