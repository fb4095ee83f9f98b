import Testing

@testable import TensorRuntime

private typealias FD = FiniteDifference

@Suite struct AutodiffTests {
    // MARK: Every operation against finite differences

    @Test func matmulGradientMatchesFiniteDifferences() throws {
        try FD.checkTape("matmul", [FD.random([3, 4], seed: 1), FD.random([4, 2], seed: 2)]) { tape, x in
            try tape.matmul(x[0], x[1])
        }
    }

    @Test func linearGradientMatchesFiniteDifferences() throws {
        try FD.checkTape("linear", [FD.random([2, 3, 4], seed: 3), FD.random([5, 4], seed: 4)]) { tape, x in
            try tape.linear(x[0], weight: x[1])
        }
    }

    @Test func elementwiseGradientsMatchFiniteDifferences() throws {
        let inputs = [FD.random([2, 3], seed: 5), FD.random([2, 3], seed: 6)]
        try FD.checkTape("add", inputs) { tape, x in try tape.add(x[0], x[1]) }
        try FD.checkTape("mul", inputs) { tape, x in try tape.mul(x[0], x[1]) }
        try FD.checkTape("scale", inputs) { tape, x in tape.scale(x[0], by: -2.5) }
        try FD.checkTape("gelu", inputs) { tape, x in tape.gelu(x[0]) }
        try FD.checkTape("silu", inputs) { tape, x in tape.silu(x[1]) }
        try FD.checkTape("swiglu", inputs) { tape, x in try tape.swiglu(gate: x[0], up: x[1]) }
        try FD.checkTape("softmax", inputs) { tape, x in tape.softmax(x[0]) }
    }

    @Test func reductionAndReshapeGradientsMatchFiniteDifferences() throws {
        let inputs = [FD.random([2, 3], seed: 7)]
        try FD.checkTape("sum", inputs) { tape, x in tape.sum(x[0]) }
        try FD.checkTape("mean", inputs) { tape, x in tape.mean(x[0]) }
        try FD.checkTape("reshape", inputs) { tape, x in try tape.reshaped(tape.gelu(x[0]), to: [3, -1]) }
    }

    @Test func addBiasGradientMatchesFiniteDifferences() throws {
        try FD.checkTape("add_bias", [FD.random([2, 3, 5], seed: 8), FD.random([5], seed: 9)]) { tape, x in
            try tape.addBias(x[0], x[1])
        }
    }

    @Test func embeddingGradientMatchesFiniteDifferences() throws {
        try FD.checkTape("embedding", [FD.random([5, 3], seed: 10)]) { tape, x in
            try tape.embedding(x[0], ids: [1, 4, 1, 0])
        }
    }

    @Test func normalisationGradientsMatchFiniteDifferences() throws {
        let inputs = [FD.random([3, 5], seed: 11), FD.random([5], seed: 12)]
        try FD.checkTape("layer_norm", inputs) { tape, x in try tape.layerNorm(x[0], weight: x[1]) }
        try FD.checkTape("rms_norm", inputs) { tape, x in try tape.rmsNorm(x[0], weight: x[1]) }
    }

    @Test func ropeAndAttentionGradientsMatchFiniteDifferences() throws {
        let shape = Shape([2, 3, 4])
        let inputs = [FD.random(shape, seed: 13), FD.random(shape, seed: 14), FD.random(shape, seed: 15)]
        try FD.checkTape("rope", inputs) { tape, x in try tape.rope(x[0], heads: 2) }
        try FD.checkTape("attention", inputs) { tape, x in
            try tape.attention(q: tape.rope(x[0], heads: 2), k: tape.rope(x[1], heads: 2), v: x[2], heads: 2)
        }
    }

    @Test func crossEntropyGradientMatchesFiniteDifferences() throws {
        try FD.checkTape("cross_entropy", [FD.random([3, 5], seed: 16, std: 2)]) { tape, x in
            try tape.crossEntropy(logits: x[0], targets: [4, 0, 2])
        }
    }

