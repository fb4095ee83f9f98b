import Foundation

/// Matrix-multiply kernels on raw row-major buffers.
///
/// Computes `C[m,n] = op(A)·op(B)` (or `C += …` when `accumulate`), where `op(A)` is `m×k`
/// and `op(B)` is `k×n`. Without transposition `A` is stored `m×k` with leading dimension
/// `lda`; with it, `A` is stored `k×m` (so `op(A) = Aᵀ`). Likewise for `B`. `C` is stored
/// `m×n` with leading dimension `ldc`.
///
/// The fast path follows the BLIS/GotoBLAS structure, with block sizes chosen per call from
/// the depth `k` and this CPU's level-2 cache (``Blocking``): `op(B)` is packed in `kc×nc`
/// blocks as panels as wide as the register tile, and the tile (``Tile``: 12×32 on AVX-512,
/// 6×16 on AVX2, half the registers as accumulators either way) does the arithmetic. Each
/// tile of rows of `op(A)` (`mr×kc`, in level 1) meets every panel of the block in turn, the
/// panels streaming from level 2. `op(A)` is read in place, except where
/// its rows lie a multiple of 4 KiB apart (twelve rows would then share one level-1 set):
/// such a block is first copied with a padded row length; a last partial tile of rows is
/// packed. Work is split over threads by a static partition of `C`, and every element of `C`
/// sums its `k` products in the same order whatever the thread count, so results are bitwise
/// reproducible.
public enum Matmul {
    /// The register tile of the micro-kernel: `rows` values of `op(A)` broadcast a step, each
    /// multiplied into `columns` values of `op(B)`.
    struct Tile: Sendable, Equatable {
        /// Rows (`mr`).
        let rows: Int
        /// Columns (`nr`), a multiple of 16.
        let columns: Int

        /// AVX-512: 24 accumulators of 16 floats in 32 registers.
        static let zmm = Tile(rows: 12, columns: 32)
        /// AVX2: 12 accumulators of 8 floats in 16 registers (the 12×32 tile's 48 spill).
        static let ymm = Tile(rows: 6, columns: 16)
        /// The tile for this machine's registers.
        static let current: Tile = VectorRegisters.current == .avx512 ? .zmm : .ymm
        /// The most rows and columns of any tile, which the workspace is sized for.
        static let largest = Tile(rows: max(zmm.rows, ymm.rows), columns: max(zmm.columns, ymm.columns))
    }
    /// The deepest packed block: deeper products are split into equal blocks no deeper.
    static let maxDepth = 1024
    /// The most rows of `op(A)` in one block (shallow products would otherwise take thousands).
    static let maxRows = 1536
    /// Floats of one packed block of `op(B)` (`kc × nc`).
    static let packedBCount = 512 * 1024

    /// The block sizes of one multiplication.
    struct Blocking: Equatable {
        /// Depth of a packed block (`k` direction).
        var kc: Int
        /// Rows of `op(A)` that meet one packed block of `op(B)` (a multiple of the tile's
        /// rows); their `mc×kc` floats take about a fifth of level 2.
        var mc: Int
        /// Columns of `op(B)` packed at once (a multiple of the tile's columns).
        var nc: Int
        /// The register tile.
        var tile: Tile

        /// Fewest passes over `C`: `k` in as few blocks as ``maxDepth`` allows, equal in depth.
        init(k: Int, caches: CacheSizes = .current, tile: Tile = .current) {
            let blocks = (k + maxDepth - 1) / maxDepth
            let (mr, nr) = (tile.rows, tile.columns)
            kc = max(1, (k + blocks - 1) / blocks)
            mc = min(maxRows, max(mr, caches.level2 / 5 / (kc * MemoryLayout<Float>.stride) / mr * mr))
            nc = max(nr, packedBCount / kc / nr * nr)
            self.tile = tile
        }

