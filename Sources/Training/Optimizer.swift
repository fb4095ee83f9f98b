import TensorRuntime

/// The trainer's view of an optimizer: parameters and gradients in, parameters updated in
/// place, state saved and restored by name. Recipes implement it (through the step-graph
/// compiler); the trainer hard-codes no optimizer algorithm.
public protocol Optimizer {
    /// Called once before the first step with the parameters' metadata, in model order.
    mutating func prepare(_ parameters: [ParameterMeta], totalSteps: Int) throws

    /// Updates `parameters` in place from `gradients` (same order and shapes).
    /// - Parameter step: the step number, counting from 1.
    mutating func step(parameters: inout [Tensor], gradients: [Tensor], step: Int) throws

    /// The learning rate to report in metrics for this step (the recipe's main `lr`
    /// times its schedule), or nil when there is no single such number.
    func reportedLearningRate(step: Int) -> Double?

    /// Every piece of state, keyed by a stable name (e.g. `blocks.0.attn.wq/m`).
    func stateTensors() -> [String: Tensor]

    /// Restores state saved by ``stateTensors()``.
    mutating func loadState(_ tensors: [String: Tensor]) throws

    /// Per-parameter diagnostics of the last step (a recipe's `log` statements):
    /// name → parameter name → value. Written to `metrics.jsonl` on logged steps.
    func loggedValues() -> [String: [String: Double]]
}

extension Optimizer {
    /// No diagnostics by default.
    public func loggedValues() -> [String: [String: Double]] { [:] }
}
