import Foundation
import TensorRuntime

/// The default data: a seeded hidden Markov source generated on the fly.
///
/// Each hidden state moves to one of a few successor states and emits one of a few tokens,
/// with Dirichlet-distributed probabilities, all drawn from `SeededRandom(seed:)`. One
/// successor of state `s` is always `s + 1` (mod the state count), so the chain is
/// irreducible and has one stationary distribution, which every window starts from.
///
/// The source is fixed by its seed alone, not by the training seed, so runs with different
/// training seeds learn the same language. Because the source is known,
/// ``bayesLoss(count:context:)`` gives the exact floor no model with that context can beat.
public struct SyntheticHMM: Dataset {
    /// The seed of the default source (independent of the training seed).
    public static let defaultSeed: UInt64 = 1
    /// The vocabulary of the default source.
    public static let defaultVocabularySize = 64

    /// The seed the source was drawn from; nil for a source given by explicit probabilities.
    public let seed: UInt64?
    /// Number of tokens (64 by default); some may never be emitted.
    public let vocabularySize: Int
    /// Number of hidden states.
    public let stateCount: Int
    /// The chain's stationary distribution over hidden states.
    public let stationary: [Double]

    // Sparse rows (compressed-row layout): row `s` is `start[s]..<start[s + 1]`.
    let successorStart: [Int]
    let successorState: [Int]
    let successorProbability: [Double]
    let emissionStart: [Int]
    let emissionToken: [Int32]
    let emissionProbability: [Double]
    /// `stateCount × vocabularySize` emission probabilities, for the forward algorithm.
    let emissionDense: [Double]

    /// Draws a source from `seed`.
    /// - Parameters:
    ///   - seed: fixes every probability of the source.
    ///   - vocabularySize: number of tokens.
    ///   - states: number of hidden states.
    ///   - successors: possible next states per state (at most `states`).
    ///   - emissions: possible tokens per state (at most `vocabularySize`).
    ///   - concentration: the Dirichlet parameter of every row; smaller is peakier.
    public init(
        seed: UInt64 = defaultSeed, vocabularySize: Int = defaultVocabularySize, states: Int = 32, successors: Int = 4,
        emissions: Int = 6, concentration: Double = 0.5
    ) {
        precondition(states > 1 && successors >= 1 && successors <= states, "bad successor count")
        precondition(emissions >= 1 && emissions <= vocabularySize, "bad emission count")
        var rng = SeededRandom(seed: seed)
        var transitions = [[Double]](repeating: [Double](repeating: 0, count: states), count: states)
        var emitting = [[Double]](repeating: [Double](repeating: 0, count: vocabularySize), count: states)
        for s in 0..<states {
            var next = [(s + 1) % states]
            while next.count < successors {
                let candidate = rng.nextInt(below: states)
                if !next.contains(candidate) { next.append(candidate) }
            }
            for (state, p) in zip(next, rng.nextDirichlet(count: successors, concentration: concentration)) {
                transitions[s][state] = p
            }
            var tokens: [Int] = []
            while tokens.count < emissions {
                let candidate = rng.nextInt(below: vocabularySize)
                if !tokens.contains(candidate) { tokens.append(candidate) }
            }
            for (token, p) in zip(tokens, rng.nextDirichlet(count: emissions, concentration: concentration)) {
                emitting[s][token] = p
            }
        }
        self.init(transitions: transitions, emissions: emitting, seed: seed)
    }

    /// A source given by dense probability tables (each row sums to 1); zero entries are
    /// dropped. The chain must be irreducible for the stationary distribution to be unique.
    /// - Parameters:
    ///   - transitions: `states × states`, row `s` is the distribution of the next state.
    ///   - emissions: `states × vocabularySize`, row `s` is the distribution of the token `s` emits.
    init(transitions: [[Double]], emissions: [[Double]], seed: UInt64? = nil) {
        let states = transitions.count
        precondition(states > 0 && emissions.count == states, "one emission row per state")
        let vocabulary = emissions[0].count
        var successorStart = [0]
        var successorState: [Int] = []
        var successorProbability: [Double] = []
        var emissionStart = [0]
        var emissionToken: [Int32] = []
        var emissionProbability: [Double] = []
        for s in 0..<states {
            precondition(transitions[s].count == states && emissions[s].count == vocabulary, "ragged tables")
            for (next, p) in transitions[s].enumerated() where p > 0 {
                successorState.append(next)
                successorProbability.append(p)
            }
            successorStart.append(successorState.count)
            for (token, p) in emissions[s].enumerated() where p > 0 {
                emissionToken.append(Int32(token))
                emissionProbability.append(p)
            }
            emissionStart.append(emissionToken.count)
        }
        self.seed = seed
        self.vocabularySize = vocabulary
        self.stateCount = states
        self.successorStart = successorStart
        self.successorState = successorState
        self.successorProbability = successorProbability
        self.emissionStart = emissionStart
        self.emissionToken = emissionToken
        self.emissionProbability = emissionProbability
        self.emissionDense = emissions.flatMap { $0 }
        self.stationary = Self.stationaryDistribution(
            start: successorStart, state: successorState, probability: successorProbability)
    }

