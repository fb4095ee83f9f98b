import Foundation
import RecipeLanguage
import TensorRuntime
import Testing

@testable import OptlangCLI
@testable import RecipeCompiler

/// The fused back end on tensors large and odd enough to cross its chunk (256 elements, 64
/// rows) and its split over threads (65,536 elements, and groups spread member by member):
/// every shipped, example and ablation recipe, and generated ones for the constructs those
/// do not reach (per-column values, tensor-level `if`, reductions), steps the same bits on
/// 1, 2 and 3 threads — with the parallel paths really taken — and matches its numpy
/// export, which computes in float64, within 1e-5 relative.
@Suite(.serialized) struct BackEndSizeTests {
    /// Every role; a vector and matrices over the split size, columns past a chunk, a tiny
    /// odd matrix.
    static let parameters: [ReplayTrace.Parameter] = [
        .init(name: "embed.tokens", role: "embedding", layer: nil, shape: [131, 67]),
        .init(name: "blocks.0.ln1.weight", role: "norm", layer: 0, shape: [70_001]),
        .init(name: "blocks.0.attn.wq", role: "attention", layer: 0, shape: [70, 259]),
        .init(name: "blocks.0.mlp.fc", role: "mlp", layer: 0, shape: [301, 257]),
        .init(name: "blocks.0.mlp.proj", role: "mlp", layer: 0, shape: [257, 75]),
        .init(name: "blocks.1.attn.wo", role: "attention", layer: 1, shape: [3, 5]),
        .init(name: "head", role: "head", layer: nil, shape: [67, 131]),
    ]

    /// Generated recipes run beside the library (seeds from 1).
    static let generated = 8

    @Test func recipesStepTheSameBitsOnOneTwoAndThreeThreadsAndMatchFloat64() throws {
        let scratch = try Scratch([:])
        defer { scratch.remove() }
        try ReplayTrace.write(to: scratch.file("trace.json"), parameters: Self.parameters, steps: 3, total: 5)
        let trace = try Trace.read(scratch.file("trace.json"))
        let modules = scratch.file("modules")
        try FileManager.default.createDirectory(atPath: modules, withIntermediateDirectories: true)
        var cases: [(key: String, path: String, text: String)] = []
        let library = RunCommandTests.recipesFolder
        for folder in ["", "/examples", "/ablations"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: library + folder).filter {
                $0.hasSuffix(".opt")
            }
            for name in names.sorted() {
                let path = library + folder + "/" + name
                cases.append(
                    (String((folder + "/" + name).dropFirst()), path, try String(contentsOfFile: path, encoding: .utf8))
                )
            }
        }
        #expect(cases.count >= 16, "the shipped, example and ablation recipes")
        for seed in 1...UInt64(Self.generated) {
            var generator = RecipeGenerator(seed: seed)
            cases.append(("seed \(seed)", library + "/generated-\(seed).opt", generator.recipe()))
        }
        var replays: [String: [String: [Double]]] = [:]
        var problems: [String] = []
        for (index, c) in cases.enumerated() {
            let checked = Checker.check(SourceFile(path: c.path, text: c.text))
            guard let recipe = checked.recipe else {
                problems.append("\(c.key): does not check")
                continue
            }
            var results: [[Tensor]] = []
            for threads in 1...3 {
                let run = try Parallel.withThreadCount(threads) {
                    let optimizer = try CompiledOptimizer(recipe: recipe)
                    try optimizer.prepare(trace.metas, totalSteps: trace.totalSteps)
                    var parameters = trace.parameters
                    for (t, gradients) in trace.steps.enumerated() {
                        try optimizer.step(parameters: &parameters, gradients: gradients, step: t + 1)
                    }
                    return parameters
                }
                if threads > 1 && run.parallelLoops == 0 {
                    problems.append("\(c.key): nothing split over \(threads) threads")
                }
                results.append(run.result)
            }
            for threads in 2...3 {
                for (meta, (a, b)) in zip(trace.metas, zip(results[0], results[threads - 1])) {
                    let same = zip(a.scalars, b.scalars).allSatisfy {
                        $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN)
                    }
                    if !same { problems.append("\(c.key): \(meta.name) differs between 1 and \(threads) threads") }
                }
            }
            var replay: [String: [Double]] = [:]
            for (meta, tensor) in zip(trace.metas, results[0]) { replay[meta.name] = tensor.scalars.map(Double.init) }
            replays[c.key] = replay
            let module = try PythonExporter.export(recipe, to: .numpy, sourceText: c.text, version: "sizes")
            try module.write(toFile: modules + "/case_\(index).py", atomically: true, encoding: .utf8)
        }
        let results = try DifferentialFuzzTests.replayBatch(
            "replay_numpy_batch.py", modules: modules, trace: scratch.file("trace.json"), scratch: scratch)
        for (index, c) in cases.enumerated() {
            guard let replay = replays[c.key] else { continue }
            if let failure = DifferentialFuzzTests.failure(
                of: results["case_\(index).py"], against: replay, export: "numpy")
            {
                problems.append("\(c.key): \(failure)")
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(8).joined(separator: "\n"))")
        #expect(replays.count == cases.count)
    }
}
