import Foundation
import Testing

@testable import TensorRuntime

private typealias FD = FiniteDifference

@Suite struct NNTests {
    // MARK: Embedding

    @Test func embeddingCopiesTheSelectedRows() throws {
        let table = try Tensor(rows: [[0, 1], [10, 11], [20, 21]])
        let out = try NN.embedding(table, ids: [2, 0, 2])
        #expect(out.shape == [3, 2])
        #expect(out.scalars == [20, 21, 0, 1, 20, 21])
    }

    @Test func embeddingRejectsAnOutOfRangeId() throws {
        let table = Tensor.zeros([3, 2])
        #expect(throws: TensorError("embedding", "token id 3 at position 1 is out of range 0..<3")) {
            try NN.embedding(table, ids: [0, 3])
        }
        #expect(throws: TensorError.self) { try NN.embedding(table, ids: [-1]) }
    }

    @Test func embeddingBackwardAccumulatesRepeatedIds() {
        var dTable = Tensor.zeros([3, 2])
        let dOut = try! Tensor(rows: [[1, 2], [3, 4], [5, 6]])
        NN.embeddingBackward(dOut, ids: [1, 1, 0], dTable: &dTable)
        #expect(dTable.scalars == [5, 6, 4, 6, 0, 0])
    }

    @Test func embeddingGradientMatchesFiniteDifferences() throws {
        let ids: [Int32] = [4, 0, 4, 2, 1, 4, 3]
        try FD.checkKernel(
            "embedding", [FD.random([5, 3], seed: 1)],
            forward: { try NN.embedding($0[0], ids: ids) },
            backward: { d, _, g in NN.embeddingBackward(d, ids: ids, dTable: &g[0]) })
    }

    // MARK: Normalisation

    @Test func layerNormRowsHaveZeroMeanAndUnitVariance() throws {
        let x = FD.random([4, 7], seed: 2, std: 3)
        let (y, mean, rstd) = try NN.layerNorm(x, weight: .ones([7]))
        #expect(mean.shape == [4] && rstd.shape == [4])
        for i in 0..<4 {
            let row = Array(y.scalars[(i * 7)..<(i * 7 + 7)])
            let m = row.reduce(0, +) / 7
            let variance = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 7
            #expect(abs(m) < 1e-5)
            #expect(abs(variance - 1) < 1e-3)
        }
    }

    @Test(arguments: [[2, 3, 4], [3, 5], [1, 1]])
    func layerNormGradientMatchesFiniteDifferences(dims: [Int]) throws {
        let shape = Shape(dims)
        let c = dims.last!
        try FD.checkKernel(
            "layer_norm \(dims)", [FD.random(shape, seed: 3), FD.random([c], seed: 4)],
            forward: { try NN.layerNorm($0[0], weight: $0[1]).output },
            backward: { d, x, g in
                let r = try NN.layerNorm(x[0], weight: x[1])
                var (dx, dw) = (g[0], g[1])
                NN.layerNormBackward(
                    d, input: x[0], weight: x[1], mean: r.mean, rstd: r.rstd, dInput: &dx, dWeight: &dw)
                g = [dx, dw]
            })
    }

    @Test func rmsNormRowsHaveUnitRootMeanSquare() throws {
        let x = FD.random([3, 5], seed: 5, std: 4)
        let (y, rstd) = try NN.rmsNorm(x, weight: .ones([5]))
        #expect(rstd.shape == [3])
        for i in 0..<3 {
            let row = y.scalars[(i * 5)..<(i * 5 + 5)]
            #expect(abs(row.map { $0 * $0 }.reduce(0, +) / 5 - 1) < 1e-3)
        }
    }

    @Test(arguments: [[2, 3, 4], [3, 5]])
    func rmsNormGradientMatchesFiniteDifferences(dims: [Int]) throws {
        let c = dims.last!
        try FD.checkKernel(
            "rms_norm \(dims)", [FD.random(Shape(dims), seed: 6), FD.random([c], seed: 7)],
            forward: { try NN.rmsNorm($0[0], weight: $0[1]).output },
            backward: { d, x, g in
                let r = try NN.rmsNorm(x[0], weight: x[1])
                var (dx, dw) = (g[0], g[1])
                NN.rmsNormBackward(d, input: x[0], weight: x[1], rstd: r.rstd, dInput: &dx, dWeight: &dw)
                g = [dx, dw]
            })
    }

    @Test func normalisationRejectsAMismatchedWeight() {
        #expect(throws: TensorError("layer_norm", "weight of shape [3] does not match input [2, 4]")) {
            try NN.layerNorm(.zeros([2, 4]), weight: .ones([3]))
        }
        #expect(throws: TensorError.self) { try NN.rmsNorm(.zeros([2, 4]), weight: .ones([2, 2])) }
    }

    // MARK: Softmax and cross-entropy

    @Test func softmaxRowsSumToOne() {
        let y = NN.softmax(FD.random([3, 5], seed: 8, std: 2))
        for i in 0..<3 {
            #expect(abs(y.scalars[(i * 5)..<(i * 5 + 5)].reduce(0, +) - 1) < 1e-6)
        }
        #expect(y.scalars.allSatisfy { $0 > 0 })
    }

    @Test func softmaxIsStableForLargeLogits() throws {
        let large = NN.softmax(try Tensor(rows: [[1000, 1001, 1002]]))
        let small = NN.softmax(try Tensor(rows: [[0, 1, 2]]))
        #expect(large.scalars.allSatisfy { $0.isFinite })
        #expect(allClose(large, small, rtol: 1e-6))
    }

    @Test func softmaxGradientMatchesFiniteDifferences() throws {
        try FD.checkKernel(
            "softmax", [FD.random([2, 3, 5], seed: 9)],
            forward: { NN.softmax($0[0]) },
            backward: { d, x, g in NN.softmaxBackward(d, output: NN.softmax(x[0]), dInput: &g[0]) })
    }

    @Test func crossEntropyOfUniformLogitsIsLogOfVocabulary() throws {
        let (loss, probabilities) = try NN.crossEntropy(logits: .zeros([4, 5]), targets: [0, 1, 4, 2])
        #expect(isClose(loss, Float(log(5.0)), rtol: 1e-6))
        #expect(probabilities.scalars.allSatisfy { isClose($0, 0.2) })
    }

    @Test func crossEntropyIsStableForLargeLogits() throws {
        let (loss, _) = try NN.crossEntropy(logits: try Tensor(rows: [[1000, 0, -1000]]), targets: [0])
        #expect(loss.isFinite && abs(loss) < 1e-6)
    }

    @Test func crossEntropyRejectsOutOfRangeTargetsAndMiscounts() {
        #expect(throws: TensorError("cross_entropy", "target 5 at row 1 is out of range 0..<5")) {
            try NN.crossEntropy(logits: .zeros([2, 5]), targets: [0, 5])
        }
        #expect(throws: TensorError("cross_entropy", "1 targets for 2 rows of logits [2, 5]")) {
            try NN.crossEntropy(logits: .zeros([2, 5]), targets: [0])
        }
    }

    @Test func crossEntropyGradientMatchesFiniteDifferences() throws {
        let targets: [Int32] = [3, 0, 4]
        let upstream: Float = 0.7
        let logits = FD.random([3, 5], seed: 10, std: 2)
        var dLogits = Tensor.zeros([3, 5])
        let (_, p) = try NN.crossEntropy(logits: logits, targets: targets)
        NN.crossEntropyBackward(probabilities: p, targets: targets, dLoss: upstream, dLogits: &dLogits)
        let numeric = try FD.numericalGradient([logits], wrt: 0) {
            try upstream * NN.crossEntropy(logits: $0[0], targets: targets).loss
        }
        FD.expectMatch(dLogits, numeric, "cross_entropy")
    }

    // MARK: Attention

    @Test func attentionAtTheFirstPositionReturnsTheFirstValue() throws {
        let (q, k, v) = (
            FD.random([2, 3, 4], seed: 11), FD.random([2, 3, 4], seed: 12), FD.random([2, 3, 4], seed: 13)
        )
        let (out, probabilities) = try NN.attention(q: q, k: k, v: v, heads: 2)
        #expect(probabilities.shape == [2, 2, 3, 3])
        for b in 0..<2 {
            for c in 0..<4 { #expect(isClose(out[b, 0, c], v[b, 0, c])) }
        }
    }

    @Test func attentionIgnoresFuturePositions() throws {
        let (q, k) = (FD.random([1, 4, 6], seed: 14), FD.random([1, 4, 6], seed: 15))
        var v = FD.random([1, 4, 6], seed: 16)
        var kFuture = k
        let before = try NN.attention(q: q, k: k, v: v, heads: 3).output
        for c in 0..<6 {
            v[0, 3, c] += 5
            kFuture[0, 3, c] -= 2
        }
        let after = try NN.attention(q: q, k: kFuture, v: v, heads: 3).output
        #expect(before.scalars[0..<18] == after.scalars[0..<18])
        #expect(before.scalars[18...] != after.scalars[18...])
    }

    @Test func attentionProbabilityRowsSumToOneBelowTheDiagonal() throws {
        let x = FD.random([1, 4, 4], seed: 17)
        let p = try NN.attention(q: x, k: x, v: x, heads: 1).probabilities
        for t in 0..<4 {
            let row = p.scalars[(t * 4)..<(t * 4 + 4)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-6)
            #expect(row.dropFirst(t + 1).allSatisfy { $0 == 0 })
        }
    }

    @Test(arguments: [(2, 3, 4, 2), (1, 5, 6, 3), (3, 1, 2, 1)])
    func attentionGradientMatchesFiniteDifferences(b: Int, t: Int, c: Int, heads: Int) throws {
        let shape = Shape([b, t, c])
        try FD.checkKernel(
            "attention B=\(b) T=\(t) C=\(c) H=\(heads)",
            [FD.random(shape, seed: 18), FD.random(shape, seed: 19), FD.random(shape, seed: 20)],
            forward: { try NN.attention(q: $0[0], k: $0[1], v: $0[2], heads: heads).output },
            backward: { d, x, g in
                let p = try NN.attention(q: x[0], k: x[1], v: x[2], heads: heads).probabilities
                var (dq, dk, dv) = (g[0], g[1], g[2])
                NN.attentionBackward(
                    d, q: x[0], k: x[1], v: x[2], probabilities: p, heads: heads, dq: &dq, dk: &dk, dv: &dv)
                g = [dq, dk, dv]
            })
    }

    @Test func attentionRejectsChannelsThatDoNotSplitIntoHeads() {
        let x = Tensor.zeros([1, 2, 5])
        #expect(throws: TensorError("attention", "5 channels do not split into 2 heads")) {
            try NN.attention(q: x, k: x, v: x, heads: 2)
        }
    }

    @Test func attentionIsTheSameOnOneThreadAndOnMany() throws {
        let shape = Shape([3, 5, 8])
        let (q, k, v) = (FD.random(shape, seed: 21), FD.random(shape, seed: 22), FD.random(shape, seed: 23))
        func run() throws -> [Tensor] {
            let (out, p) = try NN.attention(q: q, k: k, v: v, heads: 4)
            var (dq, dk, dv) = (Tensor.zeros(shape), Tensor.zeros(shape), Tensor.zeros(shape))
            NN.attentionBackward(q, q: q, k: k, v: v, probabilities: p, heads: 4, dq: &dq, dk: &dk, dv: &dv)
            return [out, dq, dk, dv]
        }
        let serial = try Parallel.withThreadCount(1, run)
        let parallel = try Parallel.withThreadCount(4, run)
        #expect(serial.parallelLoops == 0)
        #expect(parallel.parallelLoops > 0, "attention split over threads")
        #expect(serial.result == parallel.result)
    }

    // MARK: Activations

    @Test func geluMatchesKnownValues() throws {
        let y = NN.gelu(Tensor([0, 1, -1, 3]))
        #expect(allClose(y.scalars, [0, 0.841_192, -0.158_808, 2.996_363], rtol: 1e-5, atol: 1e-6))
    }

    @Test func siluMatchesKnownValues() {
        let y = NN.silu(Tensor([0, 1, -2]))
        #expect(allClose(y.scalars, [0, 0.731_058_6, -0.238_405_8], rtol: 1e-5, atol: 1e-6))
    }

    @Test func geluGradientMatchesFiniteDifferences() throws {
        try FD.checkKernel(
            "gelu", [FD.random([3, 5], seed: 24, std: 2)],
            forward: { NN.gelu($0[0]) },
            backward: { d, x, g in NN.geluBackward(d, input: x[0], dInput: &g[0]) })
    }

    @Test func siluGradientMatchesFiniteDifferences() throws {
        try FD.checkKernel(
            "silu", [FD.random([7], seed: 25, std: 2)],
            forward: { NN.silu($0[0]) },
            backward: { d, x, g in NN.siluBackward(d, input: x[0], dInput: &g[0]) })
    }

    @Test func swigluGradientMatchesFiniteDifferences() throws {
        try FD.checkKernel(
            "swiglu", [FD.random([2, 3], seed: 26, std: 2), FD.random([2, 3], seed: 27)],
            forward: { try NN.swiglu(gate: $0[0], up: $0[1]) },
            backward: { d, x, g in
                var (da, db) = (g[0], g[1])
                NN.swigluBackward(d, gate: x[0], up: x[1], dGate: &da, dUp: &db)
                g = [da, db]
            })
    }

    @Test func swigluRejectsDifferentShapes() {
        #expect(throws: TensorError("swiglu", "gate and up differ in shape: [2] vs [3]")) {
            try NN.swiglu(gate: .zeros([2]), up: .zeros([3]))
        }
    }

    // MARK: Rotary embedding

    @Test func ropeLeavesPositionZeroUnchangedAndPreservesPairNorms() throws {
        let x = FD.random([2, 4, 8], seed: 28)
        let y = try NN.rope(x, heads: 2)
        #expect(y.scalars[0..<8] == x.scalars[0..<8])
        for i in stride(from: 0, to: x.count, by: 2) {
            let before = x.scalars[i] * x.scalars[i] + x.scalars[i + 1] * x.scalars[i + 1]
            let after = y.scalars[i] * y.scalars[i] + y.scalars[i + 1] * y.scalars[i + 1]
            #expect(isClose(before, after, rtol: 1e-5))
        }
    }

    @Test func ropeRotatesTheFirstPairByThePosition() throws {
        // Position 1, pair 0: angle 1 radian; the vector (1, 0) becomes (cos 1, sin 1).
        var x = Tensor.zeros([1, 2, 2])
        x[0, 1, 0] = 1
        let y = try NN.rope(x, heads: 1)
        #expect(isClose(y[0, 1, 0], Float(cos(1.0))) && isClose(y[0, 1, 1], Float(sin(1.0))))
    }

    /// RoFormer's definition, written with complex numbers: in each head, channels 2k and
    /// 2k+1 at position t are the complex number z = x₂ₖ + i·x₂ₖ₊₁, and RoPE multiplies it by
    /// e^{i·t·θₖ} with θₖ = base^(−2k/hd).
    @Test(arguments: [(10_000.0, 2, 8), (100.0, 3, 4), (10_000.0, 1, 2)])
    func ropeMultipliesEachPairByAUnitComplexNumber(base: Double, heads: Int, headSize: Int) throws {
        let (batch, context) = (2, 7)
        let x = FD.random([batch, context, heads * headSize], seed: 40)
        let y = try NN.rope(x, heads: heads, base: Float(base))
        for b in 0..<batch {
            for t in 0..<context {
                for h in 0..<heads {
                    for k in 0..<(headSize / 2) {
                        let c = h * headSize + 2 * k
                        let z = Complex(re: Double(x[b, t, c]), im: Double(x[b, t, c + 1]))
                        let theta = pow(base, -2 * Double(k) / Double(headSize))
                        let turned = z * .unit(Double(t) * theta)
                        #expect(abs(Double(y[b, t, c]) - turned.re) <= 1e-5, "b \(b) t \(t) channel \(c)")
                        #expect(abs(Double(y[b, t, c + 1]) - turned.im) <= 1e-5, "b \(b) t \(t) channel \(c + 1)")
                    }
                }
            }
        }
    }

    @Test func ropeOnHeadsLayoutEqualsRopeOnChannels() throws {
        let x = FD.random([2, 3, 12], seed: 29)
        let channels = try NN.rope(x, heads: 3)
        let heads = try NN.rope(x.reshaped([2, 3, 3, 4]), heads: 3)
        #expect(heads.shape == [2, 3, 3, 4])
        #expect(heads.scalars == channels.scalars)
    }

    @Test func ropeRejectsOddHeadSizes() {
        #expect(throws: TensorError("rope", "head size 3 is odd; rotary pairs need an even head size")) {
            try NN.rope(.zeros([1, 2, 6]), heads: 2)
        }
        #expect(throws: TensorError("rope", "expects [B, T, C] or [B, T, H, hd], got [2, 6]")) {
            try NN.rope(.zeros([2, 6]), heads: 2)
        }
    }

    @Test func ropeGradientMatchesFiniteDifferences() throws {
        try FD.checkKernel(
            "rope", [FD.random([2, 3, 4], seed: 30)],
            forward: { try NN.rope($0[0], heads: 2) },
            backward: { d, _, g in NN.ropeBackward(d, heads: 2, dInput: &g[0]) })
        try FD.checkKernel(
            "rope heads layout", [FD.random([1, 5, 2, 6], seed: 31)],
            forward: { try NN.rope($0[0], heads: 2, base: 100) },
            backward: { d, _, g in NN.ropeBackward(d, heads: 2, base: 100, dInput: &g[0]) })
    }

    // MARK: Linear

    @Test func linearMatchesMatmulWithTheTransposedWeight() throws {
        let x = FD.random([3, 4], seed: 32)
        let w = FD.random([5, 4], seed: 33)
        let y = try NN.linear(x, weight: w)
        #expect(allClose(y, try x.matmul(w, transposeOther: true), rtol: 1e-5))
    }

    @Test func linearRejectsAMismatchedWeight() {
        #expect(throws: TensorError("linear", "input [2, 3] does not fit weight [4, 2] ([out, in])")) {
            try NN.linear(.zeros([2, 3]), weight: .zeros([4, 2]))
        }
    }

    @Test func linearGradientMatchesFiniteDifferences() throws {
        try FD.checkKernel(
            "linear", [FD.random([2, 3, 4], seed: 34), FD.random([5, 4], seed: 35)],
            forward: { try NN.linear($0[0], weight: $0[1]) },
            backward: { d, x, g in
                var dx: Tensor? = g[0]
                var dw: Tensor? = g[1]
                NN.linearBackward(d, input: x[0], weight: x[1], dInput: &dx, dWeight: &dw)
                g = [dx!, dw!]
            })
    }

    @Test func addBiasGradientMatchesFiniteDifferences() throws {
        try FD.checkKernel(
            "add_bias", [FD.random([2, 3, 5], seed: 36), FD.random([5], seed: 37)],
            forward: { try NN.addBias($0[0], $0[1]) },
            backward: { d, _, g in
                for i in 0..<d.count { g[0].scalars[i] += d.scalars[i] }
                NN.addBiasBackward(d, dBias: &g[1])
            })
    }
}

/// Complex numbers in `Double`, for the rotary-embedding reference.
private struct Complex {
    var re: Double
    var im: Double
    static func * (a: Complex, b: Complex) -> Complex {
        Complex(re: a.re * b.re - a.im * b.im, im: a.re * b.im + a.im * b.re)
    }
    /// e^{iφ}.
    static func unit(_ angle: Double) -> Complex { Complex(re: cos(angle), im: sin(angle)) }
}
