import Foundation
import Testing

@testable import TensorRuntime

/// The fast kernel against its naive twin, over sizes around the tile edges.
@Suite struct MatmulKernelTests {
    /// Runs both kernels on random operands stored with padded leading dimensions.
    /// `lda` defaults to three more than the stored row, so rows never lie a power of two apart.
    static func compare(
        m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool, lda: Int? = nil,
        tile: Matmul.Tile
    ) -> Float {
        var rng = SeededRandom(seed: UInt64(m * 1_000_003 + n * 1009 + k))
        // Stored extents: op(A) is m×k, so A is stored k×m when transposed.
        let (aRows, aCols) = transposeA ? (k, m) : (m, k)
        let (bRows, bCols) = transposeB ? (n, k) : (k, n)
        let lda = lda ?? aCols + 3
        let ldb = bCols + 1
        let ldc = n + 2
        let a = (0..<(aRows * lda)).map { _ in rng.nextUniform() * 2 - 1 }
        let b = (0..<(bRows * ldb)).map { _ in rng.nextUniform() * 2 - 1 }
        let c0 = (0..<(m * ldc)).map { _ in rng.nextUniform() }
        var fast = c0
        var slow = c0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                fast.withUnsafeMutableBufferPointer { c in
                    Matmul.multiply(
                        m: m, n: n, k: k, a: a.baseAddress!, lda: lda, transposeA: transposeA,
                        b: b.baseAddress!, ldb: ldb, transposeB: transposeB,
                        c: c.baseAddress!, ldc: ldc, accumulate: accumulate, tile: tile)
                }
                slow.withUnsafeMutableBufferPointer { c in
                    Matmul.naive(
                        m: m, n: n, k: k, a: a.baseAddress!, lda: lda, transposeA: transposeA,
                        b: b.baseAddress!, ldb: ldb, transposeB: transposeB,
                        c: c.baseAddress!, ldc: ldc, accumulate: accumulate)
                }
            }
        }
        // Padding columns of C must be untouched.
        for i in 0..<m {
            for j in n..<ldc where fast[i * ldc + j] != c0[i * ldc + j] { return .infinity }
        }
        let scale = Float(max(k, 1))
        return maxAbsDiff(fast, slow) / scale
    }

    /// Every register tile runs on every machine (the AVX-512 one on an AVX2 core as pairs of
    /// registers), so each is tested wherever the suite runs.
    static let tiles: [Matmul.Tile] = [.zmm, .ymm]

    static let sizes: [(Int, Int, Int)] = [
        (1, 1, 1), (0, 5, 3), (5, 0, 3), (4, 5, 0), (11, 31, 7), (12, 32, 16), (13, 33, 17), (6, 16, 40),
        (7, 17, 41),
        (25, 65, 300), (97, 40, 257), (130, 70, 33), (64, 512 + 33, 20), (200, 3, 300),
        (101, 99, 300),  // above the threading threshold: split over threads
    ]

    /// Rows a multiple of 4 KiB apart (1024 floats) are copied with padding before the tiles read them; a
    /// depth over ``Matmul/maxDepth`` is split into blocks, and a width over the block's `nc`
    /// packs `op(B)` more than once.
    @Test(arguments: [(40, 50, 200, 1024), (30, 20, 700, 1024), (25, 1000, 1100, 1103), (13, 70, 1030, 2048)])
    func fastKernelMatchesNaiveWithAliasedRowsAndDeepOrWideBlocks(_ size: (Int, Int, Int, Int)) {
        let (m, n, k, lda) = size
        for tile in Self.tiles {
            for transposeA in [false, true] {
                for accumulate in [false, true] {
                    let err = Self.compare(
                        m: m, n: n, k: k, transposeA: transposeA, transposeB: false, accumulate: accumulate, lda: lda,
                        tile: tile)
                    #expect(err < 1e-6, "m=\(m) n=\(n) k=\(k) lda=\(lda) tA=\(transposeA) acc=\(accumulate) \(tile)")
                }
            }
        }
    }

    @Test(
        arguments: [1, 100, 1024, 1025, 3000],
        [
            CacheSizes(level1: 32 << 10, level2: 1 << 20), CacheSizes(level1: 48 << 10, level2: 2 << 20),
            CacheSizes(level1: 32 << 10, level2: 256 << 10),
        ])
    func blocksAreWholeTilesAndSplitTheDepthEvenly(_ k: Int, _ caches: CacheSizes) {
        for tile in Self.tiles {
            let blocking = Matmul.Blocking(k: k, caches: caches, tile: tile)
            let (mr, nr) = (tile.rows, tile.columns)
            let blocks = (k + blocking.kc - 1) / blocking.kc
            #expect(blocking.kc <= Matmul.maxDepth)
            #expect(blocks == (k + Matmul.maxDepth - 1) / Matmul.maxDepth)
            #expect(blocks * blocking.kc - k < blocks, "blocks differ in depth by at most one")
            #expect(blocking.mc > 0 && blocking.mc % mr == 0)
            #expect(blocking.nc > 0 && blocking.nc % nr == 0)
            #expect(blocking.mc == mr || blocking.mc * blocking.kc * 4 <= caches.level2 / 5)
            #expect(blocking.mc <= Matmul.maxRows)
            let capacity = Matmul.Blocking.capacity(caches)
            #expect(
                blocking.aCount <= capacity.a && blocking.bCount <= capacity.b,
                "one workspace serves every shape and tile")
        }
    }

    @Test(arguments: sizes)
    func fastKernelMatchesNaiveInAllTransposeCombinations(_ size: (Int, Int, Int)) {
        let (m, n, k) = size
        for tile in Self.tiles {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    for accumulate in [false, true] {
                        let err = Self.compare(
                            m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                            accumulate: accumulate, tile: tile)
                        #expect(
                            err < 1e-6,
                            "m=\(m) n=\(n) k=\(k) tA=\(transposeA) tB=\(transposeB) acc=\(accumulate) \(tile)")
                    }
                }
            }
        }
    }

    @Test func emptyInnerDimensionZeroesOrKeepsC() {
        var c: [Float] = [5, 6, 7, 8]
        let a: [Float] = []
        let b: [Float] = []
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    Matmul.multiply(
                        m: 2, n: 2, k: 0, a: a.baseAddress ?? UnsafePointer(bitPattern: 64)!, lda: 0,
                        transposeA: false, b: b.baseAddress ?? UnsafePointer(bitPattern: 64)!, ldb: 2,
                        transposeB: false, c: c.baseAddress!, ldc: 2, accumulate: true)
                }
            }
        }
        #expect(c == [5, 6, 7, 8])
    }

    @Test func splittingOverThreadsCoversEveryElementOnce() {
        for (m, n) in [(1, 1), (12, 32), (13, 1000), (2048, 128), (128, 128), (50, 33)] {
            for threads in 1...3 {
                for tile in Self.tiles {
                    let parts = Matmul.partition(m: m, n: n, threads: threads, tile: tile)
                    var seen = [Int](repeating: 0, count: m * n)
                    for p in parts { for i in p.rows { for j in p.columns { seen[i * n + j] += 1 } } }
                    #expect(seen.allSatisfy { $0 == 1 }, "m=\(m) n=\(n) threads=\(threads) \(tile)")
                }
            }
        }
    }
}

