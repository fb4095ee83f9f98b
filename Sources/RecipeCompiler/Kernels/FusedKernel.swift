import Foundation
import TensorRuntime

/// A fused element-wise region compiled to register code, run over memory in chunks of
/// 256 elements: each instruction is one loop over 16 SIMD16 vectors of a chunk, so the
/// interpretive overhead is paid once per 256 elements and no temporary tensor is created.
struct FusedKernel {
    /// Elements per chunk.
    static let chunk = 256

    enum Instruction {
        /// Loads tensor input `input` (its extent decides the indexing).
        case load(dst: Int, input: Int)
        /// Broadcasts scalar input `input`.
        case broadcast(dst: Int, input: Int)
        case fill(dst: Int, value: Float)
        case unary(UnaryFunction, dst: Int, a: Int)
        case binary(BinaryFunction, dst: Int, a: Int, b: Int)
        case select(dst: Int, c: Int, a: Int, b: Int)
        /// Writes a register to output `output`.
        case store(src: Int, output: Int)
    }

    /// How a tensor input or output is laid out relative to the region's iteration space.
    enum Layout {
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
    var scalarInputs: Int
    var outputs: Int
}

/// Per-thread register files for running fused kernels, allocated once.
final class RegisterFile: @unchecked Sendable {  // each thread uses only its own slice
    let base: UnsafeMutablePointer<Float>
    let registers: Int
    let threads: Int

    init(registers: Int, threads: Int) {
        self.registers = max(registers, 1)
        self.threads = threads
        let count = self.registers * FusedKernel.chunk * threads
        base = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        base.initialize(repeating: 0, count: count)
    }

    deinit { base.deallocate() }

