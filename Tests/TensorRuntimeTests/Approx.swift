import TensorRuntime

/// The one tolerance helper: |a − b| ≤ atol + rtol·max(|a|, |b|), elementwise.
func isClose(_ a: Float, _ b: Float, rtol: Float = 1e-5, atol: Float = 1e-6) -> Bool {
    if a == b { return true }
    guard a.isFinite, b.isFinite else { return false }
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))
}

/// True when both arrays have equal length and every pair is close.
func allClose(_ a: [Float], _ b: [Float], rtol: Float = 1e-5, atol: Float = 1e-6) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { isClose($0, $1, rtol: rtol, atol: atol) }
}

/// True when both tensors have the same shape and every element is close.
func allClose(_ a: Tensor, _ b: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6) -> Bool {
    a.shape == b.shape && allClose(a.scalars, b.scalars, rtol: rtol, atol: atol)
}

/// The largest absolute elementwise difference (∞ when the counts differ).
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
