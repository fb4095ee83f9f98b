import Foundation
import Testing

@testable import TensorRuntime

/// Inputs shared by the elementwise and reduction tests.
enum ElementwiseFixtures {
    /// Sizes around the 16-lane SIMD width, plus one above the parallel grain (32 768).
    static let sizes = [0, 1, 7, 8, 9, 15, 16, 17, 33, 40_000]

    /// A reproducible vector of `n` values in [-3, 3), with no zeros.
    static func vector(_ n: Int, seed: UInt64 = 1) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor.randomUniform([n], low: -3, high: 3, using: &rng).map { $0 == 0 ? 0.5 : $0 }
    }
}

private let awkwardSizes = ElementwiseFixtures.sizes
private func sample(_ n: Int, seed: UInt64 = 1) -> Tensor { ElementwiseFixtures.vector(n, seed: seed) }

@Suite struct ElementwiseTests {
    // MARK: Binary arithmetic

    @Test(arguments: awkwardSizes)
    func tensorArithmeticMatchesScalarLoops(n: Int) throws {
        let a = sample(n, seed: 1)
        let b = sample(n, seed: 2)
        #expect(try a.adding(b).scalars == zip(a.scalars, b.scalars).map { $0 + $1 })
        #expect(try a.subtracting(b).scalars == zip(a.scalars, b.scalars).map { $0 - $1 })
        #expect(try a.multiplying(b).scalars == zip(a.scalars, b.scalars).map { $0 * $1 })
        #expect(try a.dividing(b).scalars == zip(a.scalars, b.scalars).map { $0 / $1 })
    }

    @Test(arguments: awkwardSizes)
    func scalarArithmeticMatchesScalarLoops(n: Int) {
        let a = sample(n)
        let s: Float = 1.75
        #expect((a + s).scalars == a.scalars.map { $0 + s })
        #expect((s + a).scalars == a.scalars.map { s + $0 })
        #expect((a - s).scalars == a.scalars.map { $0 - s })
        #expect((s - a).scalars == a.scalars.map { s - $0 })
        #expect((a * s).scalars == a.scalars.map { $0 * s })
        #expect((s * a).scalars == a.scalars.map { s * $0 })
        #expect((a / s).scalars == a.scalars.map { $0 / s })
        #expect((s / a).scalars == a.scalars.map { s / $0 })
        #expect(a.adding(s) == a + s)
        #expect(a.subtracting(s) == a - s)
        #expect(a.multiplying(s) == a * s)
        #expect(a.dividing(s) == a / s)
        #expect((-a).scalars == a.scalars.map { -$0 })
    }

    @Test func compoundScalarAssignmentsUpdateInPlace() {
        var a = sample(40)
        let original = a.scalars
        a += 1
        a -= 0.5
        a *= 2
        a /= 4
        #expect(a.scalars == original.map { ((($0 + 1) - 0.5) * 2) / 4 })
    }

    @Test func resultsKeepTheOperandShape() throws {
        let a = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(try a.adding(a).shape == [2, 3])
        #expect((a * 2).shape == [2, 3])
        #expect(a.gelu().shape == [2, 3])
    }

    @Test func shapeMismatchErrorsNameTheOperationAndBothShapes() throws {
        let a = Tensor.zeros([2, 3])
        let b = Tensor.zeros([3, 2])
        #expect(throws: TensorError("add", "shapes differ: [2, 3] vs [3, 2]")) { try a.adding(b) }
        #expect(throws: TensorError("subtract", "shapes differ: [2, 3] vs [3, 2]")) { try a.subtracting(b) }
        #expect(throws: TensorError("multiply", "shapes differ: [2, 3] vs [3, 2]")) { try a.multiplying(b) }
        #expect(throws: TensorError("divide", "shapes differ: [2, 3] vs [3, 2]")) { try a.dividing(b) }
        #expect(throws: TensorError("minimum", "shapes differ: [2, 3] vs [3, 2]")) { try a.minimum(b) }
        #expect(throws: TensorError("maximum", "shapes differ: [2, 3] vs [3, 2]")) { try a.maximum(b) }
        var c = a
        #expect(throws: TensorError("add", "shapes differ: [2, 3] vs [3, 2]")) { try c.add(b, scaledBy: 2) }
        #expect(throws: TensorError("multiply", "shapes differ: [2, 3] vs [3, 2]")) { try c.multiply(by: b) }
        #expect(throws: TensorError("lerp", "shapes differ: [2, 3] vs [3, 2]")) { try c.lerp(toward: b, weight: 0.1) }
        let error = #expect(throws: TensorError.self) { try a.adding(Tensor.zeros([6])) }
        #expect(error?.description == "add: shapes differ: [2, 3] vs [6]")
    }

