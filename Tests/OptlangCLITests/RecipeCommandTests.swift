import Foundation
import Testing
import Training

@testable import OptlangCLI

/// A scratch folder with recipe files, removed afterwards.
struct Scratch {
    let path: String
    init(_ files: [String: String]) throws {
        path = NSTemporaryDirectory() + "optlang-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
        }
    }
    func file(_ name: String) -> String { path + "/" + name }
    func read(_ name: String) -> String { (try? String(contentsOfFile: file(name), encoding: .utf8)) ?? "" }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct CheckCommandTests {
    static let good = "optimizer sgd\nhyper lr = 0.1 \"learning rate\"\ngroup all: all {\n    X -= lr * G\n}\n"
    static let bad = "optimizer sgd\nhyper lr = 0.1\ngroup all: all {\n    X -= lr * Q\n}\n"

    @Test func validRecipeExitsZero() throws {
        let s = try Scratch(["good.opt": Self.good])
        defer { s.remove() }
        let console = Console.capture()
        #expect(CLI.main(["check", s.file("good.opt")], console: console) == 0)
        #expect(console.capturedOutput == "\(s.file("good.opt")): ok\n")
        #expect(console.capturedError == "")
    }

    @Test func recipeWithErrorsExitsOneAndPrintsEveryDiagnostic() throws {
        let s = try Scratch(["good.opt": Self.good, "bad.opt": Self.bad])
        defer { s.remove() }
        let console = Console.capture()
        #expect(CLI.main(["check", s.file("bad.opt"), s.file("good.opt")], console: console) == 1)
        let bad = s.file("bad.opt")
        #expect(
            console.capturedError == """
                \(bad):4:15: error: unknown name 'Q'
                        X -= lr * Q
                                  ^
                \(bad): 1 error

                """)
        #expect(console.capturedOutput == "\(s.file("good.opt")): ok\n")
    }

    @Test func explainListsHyperparametersAndGroups() throws {
        let s = try Scratch(["good.opt": Self.good])
        defer { s.remove() }
        let console = Console.capture()
        #expect(CLI.main(["check", "--explain", s.file("good.opt")], console: console) == 0)
        #expect(
            console.capturedOutput == """
                sgd (\(s.file("good.opt")))

                hyperparameters (override with --set NAME=VALUE):
                  lr = 0.1   learning rate

                groups (each parameter goes to the first group that matches):
                  all: all
                    state: none

                """)
    }

    @Test func missingFileIsAUsageError() {
        let console = Console.capture()
        #expect(CLI.main(["check", "/nonexistent/x.opt"], console: console) == 2)
        #expect(console.capturedError == "optlang check: cannot read '/nonexistent/x.opt'\n")
        #expect(CLI.main(["check"], console: console) == 2)
    }
}

@Suite struct FormatCommandTests {
    @Test func formatRewritesTheFileAndCheckThenPasses() throws {
        let s = try Scratch(["messy.opt": "optimizer x\nhyper lr=1\ngroup a:all{X-=lr*G}\n"])
        defer { s.remove() }
        let console = Console.capture()
        #expect(CLI.main(["fmt", "--check", s.file("messy.opt")], console: console) == 1)
        #expect(console.capturedOutput == "\(s.file("messy.opt")): not formatted\n")
        #expect(CLI.main(["fmt", s.file("messy.opt")], console: console) == 0)
        #expect(s.read("messy.opt") == "optimizer x\n\nhyper lr = 1\n\ngroup a: all {\n    X -= lr * G\n}\n")
        let again = Console.capture()
        #expect(CLI.main(["fmt", "--check", s.file("messy.opt")], console: again) == 0)
        #expect(again.capturedOutput == "")
    }

    @Test func unparsableFileIsLeftAlone() throws {
        let text = "optimizer x\nhyper = 1\n"
        let s = try Scratch(["broken.opt": text])
        defer { s.remove() }
        let console = Console.capture()
        #expect(CLI.main(["fmt", s.file("broken.opt")], console: console) == 1)
        #expect(s.read("broken.opt") == text)
        #expect(console.capturedError.contains("broken.opt:2:7: error: expected a hyperparameter name, found '='"))
    }
}

@Suite struct ReplayCommandTests {
    static let sgd = "optimizer sgd\nhyper lr = 0.5\ngroup all: all {\n    X -= lr * G\n}\n"
    static let trace = """
        {"params": [{"name": "w", "role": "mlp", "layer": 0, "shape": [2], "values": [1, 2]}],
         "steps": [{"grads": {"w": [0.5, -1]}}, {"grads": {"w": [1, 1]}}]}
        """

