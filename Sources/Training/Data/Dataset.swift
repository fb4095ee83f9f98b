/// A source of token sequences for training and validation.
///
/// Batches are drawn from positions chosen by the trainer's seeded generator, so a run's
/// data order is part of its reproducible state.
public protocol Dataset: Sendable {
    /// Tokens are `0..<vocabularySize`.
    var vocabularySize: Int { get }
    /// A short description for logs and `config.json` (e.g. `synthetic hmm (seed 1, 64 tokens)`).
    var summary: String { get }
    /// Fills `inputs` and `targets` (each `batch × context`, row-major) with training
    /// windows; `targets` is `inputs` shifted by one token. `draw` supplies random numbers
    /// in `0..<n` from the trainer's generator.
    func trainBatch(batch: Int, context: Int, inputs: inout [Int32], targets: inout [Int32], draw: (Int) -> Int)
    /// The fixed validation windows (same every call): `count` windows of `context`
    /// inputs and targets each.
    func validationWindows(count: Int, context: Int) -> (inputs: [Int32], targets: [Int32])
    /// The best achievable mean loss (nats per token) on exactly those windows, when the
    /// source is known (synthetic data); nil otherwise.
    func bayesLoss(count: Int, context: Int) -> Double?
}
