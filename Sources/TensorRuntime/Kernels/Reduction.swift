/// Reduction kernels on raw, contiguous `Float` buffers.
///
/// Determinism: a whole-buffer sum is cut into chunks of ``chunk`` elements, a number fixed
/// by the size alone. Each chunk is summed in blocks of 512: two 16-lane `Float` accumulators
/// per block, flushed lane by lane into 16 `Double` accumulators, whose lanes are then added
/// in order; the chunk partials are combined in `Double` in chunk order. Threads only decide *who* sums a chunk, never *how*, so the
/// result is bit-identical for any thread count. Row sums use the same chunked scheme on
/// each row; column sums accumulate each column in `Double`, row by row.
enum Reduction {
    /// Elements per chunk of a whole-buffer reduction.
    static let chunk = 4096
    /// Chunks per parallel piece (so a piece covers about `Elementwise.grain` elements).
    static let chunksPerPiece = Elementwise.grain / chunk

    typealias Vector = Elementwise.Vector
    private static let width = Vector.scalarCount

    // MARK: Chunked sums

    /// Elements per block inside a chunk: each `Float` lane adds only 16 values before the
    /// lanes are flushed into `Double` accumulators, which keeps rounding error near one ulp.
    private static let block = 32 * width

    /// The sum of `f(a[i], b[i])` over one chunk, with a fixed accumulation order.
    @inline(__always)
    private static func chunkSum(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int,
        _ vf: (Vector, Vector, inout Vector) -> Void, _ sf: (Float, Float) -> Float
    ) -> Double {
        var wide = SIMD16<Double>()
        var i = 0
        while i < n {
            let end = Swift.min(i + block, n)
            var acc0 = Vector()
            var acc1 = Vector()
            while i + 2 * width <= end {
                vf(Elementwise.load(a + i), Elementwise.load(b + i), &acc0)
                vf(Elementwise.load(a + i + width), Elementwise.load(b + i + width), &acc1)
                i += 2 * width
            }
            if i + width <= end {
                vf(Elementwise.load(a + i), Elementwise.load(b + i), &acc0)
                i += width
            }
            while i < end {
                acc1[0] += sf(a[i], b[i])
                i += 1
            }
            wide += SIMD16<Double>(acc0)
            wide += SIMD16<Double>(acc1)
        }
        var total: Double = 0
        for lane in 0..<width { total += wide[lane] }  // not `sum()`, whose order is unspecified
        return total
    }

