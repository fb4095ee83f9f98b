/// Graph clean-up passes. Constant folding and common-subexpression elimination happen
/// while lowering; what is left is dead-code removal.
enum Passes {
    /// Keeps the nodes that a sink (state write, parameter write, log) depends on, and
    /// renumbers inputs.
    static func removeDeadCode(_ nodes: [Node]) -> [Node] {
        var live = [Bool](repeating: false, count: nodes.count)
        for i in stride(from: nodes.count - 1, through: 0, by: -1) {
            if nodes[i].op.isSink { live[i] = true }
            if live[i] { for j in nodes[i].inputs { live[j] = true } }
        }
        var renumber = [Int](repeating: -1, count: nodes.count)
        var kept: [Node] = []
        for (i, node) in nodes.enumerated() where live[i] {
            renumber[i] = kept.count
            var copy = node
            copy.inputs = node.inputs.map { renumber[$0] }
            kept.append(copy)
        }
        return kept
    }

    /// Moves each state or parameter write up to just after the last node it must follow
    /// (its value, and every read of the old value), so it joins the first fused pass that
    /// can perform it instead of forcing its value into a buffer for a later pass.
    static func hoistWrites(_ nodes: [Node]) -> [Node] {
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() { for j in n.inputs { consumers[j].append(i) } }
        var key = nodes.indices.map { 2 * $0 }
        for (i, n) in nodes.enumerated() {
            let old: Int?
            switch n.op {
            case .stateWrite(let slot):
                old = nodes.firstIndex { if case .stateRead(slot) = $0.op { true } else { false } }
            case .parameterWrite: old = nodes.firstIndex { if case .parameter = $0.op { true } else { false } }
            default: continue
            }
            var after = n.inputs.max() ?? 0
            if let old { after = max(after, consumers[old].filter { $0 != i }.max() ?? old) }
            key[i] = 2 * after + 1
        }
        let order = nodes.indices.sorted { (key[$0], $0) < (key[$1], $1) }
        var renumber = [Int](repeating: 0, count: nodes.count)
        for (new, old) in order.enumerated() { renumber[old] = new }
        return order.map { old in
            var n = nodes[old]
            n.inputs = n.inputs.map { renumber[$0] }
            return n
        }
    }
}
