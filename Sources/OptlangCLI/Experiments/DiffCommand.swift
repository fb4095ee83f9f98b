import Foundation
import RecipeCompiler
import RecipeLanguage
import Training

/// `optlang diff A.opt B.opt`: what differs between two recipes as optimizers: their
/// hyperparameters, groups, which parameters each group takes, state slots and the
/// optimised steps of every group. Comments, layout and local names never show.
struct DiffCommand: Command {
    static let name = "diff"
    static let summary = "show how two recipes differ as optimizers"
    static let usage = """
        usage: optlang diff A.opt B.opt [--model SPEC]

        Compares two recipes after checking and compiling them for a model (default tiny):
        hyperparameters added, removed or with another default; groups added, removed or with
        another selector; parameters that change group; and per group its state slots and the
        nodes of its optimised step graph, as lines removed (- , from A) and added (+ , from B).
        Prints 'no differences' when the optimizers are the same. The exit status is 0 either
        way (it is a report); 1 when a recipe has errors.

        options:
          --model SPEC   model preset and overrides, as for run (default tiny)
        """

    let paths: (String, String)
    let model: String

    init(arguments: inout Arguments) throws(UsageError) {
        model = try arguments.option("model") ?? "tiny"
        let rest = arguments.positionals()
        guard rest.count == 2 else {
            throw UsageError(
                rest.count < 2
                    ? "expects two recipe files (usage: optlang diff A.opt B.opt)" : "unexpected argument '\(rest[2])'")
        }
        paths = (rest[0], rest[1])
    }

    func run(console: Console) throws -> Int32 {
        guard let a = try RecipeLoading.checkedRecipe(paths.0, console: console),
            let b = try RecipeLoading.checkedRecipe(paths.1, console: console)
        else { return 1 }
        var config = try RecipeLoading.modelConfig(model)
        config.vocab = SyntheticHMM.defaultVocabularySize
        let metas = Transformer.metas(config)
        let compiled = try [a, b].map { recipe in try RecipeLoading.compile(recipe, overrides: [:], steps: false) }
        for (path, optimizer) in zip([paths.0, paths.1], compiled) {
            do {
                try optimizer.prepare(metas, totalSteps: 1)
            } catch {
                console.error("optlang diff: \(path): \(error)")
                return 1
            }
        }
        let lines = OptimizerDiff(compiled[0], compiled[1], metas: metas, modelName: model).lines
        console.print(lines.isEmpty ? "no differences" : lines.joined(separator: "\n"))
        return 0
    }
}

/// The differences between two compiled optimizers, as report lines.
struct OptimizerDiff {
    private(set) var lines: [String] = []

    init(_ a: CompiledOptimizer, _ b: CompiledOptimizer, metas: [ParameterMeta], modelName: String) {
        let (ga, gb) = (a.graph, b.graph)
        section("hyperparameters", hyperparameterLines(ga.hyperparameters, gb.hyperparameters))

        var groups: [String] = []
        for g in ga.groups where !gb.groups.contains(where: { $0.name == g.name }) {
            groups.append("- group \(g.name): \(g.selectorText)")
        }
        for g in gb.groups where !ga.groups.contains(where: { $0.name == g.name }) {
            groups.append("+ group \(g.name): \(g.selectorText)")
        }
        for g in ga.groups {
            if let h = gb.groups.first(where: { $0.name == g.name }), g.selectorText != h.selectorText {
                groups.append("~ group \(g.name): \(g.selectorText) → \(h.selectorText)")
            }
        }
        section("groups", groups)

        let ownerA = Self.owners(a, metas: metas)
        let ownerB = Self.owners(b, metas: metas)
        section(
            "parameters that change group on \(modelName)",
            metas.indices.filter { ownerA[$0] != ownerB[$0] }.map { "\(metas[$0].name): \(ownerA[$0]) → \(ownerB[$0])" }
        )

        for g in ga.groups {
            guard let h = gb.groups.first(where: { $0.name == g.name }) else { continue }
            let states = Self.diff(g.states.map(Self.describe), h.states.map(Self.describe))
            let steps = Self.stepLines(g, h)
            guard !states.isEmpty || !steps.isEmpty else { continue }
            lines.append("group \(g.name):")
            if !states.isEmpty { lines += ["  state:"] + states.map { "  " + $0 } }
            if !steps.isEmpty { lines += ["  steps:"] + steps.map { "  " + $0 } }
        }
    }

    private mutating func section(_ title: String, _ items: [String]) {
        guard !items.isEmpty else { return }
        lines.append(title + ":")
        lines += items.map { "  " + $0 }
    }

