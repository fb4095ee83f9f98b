import Foundation
import TensorRuntime
import Testing

/// The transformer's fused kernels against the runtime's plain NN kernels and `Foundation`.
@Suite struct TransformerKernelTests {
    @Test func vectorExpIsAccurateToAFewUlps() {
        var worst: Double = 0
        for start in stride(from: -80.0, to: 80.0, by: 0.37) {
            let x = SIMD16<Float>((0..<16).map { Float(start + Double($0) * 0.0231) })
            let y = Fused.exp(x)
            for i in 0..<16 {
                let exact = Foundation.exp(Double(x[i]))
                worst = max(worst, abs(Double(y[i]) - exact) / exact)
            }
        }
        #expect(worst < 1e-6)
    }

    @Test(arguments: [1, 15, 16, 17, 100])
    func geluForwardAndBackwardMatchThePlainKernels(count: Int) {
        var rng = SeededRandom(seed: UInt64(count))
        let x = Tensor.randomNormal([count], std: 3, using: &rng)
        let dy = Tensor.randomNormal([count], using: &rng)
        var y = [Float](repeating: 0, count: count)
        var dx = [Float](repeating: 0, count: count)
        x.withUnsafeBufferPointer { xp in
            dy.withUnsafeBufferPointer { dp in
                y.withUnsafeMutableBufferPointer { Fused.geluForward(xp.baseAddress!, $0.baseAddress!, count: count) }
                dx.withUnsafeMutableBufferPointer {
                    Fused.geluBackward(xp.baseAddress!, dp.baseAddress!, $0.baseAddress!, count: count)
                }
            }
        }
        var expected = Tensor.zeros([count])
        NN.geluBackward(dy, input: x, dInput: &expected)
        #expect(zip(y, NN.gelu(x).scalars).allSatisfy { abs($0 - $1) <= 1e-6 + 1e-5 * abs($1) })
        #expect(zip(dx, expected.scalars).allSatisfy { abs($0 - $1) <= 1e-6 + 1e-5 * abs($1) })
    }

    @Test(arguments: [(1, 1, 4), (3, 2, 12), (17, 2, 16), (33, 3, 40)])
    func attentionForwardMatchesThePlainKernel(context: Int, heads: Int, headSize: Int) throws {
        let shape = Fused.AttentionShape(batch: 2, context: context, heads: heads, headSize: headSize)
        var rng = SeededRandom(seed: 1)
        let dims = Shape([2, context, heads * headSize])
        let (q, k, v) = (
            Tensor.randomNormal(dims, using: &rng), Tensor.randomNormal(dims, using: &rng),
            Tensor.randomNormal(dims, using: &rng)
        )
        var y = [Float](repeating: 0, count: dims.count)
        var probs = [Float](repeating: 0, count: shape.statisticsCount)
        var scratch = [Float](repeating: 0, count: 2 * shape.scratchPerPart)
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    y.withUnsafeMutableBufferPointer { yp in
                        probs.withUnsafeMutableBufferPointer { pp in
                            scratch.withUnsafeMutableBufferPointer { sp in
                                Fused.attentionForward(
                                    q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, y: yp.baseAddress!,
                                    stats: pp.baseAddress!, shape: shape, scratch: sp.baseAddress!, parts: 2)
                            }
                        }
                    }
                }
            }
        }
        let expected = try NN.attention(q: q, k: k, v: v, heads: heads).output
        #expect(zip(y, expected.scalars).allSatisfy { abs($0 - $1) <= 1e-5 + 1e-4 * abs($1) })
    }
}

extension TransformerKernelTests {
    @Test(arguments: [2, 12, 16, 34])
    func ropeMatchesThePlainKernelAndInverts(headSize: Int) throws {
        let (t, heads) = (5, 2)
        var rng = SeededRandom(seed: UInt64(headSize))
        let x = Tensor.randomNormal([2, t, heads * headSize], using: &rng)
        let half = headSize / 2
        var cos = [Float](repeating: 0, count: t * half)
        var sin = [Float](repeating: 0, count: t * half)
        for p in 0..<t {
            for i in 0..<half {
                let angle = Double(p) * pow(10_000, -2 * Double(i) / Double(headSize))
                cos[p * half + i] = Float(Foundation.cos(angle))
                sin[p * half + i] = Float(Foundation.sin(angle))
            }
        }
        var y = x.scalars
        func rotate(inverse: Bool) {
            y.withUnsafeMutableBufferPointer { yp in
                Fused.rope(
                    yp.baseAddress!, cos: cos, sin: sin, rows: 2 * t, context: t, columns: heads * headSize,
                    headSize: headSize, inverse: inverse)
            }
        }
        rotate(inverse: false)
        let expected = try NN.rope(x, heads: heads)
        #expect(zip(y, expected.scalars).allSatisfy { abs($0 - $1) <= 1e-5 })
        rotate(inverse: true)
        #expect(zip(y, x.scalars).allSatisfy { abs($0 - $1) <= 1e-5 })
    }
}