    // MARK: In-place updates

    @Test(arguments: awkwardSizes)
    func axpyAddsAScaledTensorWithOneFusedMultiplyAdd(n: Int) throws {
        let x = sample(n, seed: 3)
        var y = sample(n, seed: 4)
        let expected = zip(y.scalars, x.scalars).map { $0.addingProduct(-0.3, $1) }
        try y.add(x, scaledBy: -0.3)
        #expect(y.scalars == expected)
        var z = sample(n, seed: 4)
        try z.add(x)
        #expect(z.scalars == zip(sample(n, seed: 4).scalars, x.scalars).map { $0 + $1 })
    }

    @Test(arguments: awkwardSizes)
    func lerpMovesEachElementTowardTheTarget(n: Int) throws {
        let target = sample(n, seed: 5)
        var y = sample(n, seed: 6)
        let expected = zip(y.scalars, target.scalars).map { $0.addingProduct(0.1, $1 - $0) }
        try y.lerp(toward: target, weight: 0.1)
        #expect(y.scalars == expected)
    }

    @Test(arguments: awkwardSizes)
    func scaleAndMultiplyUpdateInPlace(n: Int) throws {
        let b = sample(n, seed: 7)
        var y = sample(n, seed: 8)
        let original = y.scalars
        y.scale(by: 0.5)
        #expect(y.scalars == original.map { $0 * 0.5 })
        try y.multiply(by: b)
        #expect(y.scalars == zip(original, b.scalars).map { $0 * 0.5 * $1 })
    }

    @Test func inPlaceUpdatesDoNotDisturbCopies() throws {
        let a = sample(50)
        var b = a
        b.scale(by: 3)
        try b.add(a, scaledBy: 2)
        #expect(a == sample(50))
        #expect(allClose(b.scalars, a.scalars.map { $0 * 5 }))
    }

    @Test func inPlaceUpdatesAcceptThemselvesAsOperand() throws {
        var a = sample(40_000)
        let original = a.scalars
        try a.add(a, scaledBy: 2)
        #expect(a.scalars == original.map { $0.addingProduct(2, $0) })
        var m = sample(33)
        try m.multiply(by: m)
        #expect(m.scalars == sample(33).scalars.map { $0 * $0 })
        var l = sample(17)
        try l.lerp(toward: l, weight: 0.5)
        #expect(l == sample(17))
    }

    @Test func negateClampAndMapInPlaceMatchTheirCopyingTwins() {
        let a = sample(100)
        var b = a
        b.negate()
        #expect(b == a.negated())
        b = a
        b.clamp(min: -1, max: 2)
        #expect(b == a.clamped(min: -1, max: 2))
        b = a
        b.formSquare()
        #expect(b == a.square())
        b = a
        b.mapInPlace { $0 * 3 }
        #expect(b == a.map { $0 * 3 })
    }

    // MARK: Unary functions

