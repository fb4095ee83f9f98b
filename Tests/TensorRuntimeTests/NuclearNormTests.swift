import Foundation
import Testing

@testable import TensorRuntime

/// The pieces of the exact nuclear norm — the Gram matrix in Double, the fused tridiagonal
/// reduction, the trace of the square root — each against its plain reference, and the whole
/// against matrices with known spectra, rank-deficient and badly conditioned ones included.
@Suite struct NuclearNormTests {
    /// Pseudo-random values in (−1, 1) scaled by `scale`.
    static func values(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in (rng.nextUniform() * 2 - 1) * scale }
    }

    // Sizes around the 8-row panel, the 3-panel tile and the 256-deep block, both orientations.
    static let gramSizes = [
        (1, 1), (1, 9), (9, 1), (7, 7), (8, 8), (9, 9), (8, 30), (30, 8), (23, 24), (24, 25), (25, 23),
        (17, 300), (300, 17), (40, 513),
    ]

    /// Both register tiles, whatever this machine's registers.
    @Test(arguments: gramSizes, [VectorRegisters.avx512, .avx2])
    func gramUpperTriangleMatchesTheNaiveProduct(_ size: (Int, Int), _ registers: VectorRegisters) {
        let (rows, columns) = size
        let a = Self.values(rows * columns, seed: UInt64(rows * 1000 + columns))
        let layout = Gram.Layout(rows: rows, columns: columns)
        var packed = [Double](repeating: .nan, count: layout.packedCount)
        var c = [Double](repeating: .nan, count: layout.gramCount)
        let expected = a.withUnsafeBufferPointer { Gram.naive($0.baseAddress!, rows: rows, columns: columns) }
        a.withUnsafeBufferPointer { a in
            Gram.upper(
                a.baseAddress!, rows: rows, columns: columns, layout: layout, packed: &packed, into: &c,
                registers: registers)
        }
        let p = layout.p
        var worst = 0.0
        for i in 0..<p {
            for j in i..<p {
                worst = max(worst, abs(c[i * layout.ld + j] - expected[i * p + j]) / max(1, abs(expected[i * p + j])))
            }
        }
        #expect(worst <= 1e-13, "\(rows)×\(columns) \(registers): \(worst)")
    }

    /// A symmetric positive semi-definite matrix `B·Bᵀ` of rank `rank`, row-major `n × n`.
    static func semiDefinite(_ n: Int, rank: Int, seed: UInt64) -> [Double] {
        let b = values(n * rank, seed: seed).map(Double.init)
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                for k in 0..<rank { s += b[i * rank + k] * b[j * rank + k] }
                a[i * n + j] = s
            }
        }
        return a
    }

    /// Eigenvalues of a tridiagonal matrix by QL, ascending.
    static func eigenvalues(_ d: [Double], _ off: [Double]) -> [Double] {
        var d = d
        var e = [0] + off
        SymmetricEigen.eigenvaluesOfTridiagonal(&d, &e, n: d.count)
        return d.sorted()
    }

    /// Both schedules (one pass a step on AVX-512, panels on AVX2), whatever this machine's
    /// registers; sizes across several panels.
    @Test(
        arguments: [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 33, 40, 101, 130], [VectorRegisters.avx512, .avx2])
    func tridiagonalizationKeepsTheSpectrumOfTheReference(_ n: Int, _ registers: VectorRegisters) {
        let a = Self.semiDefinite(n, rank: max(1, n - n / 3), seed: UInt64(n))
        // Ours, on the upper triangle of a padded buffer; the reference on a full copy.
        let ld = Tridiagonalization.leadingDimension(n) + 8
        var upper = [Double](repeating: .nan, count: n * ld)
        for i in 0..<n { for j in i..<n { upper[i * ld + j] = a[i * n + j] } }
        var d = [Double](repeating: 0, count: n)
        var e = [Double](repeating: 0, count: max(n - 1, 1))
        var scratch = [Double](repeating: .nan, count: Tridiagonalization.scratchCount(ld: ld))
        Tridiagonalization.reduce(
            &upper, n: n, ld: ld, diagonal: &d, offDiagonal: &e, scratch: &scratch, registers: registers)
        var full = a
        var dRef = [Double](repeating: 0, count: n)
        var eRef = [Double](repeating: 0, count: n)
        SymmetricEigen.tridiagonalize(&full, n: n, diagonal: &dRef, offDiagonal: &eRef)
        let ours = Self.eigenvalues(d, Array(e.prefix(n - 1)))
        let reference = Self.eigenvalues(dRef, Array(eRef.dropFirst()))
        let scale = reference.last.map { max(abs($0), 1) } ?? 1
        for (x, y) in zip(ours, reference) {
            #expect(abs(x - y) <= 1e-12 * scale, "n = \(n) \(registers): \(x) vs \(y)")
        }
        // Similar matrices have the same trace and Frobenius norm.
        let frobenius = d.reduce(0) { $0 + $1 * $1 } + 2 * e.prefix(n - 1).reduce(0) { $0 + $1 * $1 }
        #expect(abs(frobenius - a.reduce(0) { $0 + $1 * $1 }) <= 1e-11 * scale * scale)
    }

    /// A tridiagonal matrix `QΛQᵀ`-similar to `diag(λ)`: the tridiagonal form of a dense matrix
    /// with that spectrum.
    static func tridiagonal(withEigenvalues lambda: [Double], seed: UInt64) -> (d: [Double], e: [Double]) {
        let n = lambda.count
        // A dense matrix with the spectrum: reflect diag(λ) by a few random Householder maps.
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { a[i * n + i] = lambda[i] }
        for r in 0..<3 {
            let v = values(n, seed: seed &+ UInt64(r)).map(Double.init)
            let vv = v.reduce(0) { $0 + $1 * $1 }
            // A ← H·A·H, H = I − 2vvᵀ/vᵀv
            var av = [Double](repeating: 0, count: n)
            for i in 0..<n { for j in 0..<n { av[i] += a[i * n + j] * v[j] } }
            let vav = zip(v, av).reduce(0) { $0 + $1.0 * $1.1 }
            for i in 0..<n {
                for j in 0..<n {
                    a[i * n + j] += -2 / vv * (v[i] * av[j] + av[i] * v[j]) + 4 * vav / (vv * vv) * v[i] * v[j]
                }
            }
        }
        var d = [Double](repeating: 0, count: n)
        var e = [Double](repeating: 0, count: n)
        SymmetricEigen.tridiagonalize(&a, n: n, diagonal: &d, offDiagonal: &e)
        return (d, Array(e.dropFirst()))
    }

    static let spectra: [(String, [Double])] = [
        ("identity", [Double](repeating: 1, count: 12)),
        ("spread", (0..<20).map { pow(10, -Double($0) / 4) }),
        ("squared singular values 1..1e-6", (0..<30).map { pow(10, -12 * Double($0) / 29) }),
        ("rank 3 of 16", [4, 1, 0.25] + [Double](repeating: 0, count: 13)),
        ("one large", [1e6] + [Double](repeating: 1e-6, count: 15)),
        ("zero", [Double](repeating: 0, count: 5)),
        ("single", [2.25]),
    ]

    @Test(arguments: spectra)
    func squareRootTraceSumsTheRootsOfTheEigenvalues(_ named: (String, [Double])) throws {
        let (name, lambda) = named
        let (d, e) = Self.tridiagonal(withEigenvalues: lambda, seed: 7)
        var scratch = [Double](repeating: .nan, count: SquareRootTrace.scratchCount(d.count))
        let value = try #require(
            SquareRootTrace.ofTridiagonal(diagonal: d, offDiagonal: e + [0], n: d.count, scratch: &scratch))
        let exact = lambda.reduce(0) { $0 + $1.squareRoot() }
        #expect(abs(value - exact) <= 1e-7 * max(exact, 1e-300), "\(name): \(value) vs \(exact)")
    }

    @Test func squareRootTraceRefusesAnIndefiniteMatrix() {
        var scratch = [Double](repeating: 0, count: 4)
        #expect(SquareRootTrace.ofTridiagonal(diagonal: [1, -1], offDiagonal: [0], n: 2, scratch: &scratch) == nil)
    }

    /// Singular values of the test matrices: shape, then spectrum.
    static let knownSpectra: [(String, Int, Int, [Double])] = [
        ("full rank, square", 32, 32, (0..<32).map { 1 + Double($0 % 5) }),
        ("rank 3, wide", 24, 200, [5, 2, 1]),
        ("rank 3, tall", 200, 24, [5, 2, 1]),
        ("rank half, wide", 40, 96, (0..<20).map { 0.5 + Double($0) / 40 }),
        ("condition 1e6, tall", 300, 33, (0..<33).map { pow(10, -6 * Double($0) / 32) }),
        ("one large, wide", 17, 260, [1e3] + [Double](repeating: 1e-3, count: 16)),
        ("zero", 9, 13, []),
    ]

    @Test(arguments: knownSpectra)
    func nuclearNormOfKnownSpectraIsExact(_ known: (String, Int, Int, [Double])) {
        let (name, rows, columns, s) = known
        let a = matrix(singularValues: s, rows: rows, columns: columns)
        var workspace = SingularValueWorkspace(rows: rows, columns: columns)
        let nuclear = a.withUnsafeBufferPointer { workspace.nuclearNorm($0.baseAddress!) }
        let exact = s.reduce(0, +)
        // The float32 matrix is U·diag(s)·Vᵀ rounded: its own singular values differ from s by
        // about 1e-7 of the largest, which 1e-5 leaves room for; the goal is 1e-4.
        #expect(abs(nuclear - exact) <= 1e-5 * max(exact, 1e-30), "\(name): \(nuclear) vs \(exact)")
        if exact == 0 { #expect(nuclear == 0) }
    }

    @Test(arguments: [(5, 7), (64, 64), (48, 130), (130, 48), (33, 257)])
    func nuclearNormMatchesTheJacobiSVD(_ size: (Int, Int)) throws {
        let (rows, columns) = size
        let a = try Tensor(
            shape: Shape([rows, columns]), scalars: Self.values(rows * columns, seed: UInt64(rows + 77 * columns)))
        var workspace = SingularValueWorkspace(rows: rows, columns: columns)
        let nuclear = a.withUnsafeBufferPointer { workspace.nuclearNorm($0.baseAddress!) }
        let exact = try a.svd().singularValues.reduce(0.0) { $0 + Double($1) }
        #expect(abs(nuclear - exact) <= 2e-6 * exact, "\(rows)×\(columns): \(nuclear) vs \(exact)")
        // And the eigenvalue path on the same reduction.
        a.withUnsafeBufferPointer { workspace.compute($0.baseAddress!) }
        #expect(abs(workspace.values.reduce(0, +) - nuclear) <= 1e-9 * exact)
    }
}
