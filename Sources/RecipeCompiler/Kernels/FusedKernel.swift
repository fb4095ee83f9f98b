import Foundation
import TensorRuntime

/// A fused element-wise region compiled to slot code, run over memory in chunks of 256
/// elements: each instruction is one loop over 16 SIMD16 vectors of a chunk, so the
/// interpretive overhead is paid once per 256 elements and no temporary tensor is created.
///
/// Slots: `0..<registers` are scratch registers (allocated by liveness, so few stay live
/// and the chunk stays in L1); then one slot per tensor input (pointing straight into the
/// input's memory when possible); then one slot per broadcast scalar.
struct FusedKernel {
    /// Elements per chunk.
    static let chunk = 256

    enum Instruction {
        case fill(dst: Int, value: Float)
        case unary(UnaryFunction, dst: Int, a: Int)
        case binary(BinaryFunction, dst: Int, a: Int, b: Int)
        /// `a op scalar`
        case binaryScalarRight(BinaryFunction, dst: Int, a: Int, scalar: Int)
        /// `scalar op b`
        case binaryScalarLeft(BinaryFunction, dst: Int, scalar: Int, b: Int)
        case select(dst: Int, c: Int, a: Int, b: Int)
        /// `a·scalar ± b` as `form` says.
        case fused(FusedForm, dst: Int, a: Int, scalar: Int, b: Int)
        /// `a·s + b·u`
        case linear(dst: Int, a: Int, s: Int, b: Int, u: Int)
        /// `x·numerator / (sqrt(y·scale) + epsilon)` (numerator or scale omitted: 1)
        case rootQuotient(dst: Int, x: Int, numerator: Int?, y: Int, scale: Int?, epsilon: Int)
        /// Writes a slot to output `output`.
        case store(src: Int, output: Int)
    }

    /// A multiply-add of a slot by a scalar and another slot: where the product stands.
    enum FusedForm: Equatable {
        /// `a·s + b`
        case productPlus
        /// `a·s − b`
        case productMinus
        /// `b − a·s`
        case minusProduct
    }

    /// How a tensor input or output is laid out relative to the region's iteration space.
    enum Layout: Equatable {
        /// One value per element of the region.
        case same
        /// One value per row, broadcast across a full region's columns.
        case perRow
        /// One value per column, repeated for every row of a full region.
        case perColumn
    }

    var instructions: [Instruction]
    var registers: Int
    var inputLayouts: [Layout]
    /// Scalars that need a broadcast slot (used by unary ops or select), by scalar index.
    var broadcastScalars: [Int]

    var slotCount: Int { registers + inputLayouts.count + broadcastScalars.count }

    /// What a slot number holds.
    enum Slot {
        case register(Int)
        case input(Int)
        case broadcast(Int)
    }

    /// The kind of slot `k` and its index among its kind.
    func slot(_ k: Int) -> Slot {
        if k < registers { return .register(k) }
        if k < registers + inputLayouts.count { return .input(k - registers) }
        return .broadcast(k - registers - inputLayouts.count)
    }
}

/// Per-thread slot memory for running fused kernels, allocated once.
final class RegisterFile: @unchecked Sendable {  // each thread uses only its own slice
    private let storage: AlignedBuffer<Float>
    var base: UnsafeMutablePointer<Float> { storage.pointer }
    let slots: Int
    let threads: Int
    /// Per thread: the current pointer of every slot.
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>

    init(slots: Int, threads: Int) {
        self.slots = max(slots, 1)
        self.threads = threads
        storage = AlignedBuffer(count: self.slots * FusedKernel.chunk * threads, fill: 0)
        pointers = .allocate(capacity: self.slots * threads)
        for t in 0..<threads { for s in 0..<self.slots { pointers[t * self.slots + s] = memory(s, thread: t) } }
    }

    deinit { pointers.deallocate() }

    /// The slot's own memory for `thread`.
    func memory(_ slot: Int, thread: Int) -> UnsafeMutablePointer<Float> {
        base + (thread * slots + slot) * FusedKernel.chunk
    }
}

