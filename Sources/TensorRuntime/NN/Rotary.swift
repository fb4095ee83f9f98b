#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

extension NN {
    /// Rotary position embedding: in every head, the pair of channels `(2i, 2i+1)` at position
    /// `t` is rotated by the angle `t·base^(−2i/hd)`, where `hd` is the head size.
    /// - Parameters:
    ///   - input: `[B, T, C]` with `C = heads·hd`, or `[B, T, H, hd]` (same memory layout).
    ///   - heads: the number of heads `H`; for a rank-4 input it must equal `input.shape[2]`.
    ///   - base: `θ`, 10000 as in RoFormer and LLaMA.
    /// - Returns: shaped like `input`.
    /// - Throws: when the shape is neither form, the channels do not split into heads, or the
    ///   head size is odd.
    public static func rope(_ input: Tensor, heads: Int, base: Float = 10_000) throws(TensorError) -> Tensor {
        let geometry = try ropeGeometry(input.shape, heads: heads)
        var output = Tensor.zeros(input.shape)
        rotate(input, into: &output, geometry, base: base, inverse: false)
        return output
    }

    /// The backward pass of ``rope(_:heads:base:)``: the inverse rotation of `dOut`, added
    /// into `dInput`.
    /// - Parameters:
    ///   - dOut: the output's gradient, shaped like the forward input.
    ///   - heads: as in the forward call.
    ///   - base: as in the forward call.
    ///   - dInput: accumulated into.
    public static func ropeBackward(_ dOut: Tensor, heads: Int, base: Float = 10_000, dInput: inout Tensor) {
        checkSame("rope", dInput, dOut.shape)
        guard let geometry = try? ropeGeometry(dOut.shape, heads: heads) else {
            preconditionFailure("rope: gradient of shape \(dOut.shape) does not split into \(heads) heads")
        }
        rotate(dOut, into: &dInput, geometry, base: base, inverse: true)
    }

    /// Batch, sequence length, heads and head size.
    private typealias RopeGeometry = (b: Int, t: Int, h: Int, hd: Int)

    private static func ropeGeometry(_ shape: Shape, heads: Int) throws(TensorError) -> RopeGeometry {
        guard heads > 0 else { throw TensorError("rope", "heads must be positive, got \(heads)") }
        let geometry: RopeGeometry
        switch shape.rank {
        case 3:
            guard shape[2] % heads == 0 else {
                throw TensorError("rope", "\(shape[2]) channels do not split into \(heads) heads (input \(shape))")
            }
            geometry = (shape[0], shape[1], heads, shape[2] / heads)
        case 4:
            guard shape[2] == heads else {
                throw TensorError("rope", "input \(shape) has \(shape[2]) heads, expected \(heads)")
            }
            geometry = (shape[0], shape[1], shape[2], shape[3])
        default:
            throw TensorError("rope", "expects [B, T, C] or [B, T, H, hd], got \(shape)")
        }
        guard geometry.hd % 2 == 0 else {
            throw TensorError("rope", "head size \(geometry.hd) is odd; rotary pairs need an even head size")
        }
        return geometry
    }

    /// `output += R(±angle)·input`, where `inverse` rotates by the negative angle.
    private static func rotate(
        _ input: Tensor, into output: inout Tensor, _ g: RopeGeometry, base: Float, inverse: Bool
    ) {
        let half = g.hd / 2
        if input.count == 0 || half == 0 { return }
        // Angles in Double: t·θ^(−2i/hd) reaches thousands of radians for long sequences.
        var cosines = [Float](repeating: 0, count: g.t * half)
        var sines = [Float](repeating: 0, count: g.t * half)
        for t in 0..<g.t {
            for i in 0..<half {
                let angle = Double(t) * pow(Double(base), -2 * Double(i) / Double(g.hd))
                cosines[t * half + i] = Float(cos(angle))
                sines[t * half + i] = Float(inverse ? -sin(angle) : sin(angle))
            }
        }
        let c = g.h * g.hd
        // inp and out are (B,T,H,hd); cos and sin are (T,hd/2)
        input.withUnsafeBufferPointer { xb in
            output.withUnsafeMutableBufferPointer { yb in
                let (x, y) = (xb.baseAddress!, yb.baseAddress!)
                for b in 0..<g.b {
                    for t in 0..<g.t {
                        for h in 0..<g.h {
                            let offset = (b * g.t + t) * c + h * g.hd
                            for i in 0..<half {
                                let (cs, sn) = (cosines[t * half + i], sines[t * half + i])
                                let (x0, x1) = (x[offset + 2 * i], x[offset + 2 * i + 1])
                                y[offset + 2 * i] += x0 * cs - x1 * sn
                                y[offset + 2 * i + 1] += x0 * sn + x1 * cs
                            }
                        }
                    }
                }
            }
        }
    }
}