/// Results that must not depend on how work is spread over threads.
@Suite struct MatmulDeterminismTests {
    @Test func resultsAreBitwiseIdenticalForOneTwoAndThreeThreads() throws {
        var rng = SeededRandom(seed: 3)
        let a = Tensor.randomNormal([150, 130], using: &rng)
        let b = Tensor.randomNormal([130, 140], using: &rng)
        let one = try Parallel.withThreadCount(1) { try a.matmul(b) }
        let two = try Parallel.withThreadCount(2) { try a.matmul(b) }
        let three = try Parallel.withThreadCount(3) { try a.matmul(b) }
        #expect(one.parallelLoops == 0)
        #expect(two.parallelLoops == 1, "the product split over two threads")
        #expect(three.parallelLoops == 1, "the product split over three threads")
        #expect(one.result == two.result)
        #expect(one.result == three.result)
    }
}

/// The tensor-level API: shapes, transposition flags, batches and errors.
@Suite struct TensorMatmulTests {
    /// op(x) as an explicit array of rows, for a reference product.
    static func reference(_ a: Tensor, _ b: Tensor) -> [Float] {
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k { s += Double(a.scalars[i * k + p]) * Double(b.scalars[p * n + j]) }
                out[i * n + j] = Float(s)
            }
        }
        return out
    }

    @Test func smallProductHasKnownValues() throws {
        let a = try Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        let b = try Tensor(rows: [[7, 8], [9, 10], [11, 12]])
        let c = try a.matmul(b)
        #expect(c.shape == Shape([2, 2]))
        #expect(c.scalars == [58, 64, 139, 154])
    }

    @Test(arguments: [(1, 1, 1), (13, 7, 33), (40, 65, 29)])
    func transposeFlagsAgreeWithExplicitTransposes(_ size: (Int, Int, Int)) throws {
        let (m, k, n) = size
        var rng = SeededRandom(seed: 11)
        let a = Tensor.randomNormal([m, k], using: &rng)
        let b = Tensor.randomNormal([k, n], using: &rng)
        let expected = Self.reference(a, b)
        let at = try a.transposed()
        let bt = try b.transposed()
        for (x, y, tx, ty) in [(a, b, false, false), (at, b, true, false), (a, bt, false, true), (at, bt, true, true)] {
            let c = try x.matmul(y, transposeSelf: tx, transposeOther: ty)
            #expect(c.shape == Shape([m, n]))
            #expect(allClose(c.scalars, expected, rtol: 1e-4, atol: 1e-4), "tA=\(tx) tB=\(ty)")
        }
    }

    @Test func batchedProductEqualsProductOfEachSlice() throws {
        var rng = SeededRandom(seed: 5)
        let a = Tensor.randomNormal([3, 5, 4], using: &rng)
        let b = Tensor.randomNormal([3, 6, 4], using: &rng)
        let c = try a.batchedMatmul(b, transposeOther: true)
        #expect(c.shape == Shape([3, 5, 6]))
        for i in 0..<3 {
            let ai = try Tensor(shape: [5, 4], scalars: Array(a.scalars[(i * 20)..<(i * 20 + 20)]))
            let bi = try Tensor(shape: [6, 4], scalars: Array(b.scalars[(i * 24)..<(i * 24 + 24)]))
            let ci = try ai.matmul(bi, transposeOther: true)
            #expect(Array(c.scalars[(i * 30)..<(i * 30 + 30)]) == ci.scalars)
        }
    }

    @Test func assignMatmulAccumulatesIntoExistingStorage() throws {
        let a = try Tensor(rows: [[1, 2], [3, 4]])
        var c = try Tensor(rows: [[1, 1], [1, 1]])
        c.assignMatmul(a, a, accumulate: true)
        #expect(c.scalars == [8, 11, 16, 23])
        c.assignMatmul(a, a)
        #expect(c.scalars == [7, 10, 15, 22])
    }

    @Test func emptyInnerDimensionGivesZeros() throws {
        let c = try Tensor.zeros([3, 0]).matmul(Tensor.zeros([0, 2]))
        #expect(c == Tensor.zeros([3, 2]))
    }

    @Test func mismatchedShapesThrowNamingBothOperands() {
        #expect(throws: TensorError("matmul", "inner dimensions differ: [2, 3] × [4, 2]")) {
            try Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 2]))
        }
        #expect(throws: TensorError("matmul", "inner dimensions differ: [2, 3]ᵀ × [2, 4]ᵀ")) {
            try Tensor.zeros([2, 3]).matmul(Tensor.zeros([2, 4]), transposeSelf: true, transposeOther: true)
        }
        #expect(throws: TensorError("matmul", "expects matrices, got [3] × [3, 1]")) {
            try Tensor.zeros([3]).matmul(Tensor.zeros([3, 1]))
        }
        #expect(throws: TensorError("batched_matmul", "batch sizes differ: [2, 3, 3] × [3, 3, 3]")) {
            try Tensor.zeros([2, 3, 3]).batchedMatmul(Tensor.zeros([3, 3, 3]))
        }
    }
}

