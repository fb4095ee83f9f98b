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
}
