import Foundation

extension SyntheticHMM {
    /// The true source's mean loss on exactly the windows of
    /// ``validationWindows(count:context:)``: the forward algorithm in `Double`, normalised
    /// every step, each window's hidden state starting from the stationary distribution.
    /// The first input token is given; every target `x[t+1]` costs `-log P(x[t+1] | x[1...t])`.
    /// - Complexity: O(count · context · (successors + 1) · states).
    public func bayesLoss(count: Int, context: Int) -> Double? {
        guard count > 0, context > 0 else { return nil }
        let (inputs, targets) = validationWindows(count: count, context: context)
        var total = 0.0
        for row in 0..<count {
            total += windowLoss(first: inputs[row * context], targets: targets[(row * context)..<((row + 1) * context)])
        }
        return total / Double(count * context)
    }

    /// The summed loss of `targets` after seeing `first`, under the true source.
    func windowLoss(first: Int32, targets: ArraySlice<Int32>) -> Double {
        let states = stateCount
        let vocabulary = vocabularySize
        // belief[s] = P(z_t = s | x_1...x_t)
        var belief = [Double](repeating: 0, count: states)
        var normaliser = 0.0
        for s in 0..<states {
            belief[s] = stationary[s] * emissionDense[s * vocabulary + Int(first)]
            normaliser += belief[s]
        }
        for s in 0..<states { belief[s] /= normaliser }
        var predicted = [Double](repeating: 0, count: states)
        var loss = 0.0
        for target in targets {
            // predicted[s] = P(z_{t+1} = s | x_1...x_t)
            for s in 0..<states { predicted[s] = 0 }
            for s in 0..<states where belief[s] > 0 {
                for j in successorStart[s]..<successorStart[s + 1] {
                    predicted[successorState[j]] += belief[s] * successorProbability[j]
                }
            }
            // P(x_{t+1} | x_1...x_t) = Σ_s predicted[s] · emission[s, x_{t+1}]
            var probability = 0.0
            for s in 0..<states {
                belief[s] = predicted[s] * emissionDense[s * vocabulary + Int(target)]
                probability += belief[s]
            }
            loss -= log(probability)
            for s in 0..<states { belief[s] /= probability }
        }
        return loss
    }
}
