import RecipeLanguage

/// A group's scalar interpreter: global and per-layer nodes, computed in Double per member,
/// and the reductions across the group's members.
extension BoundGroup {
    /// The scalar value of node `n` for `member`.
    @inline(__always)
    func scalar(_ n: Int, member: BoundMember) -> Double {
        if case .stateRead(let slot) = graph.nodes[n].op { return Double(member.layerState[slot]) }
        return member.scalars[n]
    }

    func evaluateScalar(_ n: Int, member: BoundMember, t: Double, total: Double) {
        let node = graph.nodes[n]
        let v: Double
        switch node.op {
        case .constant(let c): v = c
        case .hyper(let i): v = hypers[i]
        case .step: v = t
        case .totalSteps: v = total
        case .shape(let q):
            switch q {
            case .rows: v = Double(member.rows)
            case .cols: v = Double(member.columns)
            case .numel: v = Double(member.count)
            }
        case .unary(let f): v = Scalar.unary(f, scalar(node.inputs[0], member: member))
        case .binary(let f):
            v = Scalar.binary(f, scalar(node.inputs[0], member: member), scalar(node.inputs[1], member: member))
        case .select:
            v =
                scalar(node.inputs[0], member: member) != 0
                ? scalar(node.inputs[1], member: member) : scalar(node.inputs[2], member: member)
        case .schedule(let b):
            let first = node.inputs.isEmpty ? 0 : scalar(node.inputs[0], member: member)
            let second = node.inputs.count < 2 ? 0 : scalar(node.inputs[1], member: member)
            v = Scalar.schedule(b, first, second, t: t, total: total)
        default: v = 0
        }
        member.scalars[n] = v
    }

    /// A group reduction (`group_max`, `group_mean`, `group_sum`): one value for every member.
    func reduceAcrossGroup(_ n: Int) {
        guard case .groupReduce(let kind) = graph.nodes[n].op else { return }
        let input = graph.nodes[n].inputs[0]
        var result = kind == .max ? -Double.infinity : 0
        for member in members {
            let v = scalar(input, member: member)
            result = kind == .max ? (v.isNaN || result.isNaN ? .nan : Swift.max(result, v)) : result + v
        }
        if kind == .mean { result /= Double(Swift.max(members.count, 1)) }
        if members.isEmpty { result = 0 }
        for member in members { member.scalars[n] = result }
    }
}
