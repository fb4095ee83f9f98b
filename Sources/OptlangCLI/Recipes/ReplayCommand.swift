import Foundation
import RecipeCompiler
import RecipeLanguage
import TensorRuntime
import Training

/// `optlang replay RECIPE --trace TRACE.json`: apply a recipe to given parameters and
/// gradients, with no model (see `docs/replay.md`).
struct ReplayCommand: Command {
    static let name = "replay"
    static let summary = "apply a recipe to a recorded sequence of gradients (no model)"
    static let usage = """
        usage: optlang replay RECIPE --trace TRACE.json [--out RESULT.json] [--set NAME=VALUE ...]

        Reads parameters and one gradient per parameter per step from TRACE.json, runs the
        recipe's optimizer step for each, and writes the final parameters as JSON (to
        RESULT.json, or standard output). Formats: docs/replay.md.

        options:
          --trace FILE      the trace (required)
          --out FILE        where to write the result (default: standard output)
          --set NAME=VALUE  override a hyperparameter (repeatable)
        """

    let recipe: String
    let trace: String
    let out: String?
    let sets: [String: Double]

    init(arguments: inout Arguments) throws(UsageError) {
        guard let trace = try arguments.option("trace") else { throw UsageError("missing '--trace FILE'") }
        self.trace = trace
        out = try arguments.option("out")
        sets = try RecipeLoading.overrides(arguments.options("set"))
        recipe = try arguments.single("recipe file (usage: optlang replay RECIPE --trace TRACE.json)")
    }

    func run(console: Console) throws -> Int32 {
        guard let checked = try RecipeLoading.checkedRecipe(recipe, console: console) else { return 1 }
        let replay = try Trace.read(trace)
        let optimizer = try RecipeLoading.compile(checked, overrides: sets)
        do {
            try optimizer.prepare(replay.metas, totalSteps: replay.totalSteps)
        } catch {
            console.error("optlang replay: \(error)")
            return 1
        }
        var parameters = replay.parameters
        for (t, gradients) in replay.steps.enumerated() {
            try optimizer.step(parameters: &parameters, gradients: gradients, step: t + 1)
        }
        let result = JSON.object([
            (
                "params",
                .array(
                    zip(replay.metas, parameters).map { meta, tensor in
                        .object([
                            ("name", .string(meta.name)),
                            ("values", .array(tensor.scalars.map { .value(Double($0)) })),
                        ])
                    })
            )
        ]).compact
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data((result + "\n").utf8)) else {
                throw UsageError("cannot write '\(out)'")
            }
        } else {
            console.print(result)
        }
        return 0
    }
}

/// A replay trace: parameters with metadata, and the gradients of each step.
struct Trace {
    var metas: [ParameterMeta]
    var parameters: [Tensor]
    var steps: [[Tensor]]
    var totalSteps: Int

    static func read(_ path: String) throws(UsageError) -> Trace {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError("cannot read trace '\(path)'")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw UsageError("trace '\(path)' is not a JSON object")
        }
        guard let params = root["params"] as? [[String: Any]] else {
            throw UsageError("trace '\(path)': missing \"params\" (a list of parameters)")
        }
        var metas: [ParameterMeta] = []
        var values: [Tensor] = []
        for (i, p) in params.enumerated() {
            guard let name = p["name"] as? String else {
                throw UsageError("trace '\(path)': params[\(i)] has no \"name\"")
            }
            guard let roleText = p["role"] as? String, let role = ParameterRole(rawValue: roleText) else {
                throw UsageError(
                    "trace '\(path)': parameter '\(name)' needs a \"role\" (one of \(ParameterRole.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            guard let shape = (p["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), !shape.isEmpty else {
                throw UsageError("trace '\(path)': parameter '\(name)' needs a \"shape\" (a list of sizes)")
            }
            let layer = (p["layer"] as? NSNumber)?.intValue
            let tensor = try floats(p["values"], count: shape.reduce(1, *), what: "values of '\(name)'", path: path)
            metas.append(ParameterMeta(name: name, role: role, layer: layer, shape: shape))
            values.append(try! Tensor(shape: Shape(shape), scalars: tensor))
        }
        guard let steps = root["steps"] as? [[String: Any]] else {
            throw UsageError("trace '\(path)': missing \"steps\" (a list of {\"grads\": {...}})")
        }
        var gradients: [[Tensor]] = []
        for (s, step) in steps.enumerated() {
            guard let grads = step["grads"] as? [String: Any] else {
                throw UsageError("trace '\(path)': steps[\(s)] has no \"grads\" object")
            }
            var row: [Tensor] = []
            for meta in metas {
                let g = try floats(
                    grads[meta.name], count: meta.shape.reduce(1, *), what: "gradient of '\(meta.name)' in steps[\(s)]",
                    path: path)
                row.append(try! Tensor(shape: Shape(meta.shape), scalars: g))
            }
            gradients.append(row)
        }
        let total = (root["total_steps"] as? NSNumber)?.intValue ?? steps.count
        return Trace(metas: metas, parameters: values, steps: gradients, totalSteps: total)
    }

    private static func floats(_ value: Any?, count: Int, what: String, path: String) throws(UsageError) -> [Float] {
        guard let list = value as? [Any] else { throw UsageError("trace '\(path)': missing \(what)") }
        let numbers = list.compactMap { ($0 as? NSNumber)?.floatValue }
        guard numbers.count == list.count, numbers.count == count else {
            throw UsageError("trace '\(path)': \(what) should be \(count) numbers, got \(list.count)")
        }
        return numbers
    }
}