    @Test(arguments: awkwardSizes)
    func unaryFunctionsMatchScalarLoops(n: Int) {
        let a = sample(n)
        let positive = a.abs() + 0.25
        #expect(a.negated().scalars == a.scalars.map { -$0 })
        #expect(a.abs().scalars == a.scalars.map { Swift.abs($0) })
        #expect(a.square().scalars == a.scalars.map { $0 * $0 })
        #expect(positive.sqrt().scalars == positive.scalars.map { Foundation.sqrt($0) })
        #expect(positive.rsqrt().scalars == positive.scalars.map { 1 / Foundation.sqrt($0) })
        #expect(a.exp().scalars == a.scalars.map { Foundation.exp($0) })
        #expect(positive.log().scalars == positive.scalars.map { Foundation.log($0) })
        #expect(a.tanh().scalars == a.scalars.map { Foundation.tanh($0) })
        #expect(allClose(a.sigmoid().scalars, a.scalars.map { 1 / (1 + Foundation.exp(-$0)) }))
        #expect(allClose(a.silu().scalars, a.scalars.map { $0 / (1 + Foundation.exp(-$0)) }))
        let c = Float((2 / Double.pi).squareRoot())
        let gelu = a.scalars.map { x in 0.5 * x * (1 + Foundation.tanh(c * (x + 0.044715 * x * x * x))) }
        #expect(allClose(a.gelu().scalars, gelu))
        #expect(allClose(positive.pow(1.5).scalars, positive.scalars.map { Foundation.pow($0, 1.5) }))
        #expect(a.pow(2) == a.square())
        #expect(a.pow(1) == a)
        #expect(a.minimum(0.5).scalars == a.scalars.map { Swift.min($0, 0.5) })
        #expect(a.maximum(0.5).scalars == a.scalars.map { Swift.max($0, 0.5) })
        #expect(a.clamped(min: -1, max: 1).scalars == a.scalars.map { Swift.min(Swift.max($0, -1), 1) })
        #expect(a.map { $0 * 2 + 1 }.scalars == a.scalars.map { $0 * 2 + 1 })
    }

    @Test(arguments: awkwardSizes)
    func elementwiseMinimumAndMaximumOfTwoTensorsMatchScalarLoops(n: Int) throws {
        let a = sample(n, seed: 9)
        let b = sample(n, seed: 10)
        #expect(try a.minimum(b).scalars == zip(a.scalars, b.scalars).map { Swift.min($0, $1) })
        #expect(try a.maximum(b).scalars == zip(a.scalars, b.scalars).map { Swift.max($0, $1) })
    }

    @Test func minimumAndMaximumPropagateNaNFromEitherSide() throws {
        let a = Tensor([1, .nan, 3])
        let b = Tensor([.nan, 2, 0])
        let lo = try a.minimum(b).scalars
        let hi = try a.maximum(b).scalars
        #expect(lo[0].isNaN && lo[1].isNaN && lo[2] == 0)
        #expect(hi[0].isNaN && hi[1].isNaN && hi[2] == 3)
        #expect(Tensor([.nan]).clamped(min: 0, max: 1).scalars[0].isNaN)
    }

    @Test func signOfZeroIsZero() {
        let s = Tensor([-2.5, -0.0, 0, 0.001, 7, -.infinity]).sign().scalars
        #expect(s == [-1, 0, 0, 1, 1, -1])
        #expect(Tensor([.nan]).sign().scalars[0].isNaN)
    }

    @Test func geluAndSiluHitKnownValues() throws {
        let gelu = Tensor([-1, 0, 1, 3]).gelu().scalars
        #expect(isClose(gelu[0], -0.158808, rtol: 1e-5))
        #expect(gelu[1] == 0)
        #expect(isClose(gelu[2], 0.841192, rtol: 1e-5))
        #expect(isClose(gelu[3], 2.996363, rtol: 1e-5))
        let silu = Tensor([-1, 0, 1]).silu().scalars
        #expect(isClose(silu[0], -0.268941, rtol: 1e-5))
        #expect(silu[1] == 0)
        #expect(isClose(silu[2], 0.731059, rtol: 1e-5))
    }