        /// Floats of a packed partial tile of `op(A)` and of a block's copy with padded rows
        /// (stored either way round).
        var aCount: Int { tile.rows * maxDepth + max(mc * (kc + rowPadding), kc * (mc + rowPadding)) }
        /// Floats of a packed block of `op(B)`, its last panel padded to the tile's columns.
        var bCount: Int { kc * (nc + tile.columns) }

        /// Buffers that hold the blocks of every multiplication with any tile on a CPU with
        /// these caches, so that one workspace serves products of any shape.
        static func capacity(_ caches: CacheSizes = .current) -> (a: Int, b: Int) {
            // mc·kc is at most a fifth of level 2 (or one tile at the deepest block), and kc·nc
            // at most packedBCount.
            let (mr, nr) = (Tile.largest.rows, Tile.largest.columns)
            let block = max(caches.level2 / 5 / MemoryLayout<Float>.stride, mr * maxDepth)
            return (mr * maxDepth + block + rowPadding * max(maxRows, maxDepth), packedBCount + nr * maxDepth)
        }
    }

    /// Floats added to a copied row so that consecutive rows fall in different cache sets.
    static let rowPadding = 16

    /// Below this many multiply-adds the packing overhead is not worth it.
    static let smallWork = 8 * 1024
    /// Below this many multiply-adds a second thread costs more than it saves.
    static let parallelWork = 1 << 20

