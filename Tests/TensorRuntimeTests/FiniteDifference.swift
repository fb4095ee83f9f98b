import Testing

@testable import TensorRuntime

/// Gradient checks by central differences, for every NN kernel and every tape operation.
///
/// The scalar under test is `loss(y) = Σ y·w` for fixed random weights `w`, so every output
/// element matters and `dL/dy = w`.
enum FiniteDifference {
    /// The relative tolerance of a Float central difference with step 1e-2.
    static let rtol: Float = 1e-2
    /// The absolute tolerance, for gradients near zero.
    static let atol: Float = 1e-3

    /// Fixed normal weights of `shape`.
    static func probe(_ shape: Shape, seed: UInt64 = 99) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return .randomNormal(shape, using: &rng)
    }

    /// A random normal tensor, for inputs.
    static func random(_ shape: Shape, seed: UInt64, std: Float = 1) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return .randomNormal(shape, std: std, using: &rng)
    }

    /// `Σ y·w`, summed in `Double`.
    static func weightedSum(_ y: Tensor, _ w: Tensor) -> Float {
        precondition(y.shape == w.shape, "weighted sum: \(y.shape) vs \(w.shape)")
        var total = 0.0
        for (a, b) in zip(y.scalars, w.scalars) { total += Double(a) * Double(b) }
        return Float(total)
    }

    /// The gradient of `f` with respect to `inputs[which]`, by central differences
    /// `(f(x + h) − f(x − h)) / 2h`, one element at a time.
    static func numericalGradient(
        _ inputs: [Tensor], wrt which: Int, step h: Float = 1e-2, _ f: ([Tensor]) throws -> Float
    ) rethrows -> Tensor {
        var gradient = Tensor.zeros(inputs[which].shape)
        var shifted = inputs
        for i in 0..<inputs[which].count {
            let original = inputs[which].scalars[i]
            shifted[which].scalars[i] = original + h
            let plus = try f(shifted)
            shifted[which].scalars[i] = original - h
            let minus = try f(shifted)
            shifted[which].scalars[i] = original
            gradient.scalars[i] = (plus - minus) / (2 * h)
        }
        return gradient
    }

    /// Expects an analytic gradient to match a numerical one elementwise.
    static func expectMatch(
        _ analytic: Tensor, _ numeric: Tensor, _ label: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            allClose(analytic, numeric, rtol: rtol, atol: atol),
            "\(label): max |analytic − numeric| = \(maxAbsDiff(analytic.scalars, numeric.scalars))\nanalytic \(analytic.scalars)\nnumeric  \(numeric.scalars)",
            sourceLocation: sourceLocation)
    }

    /// Checks a kernel pair against central differences.
    ///
    /// The gradient buffers start filled with random values, which are subtracted afterwards,
    /// so the check also proves that `backward` adds instead of overwriting.
    /// - Parameters:
    ///   - inputs: the differentiable inputs.
    ///   - forward: maps the inputs to one output.
    ///   - backward: given `dOut` and the inputs, accumulates into one gradient per input.
    static func checkKernel(
        _ label: String,
        _ inputs: [Tensor],
        forward: ([Tensor]) throws -> Tensor,
        backward: (Tensor, [Tensor], inout [Tensor]) throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let y = try forward(inputs)
        let w = probe(y.shape)
        let prefill = inputs.enumerated().map { random($0.element.shape, seed: 1000 + UInt64($0.offset)) }
        var gradients = prefill
        try backward(w, inputs, &gradients)
        for i in inputs.indices {
            var analytic = gradients[i]
            for j in 0..<analytic.count { analytic.scalars[j] -= prefill[i].scalars[j] }
            let numeric = try numericalGradient(inputs, wrt: i) { try weightedSum(forward($0), w) }
            expectMatch(analytic, numeric, "\(label) input \(i)", sourceLocation: sourceLocation)
        }
    }

    /// Checks a tape computation against central differences with respect to every input,
    /// each recorded as a parameter.
    static func checkTape(
        _ label: String,
        _ inputs: [Tensor],
        sourceLocation: SourceLocation = #_sourceLocation,
        _ build: (inout Tape, [Variable]) throws -> Variable
    ) throws {
        func evaluate(_ values: [Tensor]) throws -> (Tape, [Variable], Variable) {
            var tape = Tape()
            let parameters = values.map { tape.parameter($0) }
            let y = try build(&tape, parameters)
            return (tape, parameters, y)
        }
        var (tape, parameters, y) = try evaluate(inputs)
        let w = probe(tape.value(of: y).shape)
        let loss = try tape.sum(tape.mul(y, tape.constant(w)))
        try tape.backward(from: loss)
        for i in inputs.indices {
            let numeric = try numericalGradient(inputs, wrt: i) { values in
                let (t, _, out) = try evaluate(values)
                return weightedSum(t.value(of: out), w)
            }
            expectMatch(
                tape.gradient(of: parameters[i]), numeric, "\(label) input \(i)", sourceLocation: sourceLocation)
        }
    }
}
