import RecipeLanguage

/// The slot code of every fused pass of a step graph, as `optlang graph --code` prints it and
/// the golden files of the shipped recipes hold it, so that a change to the back end shows as
/// a diff of the code it generates.
///
/// Slots are named by what they hold: `r0…` registers, `x0…` tensor inputs, `b0…` broadcast
/// scalars; `s0…` are the kernel's scalar operands (a scalar node, or `1/` its reciprocal).
public enum RegionPrinter {
    /// Every group's passes, in schedule order.
    /// - Throws: ``CompileError`` when a pass cannot be emitted (a compiler fault).
    public static func text(_ graph: StepGraph) throws(CompileError) -> String {
        var lines: [String] = []
        for group in graph.groups {
            lines.append("group \(group.name):")
            var index = 0
            for (s, stage) in group.plan.stages.enumerated() {
                for case .region(let region) in stage {
                    let compiled = try CompiledRegion(region: region, nodes: group.nodes, threads: 1)
                    lines += describe(compiled, index: index, stage: s, group: group)
                    index += 1
                }
            }
            if index == 0 { lines.append("  no fused pass") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One pass: its inputs, scalars and instructions.
    static func describe(_ region: CompiledRegion, index: Int, stage: Int, group: GroupGraph) -> [String] {
        let kernel = region.kernel
        let registers = kernel.registers
        func node(_ n: Int) -> String { "%\(n) (\(GraphPrinter.describe(group.nodes[n], group)))" }
        func slot(_ k: Int) -> String {
            switch kernel.slot(k) {
            case .register(let r): return "r\(r)"
            case .input(let x): return "x\(x)"
            case .broadcast(let b): return "b\(b)"
            }
        }
        func scalar(_ k: Int) -> String { "s\(k)" }
        var lines = [
            "  pass \(index) (stage \(stage)) over \(region.extent == .full ? "tensor" : "each \(region.extent)"): "
                + "\(registers) registers, \(kernel.instructions.count) instructions"
        ]
        for (k, n) in region.tensorInputs.enumerated() {
            let layout =
                kernel.inputLayouts[k] == .same ? "" : kernel.inputLayouts[k] == .perRow ? ", per row" : ", per column"
            lines.append("    x\(k) = \(node(n))\(layout)")
        }
        for (k, source) in region.scalarSources.enumerated() {
            lines.append("    s\(k) = \(source.reciprocal ? "1/" : "")\(node(source.node))")
        }
        for (k, s) in kernel.broadcastScalars.enumerated() { lines.append("    b\(k) = s\(s) in every lane") }
        for instruction in kernel.instructions {
            let text: String
            switch instruction {
            case .fill(let dst, let value): text = "\(slot(dst)) = fill \(ConstantEvaluator.format(Double(value)))"
            case .unary(let f, let dst, let a): text = "\(slot(dst)) = \(f.rawValue) \(slot(a))"
            case .binary(let f, let dst, let a, let b): text = "\(slot(dst)) = \(f.name) \(slot(a)), \(slot(b))"
            case .binaryScalarRight(let f, let dst, let a, let s):
                text = "\(slot(dst)) = \(f.name) \(slot(a)), \(scalar(s))"
            case .binaryScalarLeft(let f, let dst, let s, let b):
                text = "\(slot(dst)) = \(f.name) \(scalar(s)), \(slot(b))"
            case .select(let dst, let c, let a, let b):
                text = "\(slot(dst)) = select \(slot(c)), \(slot(a)), \(slot(b))"
            case .fused(.productPlus, let dst, let a, let s, let b):
                text = "\(slot(dst)) = \(slot(a))·\(scalar(s)) + \(slot(b))"
            case .fused(.productMinus, let dst, let a, let s, let b):
                text = "\(slot(dst)) = \(slot(a))·\(scalar(s)) − \(slot(b))"
            case .fused(.minusProduct, let dst, let a, let s, let b):
                text = "\(slot(dst)) = \(slot(b)) − \(slot(a))·\(scalar(s))"
            case .linear(let dst, let a, let s, let b, let u):
                text = "\(slot(dst)) = \(slot(a))·\(scalar(s)) + \(slot(b))·\(scalar(u))"
            case .rootQuotient(let dst, let x, let numerator, let y, let scale, let epsilon):
                let top = numerator.map { "\(slot(x))·\(scalar($0))" } ?? slot(x)
                let radicand = scale.map { "\(slot(y))·\(scalar($0))" } ?? slot(y)
                text = "\(slot(dst)) = \(top) / (sqrt(\(radicand)) + \(scalar(epsilon)))"
            case .store(let src, let output):
                let target: String
                switch region.outputs[output] {
                case .state(let s): target = "state \(group.states[s].name)"
                case .parameter: target = "X"
                case .node(let n): target = "%\(n)"
                }
                text = "store \(slot(src)) → \(target)"
            }
            lines.append("    " + text)
        }
        return lines
    }
}
