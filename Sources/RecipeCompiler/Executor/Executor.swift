import Foundation
import RecipeLanguage
import TensorRuntime
import Training

/// Runs a step graph on the parameters of a model: binds every parameter to its group, then
/// every step runs the groups' plans.
///
/// The jobs live in their own files: binding and the step across groups here; a group's
/// members and memory (`BoundGroup+Memory.swift`), its stage loop (`BoundGroup.swift`), its
/// scalar interpreter (`BoundGroup+Scalars.swift`) and its state's checkpoint I/O
/// (`BoundGroup+State.swift`).
final class Executor {
    let graph: StepGraph
    let metas: [ParameterMeta]
    let totalSteps: Int
    let groups: [BoundGroup]
    /// Logged values of the last step: log name → parameter name → value.
    private(set) var logs: [String: [String: Double]] = [:]
    private var initialized = false

    /// - Parameter native: compile the fused passes to machine code (``NativeKernels``).
    init(
        graph: StepGraph, recipe: CheckedRecipe, metas: [ParameterMeta], totalSteps: Int, native: Bool = false,
        warn: (String) -> Void = { _ in }
    ) throws(CompileError) {
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
        for (p, g) in assignment.enumerated() { members[g].append(p) }
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
        if native { NativeKernels.attach(groups.flatMap(\.regions), warn: warn) }
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
