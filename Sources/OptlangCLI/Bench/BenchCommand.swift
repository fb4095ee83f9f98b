import Foundation
import TensorRuntime
import Training

/// `optlang bench KIND`: speed measurements of the runtime (never run in tests).
struct BenchCommand: Command {
    static let name = "bench"
    static let summary = "measure speed (matmul, peak, step, orthogonalize, nuclear, train)"
    static let usage = """
        usage: optlang bench <kind> [--json] [--budget SECONDS] [--threads N]
               optlang bench step RECIPE [--model SPEC] [--against BASELINE]
               optlang bench train [--model SPEC] [--data FILE] [--recipe FILE]

        kinds:
          matmul   GFLOP/s of C[M,N] = A[M,K]·B[K,N] on square sizes 128…1024 and the
                   trainer's shapes (M = 2048), and the fraction of the FMA peak measured in
                   the same run; --size N times one square size only
          peak     this machine's fused-multiply-add peak on all cores, GFLOP/s
          step     `bench step RECIPE [--model tiny|small]`: milliseconds per optimizer step of
                   the compiled recipe on the model's parameters, beside a hand-written
                   Swift twin for AdamW and Muon (keys recipe, model, compiled_ms, hand_ms, ratio);
                   --against BASELINE also times another recipe's step, alternating with this
                   one (keys baseline, baseline_ms, baseline_ratio)
          orthogonalize  Newton–Schulz (5 steps) on every hidden matrix of --model: ms per
                   optimizer step, GFLOP/s and the fraction of the FMA peak
          nuclear  the exact nuclear norm of every hidden matrix of --model (NALR's noise):
                   ms per step beside Newton–Schulz's, and one thread's time per stage (keys
                   ms, orthogonalize_ms, ratio, gram_ms, tridiagonal_ms, trace_ms)
          train    a training step of --model on --data with --recipe (default
                   Recipes/adamw.opt): tokens_per_s, step_ms, optimizer_step_ms, gflops, mfu

        options:
          --json            one JSON object per line (matmul: m, n, k, gflops, …)
          --budget SECONDS  time spent per measurement (default 0.5)
          --threads N       worker threads (default: all cores)
          --against RECIPE  step: a second recipe timed alternately with the first
          --model SPEC      model for step, orthogonalize, nuclear and train (default tiny)
          --data FILE       data for train (default: the built-in synthetic data)
          --recipe FILE     optimizer for train (default Recipes/adamw.opt)
        """

    enum Kind: String, CaseIterable { case matmul, peak, step, orthogonalize, nuclear, train }

    let kind: Kind
    let json: Bool
    let budget: Double
    let size: Int?
    let model: String
    let recipe: String?
    let baseline: String?
    let data: String?
    let trainRecipe: String

