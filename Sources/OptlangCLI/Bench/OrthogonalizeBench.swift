import Foundation
import TensorRuntime
import Training

/// `optlang bench orthogonalize`: the Newton–Schulz part of a Muon step for a model.
struct OrthogonalizeBench {
    let model: String
    let json: Bool
    let budget: Double

    func run(console: Console) throws -> Int32 {
        var config = try RecipeLoading.modelConfig(model)
        config.vocab = SyntheticHMM.defaultVocabularySize
        let hidden = Transformer.metas(config).filter { $0.role == .attention || $0.role == .mlp }
        var rng = SeededRandom(seed: 3)
        let inputs = hidden.map { Tensor.randomNormal(Shape($0.shape), using: &rng) }
        var outputs = inputs
        // As the optimizer runs it: the matrices are split over the threads, each
        // orthogonalised wholly on one thread, balanced by size.
        let workers = (0..<max(1, Parallel.threadCount)).map { _ in HandMuon.Worker() }
        var load = [Int](repeating: 0, count: workers.count)
        var flops = 0.0
        for i in hidden.indices.sorted(by: { hidden[$0].shape.reduce(1, *) > hidden[$1].shape.reduce(1, *) }) {
            let (r, c) = (hidden[i].shape[0], hidden[i].shape[1])
            let w = load.indices.min { load[$0] < load[$1] }!
            workers[w].members.append(i)
            load[w] += r * c
            if workers[w].workspaces["\(r)x\(c)"] == nil {
                workers[w].workspaces["\(r)x\(c)"] = NewtonSchulzWorkspace(rows: r, columns: c)
            }
            let (p, q) = (Double(min(r, c)), Double(max(r, c)))
            flops += 5 * (4 * p * p * q + 2 * p * p * p)
        }
        let seconds = Stopwatch.best(budget: budget) {
            inputs.withUnsafeBufferPointer { inputs in
                outputs.withUnsafeMutableBufferPointer { outputs in
                    Parallel.forEach(workers.count) { w in
                        for i in workers[w].members {
                            let key = "\(hidden[i].shape[0])x\(hidden[i].shape[1])"
                            inputs[i].withUnsafeBufferPointer { src in
                                outputs[i].withUnsafeMutableBufferPointer { dst in
                                    workers[w].workspaces[key]!.orthogonalize(
                                        src.baseAddress!, into: dst.baseAddress!, steps: 5)
                                }
                            }
                        }
                    }
                }
            }
        }
        let peak = PeakBench.measure(threads: Parallel.threadCount, budget: min(budget, 0.3))
        let gflops = flops / seconds / 1e9
        if json {
            console.print(
                JSON.object([
                    ("model", .string(model)), ("matrices", .value(Double(hidden.count))),
                    ("ms", .value((seconds * 1e6).rounded() / 1e3)), ("gflops", .value((gflops * 10).rounded() / 10)),
                    ("peak_fraction", .value((gflops / peak * 1000).rounded() / 1000)),
                ]).compact)
        } else {
            console.print(
                String(
                    format:
                        "Newton–Schulz on %d hidden matrices of %@: %.2f ms per step, %.2f GFLOP, %.1f GFLOP/s = %.0f%% of the %.0f GFLOP/s peak",
                    hidden.count, model, seconds * 1e3, flops / 1e9, gflops, 100 * gflops / peak, peak))
        }
        return 0
    }
}