    /// The fast path: blocked, packed, SIMD and multithreaded.
    /// - Complexity: `2·m·n·k` floating-point operations.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool
    ) {
        multiply(
            m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
            c: c, ldc: ldc, accumulate: accumulate, tile: .current)
    }

    /// ``multiply(m:n:k:a:lda:transposeA:b:ldb:transposeB:c:ldc:accumulate:)`` with a chosen
    /// register tile (tests run every tile on every machine).
    static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool, tile: Tile
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let operands = Operands(
            a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
            c: c, ldc: ldc, k: k, accumulate: accumulate, tile: tile)
        let work = m * n * k
        if work < smallWork {
            operands.small(rows: 0..<m, columns: 0..<n)
            return
        }
        let threads = work < parallelWork || Parallel.isBusy ? 1 : Parallel.threadCount
        let parts = partition(m: m, n: n, threads: threads, tile: tile)
        if parts.count == 1 {
            operands.blocked(rows: 0..<m, columns: 0..<n)
            return
        }
        Parallel.forEach(parts.count) { p in
            operands.blocked(rows: parts[p].rows, columns: parts[p].columns)
        }
    }

    /// `batch` independent products, matrix `i` of each operand starting `i·stride` floats
    /// after the first. Small products run one per thread; large ones split themselves.
    public static func multiplyBatched(
        batch: Int, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, strideA: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, strideB: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int,
        accumulate: Bool
    ) {
        let one = { (i: Int) in
            multiply(
                m: m, n: n, k: k, a: a + i * strideA, lda: lda, transposeA: transposeA,
                b: b + i * strideB, ldb: ldb, transposeB: transposeB, c: c + i * strideC, ldc: ldc,
                accumulate: accumulate)
        }
        if batch > 1 && m * n * k < parallelWork && !Parallel.isBusy {
            Parallel.forEach(batch, one)
        } else {
            for i in 0..<batch { one(i) }
        }
    }

    /// A rectangle of `C` owned by one thread.
    struct Part {
        var rows: Range<Int>
        var columns: Range<Int>
    }

    /// Splits `C` into `threads` pieces along the dimension that balances best in whole
    /// register tiles. Deterministic: depends only on the sizes and the thread count.
    static func partition(m: Int, n: Int, threads: Int, tile: Tile = .current) -> [Part] {
        let (mr, nr) = (tile.rows, tile.columns)
        if threads <= 1 { return [Part(rows: 0..<m, columns: 0..<n)] }
        func split(_ extent: Int, unit: Int) -> [Range<Int>] {
            let units = (extent + unit - 1) / unit
            let pieces = min(threads, units)
            return (0..<pieces).map { p in
                let lo = min(extent, units * p / pieces * unit)
                let hi = min(extent, units * (p + 1) / pieces * unit)
                return lo..<hi
            }
        }
        // Cost of a split: the register tiles of its largest piece (what the slowest thread does).
        func cost(_ ranges: [Range<Int>], unit: Int, other: Int, otherUnit: Int) -> Int {
            let widest = ranges.map { ($0.count + unit - 1) / unit }.max() ?? 0
            return widest * ((other + otherUnit - 1) / otherUnit)
        }
        let byRows = split(m, unit: mr)
        let byColumns = split(n, unit: nr)
        if cost(byRows, unit: mr, other: n, otherUnit: nr) <= cost(byColumns, unit: nr, other: m, otherUnit: mr) {
            return byRows.map { Part(rows: $0, columns: 0..<n) }
        }
        return byColumns.map { Part(rows: 0..<m, columns: $0) }
    }

    /// The reference: a plain triple loop with a `Double` accumulator, kept as the test
    /// oracle for the fast kernel.
    public static func naive(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k {
                    let x = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let y = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + Float(sum) : Float(sum)
            }
        }
    }

    /// The register tile: `c[0..<mr, 0..<nr] (+)= A · bPanel` over `kc` steps.
    /// Row `i` of step `p` of A is `a[i·aRow + p·aStep]` (A in place or packed); `bPanel`
    /// holds `nr` contiguous values per step. With `load` the tile is added to `c`'s current
    /// values, else it overwrites.
    @inline(__always)
    static func microKernel(
        _ tile: Tile, kc: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, load: Bool
    ) {
        if tile == .zmm {
            microKernel12x32(kc: kc, a: a, aRow: aRow, aStep: aStep, b: b, c: c, ldc: ldc, load: load)
        } else {
            microKernel6x16(kc: kc, a: a, aRow: aRow, aStep: aStep, b: b, c: c, ldc: ldc, load: load)
        }
    }

    /// The 12×32 tile (``Tile/zmm``): 24 accumulators of 16 floats.
    @inline(__always)
    static func microKernel12x32(
        kc: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, load: Bool
    ) {
        var c0_0 = SIMD16<Float>()
        var c0_1 = SIMD16<Float>()
        var c1_0 = SIMD16<Float>()
        var c1_1 = SIMD16<Float>()
        var c2_0 = SIMD16<Float>()
        var c2_1 = SIMD16<Float>()
        var c3_0 = SIMD16<Float>()
        var c3_1 = SIMD16<Float>()
        var c4_0 = SIMD16<Float>()
        var c4_1 = SIMD16<Float>()
        var c5_0 = SIMD16<Float>()
        var c5_1 = SIMD16<Float>()
        var c6_0 = SIMD16<Float>()
        var c6_1 = SIMD16<Float>()
        var c7_0 = SIMD16<Float>()
        var c7_1 = SIMD16<Float>()
        var c8_0 = SIMD16<Float>()
        var c8_1 = SIMD16<Float>()
        var c9_0 = SIMD16<Float>()
        var c9_1 = SIMD16<Float>()
        var c10_0 = SIMD16<Float>()
        var c10_1 = SIMD16<Float>()
        var c11_0 = SIMD16<Float>()
        var c11_1 = SIMD16<Float>()
        var ap = a
        var bp = UnsafeRawPointer(b)
        for _ in 0..<kc {
            let b0 = bp.load(fromByteOffset: 0, as: SIMD16<Float>.self)
            let b1 = bp.load(fromByteOffset: 64, as: SIMD16<Float>.self)
            let a0 = SIMD16<Float>(repeating: ap[0 * aRow])
            c0_0.addProduct(a0, b0)
            c0_1.addProduct(a0, b1)
            let a1 = SIMD16<Float>(repeating: ap[1 * aRow])
            c1_0.addProduct(a1, b0)
            c1_1.addProduct(a1, b1)
            let a2 = SIMD16<Float>(repeating: ap[2 * aRow])
            c2_0.addProduct(a2, b0)
            c2_1.addProduct(a2, b1)
            let a3 = SIMD16<Float>(repeating: ap[3 * aRow])
            c3_0.addProduct(a3, b0)
            c3_1.addProduct(a3, b1)
            let a4 = SIMD16<Float>(repeating: ap[4 * aRow])
            c4_0.addProduct(a4, b0)
            c4_1.addProduct(a4, b1)
            let a5 = SIMD16<Float>(repeating: ap[5 * aRow])
            c5_0.addProduct(a5, b0)
            c5_1.addProduct(a5, b1)
            let a6 = SIMD16<Float>(repeating: ap[6 * aRow])
            c6_0.addProduct(a6, b0)
            c6_1.addProduct(a6, b1)
            let a7 = SIMD16<Float>(repeating: ap[7 * aRow])
            c7_0.addProduct(a7, b0)
            c7_1.addProduct(a7, b1)
            let a8 = SIMD16<Float>(repeating: ap[8 * aRow])
            c8_0.addProduct(a8, b0)
            c8_1.addProduct(a8, b1)
            let a9 = SIMD16<Float>(repeating: ap[9 * aRow])
            c9_0.addProduct(a9, b0)
            c9_1.addProduct(a9, b1)
            let a10 = SIMD16<Float>(repeating: ap[10 * aRow])
            c10_0.addProduct(a10, b0)
            c10_1.addProduct(a10, b1)
            let a11 = SIMD16<Float>(repeating: ap[11 * aRow])
            c11_0.addProduct(a11, b0)
            c11_1.addProduct(a11, b1)
            ap += aStep
            bp += 128
        }
        let cr = UnsafeMutableRawPointer(c)
        let rowBytes = ldc * MemoryLayout<Float>.stride
        if load {
            c0_0 += cr.loadUnaligned(fromByteOffset: 0 * rowBytes + 0, as: SIMD16<Float>.self)
            c0_1 += cr.loadUnaligned(fromByteOffset: 0 * rowBytes + 64, as: SIMD16<Float>.self)
            c1_0 += cr.loadUnaligned(fromByteOffset: 1 * rowBytes + 0, as: SIMD16<Float>.self)
            c1_1 += cr.loadUnaligned(fromByteOffset: 1 * rowBytes + 64, as: SIMD16<Float>.self)
            c2_0 += cr.loadUnaligned(fromByteOffset: 2 * rowBytes + 0, as: SIMD16<Float>.self)
            c2_1 += cr.loadUnaligned(fromByteOffset: 2 * rowBytes + 64, as: SIMD16<Float>.self)
            c3_0 += cr.loadUnaligned(fromByteOffset: 3 * rowBytes + 0, as: SIMD16<Float>.self)
            c3_1 += cr.loadUnaligned(fromByteOffset: 3 * rowBytes + 64, as: SIMD16<Float>.self)
            c4_0 += cr.loadUnaligned(fromByteOffset: 4 * rowBytes + 0, as: SIMD16<Float>.self)
            c4_1 += cr.loadUnaligned(fromByteOffset: 4 * rowBytes + 64, as: SIMD16<Float>.self)
            c5_0 += cr.loadUnaligned(fromByteOffset: 5 * rowBytes + 0, as: SIMD16<Float>.self)
            c5_1 += cr.loadUnaligned(fromByteOffset: 5 * rowBytes + 64, as: SIMD16<Float>.self)
            c6_0 += cr.loadUnaligned(fromByteOffset: 6 * rowBytes + 0, as: SIMD16<Float>.self)
            c6_1 += cr.loadUnaligned(fromByteOffset: 6 * rowBytes + 64, as: SIMD16<Float>.self)
            c7_0 += cr.loadUnaligned(fromByteOffset: 7 * rowBytes + 0, as: SIMD16<Float>.self)
            c7_1 += cr.loadUnaligned(fromByteOffset: 7 * rowBytes + 64, as: SIMD16<Float>.self)
            c8_0 += cr.loadUnaligned(fromByteOffset: 8 * rowBytes + 0, as: SIMD16<Float>.self)
            c8_1 += cr.loadUnaligned(fromByteOffset: 8 * rowBytes + 64, as: SIMD16<Float>.self)
            c9_0 += cr.loadUnaligned(fromByteOffset: 9 * rowBytes + 0, as: SIMD16<Float>.self)
            c9_1 += cr.loadUnaligned(fromByteOffset: 9 * rowBytes + 64, as: SIMD16<Float>.self)
            c10_0 += cr.loadUnaligned(fromByteOffset: 10 * rowBytes + 0, as: SIMD16<Float>.self)
            c10_1 += cr.loadUnaligned(fromByteOffset: 10 * rowBytes + 64, as: SIMD16<Float>.self)
            c11_0 += cr.loadUnaligned(fromByteOffset: 11 * rowBytes + 0, as: SIMD16<Float>.self)
            c11_1 += cr.loadUnaligned(fromByteOffset: 11 * rowBytes + 64, as: SIMD16<Float>.self)
        }
        cr.storeBytes(of: c0_0, toByteOffset: 0 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c0_1, toByteOffset: 0 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c1_0, toByteOffset: 1 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c1_1, toByteOffset: 1 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c2_0, toByteOffset: 2 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c2_1, toByteOffset: 2 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c3_0, toByteOffset: 3 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c3_1, toByteOffset: 3 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c4_0, toByteOffset: 4 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c4_1, toByteOffset: 4 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c5_0, toByteOffset: 5 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c5_1, toByteOffset: 5 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c6_0, toByteOffset: 6 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c6_1, toByteOffset: 6 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c7_0, toByteOffset: 7 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c7_1, toByteOffset: 7 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c8_0, toByteOffset: 8 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c8_1, toByteOffset: 8 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c9_0, toByteOffset: 9 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c9_1, toByteOffset: 9 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c10_0, toByteOffset: 10 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c10_1, toByteOffset: 10 * rowBytes + 64, as: SIMD16<Float>.self)
        cr.storeBytes(of: c11_0, toByteOffset: 11 * rowBytes + 0, as: SIMD16<Float>.self)
        cr.storeBytes(of: c11_1, toByteOffset: 11 * rowBytes + 64, as: SIMD16<Float>.self)
    }

    /// The 6×16 tile (``Tile/ymm``): 6 accumulators of 16 floats, 12 registers of 8.
    @inline(__always)
    static func microKernel6x16(
        kc: Int, a: UnsafePointer<Float>, aRow: Int, aStep: Int, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, load: Bool
    ) {
        var c0 = SIMD16<Float>()
        var c1 = SIMD16<Float>()
        var c2 = SIMD16<Float>()
        var c3 = SIMD16<Float>()
        var c4 = SIMD16<Float>()
        var c5 = SIMD16<Float>()
        var ap = a
        var bp = UnsafeRawPointer(b)
        for _ in 0..<kc {
            let b0 = bp.load(as: SIMD16<Float>.self)
            c0.addProduct(SIMD16<Float>(repeating: ap[0 * aRow]), b0)
            c1.addProduct(SIMD16<Float>(repeating: ap[1 * aRow]), b0)
            c2.addProduct(SIMD16<Float>(repeating: ap[2 * aRow]), b0)
            c3.addProduct(SIMD16<Float>(repeating: ap[3 * aRow]), b0)
            c4.addProduct(SIMD16<Float>(repeating: ap[4 * aRow]), b0)
            c5.addProduct(SIMD16<Float>(repeating: ap[5 * aRow]), b0)
            ap += aStep
            bp += 64
        }
        let cr = UnsafeMutableRawPointer(c)
        let rowBytes = ldc * MemoryLayout<Float>.stride
        if load {
            c0 += cr.loadUnaligned(fromByteOffset: 0 * rowBytes, as: SIMD16<Float>.self)
            c1 += cr.loadUnaligned(fromByteOffset: 1 * rowBytes, as: SIMD16<Float>.self)
            c2 += cr.loadUnaligned(fromByteOffset: 2 * rowBytes, as: SIMD16<Float>.self)
            c3 += cr.loadUnaligned(fromByteOffset: 3 * rowBytes, as: SIMD16<Float>.self)
            c4 += cr.loadUnaligned(fromByteOffset: 4 * rowBytes, as: SIMD16<Float>.self)
            c5 += cr.loadUnaligned(fromByteOffset: 5 * rowBytes, as: SIMD16<Float>.self)
        }
        cr.storeBytes(of: c0, toByteOffset: 0 * rowBytes, as: SIMD16<Float>.self)
        cr.storeBytes(of: c1, toByteOffset: 1 * rowBytes, as: SIMD16<Float>.self)
        cr.storeBytes(of: c2, toByteOffset: 2 * rowBytes, as: SIMD16<Float>.self)
        cr.storeBytes(of: c3, toByteOffset: 3 * rowBytes, as: SIMD16<Float>.self)
        cr.storeBytes(of: c4, toByteOffset: 4 * rowBytes, as: SIMD16<Float>.self)
        cr.storeBytes(of: c5, toByteOffset: 5 * rowBytes, as: SIMD16<Float>.self)
    }

}