/// The cache sizes that block sizes are chosen from, as Linux's sysfs states them.
@Suite struct CacheSizesTests {
    @Test func sizesWithUnitsAreBytes() {
        #expect(CacheSizes.bytes("32K") == 32 * 1024)
        #expect(CacheSizes.bytes("2M") == 2 * 1024 * 1024)
        #expect(CacheSizes.bytes("4096") == 4096)
        #expect(CacheSizes.bytes("") == nil)
        #expect(CacheSizes.bytes("big") == nil)
    }

    @Test func levelOneDataAndLevelTwoAreReadFromAFolderLikeSysfs() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("caches-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let entries = [
            ("1", "Data", "48K"), ("1", "Instruction", "32K"), ("2", "Unified", "2048K"), ("3", "Unified", "96M"),
        ]
        for (index, entry) in entries.enumerated() {
            let dir = folder.appendingPathComponent("index\(index)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try "\(entry.0)\n".write(to: dir.appendingPathComponent("level"), atomically: true, encoding: .utf8)
            try "\(entry.1)\n".write(to: dir.appendingPathComponent("type"), atomically: true, encoding: .utf8)
            try "\(entry.2)\n".write(to: dir.appendingPathComponent("size"), atomically: true, encoding: .utf8)
        }
        #expect(CacheSizes(sysfs: folder.path) == CacheSizes(level1: 48 << 10, level2: 2 << 20))
        #expect(
            CacheSizes(sysfs: folder.appendingPathComponent("missing").path)
                == CacheSizes(level1: 32 << 10, level2: 1 << 20))
    }
}

