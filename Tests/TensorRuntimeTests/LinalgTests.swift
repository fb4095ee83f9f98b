import Foundation
import Testing

@testable import TensorRuntime

@Suite struct LinalgTests {
    @Suite struct SVDTests {
        @Test(arguments: [(7, 5), (5, 7), (1, 1), (1, 4), (4, 1), (16, 16), (3, 9)])
        func svdOfRandomMatrixReconstructsWithOrthonormalFactors(rows: Int, columns: Int) throws {
            var rng = SeededRandom(seed: UInt64(100 * rows + columns))
            let a = Tensor.randomNormal([rows, columns], using: &rng)
            try expectValidDecomposition(of: a)
        }

        @Test func svdOfRankDeficientMatrixHasZeroSingularValueAndOrthonormalFactors() throws {
            var rng = SeededRandom(seed: 3)
            var a = Tensor.randomNormal([6, 4], using: &rng)
            for i in 0..<6 { a[i, 3] = a[i, 1] }  // two equal columns: rank 3
            let d = try expectValidDecomposition(of: a)
            #expect(d.singularValues[3] <= 1e-6 * d.singularValues[0])
            #expect(d.singularValues[2] > 1e-2)
        }

        @Test func svdOfWideRankDeficientMatrixHasOrthonormalFactors() throws {
            var rng = SeededRandom(seed: 4)
            var a = Tensor.randomNormal([4, 6], using: &rng)
            for j in 0..<6 { a[2, j] = 2 * a[0, j] }  // a repeated row: rank 3
            let d = try expectValidDecomposition(of: a)
            #expect(d.singularValues[3] <= 1e-6 * d.singularValues[0])
        }

        @Test func svdOfZeroMatrixHasZeroSingularValuesAndOrthonormalFactors() throws {
            let d = try expectValidDecomposition(of: .zeros([3, 5]))
            #expect(d.singularValues == [0, 0, 0])
        }

        @Test func svdOfEmptyMatrixHasNoSingularValues() throws {
            let wide = try Tensor.zeros([0, 3]).svd()
            #expect(wide.singularValues.isEmpty)
            #expect(wide.u.shape == Shape([0, 0]))
            #expect(wide.v.shape == Shape([3, 0]))
            let tall = try Tensor.zeros([3, 0]).svd()
            #expect(tall.singularValues.isEmpty)
            #expect(tall.u.shape == Shape([3, 0]))
            #expect(try Tensor.zeros([0, 3]).spectralNorm() == 0)
            #expect(try Tensor.zeros([3, 0]).nuclearNorm() == 0)
            #expect(try Tensor.zeros([0, 3]).polarFactor() == Tensor.zeros([0, 3]))
        }

        @Test func svdRecoversKnownSingularValuesOfDCTBuiltMatrix() throws {
            let s: [Double] = [5, 3, 2, 1, 0.5, 0.25]
            let a = matrix(singularValues: s, rows: 6, columns: 11)
            let d = try a.svd()
            #expect(allClose(d.singularValues, s.map { Float($0) }, rtol: 1e-5, atol: 1e-6))
        }

        @Test func svdRejectsVector() {
            #expect(throws: TensorError("svd", "needs a matrix, got shape [5]")) {
                try Tensor([1, 2, 3, 4, 5]).svd()
            }
        }

        @Test func spectralAndNuclearNormsOfDiagonalMatrixUseAbsoluteValues() throws {
            let a = try Tensor(rows: [[3, 0, 0], [0, -2, 0], [0, 0, 1]])
            #expect(isClose(try a.spectralNorm(), 3))
            #expect(isClose(try a.nuclearNorm(), 6))
            #expect(try a.svd().singularValues == [3, 2, 1])
        }