/// The operands of one multiplication, shared read-only by the threads that compute it.
private struct Operands: @unchecked Sendable {  // raw pointers; each thread writes a disjoint part of `c`
    let a: UnsafePointer<Float>
    let lda: Int
    let transposeA: Bool
    let b: UnsafePointer<Float>
    let ldb: Int
    let transposeB: Bool
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    let k: Int
    let accumulate: Bool
    let tile: Matmul.Tile

    @inline(__always) func elementA(_ i: Int, _ p: Int) -> Float {
        transposeA ? a[p * lda + i] : a[i * lda + p]
    }

    @inline(__always) func elementB(_ p: Int, _ j: Int) -> Float {
        transposeB ? b[j * ldb + p] : b[p * ldb + j]
    }

    /// Unpacked path for tiny products: one row of `C` at a time, summing in `k` order.
    func small(rows: Range<Int>, columns: Range<Int>) {
        for i in rows {
            let row = c + i * ldc
            for j in columns {
                var sum: Float = 0
                for p in 0..<k { sum += elementA(i, p) * elementB(p, j) }
                row[j] = accumulate ? row[j] + sum : sum
            }
        }
    }

    /// The blocked path over one rectangle of `C`.
    func blocked(rows: Range<Int>, columns: Range<Int>) {
        let blocking = Matmul.Blocking(k: k, tile: tile)
        let workspace = PackWorkspace.take()
        defer { PackWorkspace.give(workspace) }
        var jc = columns.lowerBound
        while jc < columns.upperBound {
            let ncb = min(blocking.nc, columns.upperBound - jc)
            var pc = 0
            while pc < k {
                let kcb = min(blocking.kc, k - pc)
                packB(into: workspace.b, p0: pc, depth: kcb, j0: jc, width: ncb)
                var ic = rows.lowerBound
                while ic < rows.upperBound {
                    let mcb = min(blocking.mc, rows.upperBound - ic)
                    block(
                        rows: ic, height: mcb, columns: jc, width: ncb, p0: pc, depth: kcb,
                        load: accumulate || pc > 0, workspace: workspace)
                    ic += mcb
                }
                pc += kcb
            }
            jc += ncb
        }
    }