    /// For logs, e.g. `synthetic hmm (seed 1, 64 tokens, 32 states)`.
    public var summary: String {
        let origin = seed.map { "seed \($0)" } ?? "explicit"
        return "synthetic hmm (\(origin), \(vocabularySize) tokens, \(stateCount) states)"
    }

    /// One window per row, each from its own generator seeded by the source's seed and one
    /// `draw`, starting from the stationary distribution.
    public func trainBatch(batch: Int, context: Int, inputs: inout [Int32], targets: inout [Int32], draw: (Int) -> Int)
    {
        resizeBatch(&inputs, &targets, count: batch * context)
        for row in 0..<batch {
            let stream = UInt64(draw(Self.trainingStreams))
            generateWindow(stream: stream, row: row, context: context, inputs: &inputs, targets: &targets)
        }
    }

    /// Window `k` comes from stream `k` of a family disjoint from the training streams, so
    /// the first `count` windows are the same whatever `count` is.
    public func validationWindows(count: Int, context: Int) -> (inputs: [Int32], targets: [Int32]) {
        var inputs = [Int32](repeating: 0, count: count * context)
        var targets = inputs
        for row in 0..<count {
            let stream = Self.validationStreamBase | UInt64(row)
            generateWindow(stream: stream, row: row, context: context, inputs: &inputs, targets: &targets)
        }
        return (inputs, targets)
    }

    /// Training windows come from streams `0..<trainingStreams`.
    static let trainingStreams = 1 << 31
    /// Validation windows come from streams at and above this base.
    static let validationStreamBase: UInt64 = 1 << 62

    private func generateWindow(
        stream: UInt64, row: Int, context: Int, inputs: inout [Int32], targets: inout [Int32]
    ) {
        var rng = SeededRandom(seed: mixSeeds(seed ?? 0, stream))
        var state = sample(stationary, in: 0..<stateCount, uniform: rng.nextUnitDouble())
        var token = emit(from: state, rng: &rng)
        let base = row * context
        for i in 0..<context {
            let range = successorStart[state]..<successorStart[state + 1]
            state = successorState[sample(successorProbability, in: range, uniform: rng.nextUnitDouble())]
            let next = emit(from: state, rng: &rng)
            inputs[base + i] = token
            targets[base + i] = next
            token = next
        }
    }

    private func emit(from state: Int, rng: inout SeededRandom) -> Int32 {
        let range = emissionStart[state]..<emissionStart[state + 1]
        return emissionToken[sample(emissionProbability, in: range, uniform: rng.nextUnitDouble())]
    }

    /// The index in `range` where the running sum of `probabilities` first exceeds `uniform`
    /// (the last index absorbs rounding).
    private func sample(_ probabilities: [Double], in range: Range<Int>, uniform: Double) -> Int {
        var remaining = uniform
        for i in range.dropLast() {
            remaining -= probabilities[i]
            if remaining < 0 { return i }
        }
        return range.upperBound - 1
    }

    /// Power iteration on the lazy chain `(I + P) / 2`, which has the same stationary
    /// distribution and converges even when the chain is periodic.
    private static func stationaryDistribution(start: [Int], state: [Int], probability: [Double]) -> [Double] {
        let n = start.count - 1
        var pi = [Double](repeating: 1 / Double(n), count: n)
        for _ in 0..<100_000 {
            var next = pi.map { $0 / 2 }
            for s in 0..<n {
                for j in start[s]..<start[s + 1] { next[state[j]] += pi[s] * probability[j] / 2 }
            }
            let total = next.reduce(0, +)
            var change = 0.0
            for s in 0..<n {
                next[s] /= total
                change += abs(next[s] - pi[s])
            }
            pi = next
            if change < 1e-15 { break }
        }
        return pi
    }
}

/// Mixes a source seed and a stream number into one generator seed (SplitMix64's finaliser
/// on each), so that nearby streams get unrelated generators.
func mixSeeds(_ a: UInt64, _ b: UInt64) -> UInt64 {
    func finalise(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return finalise(finalise(a) ^ (b &* 0xD1B5_4A32_D192_ED03))
}

extension SeededRandom {
    /// A uniform `Double` in [0, 1), from the top 53 bits.
    mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A Gamma(`shape`, 1) sample: Marsaglia and Tsang's method, boosted for shapes below 1
    /// by Gamma(a) = Gamma(a + 1) · U^(1/a).
    mutating func nextGamma(shape: Double) -> Double {
        if shape < 1 {
            let u = 1 - nextUnitDouble()
            return nextGamma(shape: shape + 1) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            let x = Double(nextNormal())
            let v = 1 + c * x
            if v <= 0 { continue }
            let v3 = v * v * v
            let u = 1 - nextUnitDouble()
            if log(u) < 0.5 * x * x + d - d * v3 + d * log(v3) { return d * v3 }
        }
    }

    /// A sample from the symmetric Dirichlet distribution with `count` components.
    mutating func nextDirichlet(count: Int, concentration: Double) -> [Double] {
        var weights = (0..<count).map { _ in max(nextGamma(shape: concentration), 1e-300) }
        let total = weights.reduce(0, +)
        for i in weights.indices { weights[i] /= total }
        return weights
    }
}
