import Testing

@testable import TensorRuntime

@Suite struct TensorCreationTests {
    @Test func shapeMismatchInInitializerThrowsWithBothCounts() {
        #expect(throws: TensorError("tensor", "5 values do not fill shape [2, 3] (6 elements)")) {
            try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5])
        }
    }

    @Test func zerosOnesAndRepeatingFillEveryElement() {
        #expect(Tensor.zeros([2, 3]).scalars == [0, 0, 0, 0, 0, 0])
        #expect(Tensor.ones([4]).scalars == [1, 1, 1, 1])
        #expect(Tensor(repeating: 2.5, shape: [1, 2]).scalars == [2.5, 2.5])
        #expect(Tensor.zeros([0, 3]).count == 0)
        #expect(Tensor(7).shape == Shape([]))
        #expect(Tensor(7).count == 1)
    }

    @Test func seededRandomTensorsRepeatForTheSameSeed() {
        var r1 = SeededRandom(seed: 42)
        var r2 = SeededRandom(seed: 42)
        var r3 = SeededRandom(seed: 43)
        let a = Tensor.randomNormal([3, 5], using: &r1)
        let b = Tensor.randomNormal([3, 5], using: &r2)
        let c = Tensor.randomNormal([3, 5], using: &r3)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func normalSamplesHaveRoughlyTheRequestedMoments() {
        var rng = SeededRandom(seed: 7)
        let x = Tensor.randomNormal([20_000], mean: 2, std: 3, using: &rng).scalars
        let mean = x.reduce(0, +) / Float(x.count)
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(x.count)
        #expect(abs(mean - 2) < 0.1)
        #expect(abs(variance.squareRoot() - 3) < 0.1)
    }

    @Test func uniformSamplesStayInRange() {
        var rng = SeededRandom(seed: 1)
        let x = Tensor.randomUniform([5000], low: -2, high: 3, using: &rng).scalars
        #expect(x.allSatisfy { $0 >= -2 && $0 < 3 })
        #expect(x.min()! < -1.9 && x.max()! > 2.9)
    }

    @Test func generatorStateRoundTripsThroughCodable() throws {
        var rng = SeededRandom(seed: 9)
        _ = rng.next()
        let saved = rng
        let first = (0..<5).map { _ in rng.next() }
        var restored = SeededRandom(seed: 0)
        restored.state = saved.state
        #expect((0..<5).map { _ in restored.next() } == first)
    }

    @Test func matrixFromRowsRejectsRaggedRows() {
        #expect(throws: TensorError("tensor", "rows differ in length: [2, 1]")) {
            try Tensor(rows: [[1, 2], [3]])
        }
    }
}

@Suite struct TensorLayoutTests {
    @Test func reshapeKeepsOrderAndInfersMinusOne() throws {
        let t = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let r = try t.reshaped([3, -1])
        #expect(r.shape == Shape([3, 2]))
        #expect(r.scalars == t.scalars)
    }

    @Test func reshapeToWrongCountThrows() throws {
        let t = Tensor.zeros([2, 3])
        #expect(throws: TensorError("reshape", "cannot view [2, 3] (6 elements) as [4, 2] (8 elements)")) {
            try t.reshaped([4, 2])
        }
        #expect(throws: TensorError.self) { try t.reshaped([-1, -1]) }
        #expect(throws: TensorError.self) { try t.reshaped([4, -1]) }
    }

    @Test(arguments: [(0, 0), (1, 1), (1, 5), (3, 1), (33, 31), (64, 65)])
    func transposeSwapsIndices(rows: Int, cols: Int) throws {
        var rng = SeededRandom(seed: UInt64(rows * 100 + cols))
        let t = Tensor.randomUniform([rows, cols], using: &rng)
        let tt = try t.transposed()
        #expect(tt.shape == Shape([cols, rows]))
        for i in 0..<rows { for j in 0..<cols { #expect(tt[j, i] == t[i, j]) } }
        #expect(try tt.transposed() == t)
    }

    @Test func transposeOfVectorThrows() {
        #expect(throws: TensorError("transpose", "expects a matrix, got shape [3]")) {
            try Tensor([1, 2, 3]).transposed()
        }
    }

    @Test func rowSlicesCopyTheSelectedRows() throws {
        let t = try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        #expect(try t.rows(1..<3).scalars == [3, 4, 5, 6])
        #expect(try t.rows(1..<3).shape == Shape([2, 2]))
        #expect(try t.rows(2..<2).count == 0)
        #expect(try t.row(0).scalars == [1, 2])
        #expect(throws: TensorError("rows", "range 2..<4 out of bounds for shape [3, 2]")) { try t.rows(2..<4) }
    }

    @Test func scalarAccessorNeedsOneElement() throws {
        #expect(try Tensor(3).scalar == 3)
        #expect(throws: TensorError.self) { try Tensor([1, 2]).scalar }
    }
}

@Suite struct SubnormalTests {
    /// A value the optimiser cannot fold.
    nonisolated(unsafe) static var scale: Float = 1e-3

    #if arch(x86_64)
        @Test func parallelWorkFlushesSubnormalsToZeroOnEveryThread() {
            var results = [Float](repeating: -1, count: 4)
            results.withUnsafeMutableBufferPointer { out in
                let box = UncheckedBox(out)
                Parallel.forEach(4) { i in box.value[i] = 1e-37 * Self.scale }
            }
            #expect(results == [0, 0, 0, 0])
            // Normal values are untouched.
            #expect(Float(1e-30) * Self.scale > 0)
        }
    #endif
}
