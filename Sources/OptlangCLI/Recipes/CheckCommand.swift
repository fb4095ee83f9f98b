import Foundation
import RecipeLanguage

/// `optlang check FILE...`: parse and check recipes, printing every diagnostic.
struct CheckCommand: Command {
    static let name = "check"
    static let summary = "check recipes for errors (--explain: show hyperparameters and groups)"
    static let usage = """
        usage: optlang check FILE... [--explain]

        Parses and checks each recipe (and the recipes it imports) and prints every error
        and warning as file:line:col. Exit status: 0 when all are valid, 1 when any has
        errors, 2 for usage errors or unreadable files.

        options:
          --explain   also print each recipe's hyperparameters (defaults and docs) and groups
        """

    let files: [String]
    let explain: Bool

    init(arguments: inout Arguments) throws(UsageError) {
        explain = arguments.flag("explain")
        files = arguments.positionals()
        guard !files.isEmpty else { throw UsageError("missing recipe file (usage: optlang check FILE...)") }
    }

    func run(console: Console) throws -> Int32 {
        var failed = false
        var unreadable = false
        for path in files {
            guard let source = RecipeFiles.read(path) else {
                console.error("optlang check: cannot read '\(path)'")
                unreadable = true
                continue
            }
            let output = Checker.check(source)
            let renderer = DiagnosticRenderer(color: console.colorsErrors, files: output.sources)
            for file in output.files where !file.diagnostics.isEmpty {
                console.errorRaw(renderer.render(file.diagnostics, in: file.file))
            }
            let errors = output.files.reduce(0) { $0 + $1.diagnostics.filter { $0.severity == .error }.count }
            if let recipe = output.recipe {
                if explain { console.print(Explanation.text(recipe)) } else { console.print("\(path): ok") }
            } else {
                failed = true
                console.error("\(path): \(errors) error\(errors == 1 ? "" : "s")")
            }
        }
        return unreadable ? 2 : failed ? 1 : 0
    }
}

/// Reading recipe files for commands.
enum RecipeFiles {
    /// The file's bytes as a source, or nil when it cannot be read (or is a directory).
    static func read(_ path: String) -> SourceFile? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: path)
        else { return nil }
        return SourceFile(path: path, bytes: Array(data))
    }
}

/// The `--explain` text: what a recipe's knobs are and how it splits the parameters.
enum Explanation {
    static func text(_ recipe: CheckedRecipe) -> String {
        var lines = ["\(recipe.name)" + (recipe.title.map { " — \($0)" } ?? "") + " (\(recipe.path))", ""]
        lines.append("hyperparameters (override with --set NAME=VALUE):")
        let width = recipe.hypers.map(\.name.count).max() ?? 0
        let values = recipe.hypers.map { ConstantEvaluator.format($0.defaultValue) }
        let valueWidth = values.map(\.count).max() ?? 0
        for (h, v) in zip(recipe.hypers, values) {
            let name = h.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let value = v.padding(toLength: valueWidth, withPad: " ", startingAt: 0)
            let line = "  \(name) = \(value)" + (h.doc.map { "   \($0)" } ?? "")
            lines.append(String(line.reversed().drop(while: { $0 == " " }).reversed()))
        }
        if recipe.hypers.isEmpty { lines.append("  (none)") }
        lines.append("")
        lines.append("groups (each parameter goes to the first group that matches):")
        for g in recipe.groups {
            lines.append("  \(g.name): \(Printer.selector(g.selector))")
            let states = g.states.map { "\($0.name) (\(Explanation.describe($0.type)))" }
            lines.append("    state: " + (states.isEmpty ? "none" : states.joined(separator: ", ")))
        }
        return lines.joined(separator: "\n")
    }

    static func describe(_ t: ValueType) -> String {
        switch (t.level, t.extent) {
        case (.tensor, .full): return "like the parameter"
        case (.tensor, .row): return "one per row"
        case (.tensor, .column): return "one per column"
        case (.layer, _): return "one number"
        case (.global, _): return "one number"
        }
    }
}