        @Test func normsRejectNonMatrices() {
            #expect(throws: TensorError("spectral_norm", "needs a matrix, got shape [2, 2, 2]")) {
                try Tensor.zeros([2, 2, 2]).spectralNorm()
            }
            #expect(throws: TensorError("nuclear_norm", "needs a matrix, got shape [3]")) {
                try Tensor([1, 2, 3]).nuclearNorm()
            }
            #expect(throws: TensorError("polar_factor", "needs a matrix, got shape []")) {
                try Tensor(1).polarFactor()
            }
        }

        @Test func polarFactorOfDiagonalMatrixKeepsSigns() throws {
            let a = try Tensor(rows: [[3, 0, 0], [0, -2, 0], [0, 0, 1]])
            let q = try a.polarFactor()
            #expect(allClose(q, try Tensor(rows: [[1, 0, 0], [0, -1, 0], [0, 0, 1]]), atol: 1e-6))
        }

        @Test(arguments: [(7, 4), (4, 7), (5, 5)])
        func polarFactorIsOrthogonalAndEqualsUVTransposed(rows: Int, columns: Int) throws {
            var rng = SeededRandom(seed: UInt64(rows * 31 + columns))
            let a = Tensor.randomNormal([rows, columns], using: &rng)
            let q = try a.polarFactor()
            #expect(q.shape == a.shape)
            // Orthonormal along the short side: QᵀQ = I when tall, QQᵀ = I when wide.
            let gram = rows >= columns ? try q.matmul(q, transposeSelf: true) : try q.matmul(q, transposeOther: true)
            #expect(maxAbsDiff(gram.scalars, identity(min(rows, columns)).scalars) < 1e-5)
            let d = try a.svd()
            #expect(maxAbsDiff(q.scalars, try d.u.matmul(d.v, transposeOther: true).scalars) < 1e-6)
            // The polar factor is the closest orthogonal matrix: ⟨Q, A⟩ equals the nuclear norm.
            let inner = zip(q.scalars, a.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(isClose(Float(inner), try a.nuclearNorm(), rtol: 1e-5))
        }
    }

    @Suite struct NewtonSchulzTests {
        /// Normalised singular values whose squares sum to 1, so `s / ‖s‖₂` hits them exactly.
        static let normalised: [Double] = {
            let rest: [Double] = [0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01]
            return [(1 - rest.reduce(0) { $0 + $1 * $1 }).squareRoot()] + rest
        }()

        @Test func quinticReferenceMatchesMuonValues() {
            #expect(abs(f5(0.01) - 0.6989) < 1e-4)
            #expect(abs(f5(0.1) - 0.7121) < 1e-4)
            #expect(abs(f5(0.5) - 0.7654) < 1e-4)
            #expect(abs(f5(1.0) - 0.6964) < 1e-4)
        }

        @Test func orthogonalizedMapsEachSingularValueThroughFiveQuinticSteps() throws {
            let s = Self.normalised.map { 3 * $0 }
            let a = matrix(singularValues: s, rows: 8, columns: 16)
            let out = try a.orthogonalized()
            let expectedValues = Self.normalised.map(f5)

            // Same singular vectors, singular values f⁵(sᵢ / ‖s‖₂).
            let expected = matrix(singularValues: expectedValues, rows: 8, columns: 16)
            #expect(maxAbsDiff(out.scalars, expected.scalars) < 1e-4)
            let found = try out.svd().singularValues
            let want = expectedValues.sorted(by: >).map { Float($0) }
            #expect(maxAbsDiff(found, want) < 1e-4, "found \(found), want \(want)")
        }

        @Test func orthogonalizedMatchesDoubleReferenceIteration() throws {
            var rng = SeededRandom(seed: 11)
            let a = Tensor.randomNormal([6, 10], using: &rng)
            let out = try a.orthogonalized(steps: 3)
            let reference = referenceNewtonSchulz(a, steps: 3)
            #expect(maxAbsDiff(out.scalars, reference.scalars) < 1e-5)
        }

        @Test func tallInputGivesTransposeOfWideAnswer() throws {
            var rng = SeededRandom(seed: 5)
            let a = Tensor.randomNormal([16, 8], using: &rng)
            let tall = try a.orthogonalized()
            let wide = try a.transposed().orthogonalized()
            #expect(tall.shape == Shape([16, 8]))
            #expect(maxAbsDiff(tall.scalars, try wide.transposed().scalars) < 1e-6)
        }

        @Test func zeroStepsOnlyNormalisesByFrobeniusNorm() throws {
            let a = try Tensor(rows: [[3, 0], [0, 4]])
            let out = try a.orthogonalized(steps: 0)
            #expect(allClose(out, try Tensor(rows: [[0.6, 0], [0, 0.8]])))
        }

        @Test func orthogonalizedRejectsVectorsAndHigherRanks() {
            #expect(throws: TensorError("orthogonalize", "needs a matrix, got shape [5]")) {
                try Tensor([1, 2, 3, 4, 5]).orthogonalized()
            }
            #expect(throws: TensorError("orthogonalize", "needs a matrix, got shape [2, 3, 4]")) {
                try Tensor.zeros([2, 3, 4]).orthogonalized()
            }
            #expect(throws: TensorError("orthogonalize", "steps must be non-negative, got -1")) {
                try Tensor.zeros([2, 3]).orthogonalized(steps: -1)
            }
        }

        @Test func zeroAndEmptyMatricesGiveZerosWithoutNaN() throws {
            #expect(try Tensor.zeros([3, 4]).orthogonalized() == Tensor.zeros([3, 4]))
            #expect(try Tensor.zeros([4, 3]).orthogonalized() == Tensor.zeros([4, 3]))
            #expect(try Tensor.zeros([0, 5]).orthogonalized() == Tensor.zeros([0, 5]))
            #expect(try Tensor.zeros([5, 0]).orthogonalized() == Tensor.zeros([5, 0]))
        }

        @Test(arguments: [(8, 16), (16, 8), (5, 5), (1, 7)])
        func workspaceMatchesFunctionalVersionBitwiseAcrossReuse(rows: Int, columns: Int) throws {
            var rng = SeededRandom(seed: UInt64(rows * 100 + columns))
            var workspace = NewtonSchulzWorkspace(rows: rows, columns: columns)
            var output = Tensor.zeros([rows, columns])
            for _ in 0..<3 {
                let a = Tensor.randomNormal([rows, columns], using: &rng)
                try workspace.orthogonalize(a, into: &output)
                #expect(output == (try a.orthogonalized()))
            }
        }

        @Test func workspaceRejectsOtherShapesAndReshapesOutput() throws {
            var workspace = NewtonSchulzWorkspace(rows: 2, columns: 3)
            var output = Tensor.zeros([1])
            #expect(throws: TensorError("orthogonalize", "workspace is for shape [2, 3], got shape [3, 2]")) {
                try workspace.orthogonalize(.zeros([3, 2]), into: &output)
            }
            let a = try Tensor(rows: [[1, 2, 3], [4, 5, 6]])
            try workspace.orthogonalize(a, into: &output)
            #expect(output == (try a.orthogonalized()))
        }
    }
}

