import Foundation
import RecipeLanguage
import TensorRuntime
import Training

/// Runs a step graph on the parameters of a model: state and scratch buffers are
/// allocated once at binding, then every step runs the groups' plans.
final class Executor {
    let graph: StepGraph
    let metas: [ParameterMeta]
    let totalSteps: Int
    let groups: [BoundGroup]
    /// Model parameter index → (group, position in the group).
    let placement: [(group: Int, slot: Int)]
    /// Logged values of the last step: log name → parameter name → value.
    private(set) var logs: [String: [String: Double]] = [:]
    private var initialized = false

    init(graph: StepGraph, recipe: CheckedRecipe, metas: [ParameterMeta], totalSteps: Int) throws(CompileError) {
        self.graph = graph
        self.metas = metas
        self.totalSteps = totalSteps
        let infos = metas.map { ParameterInfo(name: $0.name, role: $0.role, layer: $0.layer, shape: $0.shape) }
        let assignment: [Int]
        do {
            assignment = try recipe.bind(infos)
        } catch {
            throw CompileError(error.message)
        }
        var members = [[Int]](repeating: [], count: graph.groups.count)
        var placement: [(Int, Int)] = []
        for (p, g) in assignment.enumerated() {
            placement.append((g, members[g].count))
            members[g].append(p)
        }
        self.placement = placement
        let hyperValues = graph.hyperparameters.map(\.value)
        var groups: [BoundGroup] = []
        for (g, group) in graph.groups.enumerated() {
            do {
                groups.append(
                    try BoundGroup(graph: group, parameters: members[g], metas: metas, hypers: hyperValues))
            } catch {
                var located = error
                if located.isInternal && located.path == nil { located.path = recipe.path }
                throw located
            }
        }
        self.groups = groups
    }

    /// One optimizer step for every group.
    func step(parameters: inout [Tensor], gradients: [Tensor], step t: Int) {
        if !initialized {
            for g in groups { g.initializeStates(parameters) }
            initialized = true
        }
        logs.removeAll(keepingCapacity: true)
        for g in groups {
            g.run(parameters: &parameters, gradients: gradients, t: Double(t), total: Double(totalSteps))
            for (name, values) in g.logs { logs[name, default: [:]].merge(values) { $1 } }
        }
    }

    /// Every state buffer, keyed `parameter/slot`.
    func stateTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for g in groups { g.exportState(into: &out) }
        return out
    }

    func loadState(_ tensors: [String: Tensor]) throws(CompileError) {
        for g in groups { try g.importState(tensors) }
        initialized = true
    }

    /// Bytes of persistent state per group.
    func stateBytes() -> [(group: String, bytes: Int)] {
        groups.map { ($0.graph.name, $0.stateBytes) }
    }
}

/// Float storage owned by the executor: state, and values that cross passes.
typealias Buffer = AlignedBuffer<Float>

/// What one thread needs of its own while it runs members of a group in parallel.
final class ThreadResources {
    /// Scratch buffers of values that live within one member's stage.
    var shared: [Int: Buffer] = [:]
    var newtonSchulz: [String: NewtonSchulzWorkspace] = [:]
    var singularValues: [String: SingularValueWorkspace] = [:]
    /// Logged values: (log name, member, value).
    var logged: [(String, Int, Double)] = []
}

/// One group bound to its parameters, with everything its plan needs.
///
/// Members of a group are independent within a stage, so a stage runs its members on
/// different threads (each member wholly on one thread, with its kernels serial), split
/// by a static partition that balances element counts. When one member dominates, the
/// members run one after another and the kernels split each member's work instead.
/// Either way every value is computed in the same order, so results do not depend on it.
final class BoundGroup {
    let graph: GroupGraph
    let plan: GroupPlan
    let parameters: [Int]
    let metas: [ParameterMeta]
    let hypers: [Double]
    /// Per member parameter: rows and columns (a matrix view of the tensor).
    let shapes: [(rows: Int, columns: Int, count: Int)]
    /// Per member: the key of its shape's workspaces (made once, not per step).
    let shapeKeys: [String]
    /// Per member, per state slot: the tensor buffer (tensor-level slots).
    var tensorState: [[Buffer?]] = []
    /// Per member: per-layer state values, by slot.
    var layerState: [UnsafeMutablePointer<Float>] = []
    /// Per member: scalar node values of the current step.
    var scalars: [UnsafeMutablePointer<Double>] = []
    /// Buffers of values that cross stages, per member.
    var perMember: [Int: [Buffer]] = [:]
    var regions: [CompiledRegion] = []
    let resources: [ThreadResources]
    /// Members per thread when members run in parallel; nil to run them one by one.
    let partition: [[Int]]?
    var logs: [String: [String: Double]] = [:]
    let registerFile: RegisterFile

