import TensorRuntime

/// What the training loop needs from a model: parameters with metadata, and a fused
/// forward + backward on a batch. The built-in ``Transformer`` conforms; tests use small
/// stand-ins.
public protocol TrainableModel: AnyObject {
    /// Metadata of every parameter, in a fixed order.
    var parameterMetas: [ParameterMeta] { get }
    /// The parameters, in the order of ``parameterMetas``. Optimizers update them in place.
    var parameters: [Tensor] { get set }
    /// Gradients of the last ``trainStep(inputs:targets:)``, same order and shapes.
    var gradients: [Tensor] { get }
    /// Forward and backward on one batch (`inputs`/`targets` are `batch × context`,
    /// row-major); overwrites ``gradients`` and returns the mean cross-entropy (nats/token).
    func trainStep(inputs: [Int32], targets: [Int32]) -> Float
    /// Forward only: the mean cross-entropy on `inputs`/`targets` (any whole number of
    /// sequences of the model's context length).
    func evaluate(inputs: [Int32], targets: [Int32]) -> Float
}
