import Foundation
import TensorRuntime
import Training

/// Hand-written Swift twins of the AdamW and Muon steps, for `optlang bench step`: the
/// speed the compiled recipes are measured against. Benchmark code only; the product
/// runs recipes.
protocol HandWrittenStep {
    mutating func step(parameters: inout [Tensor], gradients: [Tensor], t: Int)
}

/// AdamW with one fused SIMD loop per parameter (PyTorch semantics).
struct HandAdamW: HandWrittenStep {
    var m: [[Float]], v: [[Float]]
    let lr: Float, beta1: Float, beta2: Float, eps: Float, wd: Float
    let indices: [Int]

    init(metas: [ParameterMeta], indices: [Int]? = nil, lr: Float, beta1: Float, beta2: Float, eps: Float, wd: Float) {
        self.indices = indices ?? Array(metas.indices)
        m = metas.map { [Float](repeating: 0, count: $0.shape.reduce(1, *)) }
        v = m
        (self.lr, self.beta1, self.beta2, self.eps, self.wd) = (lr, beta1, beta2, eps, wd)
    }

    mutating func step(parameters: inout [Tensor], gradients: [Tensor], t: Int) {
        let c1 = 1 - Float(Foundation.pow(Double(beta1), Double(t)))
        let c2 = 1 - Float(Foundation.pow(Double(beta2), Double(t)))
        let (lr, b1, b2, eps, decay) = (lr, beta1, beta2, eps, 1 - lr * wd)
        for p in indices {
            parameters[p].withUnsafeMutableBufferPointer { x in
                gradients[p].withUnsafeBufferPointer { g in
                    m[p].withUnsafeMutableBufferPointer { m in
                        v[p].withUnsafeMutableBufferPointer { v in
                            HandKernels.adamw(
                                x.baseAddress!, g.baseAddress!, m.baseAddress!, v.baseAddress!, x.count,
                                lr: lr, b1: b1, b2: b2, eps: eps, decay: decay, c1: c1, c2: c2)
                        }
                    }
                }
            }
        }
    }
}

/// Muon: hidden matrices (attention, mlp) get Nesterov EMA momentum, Newton–Schulz and the
/// shape scale; everything else AdamW (lr 3e-4, betas 0.9/0.95, eps 1e-10). The matrices
/// are split over the threads (each orthogonalised wholly on one thread), as the compiled
/// executor does, so the comparison is like for like.
struct HandMuon: HandWrittenStep {
    /// One thread's share: its matrices and Newton–Schulz workspaces.
    final class Worker {
        var members: [Int] = []
        var workspaces: [String: NewtonSchulzWorkspace] = [:]
    }

    var momentum: [[Float]]
    var orthogonal: [Tensor]
    var input: [Tensor]
    var adam: HandAdamW
    let workers: [Worker]
    let shapes: [(Int, Int)]
    let lr: Float, beta: Float

    init(metas: [ParameterMeta], lr: Float = 0.02, beta: Float = 0.95) {
        let hidden = metas.indices.filter { metas[$0].role == .attention || metas[$0].role == .mlp }
        let rest = metas.indices.filter { !hidden.contains($0) }
        adam = HandAdamW(metas: metas, indices: rest, lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0)
        momentum = metas.map { [Float](repeating: 0, count: $0.shape.reduce(1, *)) }
        let shapes = metas.map { ($0.shape[0], $0.shape.reduce(1, *) / max($0.shape[0], 1)) }
        self.shapes = shapes
        orthogonal = shapes.map { Tensor.zeros(Shape([$0.0, $0.1])) }
        input = orthogonal
        let workers = (0..<max(1, Parallel.threadCount)).map { _ in Worker() }
        var load = [Int](repeating: 0, count: workers.count)
        for p in hidden.sorted(by: { shapes[$0].0 * shapes[$0].1 > shapes[$1].0 * shapes[$1].1 }) {
            let w = load.indices.min { load[$0] < load[$1] }!
            workers[w].members.append(p)
            load[w] += shapes[p].0 * shapes[p].1
            if workers[w].workspaces["\(shapes[p])"] == nil {
                workers[w].workspaces["\(shapes[p])"] = NewtonSchulzWorkspace(rows: shapes[p].0, columns: shapes[p].1)
            }
        }
        self.workers = workers
        (self.lr, self.beta) = (lr, beta)
    }