    init(graph: GroupGraph, parameters: [Int], metas: [ParameterMeta], hypers: [Double]) throws(CompileError) {
        self.graph = graph
        self.plan = graph.plan
        self.parameters = parameters
        self.metas = metas
        self.hypers = hypers
        shapes = parameters.map { p in
            let shape = metas[p].shape
            let count = shape.reduce(1, *)
            let rows = shape.first ?? 1
            return (rows, rows == 0 ? 0 : count / rows, count)
        }
        shapeKeys = shapes.map { "\($0.rows)x\($0.columns)" }
        let threads = max(1, Parallel.threadCount)
        partition = BoundGroup.balance(shapes.map(\.count), threads: threads)
        resources = (0..<threads).map { _ in ThreadResources() }
        var slots = 1
        for stage in plan.stages {
            for item in stage {
                if case .region(let r) = item {
                    let compiled = try CompiledRegion(region: r, nodes: graph.nodes, threads: threads)
                    slots = max(slots, compiled.kernel.slotCount)
                    regions.append(compiled)
                }
            }
        }
        registerFile = RegisterFile(slots: slots, threads: threads)
        allocate()
    }

    deinit {
        for s in scalars { s.deallocate() }
        for s in layerState { s.deallocate() }
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

    /// The element count of a value of type `type` for member `m`.
    func extentCount(_ type: ValueType, member m: Int) -> Int {
        switch type.extent {
        case .full: return shapes[m].count
        case .row: return shapes[m].rows
        case .column: return shapes[m].columns
        }
    }

    private func allocate() {
        let nodeCount = graph.nodes.count
        for m in parameters.indices {
            tensorState.append(
                graph.states.map { slot in
                    slot.type.level == .tensor ? Buffer(count: extentCount(slot.type, member: m), fill: 0) : nil
                })
            let layer = UnsafeMutablePointer<Float>.allocate(capacity: max(graph.states.count, 1))
            layer.initialize(repeating: 0, count: max(graph.states.count, 1))
            layerState.append(layer)
            let s = UnsafeMutablePointer<Double>.allocate(capacity: max(nodeCount, 1))
            s.initialize(repeating: 0, count: max(nodeCount, 1))
            scalars.append(s)
        }
        let threadsUsed = partition == nil ? 1 : resources.count
        for node in plan.buffered {
            let type = graph.nodes[node].type
            if plan.perParameter[node] {
                perMember[node] = parameters.indices.map { Buffer(count: extentCount(type, member: $0), fill: 0) }
            } else {
                let largest = parameters.indices.map { extentCount(type, member: $0) }.max() ?? 0
                for t in 0..<threadsUsed { resources[t].shared[node] = Buffer(count: largest, fill: 0) }
            }
        }
        let needsNewtonSchulz = graph.nodes.contains { if case .orthogonalize = $0.op { true } else { false } }
        let needsSingularValues = graph.nodes.contains {
            if case .reduce(let r, .all) = $0.op { return r == .spectral || r == .nuclear }
            return false
        }
        for t in 0..<threadsUsed {
            for m in parameters.indices {
                let (rows, columns, _) = shapes[m]
                let key = "\(rows)x\(columns)"
                if needsNewtonSchulz && resources[t].newtonSchulz[key] == nil {
                    resources[t].newtonSchulz[key] = NewtonSchulzWorkspace(rows: rows, columns: columns)
                }
                if needsSingularValues && resources[t].singularValues[key] == nil {
                    resources[t].singularValues[key] = SingularValueWorkspace(rows: rows, columns: columns)
                }
            }
        }
    }

    var stateBytes: Int {
        var bytes = 0
        for m in parameters.indices {
            for slot in graph.states {
                bytes += slot.type.level == .tensor ? 4 * extentCount(slot.type, member: m) : 4
            }
        }
        return bytes
    }

    func initialValue(_ slot: StateSlot) -> Float {
        if case .fill(let e) = slot.initial { return Float(ConstantEvaluator(hypers: hypers).evaluate(e) ?? 0) }
        return 0
    }

    func initializeStates(_ parameterValues: [Tensor]) {
        for (m, p) in parameters.enumerated() {
            for (k, slot) in graph.states.enumerated() {
                if slot.type.level == .tensor, let buffer = tensorState[m][k] {
                    switch slot.initial {
                    case .parameter:
                        parameterValues[p].withUnsafeBufferPointer {
                            buffer.pointer.update(from: $0.baseAddress!, count: buffer.count)
                        }
                    case .fill:
                        buffer.pointer.update(repeating: initialValue(slot), count: buffer.count)
                    }
                } else {
                    layerState[m][k] = initialValue(slot)
                }
            }
        }
    }

    /// The buffer holding node `n`'s tensor value for member `m` on thread `thread`.
    func tensorPointer(_ n: Int, member m: Int, thread: Int, x: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>)
        -> UnsafeMutablePointer<Float>
    {
        switch graph.nodes[n].op {
        case .parameter: return x
        case .gradient: return UnsafeMutablePointer(mutating: g)
        case .stateRead(let slot): return tensorState[m][slot]!.pointer
        default: return perMember[n]?[m].pointer ?? resources[thread].shared[n]!.pointer
        }
    }

    /// The scalar value of node `n` for member `m`.
    @inline(__always)
    func scalar(_ n: Int, member m: Int) -> Double {
        if case .stateRead(let slot) = graph.nodes[n].op { return Double(layerState[m][slot]) }
        return scalars[m][n]
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
                        for m in parameters.indices {
                            runStage(stage, regionBase, member: m, thread: 0, tensors, grads, t, total)
                        }
                    }
                    regionBase += stage.reduce(0) { if case .region = $1 { $0 + 1 } else { $0 } }
                }
            }
        }
        for r in resources {
            for (name, m, v) in r.logged { logs[name, default: [:]][metas[parameters[m]].name] = v }
        }
    }

    /// Runs one stage's items for one member.
    private func runStage(
        _ stage: [GroupPlan.Item], _ regionBase: Int, member m: Int, thread: Int,
        _ tensors: UnsafeMutableBufferPointer<Tensor>, _ grads: UnsafeBufferPointer<Tensor>, _ t: Double,
        _ total: Double
    ) {
        let p = parameters[m]
        tensors[p].withUnsafeMutableBufferPointer { xb in
            grads[p].withUnsafeBufferPointer { gb in
                let x = xb.baseAddress!
                let g = gb.baseAddress!
                var region = regionBase
                for item in stage {
                    switch item {
                    case .scalar(let n): evaluateScalar(n, member: m, t: t, total: total)
                    case .layerStateWrite(let n):
                        if case .stateWrite(let slot) = graph.nodes[n].op {
                            layerState[m][slot] = Float(scalar(graph.nodes[n].inputs[0], member: m))
                        }
                    case .log(let n):
                        if case .log(let name) = graph.nodes[n].op {
                            resources[thread].logged.append((name, m, scalar(graph.nodes[n].inputs[0], member: m)))
                        }
                    case .kernel(let n): runKernel(n, member: m, thread: thread, x: x, g: g)
                    case .region:
                        regions[region].run(self, member: m, thread: thread, serial: partition != nil, x: x, g: g)
                        region += 1
                    }
                }
            }
        }
    }

    private func reduceAcrossGroup(_ n: Int) {
        guard case .groupReduce(let kind) = graph.nodes[n].op else { return }
        let input = graph.nodes[n].inputs[0]
        var result = kind == .max ? -Double.infinity : 0
        for m in parameters.indices {
            let v = scalar(input, member: m)
            result = kind == .max ? (v.isNaN || result.isNaN ? .nan : Swift.max(result, v)) : result + v
        }
        if kind == .mean { result /= Double(Swift.max(parameters.count, 1)) }
        if parameters.isEmpty { result = 0 }
        for m in parameters.indices { scalars[m][n] = result }
    }

    private func evaluateScalar(_ n: Int, member m: Int, t: Double, total: Double) {
        let node = graph.nodes[n]
        let v: Double
        switch node.op {
        case .constant(let c): v = c
        case .hyper(let i): v = hypers[i]
        case .step: v = t
        case .totalSteps: v = total
        case .shape(let q):
            switch q {
            case .rows: v = Double(shapes[m].rows)
            case .cols: v = Double(shapes[m].columns)
            case .numel: v = Double(shapes[m].count)
            }
        case .unary(let f): v = Scalar.unary(f, scalar(node.inputs[0], member: m))
        case .binary(let f): v = Scalar.binary(f, scalar(node.inputs[0], member: m), scalar(node.inputs[1], member: m))
        case .select:
            v =
                scalar(node.inputs[0], member: m) != 0
                ? scalar(node.inputs[1], member: m) : scalar(node.inputs[2], member: m)
        case .schedule(let b):
            let first = node.inputs.isEmpty ? 0 : scalar(node.inputs[0], member: m)
            let second = node.inputs.count < 2 ? 0 : scalar(node.inputs[1], member: m)
            v = Scalar.schedule(b, first, second, t: t, total: total)
        default: v = 0
        }
        scalars[m][n] = v
    }

    private func runKernel(
        _ n: Int, member m: Int, thread: Int, x: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>
    ) {
        let node = graph.nodes[n]
        let input = tensorPointer(node.inputs[0], member: m, thread: thread, x: x, g: g)
        let (rows, columns, count) = shapes[m]
        let key = shapeKeys[m]
        let own = resources[thread]
        switch node.op {
        case .orthogonalize(let steps):
            let output = tensorPointer(n, member: m, thread: thread, x: x, g: g)
            own.newtonSchulz[key]!.orthogonalize(UnsafePointer(input), into: output, steps: steps)
        case .reduce(let kind, .all):
            scalars[m][n] = Reductions.all(
                kind, input, count: count, rows: rows, columns: columns, singularValues: &own.singularValues[key])
        case .reduce(let kind, let axis):
            let output = tensorPointer(n, member: m, thread: thread, x: x, g: g)
            Reductions.along(kind, axis, input, rows: rows, columns: columns, into: output)
        default: break
        }
    }

    func exportState(into out: inout [String: Tensor]) {
        for (m, p) in parameters.enumerated() {
            for (k, slot) in graph.states.enumerated() {
                let key = "\(metas[p].name)/\(slot.name)"
                if let buffer = tensorState[m][k] {
                    let shape: [Int] = slot.type.extent == .full ? metas[p].shape : [buffer.count]
                    out[key] = Tensor(shape: Shape(shape)) {
                        $0.baseAddress!.update(from: buffer.pointer, count: buffer.count)
                    }
                } else {
                    out[key] = Tensor(layerState[m][k])
                }
            }
        }
    }

    func importState(_ tensors: [String: Tensor]) throws(CompileError) {
        for (m, p) in parameters.enumerated() {
            for (k, slot) in graph.states.enumerated() {
                let key = "\(metas[p].name)/\(slot.name)"
                guard let t = tensors[key] else {
                    throw CompileError("optimizer state '\(key)' is missing from the checkpoint")
                }
                if let buffer = tensorState[m][k] {
                    guard t.count == buffer.count else {
                        throw CompileError("optimizer state '\(key)' has \(t.count) values, expected \(buffer.count)")
                    }
                    t.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: buffer.count) }
                } else {
                    guard t.count == 1 else { throw CompileError("optimizer state '\(key)' should be one number") }
                    layerState[m][k] = t.scalars[0]
                }
            }
        }
    }
}