    /// The sum of `f(a[i], b[i])` over `n` elements, chunked as described above; threaded
    /// when `parallel` and the buffer is large.
    @inline(__always)
    private static func chunkedSum(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, parallel: Bool,
        _ vf: (Vector, Vector, inout Vector) -> Void, _ sf: (Float, Float) -> Float
    ) -> Double {
        let chunks = (n + chunk - 1) / chunk
        if chunks <= 1 { return n == 0 ? 0 : chunkSum(a, b, n, vf, sf) }
        if !parallel || chunks <= chunksPerPiece {
            var total: Double = 0
            for c in 0..<chunks {
                let lo = c * chunk
                total += chunkSum(a + lo, b + lo, Swift.min(chunk, n - lo), vf, sf)
            }
            return total
        }
        var partials = [Double](repeating: 0, count: chunks)
        partials.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!
            Parallel.forRanges(chunks, grain: chunksPerPiece) { cr in
                for c in cr {
                    let lo = c * chunk
                    out[c] = chunkSum(a + lo, b + lo, Swift.min(chunk, n - lo), vf, sf)
                }
            }
        }
        var total: Double = 0
        for p in partials { total += p }
        return total
    }

    /// Σ a[i].
    static func sum(_ a: UnsafePointer<Float>, count n: Int, parallel: Bool = true) -> Double {
        chunkedSum(a, a, n, parallel: parallel, { x, _, acc in acc += x }, { x, _ in x })
    }

    /// Σ a[i]².
    static func sumOfSquares(_ a: UnsafePointer<Float>, count n: Int, parallel: Bool = true) -> Double {
        chunkedSum(a, a, n, parallel: parallel, { x, _, acc in acc.addProduct(x, x) }, { x, _ in x * x })
    }

    /// Σ |a[i]|.
    static func sumOfMagnitudes(_ a: UnsafePointer<Float>, count n: Int) -> Double {
        chunkedSum(
            a, a, n, parallel: true, { x, _, acc in acc += x.replacing(with: -x, where: x .< 0) },
            { x, _ in x.magnitude })
    }

    /// Σ a[i]·b[i].
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Double {
        chunkedSum(a, b, n, parallel: true, { x, y, acc in acc.addProduct(x, y) }, { x, y in x * y })
    }

    // MARK: Extremes

    /// The largest element (or smallest when `!maximum`) of `n` elements; `-∞` (`+∞`) when
    /// `n == 0`. A NaN element makes the result NaN.
    static func extreme(maximum: Bool, _ a: UnsafePointer<Float>, count n: Int, parallel: Bool = true) -> Float {
        let chunks = (n + chunk - 1) / chunk
        let identity: Float = maximum ? -.infinity : .infinity
        if !parallel || chunks <= chunksPerPiece { return extremeSerial(maximum: maximum, a, 0..<n, identity) }
        var partials = [Float](repeating: identity, count: chunks)
        partials.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!
            Parallel.forRanges(chunks, grain: chunksPerPiece) { cr in
                for c in cr {
                    let lo = c * chunk
                    out[c] = extremeSerial(maximum: maximum, a, lo..<Swift.min(lo + chunk, n), identity)
                }
            }
        }
        return partials.withUnsafeBufferPointer {
            extremeSerial(maximum: maximum, $0.baseAddress!, 0..<chunks, identity)
        }
    }

    /// The extreme of `a[range]`, NaN-propagating; `identity` for an empty range.
    @inline(__always)
    private static func extremeSerial(
        maximum: Bool, _ a: UnsafePointer<Float>, _ range: Range<Int>, _ identity: Float
    ) -> Float {
        var acc = Vector(repeating: identity)
        var nan = SIMDMask<SIMD16<Int32>>(repeating: false)
        var i = range.lowerBound
        // Two loops rather than a branch inside one, so each compiles to a plain compare-and-blend.
        if maximum {
            while i + width <= range.upperBound {
                let x = Elementwise.load(a + i)
                nan .|= x .!= x
                acc.replace(with: x, where: x .> acc)
                i += width
            }
        } else {
            while i + width <= range.upperBound {
                let x = Elementwise.load(a + i)
                nan .|= x .!= x
                acc.replace(with: x, where: x .< acc)
                i += width
            }
        }
        if any(nan) { return .nan }
        var result = identity
        for lane in 0..<width { result = maximum ? Swift.max(result, acc[lane]) : Swift.min(result, acc[lane]) }
        while i < range.upperBound {
            let x = a[i]
            if x.isNaN { return .nan }
            result = maximum ? Swift.max(result, x) : Swift.min(result, x)
            i += 1
        }
        return result
    }

    /// The largest magnitude of `n` elements (0 when empty; NaN if any element is NaN).
    static func maxMagnitude(_ a: UnsafePointer<Float>, count n: Int) -> Float {
        if n == 0 { return 0 }
        let hi = extreme(maximum: true, a, count: n)
        if hi.isNaN { return .nan }
        return Swift.max(hi, -extreme(maximum: false, a, count: n))
    }

    // MARK: Matrices [rows, columns]

    /// `out[r] = Σ_c f(a[r, c])` (sum of squares when `squares`), each row summed like a
    /// whole buffer so that a one-row matrix gives the same bits as ``sum(_:count:parallel:)``.
    static func rowSums(
        _ a: UnsafePointer<Float>, rows: Int, columns: Int, squares: Bool, into out: UnsafeMutablePointer<Double>
    ) {
        Parallel.forRanges(rows, grain: Swift.max(1, Elementwise.grain / Swift.max(columns, 1))) { rr in
            for r in rr {
                let row = a + r * columns
                out[r] =
                    squares
                    ? sumOfSquares(row, count: columns, parallel: false) : sum(row, count: columns, parallel: false)
            }
        }
    }

    /// `out[c] = Σ_r f(a[r, c])` (sum of squares when `squares`), each column accumulated
    /// in `Double` in row order; threads split the columns.
    static func columnSums(
        _ a: UnsafePointer<Float>, rows: Int, columns: Int, squares: Bool, into out: UnsafeMutablePointer<Double>
    ) {
        out.update(repeating: 0, count: columns)
        Parallel.forRanges(columns, grain: Swift.max(1, Elementwise.grain / Swift.max(rows, 1))) { cr in
            for r in 0..<rows {
                let row = a + r * columns
                if squares {
                    for c in cr { out[c] += Double(row[c]) * Double(row[c]) }
                } else {
                    for c in cr { out[c] += Double(row[c]) }
                }
            }
        }
    }

    /// `out[r] = max_c a[r, c]` (or min); ∓∞ for zero columns, NaN if the row holds NaN.
    static func rowExtremes(
        maximum: Bool, _ a: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>
    ) {
        Parallel.forRanges(rows, grain: Swift.max(1, Elementwise.grain / Swift.max(columns, 1))) { rr in
            for r in rr { out[r] = extreme(maximum: maximum, a + r * columns, count: columns, parallel: false) }
        }
    }

    /// `out[c] = max_r a[r, c]` (or min); ∓∞ for zero rows, NaN if the column holds NaN.
    static func columnExtremes(
        maximum: Bool, _ a: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>
    ) {
        out.update(repeating: maximum ? -.infinity : .infinity, count: columns)
        Parallel.forRanges(columns, grain: Swift.max(1, Elementwise.grain / Swift.max(rows, 1))) { cr in
            for r in 0..<rows {
                let row = a + r * columns
                for c in cr {
                    let (x, y) = (out[c], row[c])
                    // NaN wins: once `out[c]` is NaN every comparison is false and it stays.
                    if x.isNaN { continue }
                    if y.isNaN || (maximum ? y > x : y < x) { out[c] = y }
                }
            }
        }
    }
}

