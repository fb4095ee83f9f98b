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
        let infos = metas.map { ParameterInfo(name: $0.name, role: $0.role.rawValue, layer: $0.layer, shape: $0.shape) }
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
        groups = graph.groups.enumerated().map { g, group in
            BoundGroup(graph: group, parameters: members[g], metas: metas, hypers: hyperValues)
        }
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

/// Raw float storage owned by the executor.
final class Buffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int, fill: Float = 0) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: fill, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}

/// One group bound to its parameters, with everything its plan needs.
final class BoundGroup {
    let graph: GroupGraph
    let plan: GroupPlan
    let parameters: [Int]
    let metas: [ParameterMeta]
    let hypers: [Double]
    /// Per member parameter: rows and columns (a matrix view of the tensor).
    let shapes: [(rows: Int, columns: Int, count: Int)]
    /// Per member, per state slot: the tensor buffer (tensor-level slots).
    var tensorState: [[Buffer?]] = []
    /// Per member, per state slot: the per-layer value (layer-level slots).
    var layerState: [[Float]] = []
    /// Per member: scalar node values of the current step.
    var scalars: [UnsafeMutablePointer<Double>] = []
    /// Buffers of materialized values: per node, shared or per member.
    var shared: [Int: Buffer] = [:]
    var perMember: [Int: [Buffer]] = [:]
    var regions: [CompiledRegion] = []
    var workspaces: [String: NewtonSchulzWorkspace] = [:]
    var singularValueWorkspaces: [String: SingularValueWorkspace] = [:]
    var logs: [String: [String: Double]] = [:]
    let registerFile: RegisterFile

    init(graph: GroupGraph, parameters: [Int], metas: [ParameterMeta], hypers: [Double]) {
        self.graph = graph
        self.plan = Scheduler.plan(graph)
        self.parameters = parameters
        self.metas = metas
        self.hypers = hypers
        shapes = parameters.map { p in
            let shape = metas[p].shape
            let count = shape.reduce(1, *)
            let rows = shape.first ?? 1
            return (rows, rows == 0 ? 0 : count / rows, count)
        }
        var maxRegisters = 1
        for stage in plan.stages {
            for item in stage {
                if case .region(let r) = item {
                    let compiled = CompiledRegion(region: r, nodes: graph.nodes)
                    maxRegisters = max(maxRegisters, compiled.kernel.slotCount)
                    regions.append(compiled)
                }
            }
        }
        registerFile = RegisterFile(slots: maxRegisters, threads: max(1, Parallel.threadCount))
        allocate()
        allocateSingularValueWorkspaces()
    }

