/// An error raised by a tensor operation whose operands do not fit together.
///
/// The description is led by the operation, in the voice of MLX and candle:
/// `matmul: inner dimensions differ: [4, 3] × [5, 2]`.
public struct TensorError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The operation that rejected its operands (`matmul`, `reshape`, …).
    public let operation: String
    /// What was wrong, in lower case, with the offending shapes.
    public let message: String

    /// Creates an error for `operation` with `message`.
    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }
}