    @Test func replayAppliesEveryStepAndPrintsTheResult() throws {
        let s = try Scratch(["sgd.opt": Self.sgd, "trace.json": Self.trace])
        defer { s.remove() }
        let console = Console.capture()
        #expect(CLI.main(["replay", s.file("sgd.opt"), "--trace", s.file("trace.json")], console: console) == 0)
        #expect(console.capturedOutput == "{\"params\":[{\"name\":\"w\",\"values\":[0.25,2]}]}\n")
    }

    @Test func overridesApplyAndUnknownNamesAreUsageErrors() throws {
        let s = try Scratch(["sgd.opt": Self.sgd, "trace.json": Self.trace])
        defer { s.remove() }
        let console = Console.capture()
        #expect(
            CLI.main(["replay", s.file("sgd.opt"), "--trace", s.file("trace.json"), "--set", "lr=1"], console: console)
                == 0)
        #expect(console.capturedOutput == "{\"params\":[{\"name\":\"w\",\"values\":[-0.5,2]}]}\n")
        let bad = Console.capture()
        #expect(
            CLI.main(["replay", s.file("sgd.opt"), "--trace", s.file("trace.json"), "--set", "rate=1"], console: bad)
                == 2)
        #expect(bad.capturedError == "optlang replay: recipe 'sgd' has no hyperparameter 'rate' (it has: lr)\n")
    }

    @Test func malformedTraceIsOneLine() throws {
        let s = try Scratch(["sgd.opt": Self.sgd, "trace.json": "{\"params\": [{\"name\": \"w\"}]}"])
        defer { s.remove() }
        let console = Console.capture()
        #expect(CLI.main(["replay", s.file("sgd.opt"), "--trace", s.file("trace.json")], console: console) == 2)
        #expect(
            console.capturedError.hasSuffix(
                "parameter 'w' needs a \"role\" (one of embedding, position, head, attention, mlp, norm, bias)\n"))
    }
}

@Suite struct GraphCommandTests {
    static let momentum = """
        optimizer heavy
        hyper lr = 0.1
        group hidden: matrix {
            m = momentum(G, 0.9)
            X -= lr * m
        }
        group rest: all {
            X -= lr * G
        }
        """

    @Test func graphListsBindingsStateAndFusedPasses() throws {
        let s = try Scratch(["heavy.opt": Self.momentum])
        defer { s.remove() }
        let console = Console.capture()
        #expect(CLI.main(["graph", s.file("heavy.opt"), "--model", "tiny,layers=1"], console: console) == 0)
        let out = console.capturedOutput
        #expect(out.hasPrefix("recipe heavy on model tiny,layers=1: 12 parameters\n"))
        #expect(out.contains("group hidden: matrix — 9 parameters"))
        #expect(out.contains("  state: m (tensor)"))
        #expect(out.contains("fused pass over tensor:"))
        #expect(out.contains("write m ←"))
    }

    @Test func memoryReportMatchesTheStateTheOptimizerKeeps() throws {
        let s = try Scratch(["heavy.opt": Self.momentum])
        defer { s.remove() }
        let console = Console.capture()
        #expect(
            CLI.main(["graph", s.file("heavy.opt"), "--model", "tiny,layers=1", "--memory"], console: console) == 0)
        // Matrices of tiny with one layer: embeddings 64×128 and 128×128, four 128×128, fc and proj 512×128, head 64×128.
        let matrixElements = 64 * 128 + 128 * 128 + 4 * 128 * 128 + 2 * 512 * 128 + 64 * 128
        #expect(console.capturedOutput.contains("(\(4 * matrixElements) bytes)"))
        #expect(console.capturedOutput.contains("  rest    0 B\n"))
    }
}

@Suite(.serialized) struct RunCommandTests {
    static let recipesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Recipes").standardized.path
    static let small = [
        "--model", "tiny,d=32,layers=2,heads=2,context=16,batch=4", "--eval-every", "3", "--log-every", "1", "--quiet",
    ]

    /// A metrics line without a train_loss.
    struct MissingLoss: Error, CustomStringConvertible {
        var line: String
        var description: String { "no train_loss in \(line)" }
    }