    @Test func sigmoidSaturatesWithoutOverflow() {
        let s = Tensor([-200, -100, 0, 100, 200]).sigmoid().scalars
        #expect(s[0] == 0 && s[1] < Float.leastNormalMagnitude && s[2...] == [0.5, 1, 1])  // σ(−100) is subnormal
        let silu = Tensor([-200, 200]).silu().scalars
        #expect(silu[0] == 0 && silu[1] == 200)
    }

    // MARK: Broadcasting

    /// The reference for every broadcast: a double loop over `[rows, columns]`.
    func broadcastReference(
        _ a: Tensor, _ v: Tensor, rows: Int, columns: Int, byRow: Bool, _ f: (Float, Float) -> Float
    ) -> [Float] {
        var out = a.scalars
        for r in 0..<rows {
            for c in 0..<columns {
                out[r * columns + c] = f(a.scalars[r * columns + c], v.scalars[byRow ? c : r])
            }
        }
        return out
    }

    @Test(arguments: [(0, 3), (1, 1), (3, 0), (3, 7), (5, 17), (2, 33), (1250, 40)])
    func rowAndColumnBroadcastsMatchDoubleLoops(rows: Int, columns: Int) throws {
        let a = try sample(rows * columns, seed: 11).reshaped([rows, columns])
        let rv = sample(columns, seed: 12)
        let cv = sample(rows, seed: 13)
        #expect(
            try a.addingRowVector(rv).scalars
                == broadcastReference(a, rv, rows: rows, columns: columns, byRow: true, +))
        #expect(
            try a.multiplyingRowVector(rv).scalars
                == broadcastReference(a, rv, rows: rows, columns: columns, byRow: true, *))
        #expect(
            try a.addingColumnVector(cv).scalars
                == broadcastReference(a, cv, rows: rows, columns: columns, byRow: false, +))
        #expect(
            try a.subtractingColumnVector(cv).scalars
                == broadcastReference(a, cv, rows: rows, columns: columns, byRow: false, -))
        #expect(
            try a.multiplyingColumnVector(cv).scalars
                == broadcastReference(a, cv, rows: rows, columns: columns, byRow: false, *))
        #expect(
            try a.dividingColumnVector(cv).scalars
                == broadcastReference(a, cv, rows: rows, columns: columns, byRow: false, /))
        #expect(try a.addingRowVector(rv).shape == a.shape)
    }

    @Test func broadcastsViewHigherRanksAlongTheLastAxis() throws {
        let a = try sample(2 * 3 * 4).reshaped([2, 3, 4])
        let rv = sample(4, seed: 2)
        let cv = sample(6, seed: 3)
        let flat = try a.reshaped([6, 4])
        #expect(try a.addingRowVector(rv) == flat.addingRowVector(rv).reshaped([2, 3, 4]))
        #expect(try a.multiplyingColumnVector(cv) == flat.multiplyingColumnVector(cv).reshaped([2, 3, 4]))
        let v = sample(4, seed: 4)
        #expect(try v.addingRowVector(rv) == v.adding(rv))
    }

    @Test func broadcastMismatchesAreReportedClearly() throws {
        let a = Tensor.zeros([2, 3])
        #expect(
            throws: TensorError("addRowVector", "vector [2] does not match the last dimension of [2, 3] (expected [3])")
        ) { try a.addingRowVector(Tensor.zeros([2])) }
        #expect(
            throws: TensorError(
                "multiplyRowVector", "vector [1, 3] does not match the last dimension of [2, 3] (expected [3])")
        ) { try a.multiplyingRowVector(Tensor.zeros([1, 3])) }
        #expect(
            throws: TensorError("addColumnVector", "vector [3] does not match the 2 rows of [2, 3] (expected [2])")
        ) { try a.addingColumnVector(Tensor.zeros([3])) }
        #expect(throws: TensorError("divideColumnVector", "needs a matrix, got shape [3]")) {
            try Tensor.zeros([3]).dividingColumnVector(Tensor.zeros([3]))
        }
        #expect(throws: TensorError("addRowVector", "needs a tensor of rank ≥ 1, got shape []")) {
            try Tensor(1).addingRowVector(Tensor.zeros([1]))
        }
    }
}
