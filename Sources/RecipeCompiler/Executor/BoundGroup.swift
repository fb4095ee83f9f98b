import Foundation
import RecipeLanguage
import TensorRuntime
import Training

/// One group bound to its parameters, with everything its plan needs; this file holds the
/// stage loop.
///
/// Members of a group are independent within a stage, so a stage runs its members on
/// different threads (each member wholly on one thread, with its kernels serial), split
/// by a static partition that balances element counts. When one member dominates, the
/// members run one after another and the kernels split each member's work instead.
/// Either way every value is computed in the same order, so results do not depend on it.
final class BoundGroup {
    let graph: GroupGraph
    let plan: GroupPlan
    let hypers: [Double]
    /// The group's parameters, in model order.
    let members: [BoundMember]
    var regions: [CompiledRegion] = []
    let resources: [ThreadResources]
    /// Members per thread when members run in parallel; nil to run them one by one.
    let partition: [[Int]]?
    var logs: [String: [String: Double]] = [:]
    let registerFile: RegisterFile

    /// The model indices of the group's parameters.
    var parameters: [Int] { members.map(\.parameter) }

    init(graph: GroupGraph, parameters: [Int], metas: [ParameterMeta], hypers: [Double]) throws(CompileError) {
        self.graph = graph
        self.plan = graph.plan
        self.hypers = hypers
        members = parameters.map {
            BoundMember(parameter: $0, meta: metas[$0], stateSlots: graph.states.count, nodes: graph.nodes.count)
        }
        let threads = max(1, Parallel.threadCount)
        partition = BoundGroup.balance(members.map(\.count), threads: threads)
        resources = (0..<threads).map { _ in ThreadResources() }
        var slots = 1
        for stage in plan.stages {
            for case .region(let r) in stage {
                let compiled = try CompiledRegion(region: r, nodes: graph.nodes, threads: threads)
                slots = max(slots, compiled.kernel.slotCount)
                regions.append(compiled)
            }
        }
        registerFile = RegisterFile(slots: slots, threads: threads)
        allocate()
    }

    /// Assigns members to threads, largest first to the least loaded (deterministic); nil
    /// when one member outweighs all the others together (then kernels split it instead).
    static func balance(_ counts: [Int], threads: Int) -> [[Int]]? {
        guard threads > 1, counts.count > 1 else { return nil }
        let total = counts.reduce(0, +)
        guard let largest = counts.max(), largest * 2 <= total, total >= 65_536 else { return nil }
        var load = [Int](repeating: 0, count: threads)
        var assignment = [[Int]](repeating: [], count: threads)
        for m in counts.indices.sorted(by: { (counts[$0], $1) > (counts[$1], $0) }) {
            let t = load.indices.min { (load[$0], $0) < (load[$1], $1) }!
            assignment[t].append(m)
            load[t] += counts[m]
        }
        return assignment.map { $0.sorted() }
    }

    func run(parameters values: inout [Tensor], gradients: [Tensor], t: Double, total: Double) {
        logs.removeAll(keepingCapacity: true)
        for r in resources { r.logged.removeAll(keepingCapacity: true) }
        values.withUnsafeMutableBufferPointer { tensors in
            gradients.withUnsafeBufferPointer { grads in
                var regionBase = 0
                for (s, stage) in plan.stages.enumerated() {
                    for n in plan.boundaries[s] { reduceAcrossGroup(n) }
                    if let partition {
                        Parallel.forEach(partition.count) { thread in
                            for m in partition[thread] {
                                runStage(stage, regionBase, member: m, thread: thread, tensors, grads, t, total)
                            }
                        }
                    } else {
                        for m in members.indices {
                            runStage(stage, regionBase, member: m, thread: 0, tensors, grads, t, total)
                        }
                    }
                    regionBase += stage.reduce(0) { if case .region = $1 { $0 + 1 } else { $0 } }
                }
            }
        }
        for r in resources {
            for (name, m, v) in r.logged { logs[name, default: [:]][members[m].meta.name] = v }
        }
    }

    /// Runs one stage's items for one member.
    private func runStage(
        _ stage: [GroupPlan.Item], _ regionBase: Int, member m: Int, thread: Int,
        _ tensors: UnsafeMutableBufferPointer<Tensor>, _ grads: UnsafeBufferPointer<Tensor>, _ t: Double,
        _ total: Double
    ) {
        let member = members[m]
        let p = member.parameter
        tensors[p].withUnsafeMutableBufferPointer { xb in
            grads[p].withUnsafeBufferPointer { gb in
                let x = xb.baseAddress!
                let g = gb.baseAddress!
                var region = regionBase
                for item in stage {
                    switch item {
                    case .scalar(let n): evaluateScalar(n, member: member, t: t, total: total)
                    case .layerStateWrite(let n):
                        if case .stateWrite(let slot) = graph.nodes[n].op {
                            member.layerState[slot] = Float(scalar(graph.nodes[n].inputs[0], member: member))
                        }
                    case .log(let n):
                        if case .log(let name) = graph.nodes[n].op {
                            resources[thread].logged.append((name, m, scalar(graph.nodes[n].inputs[0], member: member)))
                        }
                    case .kernel(let n): runKernel(n, member: member, thread: thread, x: x, g: g)
                    case .region:
                        regions[region].run(self, member: m, thread: thread, serial: partition != nil, x: x, g: g)
                        region += 1
                    }
                }
            }
        }
    }

    /// Runs a runtime kernel (Newton–Schulz, a reduction) for one member.
    private func runKernel(
        _ n: Int, member: BoundMember, thread: Int, x: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>
    ) {
        let node = graph.nodes[n]
        let input = tensorPointer(node.inputs[0], member: member, thread: thread, x: x, g: g)
        let own = resources[thread]
        switch node.op {
        case .orthogonalize(let steps):
            let output = tensorPointer(n, member: member, thread: thread, x: x, g: g)
            own.newtonSchulz[member.shapeKey]!.orthogonalize(UnsafePointer(input), into: output, steps: steps)
        case .reduce(let kind, .all):
            member.scalars[n] = Reductions.all(
                kind, input, count: member.count, rows: member.rows, columns: member.columns,
                singularValues: &own.singularValues[member.shapeKey])
        case .reduce(let kind, let axis):
            let output = tensorPointer(n, member: member, thread: thread, x: x, g: g)
            Reductions.along(kind, axis, input, rows: member.rows, columns: member.columns, into: output)
        default: break
        }
    }
}
