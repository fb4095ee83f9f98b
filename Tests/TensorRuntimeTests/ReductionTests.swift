import Foundation
import Testing

@testable import TensorRuntime

private let awkwardSizes = ElementwiseFixtures.sizes
private func sample(_ n: Int, seed: UInt64 = 1) -> Tensor { ElementwiseFixtures.vector(n, seed: seed) }

/// Σ f(x) in `Double`, in order: the reference every sum is checked against.
private func reference(_ x: [Float], _ f: (Double) -> Double = { $0 }) -> Double {
    x.reduce(0) { $0 + f(Double($1)) }
}

/// The matrix shapes the axis reductions sweep: empty, single, SIMD-awkward, above the grain.
private let matrixShapes = [(0, 3), (3, 0), (1, 1), (1, 17), (7, 1), (3, 7), (5, 16), (9, 33), (1000, 40), (40, 1000)]

@Suite struct ReductionTests {
    // MARK: Whole-tensor reductions

    @Test(arguments: awkwardSizes)
    func sumsAndMeansMatchADoubleReference(n: Int) throws {
        let x = sample(n)
        #expect(isClose(x.sum(), Float(reference(x.scalars)), rtol: 1e-5, atol: 1e-4))
        if n > 0 {
            #expect(isClose(try x.mean(), Float(reference(x.scalars) / Double(n)), rtol: 1e-5, atol: 1e-6))
        }
    }

    @Test(arguments: awkwardSizes)
    func maxAndMinMatchScalarLoops(n: Int) {
        let x = sample(n)
        #expect(x.max() == x.scalars.reduce(-Float.infinity) { Swift.max($0, $1) })
        #expect(x.min() == x.scalars.reduce(Float.infinity) { Swift.min($0, $1) })
    }

    @Test func emptyTensorsReduceToIdentitiesOrThrow() {
        let e = Tensor.zeros([0, 4])
        #expect(e.sum() == 0)
        #expect(e.max() == -.infinity)
        #expect(e.min() == .infinity)
        #expect(e.sumOfSquares() == 0)
        #expect(e.l2Norm() == 0)
        #expect(e.l1Norm() == 0)
        #expect(e.linfNorm() == 0)
        #expect(throws: TensorError("mean", "empty tensor of shape [0, 4]")) { try e.mean() }
        #expect(throws: TensorError("rms", "empty tensor of shape [0, 4]")) { try e.rms() }
    }

    @Test func extremesPropagateNaN() throws {
        var values = [Float](repeating: 1, count: 40_000)
        values[12_345] = .nan
        #expect(Tensor(values).max().isNaN)
        #expect(Tensor(values).min().isNaN)
        #expect(Tensor([1, .nan, 2]).max().isNaN)
        #expect(Tensor(values).linfNorm().isNaN)
        let m = try Tensor(rows: [[1, .nan], [3, 4]])
        let columnMax = try m.max(alongAxis: 0).scalars
        #expect(columnMax[0] == 3 && columnMax[1].isNaN)
        let rowMax = try m.max(alongAxis: 1).scalars
        #expect(rowMax[0].isNaN && rowMax[1] == 4)
    }

    @Test func sumIsAccurateWhereAFloatLoopDrifts() {
        // 40 000 × 0.1: a naive Float running sum is off by about 1e-2 here.
        let x = Tensor(repeating: 0.1, shape: [40_000])
        #expect(Swift.abs(Double(x.sum()) - 40_000 * Double(Float(0.1))) < 1e-3)
    }

    // MARK: Along an axis