    /// `C[i0..<i0+height, j0..<j0+width] (+)= op(A)[rows, p0..<p0+depth] · packed op(B)`:
    /// each tile of rows of `op(A)` against every panel of the packed block.
    func block(
        rows i0: Int, height: Int, columns j0: Int, width: Int, p0: Int, depth: Int, load: Bool,
        workspace: PackWorkspace
    ) {
        let (mr, nr) = (tile.rows, tile.columns)
        let wholeRows = height / mr * mr
        // Where op(A)'s tiles come from: in place, or a copy with padded rows.
        var source = (base: a, row: transposeA ? 1 : lda, step: transposeA ? lda : 1)
        source.base += transposeA ? p0 * lda + i0 : i0 * lda + p0
        if wholeRows > 0 && (lda * MemoryLayout<Float>.stride) % 4096 == 0 {
            let copy = workspace.aCopy
            if transposeA {
                let ld = wholeRows + Matmul.rowPadding
                for p in 0..<depth { (copy + p * ld).update(from: source.base + p * lda, count: wholeRows) }
                source = (UnsafePointer(copy), 1, ld)
            } else {
                let ld = depth + Matmul.rowPadding
                for i in 0..<wholeRows { (copy + i * ld).update(from: source.base + i * lda, count: depth) }
                source = (UnsafePointer(copy), ld, 1)
            }
        }
        if wholeRows < height {
            packA(into: workspace.aPartial, i0: i0 + wholeRows, height: height - wholeRows, p0: p0, depth: depth)
        }
        var ir = 0
        while ir < height {
            let tileRows = min(mr, height - ir)
            let (aTile, aRow, aStep) =
                tileRows == mr
                ? (source.base + ir * source.row, source.row, source.step)
                : (UnsafePointer(workspace.aPartial), 1, mr)
            var jr = 0
            while jr < width {
                let tileColumns = min(nr, width - jr)
                let bPanel = UnsafePointer(workspace.b + jr * depth)
                let cTile = c + (i0 + ir) * ldc + j0 + jr
                if tileRows == mr && tileColumns == nr {
                    Matmul.microKernel(
                        tile, kc: depth, a: aTile, aRow: aRow, aStep: aStep, b: bPanel, c: cTile, ldc: ldc, load: load)
                } else {
                    let edge = workspace.edge
                    Matmul.microKernel(
                        tile, kc: depth, a: aTile, aRow: aRow, aStep: aStep, b: bPanel, c: edge, ldc: nr, load: false)
                    for i in 0..<tileRows {
                        let src = edge + i * nr
                        let dst = cTile + i * ldc
                        if load {
                            for j in 0..<tileColumns { dst[j] += src[j] }
                        } else {
                            dst.update(from: src, count: tileColumns)
                        }
                    }
                }
                jr += nr
            }
            ir += mr
        }
    }