// MARK: - Safe entry points (arrays in)

extension Reduction {
    /// Calls `body` with `a`'s base address, or returns `empty` for an empty array.
    @inline(__always)
    private static func reading<R>(_ a: [Float], empty: R, _ body: (UnsafePointer<Float>, Int) -> R) -> R {
        if a.isEmpty { return empty }
        return a.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }

    /// Σ a[i] (0 when empty).
    static func sum(_ a: [Float]) -> Double { reading(a, empty: 0) { sum($0, count: $1) } }
    /// Σ a[i]² (0 when empty).
    static func sumOfSquares(_ a: [Float]) -> Double { reading(a, empty: 0) { sumOfSquares($0, count: $1) } }
    /// Σ |a[i]| (0 when empty).
    static func sumOfMagnitudes(_ a: [Float]) -> Double { reading(a, empty: 0) { sumOfMagnitudes($0, count: $1) } }
    /// max |a[i]| (0 when empty).
    static func maxMagnitude(_ a: [Float]) -> Float { reading(a, empty: 0) { maxMagnitude($0, count: $1) } }

    /// The largest (or smallest) element; `-∞` (`+∞`) when empty.
    static func extreme(maximum: Bool, _ a: [Float]) -> Float {
        reading(a, empty: maximum ? -.infinity : .infinity) { extreme(maximum: maximum, $0, count: $1) }
    }

    /// Σ a[i]·b[i] for arrays of equal length.
    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        return reading(a, empty: 0) { a, n in b.withUnsafeBufferPointer { dot(a, $0.baseAddress!, count: n) } }
    }

    /// Per-row sums (of squares when `squares`) of `a` viewed as `[rows, columns]`.
    static func rowSums(_ a: [Float], rows: Int, columns: Int, squares: Bool) -> [Double] {
        var out = [Double](repeating: 0, count: rows)
        if a.isEmpty { return out }
        a.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer {
                rowSums(a.baseAddress!, rows: rows, columns: columns, squares: squares, into: $0.baseAddress!)
            }
        }
        return out
    }

    /// Per-column sums (of squares when `squares`) of `a` viewed as `[rows, columns]`.
    static func columnSums(_ a: [Float], rows: Int, columns: Int, squares: Bool) -> [Double] {
        var out = [Double](repeating: 0, count: columns)
        if a.isEmpty { return out }
        a.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer {
                columnSums(a.baseAddress!, rows: rows, columns: columns, squares: squares, into: $0.baseAddress!)
            }
        }
        return out
    }

    /// Per-row maxima (or minima) of `a` viewed as `[rows, columns]`.
    static func rowExtremes(maximum: Bool, _ a: [Float], rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: maximum ? -.infinity : .infinity, count: rows)
        if a.isEmpty { return out }
        a.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer {
                rowExtremes(maximum: maximum, a.baseAddress!, rows: rows, columns: columns, into: $0.baseAddress!)
            }
        }
        return out
    }

    /// Per-column maxima (or minima) of `a` viewed as `[rows, columns]`.
    static func columnExtremes(maximum: Bool, _ a: [Float], rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: maximum ? -.infinity : .infinity, count: columns)
        if a.isEmpty { return out }
        a.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer {
                columnExtremes(maximum: maximum, a.baseAddress!, rows: rows, columns: columns, into: $0.baseAddress!)
            }
        }
        return out
    }
}
