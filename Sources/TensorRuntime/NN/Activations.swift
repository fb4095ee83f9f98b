#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

extension NN {
    /// √(2/π), the scale inside GELU's tanh approximation.
    private static let geluScale: Float = 0.797_884_56
    /// The cubic coefficient of GELU's tanh approximation.
    private static let geluCubic: Float = 0.044_715

    /// GELU in its tanh approximation: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    /// - Parameter input: any shape.
    /// - Returns: the activation, shaped like `input`.
    public static func gelu(_ input: Tensor) -> Tensor {
        map(input) { x in
            let u = geluScale * (x + geluCubic * x * x * x)
            return 0.5 * x * (1 + tanh(u))
        }
    }

    /// The backward pass of ``gelu(_:)``: `dx += dy·gelu′(x)`.
    /// - Parameters:
    ///   - dOut: the output's gradient.
    ///   - input: the forward input `x`.
    ///   - dInput: accumulated into, shaped like `input`.
    public static func geluBackward(_ dOut: Tensor, input: Tensor, dInput: inout Tensor) {
        accumulateMap(dOut, input, into: &dInput, op: "gelu") { dy, x in
            let u = geluScale * (x + geluCubic * x * x * x)
            let t = tanh(u)
            let du = geluScale * (1 + 3 * geluCubic * x * x)
            return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
        }
    }

    /// SiLU (swish): `x·σ(x)`.
    /// - Parameter input: any shape.
    /// - Returns: the activation, shaped like `input`.
    public static func silu(_ input: Tensor) -> Tensor {
        map(input) { x in x * sigmoid(x) }
    }

    /// The backward pass of ``silu(_:)``: `dx += dy·σ(x)·(1 + x·(1 − σ(x)))`.
    /// - Parameters:
    ///   - dOut: the output's gradient.
    ///   - input: the forward input `x`.
    ///   - dInput: accumulated into, shaped like `input`.
    public static func siluBackward(_ dOut: Tensor, input: Tensor, dInput: inout Tensor) {
        accumulateMap(dOut, input, into: &dInput, op: "silu") { dy, x in
            let s = sigmoid(x)
            return dy * s * (1 + x * (1 - s))
        }
    }

    /// SwiGLU's gating product: `silu(gate)·up`, elementwise.
    /// - Parameters:
    ///   - gate: any shape.
    ///   - up: shaped like `gate`.
    /// - Returns: shaped like `gate`.
    /// - Throws: when the shapes differ.
    public static func swiglu(gate: Tensor, up: Tensor) throws(TensorError) -> Tensor {
        guard gate.shape == up.shape else {
            throw TensorError("swiglu", "gate and up differ in shape: \(gate.shape) vs \(up.shape)")
        }
        if gate.count == 0 { return gate }
        return Tensor(shape: gate.shape) { out in
            gate.withUnsafeBufferPointer { a in
                up.withUnsafeBufferPointer { b in
                    for i in 0..<out.count { out[i] = a[i] * sigmoid(a[i]) * b[i] }
                }
            }
        }
    }

    /// The backward pass of ``swiglu(gate:up:)``: `dGate += dy·up·silu′(gate)` and
    /// `dUp += dy·silu(gate)`.
    /// - Parameters:
    ///   - dOut: the output's gradient.
    ///   - gate: the forward `gate`.
    ///   - up: the forward `up`.
    ///   - dGate: accumulated into, shaped like `gate`.
    ///   - dUp: accumulated into, shaped like `up`.
    public static func swigluBackward(_ dOut: Tensor, gate: Tensor, up: Tensor, dGate: inout Tensor, dUp: inout Tensor)
    {
        checkSame("swiglu", dOut, gate.shape)
        checkSame("swiglu", up, gate.shape)
        checkSame("swiglu", dGate, gate.shape)
        checkSame("swiglu", dUp, gate.shape)
        if gate.count == 0 { return }
        dOut.withUnsafeBufferPointer { d in
            gate.withUnsafeBufferPointer { a in
                up.withUnsafeBufferPointer { b in
                    dGate.withUnsafeMutableBufferPointer { da in
                        dUp.withUnsafeMutableBufferPointer { db in
                            for i in 0..<d.count {
                                let s = sigmoid(a[i])
                                da[i] += d[i] * b[i] * s * (1 + a[i] * (1 - s))
                                db[i] += d[i] * a[i] * s
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always) private static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// `f` applied to every element.
    private static func map(_ input: Tensor, _ f: (Float) -> Float) -> Tensor {
        if input.count == 0 { return input }
        return Tensor(shape: input.shape) { out in
            input.withUnsafeBufferPointer { x in
                for i in 0..<x.count { out[i] = f(x[i]) }
            }
        }
    }

    /// `dInput[i] += f(dOut[i], input[i])` for every element.
    private static func accumulateMap(
        _ dOut: Tensor, _ input: Tensor, into dInput: inout Tensor, op: String, _ f: (Float, Float) -> Float
    ) {
        checkSame(op, dOut, input.shape)
        checkSame(op, dInput, input.shape)
        if input.count == 0 { return }
        dOut.withUnsafeBufferPointer { d in
            input.withUnsafeBufferPointer { x in
                dInput.withUnsafeMutableBufferPointer { dx in
                    for i in 0..<x.count { dx[i] += f(d[i], x[i]) }
                }
            }
        }
    }
}