    deinit { for s in scalars { s.deallocate() } }

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
            var tensors: [Buffer?] = []
            var layers: [Float] = []
            for slot in graph.states {
                if slot.type.level == .tensor {
                    tensors.append(Buffer(count: extentCount(slot.type, member: m)))
                } else {
                    tensors.append(nil)
                }
                layers.append(0)
            }
            tensorState.append(tensors)
            layerState.append(layers)
            let s = UnsafeMutablePointer<Double>.allocate(capacity: max(nodeCount, 1))
            s.initialize(repeating: 0, count: max(nodeCount, 1))
            scalars.append(s)
        }
        for node in plan.buffered {
            let type = graph.nodes[node].type
            if plan.perParameter[node] {
                perMember[node] = parameters.indices.map { Buffer(count: extentCount(type, member: $0)) }
            } else {
                let largest = parameters.indices.map { extentCount(type, member: $0) }.max() ?? 0
                shared[node] = Buffer(count: largest)
            }
        }
        for (m, _) in parameters.enumerated() where graph.nodes.contains(where: { if case .orthogonalize = $0.op { true } else { false } }) {
            let key = "\(shapes[m].rows)x\(shapes[m].columns)"
            if workspaces[key] == nil {
                workspaces[key] = NewtonSchulzWorkspace(rows: shapes[m].rows, columns: shapes[m].columns)
            }
        }
    }

    private func allocateSingularValueWorkspaces() {
        let needed = graph.nodes.contains {
            if case .reduce(let r, .all) = $0.op { return r == .spectral || r == .nuclear }
            return false
        }
        guard needed else { return }
        for m in parameters.indices {
            let key = "\(shapes[m].rows)x\(shapes[m].columns)"
            if singularValueWorkspaces[key] == nil {
                singularValueWorkspaces[key] = SingularValueWorkspace(rows: shapes[m].rows, columns: shapes[m].columns)
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
                        parameterValues[p].withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: buffer.count) }
                    case .fill:
                        buffer.pointer.update(repeating: initialValue(slot), count: buffer.count)
                    }
                } else {
                    layerState[m][k] = initialValue(slot)
                }
            }
        }
    }

    /// The buffer holding node `n`'s tensor value for member `m` (sources included).
    func tensorPointer(_ n: Int, member m: Int, x: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>)
        -> UnsafeMutablePointer<Float>
    {
        switch graph.nodes[n].op {
        case .parameter: return x
        case .gradient: return UnsafeMutablePointer(mutating: g)
        case .stateRead(let slot): return tensorState[m][slot]!.pointer
        default: return perMember[n]?[m].pointer ?? shared[n]!.pointer
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
        var regionCursor = 0
        for (s, stage) in plan.stages.enumerated() {
            for n in plan.boundaries[s] { reduceAcrossGroup(n) }
            let firstRegion = regionCursor
            for (m, p) in parameters.enumerated() {
                regionCursor = firstRegion
                values[p].withUnsafeMutableBufferPointer { xb in
                    gradients[p].withUnsafeBufferPointer { gb in
                        let x = xb.baseAddress!, g = gb.baseAddress!
                        for item in stage {
                            switch item {
                            case .scalar(let n): evaluateScalar(n, member: m, t: t, total: total)
                            case .layerStateWrite(let n):
                                if case .stateWrite(let slot) = graph.nodes[n].op {
                                    layerState[m][slot] = Float(scalar(graph.nodes[n].inputs[0], member: m))
                                }
                            case .log(let n):
                                if case .log(let name) = graph.nodes[n].op {
                                    logs[name, default: [:]][metas[p].name] = scalar(graph.nodes[n].inputs[0], member: m)
                                }
                            case .kernel(let n): runKernel(n, member: m, x: x, g: g)
                            case .region:
                                regions[regionCursor].run(self, member: m, x: x, g: g)
                                regionCursor += 1
                            }
                        }
                    }
                }
            }
        }
    }

    private func reduceAcrossGroup(_ n: Int) {
        guard case .groupReduce(let kind) = graph.nodes[n].op else { return }
        let input = graph.nodes[n].inputs[0]
        let values = parameters.indices.map { scalar(input, member: $0) }
        let result: Double
        switch kind {
        case .max: result = values.max() ?? 0
        case .sum: result = values.reduce(0, +)
        case .mean: result = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        }
        for m in parameters.indices { scalars[m][n] = result }
    }

    private func evaluateScalar(_ n: Int, member m: Int, t: Double, total: Double) {
        let node = graph.nodes[n]
        let v: Double
        switch node.op {
        case .constant(let c): v = c
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
            v = scalar(node.inputs[0], member: m) != 0 ? scalar(node.inputs[1], member: m) : scalar(node.inputs[2], member: m)
        case .schedule(let b):
            v = Scalar.schedule(b, node.inputs.map { scalar($0, member: m) }, t: t, total: total)
        default: v = 0
        }
        scalars[m][n] = v
    }

    private func runKernel(_ n: Int, member m: Int, x: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>) {
        let node = graph.nodes[n]
        let input = tensorPointer(node.inputs[0], member: m, x: x, g: g)
        let (rows, columns, count) = shapes[m]
        switch node.op {
        case .orthogonalize(let steps):
            let output = tensorPointer(n, member: m, x: x, g: g)
            workspaces["\(rows)x\(columns)"]!.orthogonalize(UnsafePointer(input), into: output, steps: steps)
        case .reduce(let kind, .all) where kind == .spectral || kind == .nuclear:
            let key = "\(rows)x\(columns)"
            singularValueWorkspaces[key]!.compute(UnsafePointer(input))
            let w = singularValueWorkspaces[key]!
            scalars[m][n] = kind == .spectral ? w.spectralNorm : w.nuclearNorm
        case .reduce(let kind, .all):
            scalars[m][n] = Reductions.all(kind, input, count: count, rows: rows, columns: columns)
        case .reduce(let kind, let axis):
            let output = tensorPointer(n, member: m, x: x, g: g)
            Reductions.along(kind, axis, input, rows: rows, columns: columns, into: output)
        default: break
        }
    }

    func exportState(into out: inout [String: Tensor]) {
        for (m, p) in parameters.enumerated() {
            for (k, slot) in graph.states.enumerated() {
                let key = "\(metas[p].name)/\(slot.name)"
                if let buffer = tensorState[m][k] {
                    let shape: [Int] =
                        slot.type.extent == .full ? metas[p].shape : [buffer.count]
                    out[key] = Tensor(shape: Shape(shape)) { $0.baseAddress!.update(from: buffer.pointer, count: buffer.count) }
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
                guard let t = tensors[key] else { throw CompileError("optimizer state '\(key)' is missing from the checkpoint") }
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
