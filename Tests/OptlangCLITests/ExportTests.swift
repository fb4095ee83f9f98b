import Foundation
import Testing

@testable import OptlangCLI

/// Every shipped recipe exported to numpy and replayed with python3 matches `optlang replay`
/// on the same trace; the PyTorch export does the same when torch can be imported.
@Suite(.serialized) struct ExportTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let recipes = ["sgd", "adamw", "lion", "muon", "normuon", "adago", "nalr", "dmuon"]

    /// A fixed trace: every role, square, tall and wide matrices, a vector; 5 steps.
    static func writeTrace(to path: String) throws {
        try ReplayTrace.write(to: path, parameters: ReplayTrace.small, steps: 5)
    }

    static func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
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
        let run = try Self.python([
            Self.folder.appendingPathComponent("Export/replay_numpy.py").path, s.file("exported.py"),
            s.file("trace.json"), s.file("numpy.json"),
        ])
        #expect(run.status == 0, "\(run.output)")
        let error = Self.worstRelativeError(
            try Self.result(s.file("numpy.json")), try Self.result(s.file("swift.json")))
        #expect(error <= 1e-5, "\(name): relative error \(error)")
    }

    @Test(arguments: recipes)
    func pytorchExportMatchesReplayWhenTorchIsAvailable(_ name: String) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try Self.writeTrace(to: s.file("trace.json"))
        let recipe = RunCommandTests.recipesFolder + "/\(name).opt"
        #expect(CLI.main(["export", recipe, "--to", "pytorch", "-o", s.file("exported.py")], console: .capture()) == 0)
        let run = try Self.python([
            Self.folder.appendingPathComponent("Export/replay_torch.py").path, s.file("exported.py"),
            s.file("trace.json"), s.file("torch.json"),
        ])
        #expect(run.status == 0, "\(run.output)")
        if run.output.hasPrefix("SKIPPED") {
            print("pytorch export of \(name): skipped (torch cannot be imported here)")
            return
        }
        #expect(
            CLI.main(
                ["replay", recipe, "--trace", s.file("trace.json"), "--out", s.file("swift.json")], console: .capture())
                == 0)
        let error = Self.worstRelativeError(
            try Self.result(s.file("torch.json")), try Self.result(s.file("swift.json")))
        #expect(error <= 1e-5, "\(name): relative error \(error)")
    }

    @Test func pytorchExportGivesEveryDDPRankTheSameStep() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let recipe = RunCommandTests.recipesFolder + "/nalr.opt"
        #expect(
            CLI.main(["export", recipe, "--to", "pytorch", "-o", s.file("nalr_torch.py")], console: .capture()) == 0)
        let run = try Self.python([
            Self.folder.appendingPathComponent("Export/ddp_check.py").path, s.file("nalr_torch.py"),
        ])
        #expect(run.status == 0, "\(run.output)")
        if run.output.hasPrefix("SKIPPED") {
            print("DDP check: skipped (torch cannot be imported here)")
            return
        }
        #expect(run.output.contains("ranks identical: True"), "\(run.output)")
    }

    @Test func exportNeedsATarget() {
        let console = Console.capture()
        #expect(CLI.main(["export", "x.opt"], console: console) == 2)
        #expect(console.capturedError == "optlang export: missing '--to pytorch' or '--to numpy'\n")
        #expect(CLI.main(["export", "x.opt", "--to", "jax"], console: console) == 2)
    }
}
