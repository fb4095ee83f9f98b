import Foundation
import RecipeLanguage
import TensorRuntime
import Training

/// A recipe compiled to a step graph, as an ``Optimizer`` the trainer can drive.
public final class CompiledOptimizer: Optimizer {
    public let recipe: CheckedRecipe
    public let graph: StepGraph
    private var executor: Executor?
    /// Compile the fused passes to machine code when prepared (``NativeKernels``): the same
    /// results, bit for bit, in less time; the first time for a recipe on a CPU costs a few
    /// seconds of `swiftc`. Off by default; the command line turns it on unless
    /// `OPTLANG_NATIVE=0`.
    public var nativePasses = false
    /// Where a fused pass that could not be compiled is reported (it then runs interpreted).
    public var warn: @Sendable (String) -> Void = { _ in }

    /// Compiles `recipe` with hyperparameter `overrides` (`--set name=value`).
    public init(recipe: CheckedRecipe, overrides: [String: Double] = [:]) throws(CompileError) {
        self.recipe = recipe
        graph = try Lowering.lower(recipe, overrides: overrides)
        try Self.emitRegions(graph, path: recipe.path)
    }

    /// Emits every fused region's code once, so that a compiler fault is reported when the
    /// recipe is compiled (by every command), not when it first meets parameters.
    private static func emitRegions(_ graph: StepGraph, path: String) throws(CompileError) {
        for group in graph.groups {
            for stage in group.plan.stages {
                for case .region(let region) in stage {
                    do {
                        _ = try CompiledRegion(region: region, nodes: group.nodes, threads: 1)
                    } catch {
                        var located = error
                        if located.path == nil { located.path = path }
                        throw located
                    }
                }
            }
        }
    }

    /// Binds the groups to the model's parameters and allocates all state.
    /// - Throws: ``CompileError`` when parameters are left without a group.
    public func prepare(_ parameters: [ParameterMeta], totalSteps: Int) throws {
        executor = try Executor(
            graph: graph, recipe: recipe, metas: parameters, totalSteps: totalSteps, native: nativePasses, warn: warn)
    }

    public func step(parameters: inout [Tensor], gradients: [Tensor], step: Int) throws {
        guard let executor else { throw CompileError("the optimizer was not prepared") }
        executor.step(parameters: &parameters, gradients: gradients, step: step)
    }

    /// The `lr` hyperparameter when the recipe has one.
    public func reportedLearningRate(step: Int) -> Double? {
        graph.hyperparameters.first { $0.name == "lr" }?.value
    }

    public func stateTensors() -> [String: Tensor] { executor?.stateTensors() ?? [:] }

    public func loadState(_ tensors: [String: Tensor]) throws {
        guard let executor else { throw CompileError("the optimizer was not prepared") }
        try executor.loadState(tensors)
    }

    /// Values recorded by `log` statements in the last step: name → parameter → value.
    public var logs: [String: [String: Double]] { executor?.logs ?? [:] }

    /// The same, for the trainer's metrics.
    public func loggedValues() -> [String: [String: Double]] { logs }

    /// Bytes of optimizer state per group, once prepared.
    public var stateBytes: [(group: String, bytes: Int)] { executor?.stateBytes() ?? [] }

    /// Compiles the fused passes of several prepared optimizers into one library (one
    /// `swiftc` run) and switches them to it; returns how many passes were compiled.
    @discardableResult
    static func compileNative(_ optimizers: [CompiledOptimizer], cache: URL? = nil, warn: (String) -> Void = { _ in })
        -> Int
    {
        NativeKernels.attach(
            optimizers.flatMap { $0.executor?.groups.flatMap(\.regions) ?? [] }, cache: cache, warn: warn)
    }

    /// The parameters each group took, once prepared (model indices).
    public var groupMembers: [[Int]] { executor?.groups.map(\.parameters) ?? [] }
}
