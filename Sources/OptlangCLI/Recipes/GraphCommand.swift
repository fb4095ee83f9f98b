import Foundation
import RecipeCompiler
import RecipeLanguage
import Training

/// `optlang graph RECIPE`: the compiled step graph, bound to a model.
struct GraphCommand: Command {
    static let name = "graph"
    static let summary = "show a recipe's optimised step graph for a model (--dot, --memory, --code)"
    static let usage = """
        usage: optlang graph RECIPE [--model SPEC] [--set NAME=VALUE ...] [--dot | --memory | --code]

        Compiles the recipe, binds its groups to the model's parameters (default: tiny, with
        the built-in data's vocabulary of 64) and prints, per group, the parameters it took,
        the state it keeps, its nodes after optimisation and the fused passes and kernels
        each step runs.

        options:
          --model SPEC      model preset and overrides, as for run (default tiny)
          --set NAME=VALUE  override a hyperparameter (repeatable)
          --dot             print Graphviz instead (optlang graph R --dot | dot -Tsvg > g.svg)
          --memory          print the optimizer-state bytes per group and in total
          --code            print the slot code of every fused pass (no model needed)
        """

    let recipe: String
    let model: String
    let sets: [String: Double]
    let dot: Bool
    let memory: Bool
    let code: Bool

    init(arguments: inout Arguments) throws(UsageError) {
        model = try arguments.option("model") ?? "tiny"
        sets = try RecipeLoading.overrides(arguments.options("set"))
        dot = arguments.flag("dot")
        memory = arguments.flag("memory")
        code = arguments.flag("code")
        guard [dot, memory, code].filter({ $0 }).count <= 1 else {
            throw UsageError("choose one of --dot, --memory and --code")
        }
        recipe = try arguments.single("recipe file (usage: optlang graph RECIPE)")
    }

    func run(console: Console) throws -> Int32 {
        guard let checked = try RecipeLoading.checkedRecipe(recipe, console: console) else { return 1 }
        var config = try RecipeLoading.modelConfig(model)
        config.vocab = SyntheticHMM.defaultVocabularySize
        let metas = Transformer.metas(config)
        let optimizer = try RecipeLoading.compile(checked, overrides: sets, steps: false)
        if code {
            console.printRaw(try RegionPrinter.text(optimizer.graph))
            return 0
        }
        do {
            try optimizer.prepare(metas, totalSteps: 1)
        } catch {
            console.error("optlang graph: \(error)")
            return 1
        }
        if dot {
            console.print(GraphPrinter.dot(optimizer))
        } else if memory {
            console.print(GraphPrinter.memory(optimizer))
        } else {
            console.print(GraphPrinter.text(optimizer, metas: metas, modelName: model))
        }
        return 0
    }
}