// MARK: - Helpers

/// Checks `A = U·diag(s)·Vᵀ` to 1e-5 relative, orthonormal columns and descending `s`.
@discardableResult
private func expectValidDecomposition(of a: Tensor, sourceLocation: SourceLocation = #_sourceLocation) throws -> SVD {
    let (m, n) = (a.shape[0], a.shape[1])
    let r = min(m, n)
    let d = try a.svd()
    #expect(d.u.shape == Shape([m, r]), sourceLocation: sourceLocation)
    #expect(d.v.shape == Shape([n, r]), sourceLocation: sourceLocation)
    #expect(d.singularValues.count == r, sourceLocation: sourceLocation)
    #expect(d.singularValues.allSatisfy { $0 >= 0 }, sourceLocation: sourceLocation)
    #expect(zip(d.singularValues, d.singularValues.dropFirst()).allSatisfy { $0 >= $1 }, sourceLocation: sourceLocation)

    var errorSquared = 0.0
    var normSquared = 0.0
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for k in 0..<r { sum += Double(d.u[i, k]) * Double(d.singularValues[k]) * Double(d.v[j, k]) }
            errorSquared += (sum - Double(a[i, j])) * (sum - Double(a[i, j]))
            normSquared += Double(a[i, j]) * Double(a[i, j])
        }
    }
    #expect(errorSquared.squareRoot() <= 1e-5 * max(normSquared.squareRoot(), 1e-30), sourceLocation: sourceLocation)
    #expect(
        maxAbsDiff(try d.u.matmul(d.u, transposeSelf: true).scalars, identity(r).scalars) < 1e-5,
        sourceLocation: sourceLocation)
    #expect(
        maxAbsDiff(try d.v.matmul(d.v, transposeSelf: true).scalars, identity(r).scalars) < 1e-5,
        sourceLocation: sourceLocation)
    return d
}

