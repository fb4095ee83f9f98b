import Foundation

/// Elementwise kernels on raw, contiguous `Float` buffers.
///
/// Every kernel reads element `i` of its inputs before writing element `i` of its output,
/// so an output may alias an input (that is how the in-place tensor methods work).
/// Work above ``grain`` elements is split over the cores with ``Parallel/forRanges(_:grain:_:)``;
/// the SIMD body and the scalar tail compute bit-identical values (both use one rounding per
/// operation, and `fma` where the body does), so results never depend on the thread count.
enum Elementwise {
    /// Elements per parallel piece: below this a tensor stays on the calling thread.
    static let grain = 32_768

    /// A binary arithmetic operation.
    enum BinaryOp {
        case add, subtract, multiply, divide
    }

    // MARK: Building blocks

    typealias Vector = SIMD16<Float>
    static let width = Vector.scalarCount

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
    }

    @inline(__always)
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
    }

    /// `out[i] = f(a[i])` over `range`, SIMD body then scalar tail.
    @inline(__always)
    static func map1(
        _ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ range: Range<Int>,
        _ vf: (Vector) -> Vector, _ sf: (Float) -> Float
    ) {
        var i = range.lowerBound
        while i + width <= range.upperBound {
            store(vf(load(a + i)), out + i)
            i += width
        }
        while i < range.upperBound {
            out[i] = sf(a[i])
            i += 1
        }
    }

    /// `out[i] = f(a[i], b[i])` over `range`, SIMD body then scalar tail.
    @inline(__always)
    static func map2(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ range: Range<Int>,
        _ vf: (Vector, Vector) -> Vector, _ sf: (Float, Float) -> Float
    ) {
        var i = range.lowerBound
        while i + width <= range.upperBound {
            store(vf(load(a + i), load(b + i)), out + i)
            i += width
        }
        while i < range.upperBound {
            out[i] = sf(a[i], b[i])
            i += 1
        }
    }

    // MARK: Arithmetic

    /// `out = a ⊕ b` elementwise over `n` elements.
    static func binary(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        count n: Int
    ) {
        Parallel.forRanges(n, grain: grain) { r in
            binarySerial(op, a, b, out, r)
        }
    }

    /// `out = a ⊕ b` over `range` on the calling thread.
    @inline(__always)
    static func binarySerial(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        _ r: Range<Int>
    ) {
        switch op {
        case .add: map2(a, b, out, r, { $0 + $1 }, { $0 + $1 })
        case .subtract: map2(a, b, out, r, { $0 - $1 }, { $0 - $1 })
        case .multiply: map2(a, b, out, r, { $0 * $1 }, { $0 * $1 })
        case .divide: map2(a, b, out, r, { $0 / $1 }, { $0 / $1 })
        }
    }

    /// `out = a ⊕ s` (or `s ⊕ a` when `scalarFirst`) elementwise over `n` elements.
    static func binary(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, scalar s: Float, scalarFirst: Bool,
        _ out: UnsafeMutablePointer<Float>, count n: Int
    ) {
        Parallel.forRanges(n, grain: grain) { r in
            binarySerial(op, a, scalar: s, scalarFirst: scalarFirst, out, r)
        }
    }

    /// `out = a ⊕ s` (or `s ⊕ a`) over `range` on the calling thread.
    @inline(__always)
    static func binarySerial(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, scalar s: Float, scalarFirst: Bool,
        _ out: UnsafeMutablePointer<Float>, _ r: Range<Int>
    ) {
        let v = Vector(repeating: s)
        switch (op, scalarFirst) {
        case (.add, _): map1(a, out, r, { $0 + v }, { $0 + s })
        case (.multiply, _): map1(a, out, r, { $0 * v }, { $0 * s })
        case (.subtract, false): map1(a, out, r, { $0 - v }, { $0 - s })
        case (.subtract, true): map1(a, out, r, { v - $0 }, { s - $0 })
        case (.divide, false): map1(a, out, r, { $0 / v }, { $0 / s })
        case (.divide, true): map1(a, out, r, { v / $0 }, { s / $0 })
        }
    }

    /// `y += alpha·x` over `n` elements (BLAS axpy), one fused multiply-add per element.
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        let va = Vector(repeating: alpha)
        Parallel.forRanges(n, grain: grain) { r in
            map2(UnsafePointer(y), x, y, r, { $0.addingProduct(va, $1) }, { $0.addingProduct(alpha, $1) })
        }
    }

    /// `y += w·(x − y)` over `n` elements (linear interpolation toward `x`).
    static func lerp(_ w: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        let vw = Vector(repeating: w)
        Parallel.forRanges(n, grain: grain) { r in
            map2(UnsafePointer(y), x, y, r, { $0.addingProduct(vw, $1 - $0) }, { $0.addingProduct(w, $1 - $0) })
        }
    }

    /// `out = a²` over `n` elements.
    static func square(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int) {
        Parallel.forRanges(n, grain: grain) { r in map1(a, out, r, { $0 * $0 }, { $0 * $0 }) }
    }

    /// `out = −a` over `n` elements.
    static func negate(_ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int) {
        Parallel.forRanges(n, grain: grain) { r in map1(a, out, r, { -$0 }, { -$0 }) }
    }

    /// `out = clamp(a, lo, hi)` over `n` elements; NaN stays NaN.
    static func clamp(
        _ a: UnsafePointer<Float>, lower lo: Float, upper hi: Float, _ out: UnsafeMutablePointer<Float>, count n: Int
    ) {
        let vlo = Vector(repeating: lo)
        let vhi = Vector(repeating: hi)
        Parallel.forRanges(n, grain: grain) { r in
            map1(
                a, out, r,
                { x in
                    var y = x
                    y.replace(with: vlo, where: x .< vlo)
                    y.replace(with: vhi, where: x .> vhi)
                    return y
                },
                { x in x < lo ? lo : (x > hi ? hi : x) })
        }
    }

    /// `out = min(a, b)` (or `max` when `maximum`) over `n` elements; NaN in `a` or `b` gives NaN.
    static func extremum(
        maximum: Bool, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        count n: Int
    ) {
        // `y > x` is false when `x` is NaN, which keeps `x`; the `y != y` term lets a NaN `y` win too.
        Parallel.forRanges(n, grain: grain) { r in
            if maximum {
                map2(
                    a, b, out, r, { x, y in x.replacing(with: y, where: (y .> x) .| (y .!= y)) },
                    { x, y in y > x || y.isNaN ? y : x })
            } else {
                map2(
                    a, b, out, r, { x, y in x.replacing(with: y, where: (y .< x) .| (y .!= y)) },
                    { x, y in y < x || y.isNaN ? y : x })
            }
        }
    }

    // MARK: Unary functions

    /// `out[i] = f(a[i])` over `n` elements for a pure scalar function, threaded like the
    /// other kernels. Used for the transcendental functions, which have no SIMD form here.
    static func apply(
        _ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int, _ f: (Float) -> Float
    ) {
        Parallel.forRanges(n, grain: grain) { r in
            for i in r { out[i] = f(a[i]) }
        }
    }

    // MARK: Broadcasting over a [rows, columns] matrix

    /// `out[r, c] = a[r, c] ⊕ v[c]`: a length-`columns` vector applied to every row.
    static func rowVector(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        Parallel.forRanges(rows, grain: Swift.max(1, grain / Swift.max(columns, 1))) { rr in
            for r in rr {
                let base = r * columns
                binarySerial(op, a + base, v, out + base, 0..<columns)
            }
        }
    }

    /// `out[r, c] = a[r, c] ⊕ v[r]`: a length-`rows` vector applied to every column.
    static func columnVector(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        Parallel.forRanges(rows, grain: Swift.max(1, grain / Swift.max(columns, 1))) { rr in
            for r in rr {
                let base = r * columns
                binarySerial(op, a + base, scalar: v[r], scalarFirst: false, out + base, 0..<columns)
            }
        }
    }
}