    /// Packs `op(A)[i0..<i0+height, p0..<p0+depth]` as `mr`-row panels, each `depth × mr`
    /// (row index fastest), zero-padding the last panel.
    func packA(into dst: UnsafeMutablePointer<Float>, i0: Int, height: Int, p0: Int, depth: Int) {
        let mr = tile.rows
        var panel = 0
        while panel * mr < height {
            let base = dst + panel * mr * depth
            let r0 = i0 + panel * mr
            let live = min(mr, height - panel * mr)
            if transposeA {
                // A is stored k×m: each step's mr values are contiguous.
                for p in 0..<depth {
                    let src = a + (p0 + p) * lda + r0
                    let out = base + p * mr
                    out.update(from: src, count: live)
                    if live < mr { (out + live).update(repeating: 0, count: mr - live) }
                }
            } else {
                if live == mr {
                    // mr row streams, each read in order; each step's values written together.
                    let row = a + r0 * lda + p0
                    for p in 0..<depth {
                        let out = base + p * mr
                        for i in 0..<mr { out[i] = row[i * lda + p] }
                    }
                } else {
                    for i in 0..<live {
                        let src = a + (r0 + i) * lda + p0
                        for p in 0..<depth { base[p * mr + i] = src[p] }
                    }
                    for p in 0..<depth { (base + p * mr + live).update(repeating: 0, count: mr - live) }
                }
            }
            panel += 1
        }
    }