extension FusedKernel {
    /// Runs the kernel over a `rows × columns` iteration space (a flat run of `count`
    /// elements is `1 × count`).
    func run(
        rows: Int, columns: Int, inputs: UnsafeMutablePointer<UnsafePointer<Float>>,
        scalars: UnsafeMutablePointer<Float>,
        outputs: UnsafeMutablePointer<UnsafeMutablePointer<Float>>, outputLayouts: [Layout], file: RegisterFile,
        thread: Int? = nil, native: NativeKernels.Function? = nil
    ) {
        let total = rows * columns
        if total == 0 { return }
        if let native, rows == 1 {
            // Compiled code: one loop per piece, no registers in memory.
            let pieces = thread == nil && total >= 65_536 ? min(file.threads, Parallel.threadCount) : 1
            if pieces == 1 {
                native(inputs, scalars, outputs, 0, total)
            } else {
                Parallel.forEach(pieces) { piece in
                    let lo = total * piece / pieces / 16 * 16
                    let hi = piece == pieces - 1 ? total : total * (piece + 1) / pieces / 16 * 16
                    native(inputs, scalars, outputs, lo, hi)
                }
            }
            return
        }
        if let thread {
            // The caller already runs in parallel: one piece, on its own register space.
            runPiece(0, 1, rows, columns, inputs, scalars, outputs, outputLayouts, file, space: thread)
            return
        }
        let pieces = total >= 65_536 ? min(file.threads, Parallel.threadCount) : 1
        if pieces == 1 {
            runPiece(0, 1, rows, columns, inputs, scalars, outputs, outputLayouts, file)
        } else {
            Parallel.forEach(pieces) { piece in
                runPiece(piece, pieces, rows, columns, inputs, scalars, outputs, outputLayouts, file)
            }
        }
    }

    private func runPiece(
        _ piece: Int, _ pieces: Int, _ rows: Int, _ columns: Int, _ inputs: UnsafeMutablePointer<UnsafePointer<Float>>,
        _ scalars: UnsafeMutablePointer<Float>, _ outputs: UnsafeMutablePointer<UnsafeMutablePointer<Float>>,
        _ outputLayouts: [Layout], _ file: RegisterFile, space: Int? = nil
    ) {
        let thread = space ?? piece
        let slots = file.pointers + thread * file.slots
        // Another region may have pointed these slots at its inputs: registers get their
        // own memory back.
        for r in 0..<registers { slots[r] = file.memory(r, thread: thread) }
        // Broadcast slots are filled once per run.
        for (k, s) in broadcastScalars.enumerated() {
            let slot = registers + inputLayouts.count + k
            slots[slot] = file.memory(slot, thread: thread)
            slots[slot].update(repeating: scalars[s], count: FusedKernel.chunk)
        }
        if rows > 1 {
            let lo = rows * piece / pieces
            let hi = rows * (piece + 1) / pieces
            for r in lo..<hi {
                var c = 0
                while c < columns {
                    let n = Swift.min(FusedKernel.chunk, columns - c)
                    runChunk(r, c, n, columns, inputs, scalars, outputs, outputLayouts, file, thread, slots)
                    c += n
                }
            }
        } else {
            let total = columns
            let lo = total * piece / pieces
            let hi = total * (piece + 1) / pieces
            var c = lo
            while c < hi {
                let n = Swift.min(FusedKernel.chunk, hi - c)
                runChunk(0, c, n, columns, inputs, scalars, outputs, outputLayouts, file, thread, slots)
                c += n
            }
        }
    }

    @inline(__always)
    private func offset(_ layout: Layout, row: Int, column: Int, columns: Int) -> Int {
        switch layout {
        case .same: return row * columns + column
        case .perRow: return row
        case .perColumn: return column
        }
    }

