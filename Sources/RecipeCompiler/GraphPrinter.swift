import Foundation
import RecipeLanguage
import Training

/// Text and Graphviz views of a step graph, for `optlang graph`.
public enum GraphPrinter {
    /// A node's operation and inputs, as one line of the listing shows it: `mul %1, %2`.
    public static func describe(_ node: Node, _ group: GroupGraph) -> String {
        let args = node.inputs.map { "%\($0)" }.joined(separator: ", ")
        func withArgs(_ name: String) -> String { args.isEmpty ? name : "\(name) \(args)" }
        switch node.op {
        case .constant(let v): return ConstantEvaluator.format(v)
        case .hyper(let i): return "hyper #\(i)"
        case .step: return "t"
        case .totalSteps: return "T"
        case .parameter: return "X"
        case .gradient: return "G"
        case .shape(let q): return q.rawValue
        case .fill(let v, let e): return "fill \(ConstantEvaluator.format(v))" + (e == .full ? "" : " per \(e)")
        case .stateRead(let s): return "state \(group.states[s].name)"
        case .unary(let f): return withArgs(f.rawValue)
        case .binary(let f): return withArgs(f.name)
        case .select: return withArgs("select")
        case .orthogonalize(let steps): return withArgs("orthogonalize[\(steps)]")
        case .reduce(let r, let axis): return withArgs(axis == .all ? r.rawValue : "\(r.rawValue) per \(axis.rawValue)")
        case .groupReduce(let r): return withArgs("group_\(r.rawValue)")
        case .schedule(let b): return withArgs(b.rawValue)
        case .stateWrite(let s): return withArgs("write \(group.states[s].name) ←")
        case .parameterWrite: return withArgs("write X ←")
        case .log(let name): return withArgs("log \(name) ←")
        }
    }

    /// Where a value lives, in a word: `global`, `layer`, `tensor`, `per-row`, `per-column`.
    public static func level(_ t: ValueType) -> String {
        switch (t.level, t.extent) {
        case (.global, _): return "global"
        case (.layer, _): return "layer"
        case (.tensor, .full): return "tensor"
        case (.tensor, .row): return "per-row"
        case (.tensor, .column): return "per-column"
        }
    }

    /// The readable listing: per group, the parameters it bound, its state, and its
    /// optimised nodes grouped into stages, fused passes and kernels.
    public static func text(_ optimizer: CompiledOptimizer, metas: [ParameterMeta], modelName: String) -> String {
        let graph = optimizer.graph
        var lines: [String] = []
        lines.append("recipe \(graph.name) on model \(modelName): \(metas.count) parameters")
        let hypers = graph.hyperparameters.map { "\($0.name) = \(ConstantEvaluator.format($0.value))" }
        lines.append("hyperparameters: " + (hypers.isEmpty ? "none" : hypers.joined(separator: ", ")))
        let members = optimizer.groupMembers
        for (g, group) in graph.groups.enumerated() {
            let plan = group.plan
            lines.append("")
            let bound = g < members.count ? members[g] : []
            lines.append(
                "group \(group.name): \(group.selectorText) — \(bound.count) parameter\(bound.count == 1 ? "" : "s")")
            let names = bound.map { "\(metas[$0].name) \(metas[$0].shape)" }
            lines.append("  binds: " + (names.isEmpty ? "nothing" : names.joined(separator: ", ")))
            let states = group.states.map { "\($0.name) (\(level($0.type)))" }
            lines.append("  state: " + (states.isEmpty ? "none" : states.joined(separator: ", ")))
            lines.append("  nodes:")
            for (i, node) in group.nodes.enumerated() {
                let text = "    %\(i) = \(describe(node, group))"
                lines.append(
                    text.padding(toLength: max(text.count, 44), withPad: " ", startingAt: 0) + level(node.type))
            }
            lines.append("  schedule (per parameter, in order):")
            for (s, stage) in plan.stages.enumerated() {
                if plan.stages.count > 1 || !plan.boundaries[s].isEmpty {
                    let reductions = plan.boundaries[s].map { "%\($0)" }.joined(separator: ", ")
                    lines.append(
                        "    stage \(s)" + (reductions.isEmpty ? "" : " (after group reductions \(reductions))"))
                }
                for item in stage {
                    switch item {
                    case .region(let r):
                        let writes = r.nodes.filter { group.nodes[$0].op.isSink }.map {
                            describe(group.nodes[$0], group)
                        }
                        var text = "    fused pass over \(level(ValueType(.tensor, r.extent))): "
                        text += r.nodes.map { "%\($0)" }.joined(separator: " ")
                        if !r.materialized.isEmpty {
                            text += "; keeps " + r.materialized.map { "%\($0)" }.joined(separator: " ")
                        }
                        if !writes.isEmpty { text += "; " + writes.joined(separator: "; ") }
                        lines.append(text)
                    case .kernel(let n): lines.append("    kernel %\(n) = \(describe(group.nodes[n], group))")
                    case .scalar, .layerStateWrite, .log: continue
                    }
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Optimizer-state memory per group and in total.
    public static func memory(_ optimizer: CompiledOptimizer) -> String {
        var lines = ["optimizer state of \(optimizer.graph.name):"]
        let rows = optimizer.stateBytes
        let width = max(5, rows.map(\.group.count).max() ?? 0)
        for (group, bytes) in rows {
            lines.append("  \(group.padding(toLength: width, withPad: " ", startingAt: 0))  \(format(bytes))")
        }
        let total = rows.reduce(0) { $0 + $1.bytes }
        lines.append("  \("total".padding(toLength: width, withPad: " ", startingAt: 0))  \(format(total))")
        return lines.joined(separator: "\n")
    }

    static func format(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1 << 20 { return String(format: "%.1f KiB (%d bytes)", Double(bytes) / 1024, bytes) }
        return String(format: "%.2f MiB (%d bytes)", Double(bytes) / 1_048_576, bytes)
    }

    /// A Graphviz description: one cluster per group, fused passes as nested clusters.
    public static func dot(_ optimizer: CompiledOptimizer) -> String {
        var out = [
            "digraph \"\(optimizer.graph.name)\" {", "  rankdir=TB;",
            "  node [shape=box, fontname=\"monospace\", fontsize=10];",
        ]
        for (g, group) in optimizer.graph.groups.enumerated() {
            out.append("  subgraph cluster_\(g) {")
            out.append("    label=\"group \(group.name)\";")
            let plan = group.plan
            var regionIndex = 0
            for stage in plan.stages {
                for item in stage {
                    guard case .region(let r) = item else { continue }
                    out.append("    subgraph cluster_\(g)_r\(regionIndex) { label=\"fused\"; style=dashed;")
                    for n in r.nodes { out.append("      g\(g)n\(n);") }
                    out.append("    }")
                    regionIndex += 1
                }
            }
            for (i, node) in group.nodes.enumerated() {
                let label = describe(node, group).replacingOccurrences(of: "\"", with: "'")
                let shape = node.op.isSink ? "shape=house, " : node.type.level == .tensor ? "" : "shape=ellipse, "
                out.append("    g\(g)n\(i) [\(shape)label=\"%\(i) \(label)\"];")
                for j in node.inputs { out.append("    g\(g)n\(j) -> g\(g)n\(i);") }
            }
            out.append("  }")
        }
        out.append("}")
        return out.joined(separator: "\n")
    }
}