    func register(_ r: Int, thread: Int) -> UnsafeMutablePointer<Float> {
        base + (thread * registers + r) * FusedKernel.chunk
    }
}

extension FusedKernel {
    /// Runs the kernel over a `rows × columns` iteration space (a flat run of `count`
    /// elements is `1 × count`). Inputs and outputs are raw buffers laid out per
    /// `inputLayouts` (outputs use `outputLayouts`); scalars are already `Float`.
    func run(
        rows: Int, columns: Int, inputs: UnsafeMutablePointer<UnsafePointer<Float>>, scalars: UnsafeMutablePointer<Float>,
        outputs: UnsafeMutablePointer<UnsafeMutablePointer<Float>>, outputLayouts: [Layout], file: RegisterFile
    ) {
        let total = rows * columns
        if total == 0 { return }
        let pieces = total >= 65_536 ? min(file.threads, Parallel.threadCount) : 1
        let body = { (piece: Int) in
            // Split whole rows when there are several, else the flat range.
            if rows > 1 {
                let lo = rows * piece / pieces, hi = rows * (piece + 1) / pieces
                for r in lo..<hi {
                    var c = 0
                    while c < columns {
                        let n = Swift.min(FusedKernel.chunk, columns - c)
                        self.runChunk(
                            row: r, column: c, count: n, columns: columns, inputs: inputs, scalars: scalars,
                            outputs: outputs, outputLayouts: outputLayouts, file: file, thread: piece)
                        c += n
                    }
                }
            } else {
                let lo = total * piece / pieces, hi = total * (piece + 1) / pieces
                var c = lo
                while c < hi {
                    let n = Swift.min(FusedKernel.chunk, hi - c)
                    self.runChunk(
                        row: 0, column: c, count: n, columns: columns, inputs: inputs, scalars: scalars,
                        outputs: outputs, outputLayouts: outputLayouts, file: file, thread: piece)
                    c += n
                }
            }
        }
        if pieces == 1 { body(0) } else { Parallel.forEach(pieces, body) }
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
        row: Int, column: Int, count n: Int, columns: Int, inputs: UnsafeMutablePointer<UnsafePointer<Float>>,
        scalars: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<UnsafeMutablePointer<Float>>,
        outputLayouts: [Layout], file: RegisterFile, thread: Int
    ) {
        let vectors = (n + 15) / 16
        for instruction in instructions {
            switch instruction {
            case .load(let dst, let input):
                let d = file.register(dst, thread: thread)
                let layout = inputLayouts[input]
                let src = inputs[input] + offset(layout, row: row, column: column, columns: columns)
                if layout == .perRow {
                    d.update(repeating: src[0], count: n)
                } else {
                    d.update(from: src, count: n)
                }
            case .broadcast(let dst, let input):
                file.register(dst, thread: thread).update(repeating: scalars[input], count: n)
            case .fill(let dst, let value):
                file.register(dst, thread: thread).update(repeating: value, count: n)
            case .unary(let f, let dst, let a):
                Vector.unary(f, file.register(a, thread: thread), file.register(dst, thread: thread), vectors)
            case .binary(let f, let dst, let a, let b):
                Vector.binary(
                    f, file.register(a, thread: thread), file.register(b, thread: thread),
                    file.register(dst, thread: thread), vectors)
            case .select(let dst, let c, let a, let b):
                Vector.select(
                    file.register(c, thread: thread), file.register(a, thread: thread), file.register(b, thread: thread),
                    file.register(dst, thread: thread), vectors)
            case .store(let src, let output):
                let layout = outputLayouts[output]
                let dst = outputs[output] + offset(layout, row: row, column: column, columns: columns)
                dst.update(from: file.register(src, thread: thread), count: layout == .perRow ? 1 : n)
            }
        }
    }
}

/// SIMD16 loops over register chunks (`vectors` × 16 floats; lanes past the live count
/// compute garbage that is never stored).
enum Vector {
    typealias V = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> V {
        UnsafeRawPointer(p + 16 * i).load(as: V.self)
    }
    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + 16 * i).storeBytes(of: v, as: V.self)
    }

    static func unary(_ f: UnaryFunction, _ a: UnsafeMutablePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
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
            for i in 0..<n {
                var s = V(repeating: 0)
                s.replace(with: 1, where: load(a, i) .== 0)
                store(s, d, i)
            }
        case .exp: for i in 0..<(16 * n) { d[i] = Foundation.exp(a[i]) }
        case .log: for i in 0..<(16 * n) { d[i] = Foundation.log(a[i]) }
        }
    }

    static func binary(
        _ f: BinaryFunction, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
        _ d: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        switch f {
        case .add: for i in 0..<n { store(load(a, i) + load(b, i), d, i) }
        case .subtract: for i in 0..<n { store(load(a, i) - load(b, i), d, i) }
        case .multiply: for i in 0..<n { store(load(a, i) * load(b, i), d, i) }
        case .divide: for i in 0..<n { store(load(a, i) / load(b, i), d, i) }
        case .power: for i in 0..<(16 * n) { d[i] = Foundation.pow(a[i], b[i]) }
        case .min:
            for i in 0..<n {
                let x = load(a, i), y = load(b, i)
                var m = x.replacing(with: y, where: y .< x)
                m.replace(with: x + y, where: (x .!= x) .| (y .!= y))  // NaN propagates
                store(m, d, i)
            }
        case .max:
            for i in 0..<n {
                let x = load(a, i), y = load(b, i)
                var m = x.replacing(with: y, where: y .> x)
                m.replace(with: x + y, where: (x .!= x) .| (y .!= y))
                store(m, d, i)
            }
        case .equal: compare(a, b, d, n) { $0 .== $1 }
        case .notEqual: compare(a, b, d, n) { $0 .!= $1 }
        case .less: compare(a, b, d, n) { $0 .< $1 }
        case .lessEqual: compare(a, b, d, n) { $0 .<= $1 }
        case .greater: compare(a, b, d, n) { $0 .> $1 }
        case .greaterEqual: compare(a, b, d, n) { $0 .>= $1 }
        case .and: compare(a, b, d, n) { ($0 .!= 0) .& ($1 .!= 0) }
        case .or: compare(a, b, d, n) { ($0 .!= 0) .| ($1 .!= 0) }
        }
    }

    @inline(__always)
    static func compare(
        _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int,
        _ test: (V, V) -> SIMDMask<SIMD16<Int32>>
    ) {
        for i in 0..<n {
            var r = V(repeating: 0)
            r.replace(with: 1, where: test(load(a, i), load(b, i)))
            store(r, d, i)
        }
    }

    static func select(
        _ c: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
        _ d: UnsafeMutablePointer<Float>, _ n: Int
    ) {
        for i in 0..<n { store(load(b, i).replacing(with: load(a, i), where: load(c, i) .!= 0), d, i) }
    }
}