    /// Packs `op(B)[p0..<p0+depth, j0..<j0+width]` as `nr`-column panels, each `depth × nr`
    /// (column index fastest), zero-padding the last panel.
    func packB(into dst: UnsafeMutablePointer<Float>, p0: Int, depth: Int, j0: Int, width: Int) {
        let nr = tile.columns
        var panel = 0
        while panel * nr < width {
            let base = dst + panel * nr * depth
            let c0 = j0 + panel * nr
            let live = min(nr, width - panel * nr)
            if transposeB {
                // B is stored n×k: gather column by column.
                for j in 0..<live {
                    let src = b + (c0 + j) * ldb + p0
                    for p in 0..<depth { base[p * nr + j] = src[p] }
                }
                if live < nr {
                    for p in 0..<depth { (base + p * nr + live).update(repeating: 0, count: nr - live) }
                }
            } else if live == nr {
                // Vector copies: a call to copy 64 or 128 bytes costs as much as the copy.
                var src = UnsafeRawPointer(b + p0 * ldb + c0)
                var out = UnsafeMutableRawPointer(base)
                let vectors = nr / 16
                for _ in 0..<depth {
                    out.storeBytes(of: src.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                    if vectors == 2 {
                        out.storeBytes(
                            of: src.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self), toByteOffset: 64,
                            as: SIMD16<Float>.self)
                    }
                    src += ldb * MemoryLayout<Float>.stride
                    out += nr * MemoryLayout<Float>.stride
                }
            } else {
                for p in 0..<depth {
                    let src = b + (p0 + p) * ldb + c0
                    let out = base + p * nr
                    out.update(from: src, count: live)
                    (out + live).update(repeating: 0, count: nr - live)
                }
            }
            panel += 1
        }
    }
}