    @Test(arguments: matrixShapes)
    func axisReductionsMatchDoubleLoops(rows: Int, columns: Int) throws {
        let m = try sample(rows * columns, seed: 3).reshaped([rows, columns])
        let x = m.scalars
        var columnSums = [Double](repeating: 0, count: columns)
        var rowSums = [Double](repeating: 0, count: rows)
        var columnMax = [Float](repeating: -.infinity, count: columns)
        var rowMax = [Float](repeating: -.infinity, count: rows)
        var columnMin = [Float](repeating: .infinity, count: columns)
        for r in 0..<rows {
            for c in 0..<columns {
                let v = x[r * columns + c]
                columnSums[c] += Double(v)
                rowSums[r] += Double(v)
                columnMax[c] = Swift.max(columnMax[c], v)
                rowMax[r] = Swift.max(rowMax[r], v)
                columnMin[c] = Swift.min(columnMin[c], v)
            }
        }
        let s0 = try m.sum(alongAxis: 0)
        let s1 = try m.sum(alongAxis: 1)
        #expect(s0.shape == [columns] && s1.shape == [rows])
        #expect(allClose(s0.scalars, columnSums.map { Float($0) }, atol: 1e-4))
        #expect(allClose(s1.scalars, rowSums.map { Float($0) }, atol: 1e-4))
        #expect(try m.max(alongAxis: 0).scalars == columnMax)
        #expect(try m.max(alongAxis: 1).scalars == rowMax)
        #expect(try m.min(alongAxis: 0).scalars == columnMin)
        if rows > 0 {
            #expect(allClose(try m.mean(alongAxis: 0).scalars, columnSums.map { Float($0 / Double(rows)) }))
        }
        if columns > 0 {
            #expect(allClose(try m.mean(alongAxis: 1).scalars, rowSums.map { Float($0 / Double(columns)) }))
        }
    }

    @Test func axisReductionsViewHigherRanksAsMatrices() throws {
        let t = try sample(2 * 3 * 5).reshaped([2, 3, 5])
        let flat = try t.reshaped([6, 5])
        #expect(try t.sum(alongAxis: 0) == flat.sum(alongAxis: 0))
        #expect(try t.sum(alongAxis: 1).shape == [6])
        #expect(try t.rowNorms() == flat.rowNorms())
    }

    @Test func axisReductionsRejectBadAxesAndNonMatrices() {
        let m = Tensor.zeros([2, 3])
        #expect(throws: TensorError("sum", "axis 2 out of range for shape [2, 3] (expected 0 or 1)")) {
            try m.sum(alongAxis: 2)
        }
        #expect(throws: TensorError("max", "axis -1 out of range for shape [2, 3] (expected 0 or 1)")) {
            try m.max(alongAxis: -1)
        }
        #expect(throws: TensorError("sum", "needs a matrix, got shape [5]")) { try Tensor.zeros([5]).sum(alongAxis: 0) }
        #expect(throws: TensorError("mean", "axis 1 of shape [3, 0] is empty")) {
            try Tensor.zeros([3, 0]).mean(alongAxis: 1)
        }
    }

    // MARK: Norms

    @Test(arguments: awkwardSizes)
    func normsMatchDoubleReferences(n: Int) throws {
        let x = sample(n, seed: 5)
        let y = sample(n, seed: 6)
        let ss = reference(x.scalars) { $0 * $0 }
        #expect(isClose(x.sumOfSquares(), Float(ss), atol: 1e-4))
        #expect(isClose(x.l2Norm(), Float(ss.squareRoot())))
        #expect(x.frobeniusNorm() == x.l2Norm())
        #expect(isClose(x.l1Norm(), Float(reference(x.scalars) { Swift.abs($0) }), atol: 1e-4))
        #expect(x.linfNorm() == x.scalars.reduce(0) { Swift.max($0, Swift.abs($1)) })
        let dot = zip(x.scalars, y.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(isClose(try x.dot(y), Float(dot), rtol: 1e-5, atol: 1e-3))
        if n > 0 {
            #expect(isClose(try x.rms(), Float((ss / Double(n)).squareRoot())))
        }
    }

    @Test(arguments: matrixShapes)
    func rowAndColumnStatisticsMatchDoubleLoops(rows: Int, columns: Int) throws {
        let m = try sample(rows * columns, seed: 7).reshaped([rows, columns])
        var rowSS = [Double](repeating: 0, count: rows)
        var columnSS = [Double](repeating: 0, count: columns)
        for r in 0..<rows {
            for c in 0..<columns {
                let v = Double(m.scalars[r * columns + c])
                rowSS[r] += v * v
                columnSS[c] += v * v
            }
        }
        #expect(allClose(try m.rowNorms().scalars, rowSS.map { Float($0.squareRoot()) }))
        #expect(allClose(try m.columnNorms().scalars, columnSS.map { Float($0.squareRoot()) }))
        if columns > 0 {
            #expect(allClose(try m.rowMeanSquares().scalars, rowSS.map { Float($0 / Double(columns)) }))
        }
        if rows > 0 {
            #expect(allClose(try m.columnMeanSquares().scalars, columnSS.map { Float($0 / Double(rows)) }))
        }
    }

    @Test func matrixStatisticsRejectVectorsAndEmptyAverages() {
        let v = Tensor.zeros([5])
        #expect(throws: TensorError("rowNorms", "needs a matrix, got shape [5]")) { try v.rowNorms() }
        #expect(throws: TensorError("columnNorms", "needs a matrix, got shape [5]")) { try v.columnNorms() }
        #expect(throws: TensorError("rowMeanSquares", "needs a matrix, got shape [5]")) { try v.rowMeanSquares() }
        #expect(throws: TensorError("columnMeanSquares", "needs a matrix, got shape [5]")) {
            try v.columnMeanSquares()
        }
        #expect(throws: TensorError("rowMeanSquares", "no columns to average in shape [2, 0]")) {
            try Tensor.zeros([2, 0]).rowMeanSquares()
        }
        #expect(throws: TensorError("columnMeanSquares", "no rows to average in shape [0, 2]")) {
            try Tensor.zeros([0, 2]).columnMeanSquares()
        }
        #expect(throws: TensorError("dot", "shapes differ: [5] vs [2, 3]")) { try v.dot(Tensor.zeros([2, 3])) }
    }

    @Test func rowSumOfAOneRowMatrixEqualsTheWholeSumBitForBit() throws {
        let x = sample(40_000, seed: 9)
        #expect(try x.reshaped([1, 40_000]).sum(alongAxis: 1).scalars == [x.sum()])
    }
}