// MARK: - Safe entry points (arrays in, arrays out)

extension Elementwise {
    /// A one-input operation with a kernel above.
    enum UnaryOp {
        case negate
        case square
        /// Clamps into `lower...upper`; NaN stays NaN.
        case clamp(lower: Float, upper: Float)
        /// Any pure scalar function (it may run on several threads at once).
        case function((Float) -> Float)
    }

    /// Runs `kernel(input, output, count)` into a fresh array of `a.count` elements.
    @inline(__always)
    private static func mapping(
        _ a: [Float], _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) -> [Float] {
        let n = a.count
        if n == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: n) { out, count in
            a.withUnsafeBufferPointer { kernel($0.baseAddress!, out.baseAddress!, n) }
            count = n
        }
    }

    /// Runs `kernel(y, y, count)`, updating `y` in place.
    @inline(__always)
    private static func updating(
        _ y: inout [Float], _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) {
        let n = y.count
        if n == 0 { return }
        y.withUnsafeMutableBufferPointer { kernel(UnsafePointer($0.baseAddress!), $0.baseAddress!, n) }
    }

    /// `op` applied to every element of `a`.
    static func unary(_ op: UnaryOp, _ a: [Float]) -> [Float] {
        mapping(a) { unary(op, $0, $1, count: $2) }
    }

    /// `op` applied to every element of `y`, in place.
    static func unary(_ op: UnaryOp, inPlace y: inout [Float]) {
        updating(&y) { unary(op, $0, $1, count: $2) }
    }

    private static func unary(
        _ op: UnaryOp, _ a: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int
    ) {
        switch op {
        case .negate: negate(a, out, count: n)
        case .square: square(a, out, count: n)
        case .clamp(let lo, let hi): clamp(a, lower: lo, upper: hi, out, count: n)
        case .function(let f): apply(a, out, count: n, f)
        }
    }

    /// `a ⊕ b` for arrays of equal length.
    static func binary(_ op: BinaryOp, _ a: [Float], _ b: [Float]) -> [Float] {
        precondition(a.count == b.count)
        return b.withUnsafeBufferPointer { b in
            mapping(a) { binary(op, $0, b.baseAddress!, $1, count: $2) }
        }
    }

    /// `a ⊕ s`, or `s ⊕ a` when `scalarFirst`.
    static func binary(_ op: BinaryOp, _ a: [Float], scalar s: Float, scalarFirst: Bool) -> [Float] {
        mapping(a) { binary(op, $0, scalar: s, scalarFirst: scalarFirst, $1, count: $2) }
    }

    /// `y = y ⊕ b` in place.
    static func binary(_ op: BinaryOp, inPlace y: inout [Float], _ b: [Float]) {
        precondition(y.count == b.count)
        b.withUnsafeBufferPointer { b in
            updating(&y) { binary(op, $0, b.baseAddress!, $1, count: $2) }
        }
    }

    /// `y = y ⊕ s` in place.
    static func binary(_ op: BinaryOp, inPlace y: inout [Float], scalar s: Float) {
        updating(&y) { binary(op, $0, scalar: s, scalarFirst: false, $1, count: $2) }
    }

    /// Elementwise `max(a, b)` (or `min`), NaN-propagating.
    static func extremum(maximum: Bool, _ a: [Float], _ b: [Float]) -> [Float] {
        precondition(a.count == b.count)
        return b.withUnsafeBufferPointer { b in
            mapping(a) { extremum(maximum: maximum, $0, b.baseAddress!, $1, count: $2) }
        }
    }

    /// `y += alpha·x` in place.
    static func axpy(_ alpha: Float, _ x: [Float], _ y: inout [Float]) {
        precondition(x.count == y.count)
        x.withUnsafeBufferPointer { x in
            updating(&y) { _, y, n in axpy(alpha, x.baseAddress!, y, count: n) }
        }
    }

    /// `y += w·(x − y)` in place.
    static func lerp(_ w: Float, _ x: [Float], _ y: inout [Float]) {
        precondition(x.count == y.count)
        x.withUnsafeBufferPointer { x in
            updating(&y) { _, y, n in lerp(w, x.baseAddress!, y, count: n) }
        }
    }

    /// `a[r, c] ⊕ v[c]` for `a` viewed as `[rows, columns]`.
    static func rowVector(_ op: BinaryOp, _ a: [Float], _ v: [Float], rows: Int, columns: Int) -> [Float] {
        precondition(a.count == rows * columns && v.count == columns)
        return v.withUnsafeBufferPointer { v in
            mapping(a) { a, out, _ in rowVector(op, a, v.baseAddress!, out, rows: rows, columns: columns) }
        }
    }

    /// `a[r, c] ⊕ v[r]` for `a` viewed as `[rows, columns]`.
    static func columnVector(_ op: BinaryOp, _ a: [Float], _ v: [Float], rows: Int, columns: Int) -> [Float] {
        precondition(a.count == rows * columns && v.count == rows)
        return v.withUnsafeBufferPointer { v in
            mapping(a) { a, out, _ in columnVector(op, a, v.baseAddress!, out, rows: rows, columns: columns) }
        }
    }
}
