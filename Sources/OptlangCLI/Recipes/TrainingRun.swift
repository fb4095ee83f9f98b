import Foundation
import RecipeCompiler
import RecipeLanguage
import Training

/// The training flags `optlang run` and `optlang sweep` share: what to train on and how
/// (everything but the seed, the folder and the output).
struct RunSettings: Equatable {
    var steps: Int
    var modelSpec: String
    var data: String?
    /// `--set` overrides.
    var sets: [String: Double]
    var evalEvery: Int
    var evalWindows: Int
    var checkpointEvery: Int
    var logEvery: Int
    var clip: Double?

    /// Reads `--steps`, `--model`, `--data`, `--set`, `--eval-every`, `--eval-windows`,
    /// `--checkpoint-every`, `--log-every` and `--clip`, with their defaults.
    init(arguments: inout Arguments) throws(UsageError) {
        steps = try arguments.intOption("steps", in: 1...10_000_000) ?? 500
        modelSpec = try arguments.option("model") ?? "tiny"
        data = try arguments.option("data")
        sets = try RecipeLoading.overrides(arguments.options("set"))
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
    }

    /// The settings as JSON, for `sweep.json` (keys in a fixed order, `--set` sorted).
    var json: JSON {
        .object([
            ("steps", .int(steps)), ("model", .string(modelSpec)), ("data", data.map(JSON.string) ?? .null),
            ("set", .object(sets.sorted { $0.key < $1.key }.map { ($0.key, JSON.double($0.value)) })),
            ("eval_every", .int(evalEvery)), ("eval_windows", .int(evalWindows)),
            ("checkpoint_every", .int(checkpointEvery)), ("log_every", .int(logEvery)),
            ("clip_norm", clip.map(JSON.double) ?? .null),
        ])
    }

    /// The model configuration and a fresh dataset; bad specifications are usage errors.
    func modelAndData() throws -> (ModelConfig, any Dataset) {
        var config = try RecipeLoading.modelConfig(modelSpec)
        let dataset: any Dataset
        do {
            dataset = try DataSpec.parse(data).makeDataset(context: config.context)
        } catch {
            throw UsageError(error.description)
        }
        config.vocab = dataset.vocabularySize
        return (config, dataset)
    }
}

/// One configured training run: the code path `optlang run` takes, and `optlang sweep`
/// takes once per combination.
struct TrainingRun {
    /// The recipe file (its text goes into `config.json`).
    var recipePath: String
    var recipe: CheckedRecipe
    var settings: RunSettings
    var seed: UInt64
    /// The run folder, as given on the command line.
    var folder: String
    /// A run folder whose checkpoint this run continues from (often `folder` itself).
    var resumeFrom: String?
    var quiet: Bool
    /// Leaves Ctrl-C to the caller when false (see ``Trainer/stopsOnInterrupt``).
    var stopsOnInterrupt = true

    /// Compiles the recipe, builds the model and data, and trains.
    /// - Parameters:
    ///   - progress: where the trainer's progress goes.
    ///   - announce: receives the one-line description of the run before training.
    /// - Returns: how the run ended.
    /// - Throws: ``UsageError`` for a bad override, model or data; ``TrainingError`` or
    ///   ``CompileError`` when training fails.
    func train(progress: ProgressReporter, announce: (String) -> Void = { _ in }) throws -> TrainingSummary {
        let optimizer = try RecipeLoading.compile(recipe, overrides: settings.sets)
        let (config, dataset) = try settings.modelAndData()
        let model = Transformer(config: config, seed: seed)
        let options = TrainingOptions(
            steps: settings.steps, evalEvery: settings.evalEvery, evalWindows: settings.evalWindows,
            checkpointEvery: settings.checkpointEvery, clipNorm: settings.clip, seed: seed,
            outDirectory: URL(fileURLWithPath: folder),
            quiet: quiet, logEvery: settings.logEvery)
        let text = (try? String(contentsOfFile: recipePath, encoding: .utf8)) ?? ""
        let description = RunDescription(
            recipeName: recipe.name, recipeText: text,
            hyperparameters: Dictionary(optimizer.graph.hyperparameters.map { ($0.name, $0.value) }) { a, _ in a },
            optlangVersion: CLI.version)
        let trainer = try Trainer(
            model: model, optimizer: optimizer, dataset: dataset, modelConfig: config, options: options,
            run: description, progress: progress)
        trainer.stopsOnInterrupt = stopsOnInterrupt
        if let resumeFrom { try trainer.resume(from: URL(fileURLWithPath: resumeFrom)) }
        announce(
            "\(recipe.name) on \(settings.modelSpec) (\(model.parameterMetas.count) tensors), \(dataset.summary), \(settings.steps) steps → \(folder)"
        )
        return try trainer.run()
    }
}