    // MARK: Accumulation

    @Test func aVariableUsedTwiceCollectsBothContributions() throws {
        // y = Σ (x·x + x): dy/dx = 2x + 1.
        var tape = Tape()
        let x = tape.parameter(Tensor([1, -2, 3]))
        let y = try tape.sum(tape.add(tape.mul(x, x), x))
        try tape.backward(from: y)
        #expect(tape.gradient(of: x).scalars == [3, -3, 7])
    }

    @Test func oneValueInSeveralOperandSlotsOfOneOperationCollectsEveryShare() throws {
        try FD.checkTape("self-attention", [FD.random([1, 4, 4], seed: 25)]) { tape, x in
            try tape.attention(q: x[0], k: x[0], v: x[0], heads: 2)
        }
        try FD.checkTape("swiglu(x, x)", [FD.random([5], seed: 26)]) { tape, x in try tape.swiglu(gate: x[0], up: x[0])
        }
        try FD.checkTape("matmul(x, x)", [FD.random([3, 3], seed: 27)]) { tape, x in try tape.matmul(x[0], x[0]) }
        try FD.checkTape("layer_norm(x, x)", [FD.random([1, 4], seed: 28)]) { tape, x in
            try tape.layerNorm(tape.reshaped(x[0], to: [1, 4]), weight: tape.reshaped(x[0], to: [4]))
        }
    }

    @Test func aValueFeedingTwoBranchesCollectsBothGradients() throws {
        // h = gelu(x) feeds both a linear layer and a residual add.
        try FD.checkTape("branches", [FD.random([2, 3], seed: 17), FD.random([3, 3], seed: 18)]) { tape, x in
            let h = tape.gelu(x[0])
            return try tape.add(tape.linear(h, weight: x[1]), h)
        }
    }

    @Test func constantsAndUnusedParametersGetZeroGradients() throws {
        var tape = Tape()
        let c = tape.constant(Tensor([1, 2]))
        let p = tape.parameter(Tensor([3, 4]))
        let unused = tape.parameter(Tensor([5]))
        let loss = try tape.sum(tape.mul(c, p))
        try tape.backward(from: loss)
        #expect(tape.gradient(of: p).scalars == [1, 2])
        #expect(tape.gradient(of: c).scalars == [0, 0])
        #expect(tape.gradient(of: unused).scalars == [0])
    }

    @Test func backwardTwiceReplacesRatherThanAddsGradients() throws {
        var tape = Tape()
        let x = tape.parameter(Tensor([1, 2]))
        let loss = tape.sum(tape.scale(x, by: 3))
        try tape.backward(from: loss)
        try tape.backward(from: loss)
        #expect(tape.gradient(of: x).scalars == [3, 3])
    }