    private func runChunk(
        _ row: Int, _ column: Int, _ n: Int, _ columns: Int, _ inputs: UnsafeMutablePointer<UnsafePointer<Float>>,
        _ scalars: UnsafeMutablePointer<Float>, _ outputs: UnsafeMutablePointer<UnsafeMutablePointer<Float>>,
        _ outputLayouts: [Layout], _ file: RegisterFile, _ thread: Int,
        _ slots: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    ) {
        let vectors = (n + 15) / 16
        let whole = n % 16 == 0
        // Inputs: read in place when the chunk is a whole number of vectors, else staged.
        for k in inputLayouts.indices {
            let slot = registers + k
            let layout = inputLayouts[k]
            let src = inputs[k] + offset(layout, row: row, column: column, columns: columns)
            if layout == .perRow {
                let staged = file.memory(slot, thread: thread)
                staged.update(repeating: src[0], count: n)
                slots[slot] = staged
            } else if whole {
                slots[slot] = UnsafeMutablePointer(mutating: src)
            } else {
                let staged = file.memory(slot, thread: thread)
                staged.update(from: src, count: n)
                slots[slot] = staged
            }
        }
        for instruction in instructions {
            switch instruction {
            case .fill(let dst, let value):
                slots[dst].update(repeating: value, count: n)
            case .unary(let f, let dst, let a):
                Vector.unary(f, slots[a], slots[dst], vectors)
            case .binary(let f, let dst, let a, let b):
                Vector.binary(f, slots[a], slots[b], slots[dst], vectors)
            case .binaryScalarRight(let f, let dst, let a, let s):
                Vector.binaryScalar(f, slots[a], scalars[s], slots[dst], vectors, scalarOnLeft: false)
            case .binaryScalarLeft(let f, let dst, let s, let b):
                Vector.binaryScalar(f, slots[b], scalars[s], slots[dst], vectors, scalarOnLeft: true)
            case .select(let dst, let c, let a, let b):
                Vector.select(slots[c], slots[a], slots[b], slots[dst], vectors)
            case .fused(let form, let dst, let a, let k, let b):
                Vector.fma(slots[a], scalars[k], slots[b], slots[dst], vectors, form: form)
            case .linear(let dst, let a, let k, let b, let u):
                Vector.linear(slots[a], scalars[k], slots[b], scalars[u], slots[dst], vectors)
            case .rootQuotient(let dst, let x, let numerator, let y, let scale, let epsilon):
                Vector.rootQuotient(
                    slots[x], numerator.map { scalars[$0] }, slots[y], scale.map { scalars[$0] }, scalars[epsilon],
                    slots[dst], vectors)
            case .store(let src, let output):
                let layout = outputLayouts[output]
                let dst = outputs[output] + offset(layout, row: row, column: column, columns: columns)
                dst.update(from: slots[src], count: layout == .perRow ? 1 : n)
            }
        }
    }
}

