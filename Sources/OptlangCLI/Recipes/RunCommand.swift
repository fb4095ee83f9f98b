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
    var settings: RunSettings
    var seed: UInt64
    var out: String?
    var resume: String?
    var quiet: Bool

    init(arguments: inout Arguments) throws(UsageError) {
        settings = try RunSettings(arguments: &arguments)
        seed = UInt64(try arguments.intOption("seed", in: 0...Int.max) ?? 1)
        out = try arguments.option("out")
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
        let folder = out ?? resume ?? Self.defaultFolder(checked.name)
        let checkpoint = URL(fileURLWithPath: folder).appendingPathComponent(RunFiles.checkpoint).path
        if resume == nil, FileManager.default.fileExists(atPath: checkpoint) {
            throw UsageError(
                "'\(folder)' already holds a run; continue it with --resume \(folder) or choose another --out")
        }
        if let resume, !FileManager.default.isReadableFile(atPath: checkpoint) {
            // An unreadable file is a usage error (exit 2), as the README says.
            throw UsageError("cannot read checkpoint '\(checkpoint)': nothing to resume in '\(resume)'")
        }
        let run = TrainingRun(
            recipePath: recipe, recipe: checked, settings: settings, seed: seed, folder: folder, resumeFrom: resume,
            quiet: quiet)
        let progress = ProgressReporter(
            style: .automatic(isTerminal: console.outputIsTerminal, quiet: quiet), write: { console.printRaw($0) })
        do {
            _ = try run.train(progress: progress, announce: { if !quiet { console.print($0) } })
        } catch let error as TrainingError {
            console.error("optlang run: \(error)")
            return 1
        } catch let error as CompileError where !error.isInternal {
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
