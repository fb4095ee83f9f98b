/// A token sequence split by position: the first 90% for training, the last 10% for
/// validation. The file-backed datasets share its window arithmetic.
struct PositionalSplit<Token: FixedWidthInteger & Sendable>: Sendable {
    /// Every token of the file, training part first.
    let tokens: [Token]
    /// Index of the first validation token.
    let boundary: Int

    /// The fewest tokens that leave one window of `context` inputs and targets (`context + 1`
    /// tokens) in the validation part, which is the smaller one: `ceil(n / 10) > context`.
    static func minimumLength(context: Int) -> Int { 10 * context + 1 }

    /// Splits `tokens`; the caller has checked `tokens.count >= minimumLength(context:)`.
    init(tokens: [Token]) {
        self.tokens = tokens
        self.boundary = tokens.count * 9 / 10
    }

    /// Training windows start anywhere in the training part that leaves room for the
    /// shifted target, chosen by `draw`, one call per window.
    func trainBatch(batch: Int, context: Int, inputs: inout [Int32], targets: inout [Int32], draw: (Int) -> Int) {
        precondition(boundary > context, "training part too short for context \(context)")
        resizeBatch(&inputs, &targets, count: batch * context)
        let starts = boundary - context
        for row in 0..<batch {
            copyWindow(from: draw(starts), row: row, context: context, inputs: &inputs, targets: &targets)
        }
    }

    /// Fixed, evenly spaced windows over the validation part whose targets never overlap:
    /// `count` of them, or as many as fit (`(validationLength - 1) / context`) when fewer do.
    func validationWindows(count: Int, context: Int) -> (inputs: [Int32], targets: [Int32]) {
        let length = tokens.count - boundary
        let fit = (length - 1) / context
        let windows = min(count, fit)
        var inputs = [Int32](repeating: 0, count: windows * context)
        var targets = inputs
        for row in 0..<windows {
            let offset: Int
            if windows == fit {
                offset = row * context
            } else if windows == 1 {
                offset = 0
            } else {
                // Spacing is at least `context` because windows < fit.
                offset = row * (length - 1 - context) / (windows - 1)
            }
            copyWindow(from: boundary + offset, row: row, context: context, inputs: &inputs, targets: &targets)
        }
        return (inputs, targets)
    }

    private func copyWindow(from start: Int, row: Int, context: Int, inputs: inout [Int32], targets: inout [Int32]) {
        let base = row * context
        for i in 0..<context {
            inputs[base + i] = Int32(tokens[start + i])
            targets[base + i] = Int32(tokens[start + i + 1])
        }
    }
}

/// Makes `inputs` and `targets` hold `count` elements, reusing their storage when they already do.
func resizeBatch(_ inputs: inout [Int32], _ targets: inout [Int32], count: Int) {
    if inputs.count != count { inputs = [Int32](repeating: 0, count: count) }
    if targets.count != count { targets = [Int32](repeating: 0, count: count) }
}
