import Foundation
import RecipeCompiler
import RecipeLanguage
import Training

/// Shared steps of the commands that run a recipe: check it, report its diagnostics, and
/// compile it with `--set` overrides.
enum RecipeLoading {
    /// Thrown after a recipe's errors were printed (exit status 1).
    struct RecipeErrors: Error {}

    /// Checks `path`, printing diagnostics (warnings too) to standard error.
    static func check(_ path: String, console: Console) throws -> CheckedRecipe {
        guard let source = RecipeFiles.read(path) else { throw UsageError("cannot read recipe '\(path)'") }
        let output = Checker.check(source)
        let renderer = DiagnosticRenderer(color: console.colorsErrors, files: output.sources)
        for file in output.files where !file.diagnostics.isEmpty {
            console.errorRaw(renderer.render(file.diagnostics, in: file.file))
        }
        guard let recipe = output.recipe else { throw RecipeErrors() }
        return recipe
    }

    /// Checks `path` like ``check(_:console:)``; nil when the recipe has errors (printed).
    static func checkedRecipe(_ path: String, console: Console) throws -> CheckedRecipe? {
        do {
            return try check(path, console: console)
        } catch is RecipeErrors {
            return nil
        }
    }

    /// A `--model` specification; a bad one is a usage error.
    static func modelConfig(_ spec: String) throws(UsageError) -> ModelConfig {
        do {
            return try ModelConfig.parse(spec)
        } catch {
            throw UsageError(error.message)
        }
    }

    /// `--set name=value` pairs.
    static func overrides(_ arguments: [String]) throws(UsageError) -> [String: Double] {
        var result: [String: Double] = [:]
        for item in arguments {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw UsageError("option '--set' expects NAME=VALUE, got '\(item)'")
            }
            guard let value = Double(parts[1]), value.isFinite else {
                throw UsageError("option '--set \(parts[0])' needs a number, got '\(parts[1])'")
            }
            result[parts[0]] = value
        }
        return result
    }

    /// Compiles a checked recipe; an unknown `--set` name is a usage error, a compiler fault
    /// an internal error (``CLI/report(_:color:)``).
    /// - Parameter steps: the optimizer will run steps (not only be shown): its fused passes
    ///   are compiled to machine code unless `OPTLANG_NATIVE=0`.
    static func compile(_ recipe: CheckedRecipe, overrides: [String: Double], steps: Bool = true) throws
        -> CompiledOptimizer
    {
        do {
            let optimizer = try CompiledOptimizer(recipe: recipe, overrides: overrides)
            optimizer.nativePasses = steps && ProcessInfo.processInfo.environment["OPTLANG_NATIVE"] != "0"
            optimizer.warn = { FileHandle.standardError.write(Data("optlang: \($0)\n".utf8)) }
            return optimizer
        } catch  where error.isInternal {
            throw error
        } catch {
            throw UsageError(error.message)
        }
    }
}
