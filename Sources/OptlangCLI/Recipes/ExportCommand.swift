import Foundation
import RecipeCompiler

/// `optlang export RECIPE --to pytorch|numpy|optax`: the recipe as Python for another stack.
struct ExportCommand: Command {
    static let name = "export"
    static let summary = "write a recipe as a PyTorch optimizer, a numpy step function or an Optax transformation"
    static let usage = """
        usage: optlang export RECIPE --to pytorch|numpy|optax [-o FILE.py] [--set NAME=VALUE ...]

        Writes one self-contained Python module generated from the recipe's optimised step
        graph: with --to pytorch a torch.optim.Optimizer subclass named after the recipe
        (imports torch and the standard library only); with --to numpy the functions
        init_state(params) and step(params, grads, state, t, total_steps) over a dict of
        arrays; with --to optax the function optimizer(total_steps, role=None, layer=None,
        **hyperparameters) returning an optax.GradientTransformation (jax.jit-compatible).
        See docs/export.md.

        options:
          --to TARGET       pytorch, numpy or optax (required)
          -o FILE           where to write the module (default: standard output)
          --set NAME=VALUE  change a hyperparameter's default in the exported module
        """

    let recipe: String
    let target: ExportTarget
    let output: String?
    let sets: [String: Double]

    init(arguments: inout Arguments) throws(UsageError) {
        guard let text = try arguments.option("to") else {
            throw UsageError("missing '--to pytorch', '--to numpy' or '--to optax'")
        }
        guard let target = ExportTarget(rawValue: text) else {
            throw UsageError("unknown export target '\(text)' (pytorch, numpy or optax)")
        }
        self.target = target
        let short = try arguments.shortOption("o")
        let long = try arguments.option("out")
        output = short ?? long
        sets = try RecipeLoading.overrides(arguments.options("set"))
        recipe = try arguments.single("recipe file (usage: optlang export RECIPE --to pytorch|numpy|optax)")
    }

    func run(console: Console) throws -> Int32 {
        guard let checked = try RecipeLoading.checkedRecipe(recipe, console: console) else { return 1 }
        let text = (try? String(contentsOfFile: recipe, encoding: .utf8)) ?? ""
        let module: String
        do {
            module = try PythonExporter.export(
                checked, overrides: sets, to: target, sourceText: text, version: CLI.version)
        } catch {
            throw UsageError(error.message)
        }
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: Data(module.utf8)) else {
                throw UsageError("cannot write '\(output)'")
            }
        } else {
            console.printRaw(module)
        }
        return 0
    }
}
