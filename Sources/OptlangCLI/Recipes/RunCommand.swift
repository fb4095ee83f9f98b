import Foundation
import RecipeCompiler
import RecipeLanguage
import Training

/// `optlang run RECIPE`: train the built-in model with a recipe's optimizer.
struct RunCommand: Command {
    static let name = "run"
    static let summary = "train the built-in model with a recipe"
    static let usage = """
        usage: optlang run RECIPE [options]

        Trains the built-in decoder with the recipe's optimizer and writes a run folder
        (config.json, metrics.jsonl, checkpoint.ckpt; see docs/runs.md).

        options:
          --steps N              training steps (default 500)
          --model SPEC           tiny or small, with overrides: tiny,d=192,layers=6,arch=llama (default tiny)
          --data FILE            FILE.txt (characters), FILE.bin (llm.c token shard); default: built-in synthetic data
          --set NAME=VALUE       override a hyperparameter of the recipe (repeatable)
          --seed S               seed for initialisation and batches (default 1)
          --out DIR              run folder (default runs/<recipe>-<time>)
          --eval-every N         validation every N steps (default 50)
          --eval-windows N       validation windows of one context each (default 32)
          --checkpoint-every N   checkpoint every N steps (default 100, and at the end)
          --log-every N          a metrics line (and a progress line off a terminal) every N steps (default 10)
          --clip NORM            clip the global gradient norm to NORM
          --resume DIR           continue the run in DIR from its checkpoint
          --quiet                no progress output
        """

    var recipe: String
    var steps: Int
    var modelSpec: String
    var data: String?
    var sets: [String: Double]
    var seed: UInt64
    var out: String?
    var evalEvery: Int
    var evalWindows: Int
    var checkpointEvery: Int
    var logEvery: Int
    var clip: Double?
    var resume: String?
    var quiet: Bool

    init(arguments: inout Arguments) throws(UsageError) {
        steps = try arguments.intOption("steps", in: 1...10_000_000) ?? 500
        modelSpec = try arguments.option("model") ?? "tiny"
        data = try arguments.option("data")
        sets = try RecipeLoading.overrides(arguments.options("set"))
        seed = UInt64(try arguments.intOption("seed", in: 0...Int.max) ?? 1)
        out = try arguments.option("out")
        evalEvery = try arguments.intOption("eval-every", in: 1...10_000_000) ?? 50
        evalWindows = try arguments.intOption("eval-windows", in: 1...100_000) ?? 32
        checkpointEvery = try arguments.intOption("checkpoint-every", in: 1...10_000_000) ?? 100
        logEvery = try arguments.intOption("log-every", in: 1...10_000_000) ?? 10
        if let text = try arguments.option("clip") {
            guard let c = Double(text), c > 0, c.isFinite else {
                throw UsageError("option '--clip' expects a positive number, got '\(text)'")
            }
            clip = c
        }
        resume = try arguments.option("resume")
        quiet = arguments.flag("quiet")
        let rest = arguments.positionals()
        guard rest.count == 1 else {
            throw UsageError(
                rest.isEmpty ? "missing recipe file (usage: optlang run RECIPE)" : "unexpected argument '\(rest[1])'")
        }
        recipe = rest[0]
    }

    func run(console: Console) throws -> Int32 {
        guard let checked = try RecipeLoading.checkedRecipe(recipe, console: console) else { return 1 }
        let optimizer = try RecipeLoading.compile(checked, overrides: sets)
        var config = try RecipeLoading.modelConfig(modelSpec)
        let dataset: any Dataset
        do {
            dataset = try DataSpec.parse(data).makeDataset(context: config.context)
        } catch {
            throw UsageError(error.description)
        }
        config.vocab = dataset.vocabularySize
        let folder = out ?? resume ?? Self.defaultFolder(checked.name)
        let url = URL(fileURLWithPath: folder)
        if resume == nil, FileManager.default.fileExists(atPath: url.appendingPathComponent(RunFiles.checkpoint).path) {
            throw UsageError(
                "'\(folder)' already holds a run; continue it with --resume \(folder) or choose another --out")
        }
        let model = Transformer(config: config, seed: seed)
        let options = TrainingOptions(
            steps: steps, evalEvery: evalEvery, evalWindows: evalWindows, checkpointEvery: checkpointEvery,
            clipNorm: clip, seed: seed, outDirectory: url, quiet: quiet, logEvery: logEvery)
        let text = (try? String(contentsOfFile: recipe, encoding: .utf8)) ?? ""
        let description = RunDescription(
            recipeName: checked.name, recipeText: text,
            hyperparameters: Dictionary(optimizer.graph.hyperparameters.map { ($0.name, $0.value) }) { a, _ in a },
            optlangVersion: CLI.version)
        let progress = ProgressReporter(
            style: .automatic(isTerminal: console.outputIsTerminal, quiet: quiet), write: { console.printRaw($0) })
        do {
            let trainer = try Trainer(
                model: model, optimizer: optimizer, dataset: dataset, modelConfig: config, options: options,
                run: description, progress: progress)
            if let resume { try trainer.resume(from: URL(fileURLWithPath: resume)) }
            if !quiet {
                console.print(
                    "\(checked.name) on \(modelSpec) (\(model.parameterMetas.count) tensors), \(dataset.summary), \(steps) steps → \(folder)"
                )
            }
            _ = try trainer.run()
        } catch let error as TrainingError {
            console.error("optlang run: \(error)")
            return 1
        } catch let error as CompileError {
            console.error("optlang run: \(error.message)")
            return 1
        }
        return 0
    }

    static func defaultFolder(_ recipe: String) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return "runs/\(recipe)-\(formatter.string(from: Date()))"
    }
}