    mutating func step(parameters: inout [Tensor], gradients: [Tensor], t: Int) {
        let (lr, beta, shapes, workers) = (lr, beta, shapes, workers)
        momentum.withUnsafeMutableBufferPointer { momentum in
            input.withUnsafeMutableBufferPointer { input in
                orthogonal.withUnsafeMutableBufferPointer { orthogonal in
                    parameters.withUnsafeMutableBufferPointer { parameters in
                        gradients.withUnsafeBufferPointer { gradients in
                            Parallel.forEach(workers.count) { w in
                                for p in workers[w].members {
                                    let (rows, cols) = shapes[p]
                                    let scale = lr * Float(max(1, Double(rows) / Double(cols)).squareRoot())
                                    gradients[p].withUnsafeBufferPointer { g in
                                        momentum[p].withUnsafeMutableBufferPointer { m in
                                            input[p].withUnsafeMutableBufferPointer { u in
                                                HandKernels.nesterov(
                                                    g.baseAddress!, m.baseAddress!, u.baseAddress!, g.count, beta: beta)
                                            }
                                        }
                                    }
                                    input[p].withUnsafeBufferPointer { u in
                                        orthogonal[p].withUnsafeMutableBufferPointer { o in
                                            workers[w].workspaces["\(shapes[p])"]!.orthogonalize(
                                                u.baseAddress!, into: o.baseAddress!, steps: 5)
                                        }
                                    }
                                    parameters[p].withUnsafeMutableBufferPointer { x in
                                        orthogonal[p].withUnsafeBufferPointer { o in
                                            HandKernels.axpy(x.baseAddress!, o.baseAddress!, x.count, alpha: -scale)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        adam.step(parameters: &parameters, gradients: gradients, t: t)
    }
}

/// The fused loops of the hand-written steps.
enum HandKernels {
    typealias V = SIMD16<Float>

    static func adamw(
        _ x: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
        _ v: UnsafeMutablePointer<Float>, _ n: Int, lr: Float, b1: Float, b2: Float, eps: Float, decay: Float,
        c1: Float, c2: Float
    ) {
        Parallel.forRanges(n, grain: 32_768) { range in
            var i = range.lowerBound
            let step = lr / c1
            let rc2 = 1 / c2
            while i + 16 <= range.upperBound {
                let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
                var mi = UnsafeRawPointer(m + i).loadUnaligned(as: V.self)
                var vi = UnsafeRawPointer(v + i).loadUnaligned(as: V.self)
                var xi = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
                mi = b1 * mi + (1 - b1) * gi
                vi = b2 * vi + (1 - b2) * gi * gi
                xi = xi * decay - step * mi / ((vi * rc2).squareRoot() + eps)
                UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
                UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
                UnsafeMutableRawPointer(x + i).storeBytes(of: xi, as: V.self)
                i += 16
            }
            while i < range.upperBound {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                x[i] = x[i] * decay - step * m[i] / ((v[i] * rc2).squareRoot() + eps)
                i += 1
            }
        }
    }

    static func nesterov(
        _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>, _ n: Int,
        beta: Float
    ) {
        for i in 0..<n {
            m[i] = beta * m[i] + (1 - beta) * g[i]
            u[i] = (1 - beta) * g[i] + beta * m[i]
        }
    }

    static func axpy(_ x: UnsafeMutablePointer<Float>, _ o: UnsafePointer<Float>, _ n: Int, alpha: Float) {
        for i in 0..<n { x[i] += alpha * o[i] }
    }
}