    init(arguments: inout Arguments) throws(UsageError) {
        json = arguments.flag("json")
        if let text = try arguments.option("budget") {
            guard let b = Double(text), b > 0, b <= 60 else {
                throw UsageError("option '--budget' expects seconds in (0, 60], got '\(text)'")
            }
            budget = b
        } else {
            budget = 0.5
        }
        size = try arguments.intOption("size", in: 1...8192)
        model = try arguments.option("model") ?? "tiny"
        data = try arguments.option("data")
        trainRecipe = try arguments.option("recipe") ?? "Recipes/adamw.opt"
        baseline = try arguments.option("against")
        if let threads = try arguments.intOption("threads", in: 1...256) {
            Parallel.setThreadCount(threads)
        }
        let words = arguments.positionals()
        guard let word = words.first else {
            throw UsageError(
                "missing benchmark kind (one of: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let k = Kind(rawValue: word) else {
            throw UsageError(
                "unknown benchmark '\(word)' (one of: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        kind = k
        if k == .step {
            guard words.count >= 2 else { throw UsageError("missing recipe (usage: optlang bench step RECIPE)") }
            recipe = words[1]
            guard words.count == 2 else { throw UsageError("unexpected argument '\(words[2])'") }
        } else {
            recipe = nil
            guard words.count == 1 else { throw UsageError("unexpected argument '\(words[1])'") }
        }
    }

    func run(console: Console) throws -> Int32 {
        switch kind {
        case .matmul: MatmulBench(json: json, budget: budget, size: size).run(console: console)
        case .peak: PeakBench(json: json, budget: budget).run(console: console)
        case .step:
            return try StepBench(recipe: recipe!, baseline: baseline, model: model, json: json, budget: budget).run(
                console: console)
        case .orthogonalize:
            return try OrthogonalizeBench(model: model, json: json, budget: budget).run(console: console)
        case .nuclear:
            return try NuclearBench(model: model, json: json, budget: budget).run(console: console)
        case .train:
            return try TrainBench(model: model, data: data, recipe: trainRecipe, json: json, budget: budget).run(
                console: console)
        }
        return 0
    }
}

/// Shapes and timing for `optlang bench matmul`.
struct MatmulBench {
    let json: Bool
    let budget: Double
    let size: Int?

    /// (m, n, k): square sizes, then the trainer's shapes with M = 2048 rows.
    static var shapes: [(m: Int, n: Int, k: Int)] {
        let square = [128, 256, 512, 1024].map { (m: $0, n: $0, k: $0) }
        let trainer = [(128, 384), (128, 512), (512, 128), (256, 768), (256, 1024), (1024, 256)].map {
            (m: 2048, n: $0.1, k: $0.0)
        }
        return square + trainer
    }

    func run(console: Console) {
        let shapes = size.map { [(m: $0, n: $0, k: $0)] } ?? MatmulBench.shapes
        // The ceiling of this run: the best of a measurement before every shape, so that a
        // slow moment of a shared machine does not flatter the fractions.
        var peak = 0.0
        if !json {
            console.print(
                "matmul C[M,N] = A[M,K]·B[K,N], float32, \(Parallel.threadCount) threads, best of \(budget) s each")
            console.print("     M      K      N   GFLOP/s    ms/call  of peak")
        }
        for s in shapes {
            peak = max(peak, PeakBench.measure(threads: Parallel.threadCount, budget: min(budget, 0.2)))
            var rng = SeededRandom(seed: 1)
            let a = Tensor.randomUniform(Shape([s.m, s.k]), using: &rng)
            let b = Tensor.randomUniform(Shape([s.k, s.n]), using: &rng)
            var c = Tensor.zeros(Shape([s.m, s.n]))
            let seconds = Stopwatch.best(budget: budget) {
                c.assignMatmul(a, b)
            }
            let gflops = 2.0 * Double(s.m * s.n * s.k) / seconds / 1e9
            if json {
                console.print(
                    JSON.object([
                        ("m", .value(Double(s.m))), ("n", .value(Double(s.n))), ("k", .value(Double(s.k))),
                        ("gflops", .value((gflops * 100).rounded() / 100)),
                        ("ms", .value((seconds * 1e7).rounded() / 1e4)),
                        ("threads", .value(Double(Parallel.threadCount))),
                        ("of_peak", .value((gflops / peak * 1000).rounded() / 1000)),
                    ]).compact)
            } else {
                console.print(
                    String(
                        format: "%6d %6d %6d %9.1f %10.3f %8.2f", s.m, s.k, s.n, gflops, seconds * 1e3, gflops / peak))
            }
        }
        if !json {
            console.print(
                String(format: "FMA peak of this run: %.1f GFLOP/s (the best of one measurement per shape)", peak))
        }
    }
}

/// `optlang bench peak`: the fused-multiply-add ceiling that every figure is measured against.
struct PeakBench {
    let json: Bool
    let budget: Double

    /// Measures the peak in GFLOP/s with `threads` threads, each spinning FMA chains.
    static func measure(threads: Int, budget: Double) -> Double {
        let iterations = 2_000_000
        let flops = Double(iterations * FMAPeak.flopsPerIteration * threads)
        let seconds = Stopwatch.best(budget: budget) {
            Parallel.forEach(threads) { i in
                let r = FMAPeak.spin(iterations: iterations, seed: Float(i + 1))
                if r == 42 { print("") }  // keeps the result alive
            }
        }
        return flops / seconds / 1e9
    }

    func run(console: Console) {
        let all = PeakBench.measure(threads: Parallel.threadCount, budget: budget)
        let one = PeakBench.measure(threads: 1, budget: budget)
        if json {
            console.print(
                JSON.object([
                    ("gflops", .value((all * 100).rounded() / 100)),
                    ("gflops_one_core", .value((one * 100).rounded() / 100)),
                    ("threads", .value(Double(Parallel.threadCount))),
                ]).compact)
        } else {
            console.print(
                String(format: "FMA peak: %.1f GFLOP/s on %d threads (%.1f on one)", all, Parallel.threadCount, one))
        }
    }
}