    private func hyperparameterLines(_ a: [(name: String, value: Double)], _ b: [(name: String, value: Double)])
        -> [String]
    {
        let (va, vb) = (Dictionary(a, uniquingKeysWith: { x, _ in x }), Dictionary(b, uniquingKeysWith: { x, _ in x }))
        let f = ConstantEvaluator.format
        return a.filter { vb[$0.name] == nil }.map { "- \($0.name) = \(f($0.value))" }
            + b.filter { va[$0.name] == nil }.map { "+ \($0.name) = \(f($0.value))" }
            + a.compactMap { h in
                vb[h.name].flatMap { $0 == h.value ? nil : "~ \(h.name): \(f(h.value)) → \(f($0))" }
            }
    }

    /// The name of the group each parameter is bound to.
    private static func owners(_ optimizer: CompiledOptimizer, metas: [ParameterMeta]) -> [String] {
        var owner = Array(repeating: "none", count: metas.count)
        for (g, members) in optimizer.groupMembers.enumerated() {
            for m in members { owner[m] = optimizer.graph.groups[g].name }
        }
        return owner
    }

    private static func describe(_ slot: StateSlot) -> String {
        let start: String
        switch slot.initial {
        case .parameter: start = "X"
        case .fill(let e):
            if case .constant(let v) = e.kind { start = ConstantEvaluator.format(v) } else { start = "an expression" }
        }
        return "\(slot.name) (\(GraphPrinter.level(slot.type)), starts at \(start))"
    }

    /// `- ` and `+ ` lines of a longest-common-subsequence diff of two lists of lines.
    static func diff(_ a: [String], _ b: [String]) -> [String] {
        align(a, b).compactMap { edit in
            switch edit {
            case .keep: return nil
            case .remove(let i): return "- " + a[i]
            case .insert(let j): return "+ " + b[j]
            }
        }
    }

    /// The nodes of two groups' step graphs that differ. Nodes are aligned by their
    /// operation alone, so renumbering does not show; an aligned pair whose inputs do not
    /// correspond under the alignment (removed and added nodes pair up in order) shows as
    /// changed.
    static func stepLines(_ a: GroupGraph, _ b: GroupGraph) -> [String] {
        func operation(_ node: Node, _ group: GroupGraph) -> String {
            var bare = node
            bare.inputs = []
            return GraphPrinter.describe(bare, group) + "  " + GraphPrinter.level(node.type)
        }
        func line(_ i: Int, _ group: GroupGraph) -> String {
            let text = "%\(i) = " + GraphPrinter.describe(group.nodes[i], group)
            return text.padding(toLength: max(text.count, 40), withPad: " ", startingAt: 0)
                + GraphPrinter.level(group.nodes[i].type)
        }
        let edits = align(a.nodes.map { operation($0, a) }, b.nodes.map { operation($0, b) })
        var match = [Int: Int]()
        var removed: [Int] = []
        for edit in edits {
            switch edit {
            case .keep(let i, let j): match[i] = j
            case .remove(let i): removed.append(i)
            case .insert(let j): if !removed.isEmpty { match[removed.removeFirst()] = j }
            }
        }
        var out: [String] = []
        for edit in edits {
            switch edit {
            case .keep(let i, let j):
                if a.nodes[i].inputs.map({ match[$0] ?? -1 }) != b.nodes[j].inputs {
                    out += ["- " + line(i, a), "+ " + line(j, b)]
                }
            case .remove(let i): out.append("- " + line(i, a))
            case .insert(let j): out.append("+ " + line(j, b))
            }
        }
        return out
    }

    /// One step of an alignment: a line of both, of the first only, of the second only.
    enum Edit: Equatable {
        case keep(Int, Int)
        case remove(Int)
        case insert(Int)
    }

    /// A longest common subsequence of `a` and `b` as edits in order, removals before
    /// insertions at each difference.
    /// - Complexity: O(`a.count` × `b.count`) time and memory.
    static func align(_ a: [String], _ b: [String]) -> [Edit] {
        let (n, m) = (a.count, b.count)
        // suffix[i][j]: the length of a longest common subsequence of a[i...] and b[j...].
        var suffix = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                suffix[i][j] = a[i] == b[j] ? suffix[i + 1][j + 1] + 1 : max(suffix[i + 1][j], suffix[i][j + 1])
            }
        }
        var edits: [Edit] = []
        var (i, j) = (0, 0)
        while i < n || j < m {
            if i < n, j < m, a[i] == b[j] {
                edits.append(.keep(i, j))
                (i, j) = (i + 1, j + 1)
            } else if i < n, j == m || suffix[i + 1][j] >= suffix[i][j + 1] {
                edits.append(.remove(i))
                i += 1
            } else {
                edits.append(.insert(j))
                j += 1
            }
        }
        return edits
    }
}
