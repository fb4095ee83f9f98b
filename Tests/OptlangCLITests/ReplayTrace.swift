import Foundation

/// Writes replay traces (docs/replay.md) of seeded pseudo-random values for the tests that
/// compare `optlang replay` with other implementations.
enum ReplayTrace {
    /// A parameter of a trace: name, role, block index, shape, and the scale of its gradients.
    struct Parameter {
        var name: String
        var role: String
        var layer: Int?
        var shape: [Int]
        var gradientScale: Double = 1
    }

    /// Every role, square, tall and wide matrices, a vector.
    static let small: [Parameter] = [
        Parameter(name: "embed.tokens", role: "embedding", layer: nil, shape: [11, 8]),
        Parameter(name: "blocks.0.ln1.weight", role: "norm", layer: 0, shape: [8]),
        Parameter(name: "blocks.0.attn.wq", role: "attention", layer: 0, shape: [8, 8]),
        Parameter(name: "blocks.0.mlp.fc", role: "mlp", layer: 0, shape: [12, 8]),
        Parameter(name: "blocks.0.mlp.proj", role: "mlp", layer: 0, shape: [8, 12]),
        Parameter(name: "blocks.1.attn.wo", role: "attention", layer: 1, shape: [8, 8]),
        Parameter(name: "head", role: "head", layer: nil, shape: [11, 8]),
    ]

    /// Writes `steps` steps of gradients for `parameters`; `total` is the trace's `T`.
    static func write(to path: String, parameters: [Parameter], steps: Int, total: Int? = nil) throws {
        var seed: UInt64 = 12345
        func next() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(seed >> 11) / Double(1 << 53) * 2 - 1
        }
        func numbers(_ n: Int, _ scale: Double) -> String {
            (0..<n).map { _ in String(format: "%.6g", next() * scale) }.joined(separator: ",")
        }
        let params = parameters.map { p in
            let layer = p.layer.map(String.init) ?? "null"
            return
                "{\"name\":\"\(p.name)\",\"role\":\"\(p.role)\",\"layer\":\(layer),\"shape\":\(p.shape),\"values\":[\(numbers(p.shape.reduce(1, *), 0.5))]}"
        }
        let stepTexts = (0..<steps).map { _ in
            let grads = parameters.map { "\"\($0.name)\":[\(numbers($0.shape.reduce(1, *), $0.gradientScale))]" }
            return "{\"grads\":{\(grads.joined(separator: ","))}}"
        }
        let text =
            "{\"params\":[\(params.joined(separator: ","))],\"steps\":[\(stepTexts.joined(separator: ","))],\"total_steps\":\(total ?? steps)}"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
