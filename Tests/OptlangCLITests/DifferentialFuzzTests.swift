import Foundation
import RecipeLanguage
import TensorRuntime
import Testing
import Training

@testable import OptlangCLI
@testable import RecipeCompiler

/// Differential fuzzing of the back end: thousands of generated recipes that check must each
/// compile, train 3 steps of a tiny model, replay a trace, and export to numpy, and the numpy
/// export must replay the trace to the same parameters (within 1e-5 relative).
///
/// `OPTLANG_FUZZ_COUNT` (default 2000) and `OPTLANG_FUZZ_SEED` (default 1, the first seed)
/// choose the recipes; `OPTLANG_FUZZ_VERBOSE=1` prints each seed and recipe before it runs
/// (to find a recipe that traps). A recipe that failed once is cut down to the statements that
/// still fail and saved in `FuzzRegressions/` with a comment on what it found; those run
/// first, every time.
@Suite(.serialized) struct DifferentialFuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let count = environment["OPTLANG_FUZZ_COUNT"].flatMap { Int($0) } ?? 2000
    static let firstSeed = environment["OPTLANG_FUZZ_SEED"].flatMap { UInt64($0) } ?? 1
    static let verbose = environment["OPTLANG_FUZZ_VERBOSE"] == "1"
    static let regressions = ExportTests.folder.appendingPathComponent("FuzzRegressions")

    /// What happened to one generated recipe.
    enum Outcome {
        case rejected(String)
        case failed(String)
        case exported(replay: [String: [Double]], module: String)
    }

    @Test func generatedRecipesCompileTrainReplayAndMatchTheirNumpyExport() throws {
        let (scratch, trace, modules) = try Self.workspace()
        defer { scratch.remove() }
        let models = [ModelConfig.Architecture.gpt, .llama].map { architecture in
            Transformer(
                config: ModelConfig(
                    architecture: architecture, d: 8, layers: 2, heads: 2, context: 4, batch: 2, vocab: 11),
                seed: 1)
        }
        // Saved regressions first, then the generated recipes; each with a key for reports.
        var cases: [(key: String, text: String)] = []
        let saved = try FileManager.default.contentsOfDirectory(atPath: Self.regressions.path).filter {
            $0.hasSuffix(".opt")
        }
        for name in saved.sorted() {
            cases.append((name, try String(contentsOf: Self.regressions.appendingPathComponent(name), encoding: .utf8)))
        }
        #expect(!cases.isEmpty, "no saved regressions in \(Self.regressions.path)")
        for seed in (0..<UInt64(Self.count)).map({ Self.firstSeed + $0 }) {
            var generator = RecipeGenerator(seed: seed)
            cases.append(("seed \(seed)", generator.recipe()))
        }
        var texts: [String: String] = [:]
        var replays: [String: [String: [Double]]] = [:]
        var failures: [String] = []
        var rejected: [String] = []
        for (index, (key, text)) in cases.enumerated() {
            if Self.verbose { print("fuzz: \(key)\n\(text)") }
            texts[key] = text
            switch Self.run(text, index: index, trace: trace, model: models[index % 2]) {
            case .rejected(let why): rejected.append("\(key): \(why)")
            case .failed(let why): failures.append("\(key): \(why)\n\(text)")
            case .exported(let replay, let module):
                replays[key] = replay
                try module.write(toFile: modules + "/fuzz_\(index).py", atomically: true, encoding: .utf8)
            }
        }
        let results = try Self.replayBatch(
            "replay_numpy_batch.py", modules: modules, trace: scratch.file("trace.json"), scratch: scratch)
        for (index, (key, _)) in cases.enumerated() {
            guard let replay = replays[key] else { continue }
            if let failure = Self.failure(of: results["fuzz_\(index).py"], against: replay, export: "numpy") {
                failures.append("\(key): \(failure)\n\(texts[key]!)")
            }
        }
        print(
            "fuzz: \(saved.count) saved regressions and \(Self.count) recipes from seed \(Self.firstSeed): "
                + "\(replays.count) compared with numpy, \(rejected.count) rejected by the checker, "
                + "\(failures.count) failed")
        #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n\n"))")
        // The generator writes well-typed recipes; rejections mean it (or the checker) drifted.
        #expect(rejected.isEmpty, "\(rejected.prefix(5).joined(separator: "\n"))")
        #expect(replays.count == cases.count - failures.count - rejected.count)
    }

    /// The PyTorch export of generated recipes (the first `OPTLANG_FUZZ_TORCH_COUNT`, default
    /// 400) replays the trace as `optlang replay` does: multi-tensor operations, updates in
    /// place and fused multiply-adds on every kind of value the generator reaches.
    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)))
    func generatedRecipesMatchTheirPyTorchExport() throws {
        let (scratch, trace, modules) = try Self.workspace()
        defer { scratch.remove() }
        let model = Transformer(
            config: ModelConfig(architecture: .gpt, d: 8, layers: 2, heads: 2, context: 4, batch: 2, vocab: 11),
            seed: 1)
        var texts: [Int: String] = [:]
        var replays: [Int: [String: [Double]]] = [:]
        var failures: [String] = []
        for index in 0..<Self.torchCount {
            var generator = RecipeGenerator(seed: Self.firstSeed + UInt64(index))
            let text = generator.recipe()
            if Self.verbose { print("fuzz: seed \(Self.firstSeed + UInt64(index))\n\(text)") }
            texts[index] = text
            guard
                case .exported(let replay, let module) = Self.run(
                    text, index: index, trace: trace, model: model, to: .pytorch)
            else {
                continue  // the numpy fuzz reports these
            }
            try module.write(toFile: modules + "/fuzz_\(index).py", atomically: true, encoding: .utf8)
            replays[index] = replay
        }
        let results = try Self.replayBatch(
            "replay_torch_batch.py", modules: modules, trace: scratch.file("trace.json"), scratch: scratch)
        for (index, replay) in replays.sorted(by: { $0.key < $1.key }) {
            if let failure = Self.failure(of: results["fuzz_\(index).py"], against: replay, export: "PyTorch") {
                failures.append("seed \(Self.firstSeed + UInt64(index)): \(failure)\n\(texts[index]!)")
            }
        }
        print("fuzz: \(replays.count) of \(Self.torchCount) recipes compared with PyTorch, \(failures.count) failed")
        #expect(replays.count > Self.torchCount * 9 / 10, "most generated recipes replay")
        #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n\n"))")
    }

    /// Recipes whose PyTorch export is compared: `OPTLANG_FUZZ_TORCH_COUNT`.
    static let torchCount = environment["OPTLANG_FUZZ_TORCH_COUNT"].flatMap { Int($0) } ?? 400

    /// The fused passes of generated recipes compiled to machine code (one library) step
    /// bit for bit as interpreted: every kind of instruction the generator reaches.
    @Test func generatedRecipesStepBitForBitWhenTheirPassesAreCompiled() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("optlang-fuzz-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let scratch = try Scratch([:])
        defer { scratch.remove() }
        try ReplayTrace.write(to: scratch.file("trace.json"), parameters: ReplayTrace.small, steps: 4, total: 6)
        let trace = try Trace.read(scratch.file("trace.json"))
        var pairs: [(UInt64, CompiledOptimizer, CompiledOptimizer)] = []
        for seed in (0..<UInt64(Self.nativeCount)).map({ Self.firstSeed + $0 }) {
            var generator = RecipeGenerator(seed: seed)
            let text = generator.recipe()
            let path = RunCommandTests.recipesFolder + "/fuzz-native-\(seed).opt"
            let recipe = try #require(Checker.check(SourceFile(path: path, text: text)).recipe)
            let (a, b) = (try CompiledOptimizer(recipe: recipe), try CompiledOptimizer(recipe: recipe))
            try a.prepare(trace.metas, totalSteps: trace.totalSteps)
            try b.prepare(trace.metas, totalSteps: trace.totalSteps)
            pairs.append((seed, a, b))
        }
        var warnings: [String] = []
        let compiled = CompiledOptimizer.compileNative(pairs.map(\.2), cache: cache) { warnings.append($0) }
        #expect(warnings.isEmpty, "\(warnings)")
        var differing: [UInt64] = []
        for (seed, interpreted, native) in pairs {
            var (x, y) = (trace.parameters, trace.parameters)
            for (t, gradients) in trace.steps.enumerated() {
                try interpreted.step(parameters: &x, gradients: gradients, step: t + 1)
                try native.step(parameters: &y, gradients: gradients, step: t + 1)
            }
            let same = zip(x, y).allSatisfy { a, b in
                zip(a.scalars, b.scalars).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
            }
            if !same { differing.append(seed) }
        }
        print("fuzz: \(compiled) passes of \(pairs.count) recipes compiled to machine code")
        #expect(compiled >= pairs.count)
        #expect(differing.isEmpty, "seeds whose compiled passes differ: \(differing)")
    }

    /// Recipes whose passes are also compiled (one `swiftc` run): `OPTLANG_FUZZ_NATIVE_COUNT`.
    static let nativeCount = environment["OPTLANG_FUZZ_NATIVE_COUNT"].flatMap { Int($0) } ?? 50

    /// Compiles, trains, replays and exports one recipe (to numpy unless `target` says).
    static func run(_ text: String, index: Int, trace: Trace, model: Transformer, to target: ExportTarget = .numpy)
        -> Outcome
    {
        let path = RunCommandTests.recipesFolder + "/fuzz-\(index).opt"
        let output = Checker.check(SourceFile(path: path, text: text))
        guard let recipe = output.recipe else {
            let first = output.files.flatMap(\.diagnostics).first { $0.severity == .error }
            return .rejected(first?.message ?? "no recipe")
        }
        do {
            // Train 3 steps of the tiny model from its initial parameters.
            let initial = model.parameters
            defer { model.parameters = initial }
            let training = try CompiledOptimizer(recipe: recipe)
            try training.prepare(model.parameterMetas, totalSteps: 3)
            let tokens = (0..<8).map { Int32(($0 * 7 + index) % 11) }
            for step in 1...3 {
                _ = model.trainStep(inputs: tokens, targets: tokens.map { ($0 + 1) % 11 })
                try training.step(parameters: &model.parameters, gradients: model.gradients, step: step)
            }
            // Replay the trace.
            let replaying = try CompiledOptimizer(recipe: recipe)
            try replaying.prepare(trace.metas, totalSteps: trace.totalSteps)
            var parameters = trace.parameters
            for (t, gradients) in trace.steps.enumerated() {
                try replaying.step(parameters: &parameters, gradients: gradients, step: t + 1)
            }
            var replay: [String: [Double]] = [:]
            for (meta, tensor) in zip(trace.metas, parameters) { replay[meta.name] = tensor.scalars.map(Double.init) }
            let module = try PythonExporter.export(recipe, to: target, sourceText: text, version: "fuzz")
            return .exported(replay: replay, module: module)
        } catch {
            return .failed("\(error)")
        }
    }

    /// A scratch folder with the trace the fuzz tests replay (`trace.json`, read back) and an
    /// empty folder for the modules.
    static func workspace() throws -> (Scratch, Trace, modules: String) {
        let scratch = try Scratch([:])
        try ReplayTrace.write(to: scratch.file("trace.json"), parameters: ReplayTrace.small, steps: 4, total: 6)
        let modules = scratch.file("modules")
        try FileManager.default.createDirectory(atPath: modules, withIntermediateDirectories: true)
        return (scratch, try Trace.read(scratch.file("trace.json")), modules)
    }

    /// Replays the trace through every module in `modules` in one Python process (`script`,
    /// in Export/): each module's file name to its `params` (by name) or its `error`.
    static func replayBatch(_ script: String, modules: String, trace: String, scratch: Scratch) throws -> [String:
        [String: Any]]
    {
        let python = try Python.run([
            ExportTests.folder.appendingPathComponent("Export/" + script).path, modules, trace,
            scratch.file("batch.json"),
        ])
        try #require(python.status == 0, "\(python.output)")
        return try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: scratch.file("batch.json")))) as! [String: [String: Any]]
    }

    /// What is wrong with one module's batch `result` against the replay, or nil.
    static func failure(of result: [String: Any]?, against replay: [String: [Double]], export: String) -> String? {
        guard let result else { return "no \(export) result" }
        if let error = result["error"] as? String { return "the \(export) export failed:\n\(error)" }
        let params = result["params"] as! [String: [Any]]
        return Self.difference(replay, params.mapValues { $0.map(Self.number) }).map {
            "replay and \(export) differ: \($0)"
        }
    }

    /// A JSON number, or the strings the batch script writes for NaN and infinities.
    static func number(_ x: Any) -> Double {
        if let d = x as? Double { return d }
        if let n = x as? NSNumber { return n.doubleValue }
        switch x as? String {
        case "inf": return .infinity
        case "-inf": return -.infinity
        default: return .nan
        }
    }

    /// The first disagreement beyond 1e-5 relative (NaN agrees with NaN), or nil.
    static func difference(_ a: [String: [Double]], _ b: [String: [Double]]) -> String? {
        for (name, x) in a.sorted(by: { $0.key < $1.key }) {
            guard let y = b[name], y.count == x.count else { return "\(name) missing or resized" }
            for (i, (u, v)) in zip(x, y).enumerated() {
                if u.isNaN && v.isNaN || u == v { continue }
                if abs(u - v) <= 1e-5 * max(1, abs(v)) { continue }
                return "\(name)[\(i)]: replay \(u), numpy \(v)"
            }
        }
        return nil
    }
}
