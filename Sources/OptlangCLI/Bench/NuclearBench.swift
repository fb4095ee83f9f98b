import Foundation
import TensorRuntime
import Training

/// `optlang bench nuclear`: the exact nuclear norm of every hidden matrix of a model (NALR's
/// noise), beside the Newton–Schulz it accompanies, and where its time goes.
struct NuclearBench {
    let model: String
    let json: Bool
    let budget: Double

    /// The matrices of one thread, with a workspace per shape.
    final class Worker {
        var members: [Int] = []
        var nuclear: [String: SingularValueWorkspace] = [:]
        var newtonSchulz: [String: NewtonSchulzWorkspace] = [:]
    }

    func run(console: Console) throws -> Int32 {
        var config = try RecipeLoading.modelConfig(model)
        config.vocab = SyntheticHMM.defaultVocabularySize
        let hidden = Transformer.metas(config).filter { $0.role == .attention || $0.role == .mlp }
        let shapes = hidden.map { (rows: $0.shape[0], columns: $0.shape[1]) }
        var rng = SeededRandom(seed: 3)
        let inputs = hidden.map { Tensor.randomNormal(Shape($0.shape), using: &rng) }
        var outputs = inputs
        // As the optimizer runs them: each matrix wholly on one thread, balanced by size.
        let workers = (0..<max(1, Parallel.threadCount)).map { _ in Worker() }
        var load = [Int](repeating: 0, count: workers.count)
        for i in hidden.indices.sorted(by: {
            shapes[$0].rows * shapes[$0].columns > shapes[$1].rows * shapes[$1].columns
        }) {
            let (r, c) = shapes[i]
            let w = load.indices.min { load[$0] < load[$1] }!
            workers[w].members.append(i)
            load[w] += r * c
            workers[w].nuclear["\(r)x\(c)"] =
                workers[w].nuclear["\(r)x\(c)"] ?? SingularValueWorkspace(rows: r, columns: c)
            workers[w].newtonSchulz["\(r)x\(c)"] =
                workers[w].newtonSchulz["\(r)x\(c)"] ?? NewtonSchulzWorkspace(rows: r, columns: c)
        }
        var sink = 0.0
        let nuclearSeconds = Stopwatch.best(budget: budget) {
            inputs.withUnsafeBufferPointer { inputs in
                Parallel.forEach(workers.count) { w in
                    for i in workers[w].members {
                        inputs[i].withUnsafeBufferPointer { src in
                            let value = workers[w].nuclear["\(shapes[i].rows)x\(shapes[i].columns)"]!.nuclearNorm(
                                src.baseAddress!)
                            if value.isNaN { print("") }
                        }
                    }
                }
            }
        }
        let orthogonalizeSeconds = Stopwatch.best(budget: budget) {
            inputs.withUnsafeBufferPointer { inputs in
                outputs.withUnsafeMutableBufferPointer { outputs in
                    Parallel.forEach(workers.count) { w in
                        for i in workers[w].members {
                            inputs[i].withUnsafeBufferPointer { src in
                                outputs[i].withUnsafeMutableBufferPointer { dst in
                                    workers[w].newtonSchulz["\(shapes[i].rows)x\(shapes[i].columns)"]!.orthogonalize(
                                        src.baseAddress!, into: dst.baseAddress!, steps: 5)
                                }
                            }
                        }
                    }
                }
            }
        }
        let parts = StageTimes(inputs: inputs, shapes: shapes, budget: budget)
        sink += parts.gram
        let ratio = nuclearSeconds / orthogonalizeSeconds
        if json {
            func ms(_ s: Double) -> JSON { .value((s * 1e6).rounded() / 1e3) }
            console.print(
                JSON.object([
                    ("model", .string(model)), ("matrices", .value(Double(hidden.count))),
                    ("ms", ms(nuclearSeconds)), ("orthogonalize_ms", ms(orthogonalizeSeconds)),
                    ("ratio", .value((ratio * 1000).rounded() / 1000)), ("gram_ms", ms(parts.gram)),
                    ("tridiagonal_ms", ms(parts.tridiagonal)), ("trace_ms", ms(parts.trace)),
                ]).compact)
        } else {
            console.print(
                String(
                    format:
                        "nuclear norms of %d hidden matrices of %@: %.3f ms per step on %d threads, %.3f of Newton–Schulz's %.3f ms\none thread, by stage: Gram %.3f ms, tridiagonal %.3f ms, trace of the root %.3f ms",
                    hidden.count, model, nuclearSeconds * 1e3, workers.count, ratio, orthogonalizeSeconds * 1e3,
                    parts.gram * 1e3, parts.tridiagonal * 1e3, parts.trace * 1e3))
        }
        return sink.isNaN ? 1 : 0
    }
}

