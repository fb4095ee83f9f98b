import RecipeLanguage

/// The execution plan of one group: stages separated by group reductions, each stage a
/// list of steps run for every parameter of the group, in order.
struct GroupPlan {
    /// One unit of work for one parameter.
    enum Item {
        /// A scalar (global or per-layer) node, computed in `Double`.
        case scalar(Int)
        /// A per-layer state write: `state[slot] = value` (node index of the sink).
        case layerStateWrite(Int)
        /// A `log` sink.
        case log(Int)
        /// A tensor kernel: orthogonalize or a reduction.
        case kernel(Int)
        /// A fused element-wise region.
        case region(Region)
    }

    /// Element-wise nodes fused into one pass over memory.
    struct Region {
        var extent: Extent
        /// Member nodes in program order (sinks included).
        var nodes: [Int]
        /// Members whose value is needed outside the region and so is written to a buffer.
        var materialized: [Int]
    }

    var stages: [[Item]]
    /// Group reductions computed before stage `k` (`boundaries[k]`), as node indices.
    var boundaries: [[Int]]
    /// For each node: true when its value must live in a per-parameter buffer (it crosses
    /// a stage boundary); otherwise one scratch buffer per node is shared by the parameters.
    var perParameter: [Bool]
    /// Nodes that get a buffer (materialized region values and kernel outputs).
    var buffered: Set<Int>
    var stageOf: [Int]
}

enum Scheduler {
    /// Nodes whose value is read straight from an existing buffer.
    static func isSource(_ op: Op) -> Bool {
        switch op {
        case .parameter, .gradient, .stateRead: return true
        default: return false
        }
    }

    static func plan(_ nodes: [Node]) -> GroupPlan {
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() { for j in n.inputs { consumers[j].append(i) } }

        // Stages: a group reduction ends a stage; writes wait for every read of the old value.
        var stage = [Int](repeating: 0, count: nodes.count)
        for (i, n) in nodes.enumerated() {
            var s = n.inputs.map { stage[$0] }.max() ?? 0
            if case .groupReduce = n.op { s += 1 }
            stage[i] = s
        }
        for (i, n) in nodes.enumerated() {
            let oldValue: Int?
            switch n.op {
            case .stateWrite(let slot):
                oldValue = nodes.firstIndex { if case .stateRead(slot) = $0.op { true } else { false } }
            case .parameterWrite:
                oldValue = nodes.firstIndex { if case .parameter = $0.op { true } else { false } }
            default: oldValue = nil
            }
            if let old = oldValue {
                stage[i] = max(stage[i], consumers[old].map { stage[$0] }.max() ?? 0)
            }
        }
        let stageCount = (stage.max() ?? 0) + 1

        // Which nodes fuse: tensor-level element-wise computations (not plain buffer reads).
        func fusable(_ i: Int) -> Bool {
            let n = nodes[i]
            if isSource(n.op) { return false }
            if case .parameterWrite = n.op { return true }
            if case .stateWrite = n.op { return n.type.level == .tensor }
            return n.op.isElementwise && n.type.level == .tensor
        }

        var stages: [[GroupPlan.Item]] = Array(repeating: [], count: stageCount)
        var boundaries: [[Int]] = Array(repeating: [], count: stageCount)
        var member = [Bool](repeating: false, count: nodes.count)
        var regionOf = [Int](repeating: -1, count: nodes.count)
        var regions: [GroupPlan.Region] = []
        var buffered = Set<Int>()

        for s in 0..<stageCount {
            var open: GroupPlan.Region?
            func flush() {
                guard let r = open else { return }
                regions.append(r)
                stages[s].append(.region(r))
                open = nil
            }
            for i in nodes.indices where stage[i] == s {
                let n = nodes[i]
                if case .groupReduce = n.op {
                    boundaries[s].append(i)
                    continue
                }
                if fusable(i) {
                    let extent = n.type.extent
                    if let r = open, r.extent != extent { flush() }
                    if open == nil { open = GroupPlan.Region(extent: extent, nodes: [], materialized: []) }
                    open!.nodes.append(i)
                    member[i] = true
                    regionOf[i] = regions.count
                    continue
                }
                if isSource(n.op) { continue }
                // Everything else runs at once; an open region it reads from runs first.
                let readsOpen = n.inputs.contains { j in open?.nodes.contains(j) ?? false }
                var writesWhatOpenReads = false
                if case .stateWrite(let slot) = n.op, let r = open {
                    writesWhatOpenReads = r.nodes.contains { m in
                        nodes[m].inputs.contains { if case .stateRead(slot) = nodes[$0].op { true } else { false } }
                    }
                }
                if readsOpen || writesWhatOpenReads { flush() }
                switch n.op {
                case .stateWrite: stages[s].append(.layerStateWrite(i))
                case .log: stages[s].append(.log(i))
                case .orthogonalize, .reduce:
                    stages[s].append(.kernel(i))
                    if n.type.level == .tensor { buffered.insert(i) }
                default: stages[s].append(.scalar(i))
                }
            }
            flush()
        }

        // A region value needs a buffer when something outside its region reads it.
        var perParameter = [Bool](repeating: false, count: nodes.count)
        for (i, n) in nodes.enumerated() where member[i] && !n.op.isSink {
            let outside = consumers[i].contains { c in !member[c] || regionOf[c] != regionOf[i] }
            if outside {
                buffered.insert(i)
                regions[regionOf[i]].materialized.append(i)
            }
        }
        for i in buffered {
            perParameter[i] = consumers[i].contains { stage[$0] != stage[i] }
        }
        // Rebuild the stage lists with the final regions (materialized lists filled in).
        var regionIndex = 0
        for s in 0..<stageCount {
            for k in stages[s].indices {
                if case .region = stages[s][k] {
                    stages[s][k] = .region(regions[regionIndex])
                    regionIndex += 1
                }
            }
        }
        return GroupPlan(
            stages: stages, boundaries: boundaries, perParameter: perParameter, buffered: buffered, stageOf: stage)
    }
}
