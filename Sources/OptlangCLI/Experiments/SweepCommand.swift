import Foundation
import RecipeCompiler
import RecipeLanguage
import Training

/// `optlang sweep RECIPE --grid NAME=V1,V2 …`: one run per combination of grid values and
/// seeds, each in its own folder; running the same command again continues the sweep.
struct SweepCommand: Command {
    static let name = "sweep"
    static let summary = "train once per combination of hyperparameter values and seeds"
    static let usage = """
        usage: optlang sweep RECIPE --grid NAME=V1,V2,... [--grid ...] [--seeds 1,2,3] [options]

        Runs the cartesian product of the grids and the seeds, one run folder each, named
        like lr=0.003,beta1=0.9/seed=1 inside the sweep folder, which also holds sweep.json
        (the settings and every run's status). Running the same command again skips finished
        runs and continues interrupted ones; without --out it continues the newest sweep
        folder of the recipe with the same settings.

        options:
          --grid NAME=V1,V2,...  values of one hyperparameter (repeatable)
          --seeds S1,S2,...      seeds (default 1)
          --out DIR              sweep folder (default runs/<recipe>-sweep-<time>)
          --parallel 1|2         runs side by side (default 1, faster on a quiet machine; 1 shows progress bars)
          --steps, --model, --data, --set, --eval-every, --eval-windows, --checkpoint-every,
          --log-every, --clip    as for 'optlang run', passed to every run
        """

    /// Two runs side by side were never slower than one at a time on two cores, and up to
    /// 1.5× faster on a busy machine: a small model's step leaves a core idle much of the
    /// time (docs/runs.md, "Sweeps", has the figures). Results are the same either way.
    static let defaultParallel = 1

    var recipe: String
    var axes: [GridAxis]
    var seeds: [UInt64]
    var settings: RunSettings
    var out: String?
    var parallel: Int

    init(arguments: inout Arguments) throws(UsageError) {
        axes = try arguments.options("grid").map { text throws(UsageError) in try GridAxis(parsing: text) }
        var seen = Set<String>()
        for axis in axes where !seen.insert(axis.name).inserted {
            throw UsageError("option '--grid' names '\(axis.name)' twice")
        }
        let seedsText = try arguments.option("seeds") ?? "1"
        let seedList = seedsText.split(separator: ",", omittingEmptySubsequences: false).compactMap { UInt64($0) }
        guard seedList.count == seedsText.split(separator: ",", omittingEmptySubsequences: false).count,
            Set(seedList).count == seedList.count
        else {
            throw UsageError("option '--seeds' expects distinct integers like 1,2,3, got '\(seedsText)'")
        }
        seeds = seedList
        settings = try RunSettings(arguments: &arguments)
        for axis in axes where settings.sets[axis.name] != nil {
            throw UsageError("hyperparameter '\(axis.name)' is both swept (--grid) and fixed (--set)")
        }
        out = try arguments.option("out")
        parallel = try arguments.intOption("parallel", in: 1...2) ?? Self.defaultParallel
        recipe = try arguments.single("recipe file (usage: optlang sweep RECIPE --grid NAME=V1,V2,...)")
    }

    func run(console: Console) throws -> Int32 {
        guard let checked = try RecipeLoading.checkedRecipe(recipe, console: console) else { return 1 }
        for axis in axes where checked.hyperIndex(axis.name) == nil {
            let known = checked.hypers.map(\.name).joined(separator: ", ")
            throw UsageError("recipe '\(checked.name)' has no hyperparameter '\(axis.name)' (it has: \(known))")
        }
        _ = try RecipeLoading.compile(checked, overrides: settings.sets, steps: false)
        _ = try settings.modelAndData()

        let settingsJSON = self.settingsJSON(recipeText: (try? String(contentsOfFile: recipe, encoding: .utf8)) ?? "")
        let folder =
            out ?? Self.previousSweep(of: checked.name, settings: settingsJSON) ?? Self.defaultFolder(checked.name)
        let record = URL(fileURLWithPath: folder).appendingPathComponent("sweep.json")
        if let text = try? String(contentsOf: record, encoding: .utf8) {
            guard let old = try? JSON.parse(text), field(old, "settings") == settingsJSON else {
                throw UsageError(
                    "'\(folder)' holds a sweep with other settings (recipe, grid, seeds or options); choose another --out"
                )
            }
            console.print("continuing the sweep in \(folder)")
        }

        let points = SweepPoint.expand(axes, seeds: seeds)
        let session = SweepSession(
            command: self, recipe: checked, folder: folder, settings: settingsJSON, points: points, console: console)
        try session.save()
        session.runAll(parallel: parallel)
        return session.finish()
    }

    /// What must match for a sweep folder to be continued: the recipe text's hash, the
    /// grid, the seeds and the run options.
    func settingsJSON(recipeText: String) -> JSON {
        .object([
            ("recipe_sha256", .string(SHA256.hexDigest(recipeText))),
            ("grid", .object(axes.map { ($0.name, .array($0.values.map { JSON.double($0.number) })) })),
            ("seeds", .array(seeds.map(JSON.int))),
            ("options", settings.json),
        ])
    }

    /// The newest `runs/<recipe>-sweep-*` folder whose `sweep.json` has `settings`.
    static func previousSweep(of recipe: String, settings: JSON) -> String? {
        let prefix = "\(recipe)-sweep-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "runs")) ?? []
        for name in names.filter({ $0.hasPrefix(prefix) }).sorted().reversed() {
            guard let text = try? String(contentsOfFile: "runs/\(name)/sweep.json", encoding: .utf8),
                let json = try? JSON.parse(text), field(json, "settings") == settings
            else { continue }
            return "runs/\(name)"
        }
        return nil
    }

    /// `runs/<recipe>-sweep-<yyyyMMdd-HHmmss>`.
    static func defaultFolder(_ recipe: String) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return "runs/\(recipe)-sweep-\(formatter.string(from: Date()))"
    }
}
