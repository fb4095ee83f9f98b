import Foundation
import Testing

@testable import OptlangCLI

/// `optlang replay` of the recipes named for papers matches independent float64 numpy
/// implementations (`References/references.py`, written from the papers' formulas and the
/// authors' code, not from the recipes), with hyperparameters away from their defaults.
@Suite struct ReferenceReplayTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("References/references.py").path

    /// A gpt-like set of parameters with gradients of different scales, so that the layers'
    /// noise, and with it their rates, differ.
    static let parameters: [ReplayTrace.Parameter] = [
        .init(name: "embed.tokens", role: "embedding", layer: nil, shape: [11, 8], gradientScale: 0.5),
        .init(name: "embed.positions", role: "position", layer: nil, shape: [6, 8], gradientScale: 2),
        .init(name: "blocks.0.ln1.weight", role: "norm", layer: 0, shape: [8]),
        .init(name: "blocks.0.attn.wq", role: "attention", layer: 0, shape: [8, 8], gradientScale: 0.3),
        .init(name: "blocks.0.mlp.fc", role: "mlp", layer: 0, shape: [16, 8], gradientScale: 1.5),
        .init(name: "blocks.0.mlp.fc_bias", role: "bias", layer: 0, shape: [16], gradientScale: 0.7),
        .init(name: "blocks.0.mlp.proj", role: "mlp", layer: 0, shape: [8, 16]),
        .init(name: "blocks.1.attn.wo", role: "attention", layer: 1, shape: [8, 8], gradientScale: 3),
        .init(name: "head", role: "head", layer: nil, shape: [11, 8], gradientScale: 0.2),
    ]

    /// Replays `recipe` with `hyper` and the reference with the same values; compares every
    /// parameter: elementwise within 1e-5·max(1, |x|), and its displacement from the start
    /// within 1e-5 of its size (plus float32 rounding), so errors in small updates show too.
    static func compare(
        _ recipe: String, reference: String, hyper: [String: Double], steps: Int = 6, script: String = script
    ) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try ReplayTrace.write(to: s.file("trace.json"), parameters: parameters, steps: steps, total: steps + 2)
        let hyperJSON = hyper.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        try "{\(hyperJSON)}".write(toFile: s.file("hyper.json"), atomically: true, encoding: .utf8)
        let sets = hyper.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)=\($0.value)"] }
        let console = Console.capture()
        let status = CLI.main(
            [
                "replay", RunCommandTests.recipesFolder + "/\(recipe).opt", "--trace", s.file("trace.json"), "--out",
                s.file("swift.json"),
            ] + sets, console: console)
        #expect(status == 0, "\(console.capturedError)")
        let run = try Python.run([
            script, reference, s.file("trace.json"), s.file("hyper.json"), s.file("ref.json"),
        ])
        try #require(run.status == 0, "\(run.output)")
        try #require(!run.output.hasPrefix("SKIPPED"), "the reference needs what it skipped: \(run.output)")
        let swift = try ExportTests.result(s.file("swift.json"))
        let ref = try ExportTests.result(s.file("ref.json"))
        let trace = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.file("trace.json"))))
        let initial = ((trace as! [String: Any])["params"] as! [[String: Any]])
        for p in initial {
            let name = p["name"] as! String
            let x0 = p["values"] as! [Double]
            let a = try #require(swift[name])
            let b = try #require(ref[name])
            let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= 1e-5, "\(recipe) \(name): relative error \(worst)")
            let moved = zip(b, x0).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            let error = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            let size = b.map { $0 * $0 }.reduce(0, +).squareRoot()
            let allowed = 1e-5 * moved + Double(Float.ulpOfOne) * Double(steps) * size
            #expect(error <= allowed, "\(recipe) \(name): displacement error \(error) > \(allowed) (moved \(moved))")
        }
    }

    @Test func nalrMatchesThePapersPracticalOption() throws {
        try Self.compare(
            "nalr", reference: "nalr",
            hyper: [
                "lr": 0.03, "sign_lr": 5e-4, "beta1": 0.9, "beta2": 0.8, "eps": 1e-6, "adam_lr": 1e-3, "warmup": 3,
                "decay_to": 0.2,
            ])
    }

    @Test func dmuonMatchesMoonlightsToyTrainer() throws {
        try Self.compare(
            "dmuon", reference: "dmuon",
            hyper: [
                "lr": 2e-3, "adam_lr": 5e-4, "wd": 0.05, "mu": 0.9, "beta1": 0.85, "beta2": 0.9, "eps": 1e-7,
                "warmup": 2, "decay_to": 0.1,
            ])
    }
}
