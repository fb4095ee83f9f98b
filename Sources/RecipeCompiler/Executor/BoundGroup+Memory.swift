import RecipeLanguage
import TensorRuntime

/// A group's memory: allocated once at binding, so a step allocates nothing.
extension BoundGroup {
    func allocate() {
        for member in members {
            member.tensorState = graph.states.map { slot in
                slot.type.level == .tensor ? Buffer(count: member.extentCount(slot.type), fill: 0) : nil
            }
        }
        let threadsUsed = partition == nil ? 1 : resources.count
        for node in plan.buffered {
            let type = graph.nodes[node].type
            if plan.perParameter[node] {
                for member in members { member.crossing[node] = Buffer(count: member.extentCount(type), fill: 0) }
            } else {
                let largest = members.map { $0.extentCount(type) }.max() ?? 0
                for t in 0..<threadsUsed { resources[t].shared[node] = Buffer(count: largest, fill: 0) }
            }
        }
        let needsNewtonSchulz = graph.nodes.contains { if case .orthogonalize = $0.op { true } else { false } }
        let needsSingularValues = graph.nodes.contains {
            if case .reduce(let r, .all) = $0.op { return r == .spectral || r == .nuclear }
            return false
        }
        for t in 0..<threadsUsed {
            for member in members {
                let key = member.shapeKey
                if needsNewtonSchulz && resources[t].newtonSchulz[key] == nil {
                    resources[t].newtonSchulz[key] = NewtonSchulzWorkspace(rows: member.rows, columns: member.columns)
                }
                if needsSingularValues && resources[t].singularValues[key] == nil {
                    resources[t].singularValues[key] = SingularValueWorkspace(
                        rows: member.rows, columns: member.columns)
                }
            }
        }
    }

    /// The buffer holding node `n`'s tensor value for `member` on thread `thread`.
    func tensorPointer(
        _ n: Int, member: BoundMember, thread: Int, x: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>
    ) -> UnsafeMutablePointer<Float> {
        switch graph.nodes[n].op {
        case .parameter: return x
        case .gradient: return UnsafeMutablePointer(mutating: g)
        case .stateRead(let slot): return member.tensorState[slot]!.pointer
        default: return member.crossing[n]?.pointer ?? resources[thread].shared[n]!.pointer
        }
    }

    /// Bytes of persistent state.
    var stateBytes: Int {
        var bytes = 0
        for member in members {
            for slot in graph.states {
                bytes += slot.type.level == .tensor ? 4 * member.extentCount(slot.type) : 4
            }
        }
        return bytes
    }
}