/// SIMD16 loops over chunks (`vectors` × 16 floats; lanes past the live count compute
/// garbage that is never stored). Operands may point into inputs, so loads are unaligned.
enum Vector {
    typealias V = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> V {
        UnsafeRawPointer(p + 16 * i).loadUnaligned(as: V.self)
    }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + 16 * i).storeBytes(of: v, as: V.self)
    }

    @inline(__always) static func apply(_ f: BinaryFunction, _ x: V, _ y: V) -> V {
        switch f {
        case .op(.add): return x + y
        case .op(.subtract): return x - y
        case .op(.multiply): return x * y
        case .op(.divide): return x / y
        case .min:
            var m = x.replacing(with: y, where: y .< x)
            m.replace(with: x + y, where: (x .!= x) .| (y .!= y))  // NaN propagates
            return m
        case .max:
            var m = x.replacing(with: y, where: y .> x)
            m.replace(with: x + y, where: (x .!= x) .| (y .!= y))
            return m
        case .op(.power):
            var r = V()
            for lane in 0..<16 { r[lane] = Foundation.pow(x[lane], y[lane]) }
            return r
        case .op(.equal): return V(repeating: 0).replacing(with: 1, where: x .== y)
        case .op(.notEqual): return V(repeating: 0).replacing(with: 1, where: x .!= y)
        case .op(.less): return V(repeating: 0).replacing(with: 1, where: x .< y)
        case .op(.lessEqual): return V(repeating: 0).replacing(with: 1, where: x .<= y)
        case .op(.greater): return V(repeating: 0).replacing(with: 1, where: x .> y)
        case .op(.greaterEqual): return V(repeating: 0).replacing(with: 1, where: x .>= y)
        case .op(.and): return V(repeating: 0).replacing(with: 1, where: (x .!= 0) .& (y .!= 0))
        case .op(.or): return V(repeating: 0).replacing(with: 1, where: (x .!= 0) .| (y .!= 0))
        }
    }

    static func binary(
        _ f: BinaryFunction, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
        _ d: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        switch f {
        case .op(.add): for i in 0..<n { store(load(a, i) + load(b, i), d, i) }
        case .op(.subtract): for i in 0..<n { store(load(a, i) - load(b, i), d, i) }
        case .op(.multiply): for i in 0..<n { store(load(a, i) * load(b, i), d, i) }
        case .op(.divide): for i in 0..<n { store(load(a, i) / load(b, i), d, i) }
        default: for i in 0..<n { store(apply(f, load(a, i), load(b, i)), d, i) }
        }
    }

    static func binaryScalar(
        _ f: BinaryFunction, _ a: UnsafeMutablePointer<Float>, _ scalar: Float, _ d: UnsafeMutablePointer<Float>,
        _ n: Int, scalarOnLeft: Bool
    ) {
        let s = V(repeating: scalar)
        switch (f, scalarOnLeft) {
        case (.op(.add), _): for i in 0..<n { store(load(a, i) + s, d, i) }
        case (.op(.multiply), _): for i in 0..<n { store(load(a, i) * s, d, i) }
        case (.op(.subtract), false): for i in 0..<n { store(load(a, i) - s, d, i) }
        case (.op(.subtract), true): for i in 0..<n { store(s - load(a, i), d, i) }
        case (.op(.divide), false): for i in 0..<n { store(load(a, i) / s, d, i) }
        case (.op(.divide), true): for i in 0..<n { store(s / load(a, i), d, i) }
        case (_, false): for i in 0..<n { store(apply(f, load(a, i), s), d, i) }
        case (_, true): for i in 0..<n { store(apply(f, s, load(a, i)), d, i) }
        }
    }

    static func unary(_ f: UnaryFunction, _ a: UnsafeMutablePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int)
    {
        switch f {
        case .negate: for i in 0..<n { store(-load(a, i), d, i) }
        case .square:
            for i in 0..<n {
                let x = load(a, i)
                store(x * x, d, i)
            }
        case .sqrt: for i in 0..<n { store(load(a, i).squareRoot(), d, i) }
        case .rsqrt: for i in 0..<n { store(1 / load(a, i).squareRoot(), d, i) }
        case .abs:
            for i in 0..<n {
                let x = load(a, i)
                store(x.replacing(with: -x, where: x .< 0), d, i)
            }
        case .sign:
            for i in 0..<n {
                let x = load(a, i)
                var s = V(repeating: 0)
                s.replace(with: 1, where: x .> 0)
                s.replace(with: -1, where: x .< 0)
                s.replace(with: x, where: x .!= x)  // NaN stays NaN
                store(s, d, i)
            }
        case .not:
            for i in 0..<n { store(V(repeating: 0).replacing(with: 1, where: load(a, i) .== 0), d, i) }
        case .exp: for i in 0..<(16 * n) { d[i] = Foundation.exp(a[i]) }
        case .log: for i in 0..<(16 * n) { d[i] = Foundation.log(a[i]) }
        }
    }

    /// `a·s + b`, `a·s − b` or `b − a·s` as `form` says (products rounded before the sum, as
    /// the unfused expression would be).
    static func fma(
        _ a: UnsafeMutablePointer<Float>, _ scalar: Float, _ b: UnsafeMutablePointer<Float>,
        _ d: UnsafeMutablePointer<Float>, _ n: Int, form: FusedKernel.FusedForm
    ) {
        let s = V(repeating: scalar)
        switch form {
        case .productPlus: for i in 0..<n { store(load(a, i) * s + load(b, i), d, i) }
        case .productMinus: for i in 0..<n { store(load(a, i) * s - load(b, i), d, i) }
        case .minusProduct: for i in 0..<n { store(load(b, i) - load(a, i) * s, d, i) }
        }
    }

    /// `x·numerator / (sqrt(y·scale) + epsilon)`, each product rounded as the unfused
    /// expression rounds it.
    static func rootQuotient(
        _ x: UnsafeMutablePointer<Float>, _ numerator: Float?, _ y: UnsafeMutablePointer<Float>, _ scale: Float?,
        _ epsilon: Float, _ d: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        let e = V(repeating: epsilon)
        switch (numerator, scale) {
        case (let k?, let s?):
            let (kv, sv) = (V(repeating: k), V(repeating: s))
            for i in 0..<n { store(load(x, i) * kv / ((load(y, i) * sv).squareRoot() + e), d, i) }
        case (let k?, nil):
            let kv = V(repeating: k)
            for i in 0..<n { store(load(x, i) * kv / (load(y, i).squareRoot() + e), d, i) }
        case (nil, let s?):
            let sv = V(repeating: s)
            for i in 0..<n { store(load(x, i) / ((load(y, i) * sv).squareRoot() + e), d, i) }
        case (nil, nil):
            for i in 0..<n { store(load(x, i) / (load(y, i).squareRoot() + e), d, i) }
        }
    }

    static func linear(
        _ a: UnsafeMutablePointer<Float>, _ s: Float, _ b: UnsafeMutablePointer<Float>, _ u: Float,
        _ d: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        let sv = V(repeating: s)
        let uv = V(repeating: u)
        for i in 0..<n { store(load(a, i) * sv + load(b, i) * uv, d, i) }
    }

    static func select(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
        _ d: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        for i in 0..<n { store(load(b, i).replacing(with: load(a, i), where: load(c, i) .!= 0), d, i) }
    }
}