/// The register file that picks each kernel's tile, as /proc/cpuinfo states it.
@Suite struct VectorRegistersTests {
    @Test func avx512IsReadFromTheFlagsLineAndAnythingElseIsAVX2() {
        let zen4 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 fma avx512f avx512bw\n"
        let zen1 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 fma\n"
        #expect(VectorRegisters(cpuinfo: zen4) == .avx512)
        #expect(VectorRegisters(cpuinfo: zen1) == .avx2)
        #expect(VectorRegisters(cpuinfo: "flags\t\t: avx512fx\n") == .avx2, "a flag is a whole word")
        #expect(VectorRegisters(cpuinfo: "") == .avx2)
        #expect(Matmul.Tile.current == (VectorRegisters.current == .avx512 ? .zmm : .ymm))
    }

    /// Each peak loop runs as many chains as it says: every chain settles at the same value,
    /// so the AVX-512 loop's 12 chains sum to twice the AVX2 loop's 6.
    @Test func peakLoopsRunTheChainsTheirFlopCountsClaim() {
        let wide = FMAPeak.spin(iterations: 1000, seed: 1, registers: .avx512)
        let narrow = FMAPeak.spin(iterations: 1000, seed: 1, registers: .avx2)
        #expect(abs(wide - 2 * narrow) <= 1e-4 * abs(wide))
        #expect(FMAPeak.flopsPerIteration(.avx512) == 2 * FMAPeak.flopsPerIteration(.avx2))
    }
}