private func identity(_ n: Int) -> Tensor {
    var t = Tensor.zeros([n, n])
    for i in 0..<n { t[i, i] = 1 }
    return t
}

/// Column `k` of the orthonormal DCT-II basis of size `n`, at row `i`.
func dct(_ i: Int, _ k: Int, _ n: Int) -> Double {
    ((k == 0 ? 1.0 : 2.0) / Double(n)).squareRoot() * cos(Double.pi * (Double(i) + 0.5) * Double(k) / Double(n))
}

/// `U·diag(s)·Vᵀ` with `U`, `V` the first columns of DCT-II bases: a matrix whose singular
/// values and vectors are known without a random generator.
func matrix(singularValues s: [Double], rows: Int, columns: Int) -> Tensor {
    precondition(s.count <= min(rows, columns))
    var t = Tensor.zeros([rows, columns])
    for i in 0..<rows {
        for j in 0..<columns {
            var sum = 0.0
            for k in s.indices { sum += dct(i, k, rows) * s[k] * dct(j, k, columns) }
            t[i, j] = Float(sum)
        }
    }
    return t
}

/// Five steps of `f(x) = 3.4445x − 4.7750x³ + 2.0315x⁵`, in `Double`.
private func f5(_ x: Double) -> Double {
    var x = x
    for _ in 0..<5 { x = 3.4445 * x - 4.7750 * x * x * x + 2.0315 * x * x * x * x * x }
    return x
}

/// Muon's iteration written plainly on nested `Double` arrays, for a wide matrix.
private func referenceNewtonSchulz(_ g: Tensor, steps: Int) -> Tensor {
    let (p, q) = (g.shape[0], g.shape[1])
    precondition(p <= q)
    let norm = g.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    var x = (0..<p).map { i in (0..<q).map { j in Double(g[i, j]) / (norm + 1e-7) } }
    func mul(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        a.map { row in (0..<b[0].count).map { j in row.indices.reduce(0.0) { $0 + row[$1] * b[$1][j] } } }
    }
    for _ in 0..<steps {
        let xt = (0..<q).map { j in (0..<p).map { i in x[i][j] } }
        let a = mul(x, xt)
        let aa = mul(a, a)
        let b = (0..<p).map { i in (0..<p).map { j in -4.7750 * a[i][j] + 2.0315 * aa[i][j] } }
        let bx = mul(b, x)
        x = (0..<p).map { i in (0..<q).map { j in 3.4445 * x[i][j] + bx[i][j] } }
    }
    return try! Tensor(shape: [p, q], scalars: x.flatMap { $0.map { Float($0) } })
}

@Suite struct SingularValueWorkspaceTests {
    @Test(arguments: [(5, 7), (7, 5), (1, 4), (4, 1), (16, 16), (12, 30), (33, 9)])
    func singularValuesMatchTheJacobiSVD(_ size: (Int, Int)) throws {
        let (m, n) = size
        var rng = SeededRandom(seed: UInt64(m * 100 + n))
        let a = Tensor.randomNormal([m, n], using: &rng)
        var workspace = SingularValueWorkspace(rows: m, columns: n)
        a.withUnsafeBufferPointer { workspace.compute($0.baseAddress!) }
        let exact = try a.svd().singularValues.map(Double.init)
        #expect(workspace.values.count == exact.count)
        for (x, y) in zip(workspace.values, exact) {
            #expect(abs(x - y) <= 1e-5 * max(1, y), "\(m)×\(n): \(x) vs \(y)")
        }
        let nuclear = a.withUnsafeBufferPointer { workspace.nuclearNorm($0.baseAddress!) }
        #expect(abs(nuclear - Double(try a.nuclearNorm())) <= 1e-5 * nuclear)
    }

    @Test func rankDeficientAndDiagonalMatricesHaveExactValues() throws {
        let d = try Tensor(rows: [[3, 0, 0], [0, -2, 0], [0, 0, 0]])
        var workspace = SingularValueWorkspace(rows: 3, columns: 3)
        d.withUnsafeBufferPointer { workspace.compute($0.baseAddress!) }
        #expect(workspace.values.map { ($0 * 1e6).rounded() / 1e6 } == [3, 2, 0])
        #expect(workspace.spectralNorm == 3)
    }
}