/// Reductions give the same bits on one thread and on two.
@Suite struct ReductionDeterminismTests {
    /// Runs `body` with one and then two threads, checking that the second really split.
    private func withOneAndTwoThreads<R>(_ body: () throws -> R) rethrows -> (R, R) {
        let one = try Parallel.withThreadCount(1, body)
        let two = try Parallel.withThreadCount(2, body)
        #expect(one.parallelLoops == 0)
        #expect(two.parallelLoops > 0, "some reduction ran on two threads")
        return (one.result, two.result)
    }

    @Test func sumsAreBitIdenticalForOneAndTwoThreads() throws {
        // Over two grains (32,768 elements), odd, so that every reduction splits unevenly.
        let x = sample(100_003, seed: 21)
        let y = sample(100_003, seed: 22)
        let m = try sample(99_900, seed: 25).reshaped([300, 333])
        let (one, two) = try withOneAndTwoThreads {
            [
                x.sum(), x.sumOfSquares(), x.l1Norm(), x.linfNorm(), x.max(), x.min(), try x.dot(y), try x.mean(),
            ] + (try m.sum(alongAxis: 0).scalars) + (try m.sum(alongAxis: 1).scalars) + (try m.rowNorms().scalars)
                + (try m.columnNorms().scalars)
        }
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
    }

    @Test func elementwiseResultsAreBitIdenticalForOneAndTwoThreads() throws {
        let x = sample(100_003, seed: 23)
        let y = sample(100_003, seed: 24)
        let (one, two) = try withOneAndTwoThreads {
            var z = x
            try z.add(y, scaledBy: 0.3)
            try z.lerp(toward: y, weight: 0.1)
            return try [
                z, x.multiplying(y), x.gelu(), x.square(), sample(99_900, seed: 26).reshaped([300, 333]).addingRowVector(sample(333)),
            ]
        }
        #expect(one == two)
    }
}
