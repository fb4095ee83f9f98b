import Foundation
import Testing

@testable import OptlangCLI

/// Every shipped recipe exported to numpy and replayed with Python matches `optlang replay`
/// on the same trace; so does the PyTorch export, where torch imports (skipped, with the
/// reason, where it does not; required in CI).
@Suite(.serialized) struct ExportTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let recipes = ["sgd", "adamw", "lion", "muon", "normuon", "adago", "nalr", "dmuon"]

    /// A fixed trace: every role, square, tall and wide matrices, a vector; 5 steps.
    static func writeTrace(to path: String) throws {
        try ReplayTrace.write(to: path, parameters: ReplayTrace.small, steps: 5)
    }

    /// Parameters by name from a RESULT.json.
    static func result(_ path: String) throws -> [String: [Double]] {
        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var out: [String: [Double]] = [:]
        for p in json["params"] as! [[String: Any]] { out[p["name"] as! String] = p["values"] as? [Double] }
        return out
    }

    static func worstRelativeError(_ a: [String: [Double]], _ b: [String: [Double]]) -> Double {
        var worst = 0.0
        for (name, x) in b {
            guard let y = a[name], y.count == x.count else { return .infinity }
            for (u, v) in zip(y, x) { worst = max(worst, abs(u - v) / max(1, abs(v))) }
        }
        return worst
    }

    @Test(arguments: recipes)
    func numpyExportMatchesReplay(_ name: String) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try Self.writeTrace(to: s.file("trace.json"))
        let recipe = RunCommandTests.recipesFolder + "/\(name).opt"
        #expect(CLI.main(["export", recipe, "--to", "numpy", "-o", s.file("exported.py")], console: .capture()) == 0)
        #expect(
            CLI.main(
                ["replay", recipe, "--trace", s.file("trace.json"), "--out", s.file("swift.json")], console: .capture())
                == 0)
        let run = try Python.run([
            Self.folder.appendingPathComponent("Export/replay_numpy.py").path, s.file("exported.py"),
            s.file("trace.json"), s.file("numpy.json"),
        ])
        #expect(run.status == 0, "\(run.output)")
        let error = Self.worstRelativeError(
            try Self.result(s.file("numpy.json")), try Self.result(s.file("swift.json")))
        #expect(error <= 1e-5, "\(name): relative error \(error)")
    }

    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)), arguments: recipes)
    func pytorchExportMatchesReplay(_ name: String) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try Self.writeTrace(to: s.file("trace.json"))
        let recipe = RunCommandTests.recipesFolder + "/\(name).opt"
        #expect(CLI.main(["export", recipe, "--to", "pytorch", "-o", s.file("exported.py")], console: .capture()) == 0)
        let run = try Python.run([
            Self.folder.appendingPathComponent("Export/replay_torch.py").path, s.file("exported.py"),
            s.file("trace.json"), s.file("torch.json"),
        ])
        #expect(run.status == 0, "\(run.output)")
        try #require(!run.output.hasPrefix("SKIPPED"), "torch is required here: \(run.output)")
        #expect(
            CLI.main(
                ["replay", recipe, "--trace", s.file("trace.json"), "--out", s.file("swift.json")], console: .capture())
                == 0)
        let error = Self.worstRelativeError(
            try Self.result(s.file("torch.json")), try Self.result(s.file("swift.json")))
        #expect(error <= 1e-5, "\(name): relative error \(error)")
    }

    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)))
    func pytorchExportUnderDDPStepsAsOneProcessOnTheWholeBatch() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let recipe = RunCommandTests.recipesFolder + "/nalr.opt"
        #expect(
            CLI.main(["export", recipe, "--to", "pytorch", "-o", s.file("nalr_torch.py")], console: .capture()) == 0)
        let run = try Python.run([
            Self.folder.appendingPathComponent("Export/ddp_check.py").path, s.file("nalr_torch.py"),
        ])
        #expect(run.status == 0, "\(run.output)")
        try #require(!run.output.hasPrefix("SKIPPED"), "torch is required here: \(run.output)")
        #expect(run.output.contains("ranks identical: True"), "\(run.output)")
        #expect(run.output.contains("agrees with one process: True"), "\(run.output)")
        #expect(run.output.contains("parameters moved: True"), "\(run.output)")
    }

    @Test func exportNeedsATarget() {
        let console = Console.capture()
        #expect(CLI.main(["export", "x.opt"], console: console) == 2)
        #expect(console.capturedError == "optlang export: missing '--to pytorch' or '--to numpy'\n")
        #expect(CLI.main(["export", "x.opt", "--to", "jax"], console: console) == 2)
    }
}