    /// The train_loss of every line of a run's metrics, exactly as written; a line without
    /// one is an error, so that comparing two runs cannot pass on missing values.
    static func losses(_ folder: String) throws -> [String] {
        let text = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            guard let field = line.split(separator: ",").first(where: { $0.hasPrefix("\"train_loss\":") }) else {
                throw MissingLoss(line: String(line))
            }
            return String(field)
        }
    }

    @Test func runWritesConfigMetricsAndCheckpoint() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let console = Console.capture()
        let status = CLI.main(
            ["run", Self.recipesFolder + "/muon.opt", "--steps", "4", "--out", s.file("run")] + Self.small,
            console: console)
        #expect(status == 0, "\(console.capturedError)")
        for file in ["config.json", "metrics.jsonl", "checkpoint.ckpt"] {
            #expect(FileManager.default.fileExists(atPath: s.file("run/") + file), "\(file)")
        }
        let metrics = try String(contentsOfFile: s.file("run/metrics.jsonl"), encoding: .utf8)
        #expect(metrics.split(separator: "\n").count == 4)
        #expect(
            metrics.contains("\"val_loss\"") && metrics.contains("\"bayes_loss\"") && metrics.contains("\"grad_norm\""))
    }

    @Test func stoppedAndResumedRunMatchesAStraightRunBitForBit() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let recipe = Self.recipesFolder + "/nalr.opt"
        #expect(
            CLI.main(["run", recipe, "--steps", "6", "--out", s.file("straight")] + Self.small, console: .capture())
                == 0)
        #expect(
            CLI.main(["run", recipe, "--steps", "3", "--out", s.file("part")] + Self.small, console: .capture()) == 0)
        // The second half continues from the checkpoint with the full step count.
        #expect(
            CLI.main(["run", recipe, "--steps", "6", "--resume", s.file("part")] + Self.small, console: .capture()) == 0
        )
        let straight = try Self.losses(s.file("straight"))
        let resumed = try Self.losses(s.file("part"))
        #expect(straight.count == 6)
        #expect(straight == resumed)
    }

    @Test func anExistingRunIsNotOverwritten() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let recipe = Self.recipesFolder + "/sgd.opt"
        #expect(CLI.main(["run", recipe, "--steps", "1", "--out", s.file("r")] + Self.small, console: .capture()) == 0)
        let console = Console.capture()
        #expect(CLI.main(["run", recipe, "--steps", "1", "--out", s.file("r")] + Self.small, console: console) == 2)
        #expect(console.capturedError.contains("already holds a run; continue it with --resume"))
    }

    @Test func badDataIsOneLineAndExitTwo() throws {
        let s = try Scratch(["empty.txt": "", "bad.bin": "not a shard"])
        defer { s.remove() }
        let recipe = Self.recipesFolder + "/sgd.opt"
        for (file, message) in [
            ("empty.txt", "is empty"), ("bad.bin", "is not a token shard"), ("missing.txt", "cannot read data file"),
        ] {
            let console = Console.capture()
            #expect(
                CLI.main(["run", recipe, "--data", s.file(file), "--out", s.file("x")] + Self.small, console: console)
                    == 2)
            #expect(console.capturedError.hasPrefix("optlang run: "))
            #expect(console.capturedError.contains(message), "\(console.capturedError)")
            #expect(console.capturedError.split(separator: "\n").count == 1)
        }
    }

    @Test func unknownSetNameListsTheHyperparameters() throws {
        let console = Console.capture()
        #expect(
            CLI.main(
                ["run", Self.recipesFolder + "/adamw.opt", "--set", "learning_rate=1"] + Self.small, console: console)
                == 2)
        #expect(
            console.capturedError
                == "optlang run: recipe 'adamw' has no hyperparameter 'learning_rate' (it has: lr, beta1, beta2, eps, wd, warmup, decay_to)\n"
        )
    }
}

@Suite struct RunLogTests {
    @Test func logStatementsAreWrittenPerParameterOnLoggedSteps() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let recipe = RunCommandTests.recipesFolder + "/nalr.opt"
        #expect(
            CLI.main(
                ["run", recipe, "--steps", "2", "--out", s.file("r")] + RunCommandTests.small, console: .capture()) == 0
        )
        let last = try String(contentsOfFile: s.file("r/metrics.jsonl"), encoding: .utf8).split(separator: "\n").last!
        let json = try JSONSerialization.jsonObject(with: Data(last.utf8)) as! [String: Any]
        let log = try #require(json["log"] as? [String: [String: Double]])
        #expect(Set(log.keys) == ["noise_dual", "rate"])
        #expect(log["rate"]?["blocks.1.attn.wq"] != nil)
        #expect(log["rate"]?.values.max() == 0.02)  // the least noisy layer gets the group rate
        let config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.file("r/config.json"))))
            as! [String: Any]
        // NALR keeps two tensors per parameter (G_prev and the momentum; AdamW's m and v for
        // the vectors) and one number H per matrix.
        var model = try ModelConfig.parse("tiny,d=32,layers=2,heads=2,context=16,batch=4")
        model.vocab = SyntheticHMM.defaultVocabularySize
        let metas = Transformer.metas(model)
        let expected =
            8 * metas.reduce(0) { $0 + $1.shape.reduce(1, *) } + 4 * metas.filter { $0.shape.count >= 2 }.count
        #expect(config["optimizer_state_bytes"] as? Int == expected)
    }
}