/// Packing buffers for one thread's share of a multiplication, 64-byte aligned, large enough
/// for every ``Matmul/Blocking`` on this CPU.
///
/// Buffers are recycled through a small locked pool, so steady-state multiplications
/// allocate nothing, and nested calls (a multiply inside a parallel loop) stay safe.
private final class PackWorkspace: @unchecked Sendable {  // owned by one thread between take() and give()
    private let storage: (a: AlignedBuffer<Float>, b: AlignedBuffer<Float>, edge: AlignedBuffer<Float>)
    /// A last partial tile of op(A), packed.
    var aPartial: UnsafeMutablePointer<Float> { storage.a.pointer }
    /// The copy of a block of op(A) with padded rows.
    var aCopy: UnsafeMutablePointer<Float> { storage.a.pointer + Matmul.Tile.largest.rows * Matmul.maxDepth }
    var b: UnsafeMutablePointer<Float> { storage.b.pointer }
    var edge: UnsafeMutablePointer<Float> { storage.edge.pointer }

    private init() {
        let capacity = Matmul.Blocking.capacity()
        storage = (
            AlignedBuffer(count: capacity.a, fill: 0), AlignedBuffer(count: capacity.b, fill: 0),
            AlignedBuffer(count: Matmul.Tile.largest.rows * Matmul.Tile.largest.columns, fill: 0)
        )
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var pool: [PackWorkspace] = []  // guarded by `lock`

    static func take() -> PackWorkspace {
        lock.lock()
        defer { lock.unlock() }
        return pool.popLast() ?? PackWorkspace()
    }

    static func give(_ workspace: PackWorkspace) {
        lock.lock()
        pool.append(workspace)
        lock.unlock()
    }
}