/// One thread's time for each stage of the nuclear norm over a list of matrices.
struct StageTimes {
    var gram = 0.0
    var tridiagonal = 0.0
    var trace = 0.0

    /// The buffers of one matrix's stages.
    final class Buffers {
        let rows: Int
        let columns: Int
        let layout: Gram.Layout
        var packed: [Double]
        var gram: [Double]
        var work: [Double]
        var scratch: [Double]
        var d: [Double]
        var e: [Double]

        init(rows: Int, columns: Int) {
            self.rows = rows
            self.columns = columns
            layout = Gram.Layout(rows: rows, columns: columns)
            let slack = TensorRuntime.Layout.alignmentSlack
            packed = .init(repeating: 0, count: layout.packedCount + slack)
            gram = .init(repeating: 0, count: layout.gramCount + slack)
            work = gram
            scratch = .init(repeating: 0, count: Tridiagonalization.scratchCount(ld: layout.ld) + slack)
            d = .init(repeating: 0, count: max(layout.p, 1))
            e = d
        }

        func makeGram(_ a: Tensor) {
            a.withUnsafeBufferPointer { a in
                packed.withUnsafeMutableBufferPointer { packed in
                    gram.withUnsafeMutableBufferPointer { gram in
                        Gram.upper(
                            a.baseAddress!, rows: rows, columns: columns, layout: layout,
                            packed: aligned(packed.baseAddress!), into: aligned(gram.baseAddress!))
                    }
                }
            }
        }

        func copyGram() {
            work.withUnsafeMutableBufferPointer { w in
                gram.withUnsafeMutableBufferPointer { g in
                    aligned(w.baseAddress!).update(from: aligned(g.baseAddress!), count: layout.gramCount)
                }
            }
        }

        func reduce() {
            work.withUnsafeMutableBufferPointer { work in
                scratch.withUnsafeMutableBufferPointer { scratch in
                    Tridiagonalization.reduce(
                        aligned(work.baseAddress!), n: layout.p, ld: layout.ld, diagonal: &d, offDiagonal: &e,
                        scratch: aligned(scratch.baseAddress!))
                }
            }
        }

        private func aligned(_ p: UnsafeMutablePointer<Double>) -> UnsafeMutablePointer<Double> {
            TensorRuntime.Layout.cacheLineAligned(p)
        }

        func traceOfRoot() -> Double {
            SquareRootTrace.ofTridiagonal(diagonal: d, offDiagonal: e, n: layout.p, scratch: &scratch) ?? 0
        }
    }

    init(inputs: [Tensor], shapes: [(rows: Int, columns: Int)], budget: Double) {
        let buffers = shapes.map { Buffers(rows: $0.rows, columns: $0.columns) }
        var sink = 0.0
        gram = Stopwatch.best(budget: budget / 3) { for (b, a) in zip(buffers, inputs) { b.makeGram(a) } }
        let copy = Stopwatch.best(budget: budget / 6) { for b in buffers { b.copyGram() } }
        let both = Stopwatch.best(budget: budget / 3) {
            for b in buffers {
                b.copyGram()
                b.reduce()
            }
        }
        tridiagonal = max(0, both - copy)
        trace = Stopwatch.best(budget: budget / 6) { for b in buffers { sink += b.traceOfRoot() } }
        if sink.isNaN { print("") }
    }
}