    @Test func backwardRejectsANonScalarLoss() throws {
        var tape = Tape()
        let x = tape.parameter(Tensor([1, 2]))
        #expect(throws: TensorError("backward", "loss %0 has shape [2]; expected a single element")) {
            try tape.backward(from: x)
        }
    }

    @Test func resetTapeGivesTheSameGradientsOnTheNextStep() throws {
        var tape = Tape()
        var seen: [Tensor] = []
        for _ in 0..<3 {
            tape.reset()
            let w = tape.parameter(FD.random([4, 3], seed: 19))
            let x = tape.constant(FD.random([2, 3], seed: 20))
            let loss = try tape.crossEntropy(logits: tape.linear(x, weight: w), targets: [1, 3])
            try tape.backward(from: loss)
            seen.append(tape.gradient(of: w))
        }
        #expect(seen[0] == seen[1] && seen[1] == seen[2])
        #expect(tape.count == 4)
    }

    @Test func tapeOperationsReportShapeErrorsLedByTheOperation() {
        var tape = Tape()
        let a = tape.parameter(.zeros([2, 3]))
        let b = tape.parameter(.zeros([3, 2]))
        #expect(throws: TensorError("add", "shapes differ: [2, 3] vs [3, 2]")) { try tape.add(a, b) }
        #expect(throws: TensorError("cross_entropy", "target 7 at row 0 is out of range 0..<3")) {
            try tape.crossEntropy(logits: a, targets: [7, 0])
        }
    }

    // MARK: Models

    @Test func twoLayerPerceptronGradientsMatchFiniteDifferences() throws {
        // logits = W2·gelu(W1·x + b1); loss = cross-entropy.
        let inputs = [FD.random([5, 4], seed: 21), FD.random([5], seed: 22), FD.random([3, 5], seed: 23)]
        let x = FD.random([6, 4], seed: 24)
        let targets: [Int32] = [0, 2, 1, 1, 0, 2]
        func loss(_ p: [Tensor]) throws -> (Tape, [Variable], Variable) {
            var tape = Tape()
            let params = p.map { tape.parameter($0) }
            let input = tape.constant(x)
            let hidden = try tape.gelu(tape.addBias(tape.linear(input, weight: params[0]), params[1]))
            let logits = try tape.linear(hidden, weight: params[2])
            let loss = try tape.crossEntropy(logits: logits, targets: targets)
            return (tape, params, loss)
        }
        var (tape, params, l) = try loss(inputs)
        try tape.backward(from: l)
        for i in inputs.indices {
            let numeric = try FD.numericalGradient(inputs, wrt: i) { p in
                let (t, _, out) = try loss(p)
                return try t.value(of: out).scalar
            }
            FD.expectMatch(tape.gradient(of: params[i]), numeric, "mlp parameter \(i)")
        }
    }

    @Test func decoderBlockGradientsMatchFiniteDifferences() throws {
        // A LLaMA-style block: embedding, RMSNorm, q/k/v, RoPE, causal attention, output
        // projection and residual, RMSNorm, SwiGLU MLP and residual, then the LM head.
        let (b, t, c, heads, v, hidden) = (2, 3, 4, 2, 5, 6)
        let ids: [Int32] = [0, 4, 2, 2, 1, 3]
        let targets: [Int32] = [4, 2, 2, 1, 3, 0]
        let shapes: [Shape] = [
            [v, c], [c], [c, c], [c, c], [c, c], [c, c], [c], [hidden, c], [hidden, c], [c, hidden], [v, c],
        ]
        let inputs = shapes.enumerated().map { FD.random($0.element, seed: 30 + UInt64($0.offset), std: 0.7) }
        func forward(_ p: [Tensor]) throws -> (Tape, [Variable], Variable) {
            var tape = Tape()
            let w = p.map { tape.parameter($0) }
            let x = try tape.reshaped(tape.embedding(w[0], ids: ids), to: [b, t, c])
            let n1 = try tape.rmsNorm(x, weight: w[1])
            let q = try tape.rope(tape.linear(n1, weight: w[2]), heads: heads)
            let k = try tape.rope(tape.linear(n1, weight: w[3]), heads: heads)
            let vv = try tape.linear(n1, weight: w[4])
            let attended = try tape.attention(q: q, k: k, v: vv, heads: heads)
            let x2 = try tape.add(x, tape.linear(attended, weight: w[5]))
            let n2 = try tape.rmsNorm(x2, weight: w[6])
            let gated = try tape.swiglu(gate: tape.linear(n2, weight: w[7]), up: tape.linear(n2, weight: w[8]))
            let x3 = try tape.add(x2, tape.linear(gated, weight: w[9]))
            let logits = try tape.reshaped(tape.linear(x3, weight: w[10]), to: [b * t, v])
            let loss = try tape.crossEntropy(logits: logits, targets: targets)
            return (tape, w, loss)
        }
        var (tape, params, loss) = try forward(inputs)
        try tape.backward(from: loss)
        for i in inputs.indices {
            let numeric = try FD.numericalGradient(inputs, wrt: i) { p in
                let (t, _, out) = try forward(p)
                return try t.value(of: out).scalar
            }
            FD.expectMatch(tape.gradient(of: params[i]), numeric, "block parameter \(i)")
        }
    }
}
