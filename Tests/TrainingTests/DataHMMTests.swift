import Foundation
import TensorRuntime
import Testing

@testable import Training

@Suite struct DataHMMTests {
    /// A doubly stochastic chain, so its stationary distribution is uniform.
    static let transitions: [[Double]] = [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5]]
    static let emissions: [[Double]] = [[0.7, 0.2, 0.1, 0], [0, 0.1, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]]
    static let tiny = SyntheticHMM(transitions: transitions, emissions: emissions)

    /// P(x_1...x_n) summed over every hidden path, starting from the uniform distribution.
    static func bruteForceProbability(_ tokens: [Int32]) -> Double {
        let states = transitions.count
        var total = 0.0
        var path = [Int](repeating: 0, count: tokens.count)
        for code in 0..<Int(pow(Double(states), Double(tokens.count))) {
            var rest = code
            for i in path.indices {
                path[i] = rest % states
                rest /= states
            }
            var p = 1.0 / Double(states) * emissions[path[0]][Int(tokens[0])]
            for i in 1..<tokens.count {
                p *= transitions[path[i - 1]][path[i]] * emissions[path[i]][Int(tokens[i])]
            }
            total += p
        }
        return total
    }

    @Test func stationaryDistributionOfADoublyStochasticChainIsUniform() {
        for p in Self.tiny.stationary { #expect(abs(p - 1.0 / 3) < 1e-12) }
    }

    @Test func bayesLossMatchesBruteForceOverHiddenPaths() throws {
        let (count, context) = (6, 4)
        let (inputs, targets) = Self.tiny.validationWindows(count: count, context: context)
        var total = 0.0
        for row in 0..<count {
            let window = Array(inputs[(row * context)..<((row + 1) * context)]) + [targets[(row + 1) * context - 1]]
            // Σ_t -log P(x_{t+1} | x_1...x_t) telescopes to -log P(x_1...x_5) + log P(x_1).
            total += -log(Self.bruteForceProbability(window)) + log(Self.bruteForceProbability([window[0]]))
        }
        let expected = total / Double(count * context)
        let bayes = try #require(Self.tiny.bayesLoss(count: count, context: context))
        #expect(abs(bayes - expected) < 1e-12)
    }

    @Test func generatedTokensFollowTheSourceBigramFrequencies() {
        var rng = SeededRandom(seed: 11)
        var inputs: [Int32] = []
        var targets: [Int32] = []
        Self.tiny.trainBatch(batch: 400, context: 32, inputs: &inputs, targets: &targets) { rng.nextInt(below: $0) }
        var counts = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
        for (a, b) in zip(inputs, targets) { counts[Int(a)][Int(b)] += 1 }
        let n = Double(inputs.count)
        for a in 0..<4 {
            for b in 0..<4 {
                // P(x_t = a, x_{t+1} = b) = Σ_{s,s'} π_s B[s][a] A[s][s'] B[s'][b]
                var expected = 0.0
                for s in 0..<3 {
                    for t in 0..<3 {
                        expected += Self.emissions[s][a] * Self.transitions[s][t] * Self.emissions[t][b] / 3
                    }
                }
                #expect(abs(counts[a][b] / n - expected) < 0.01, "bigram \(a) \(b)")
            }
        }
    }

    @Test func defaultSourceIsLearnableButNotTrivial() throws {
        let source = SyntheticHMM()
        let bayes = try #require(source.bayesLoss(count: 16, context: 64))
        let (inputs, targets) = source.validationWindows(count: 16, context: 64)
        var counts = [Double](repeating: 0, count: 64)
        for token in targets { counts[Int(token)] += 1 }
        let unigramEntropy = counts.filter { $0 > 0 }.reduce(0.0) {
            $0 - $1 / Double(targets.count) * log($1 / Double(targets.count))
        }
        #expect(inputs.allSatisfy { $0 >= 0 && $0 < 64 })
        #expect(bayes > 0.5)
        #expect(bayes < unigramEntropy - 0.5)
        #expect(unigramEntropy < log(64.0))
    }

    @Test func sourceIsFixedByItsSeed() {
        let (a, _) = SyntheticHMM(seed: 1).validationWindows(count: 2, context: 16)
        let (b, _) = SyntheticHMM(seed: 1).validationWindows(count: 2, context: 16)
        let (c, _) = SyntheticHMM(seed: 2).validationWindows(count: 2, context: 16)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func moreValidationWindowsExtendTheFewer() {
        let source = SyntheticHMM()
        let few = source.validationWindows(count: 2, context: 16)
        let many = source.validationWindows(count: 5, context: 16)
        #expect(Array(many.inputs.prefix(32)) == few.inputs)
        #expect(Array(many.targets.prefix(32)) == few.targets)
    }

    @Test func trainingAndValidationWindowsDiffer() {
        let source = SyntheticHMM()
        var inputs: [Int32] = []
        var targets: [Int32] = []
        // Stream 0 is the first training stream and would be the first validation stream
        // if the families overlapped.
        source.trainBatch(batch: 1, context: 32, inputs: &inputs, targets: &targets) { _ in 0 }
        #expect(inputs != source.validationWindows(count: 1, context: 32).inputs)
    }
}
