import Foundation
import TensorRuntime
import Testing

@testable import Training

@Suite struct LoopTests {
    @Test func lossGoesDownTowardsTheBayesLoss() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        var validation: [Float] = []
        let trainer = try makeTrainer(in: folder.url, steps: 60, evalEvery: 10)
        trainer.onStep = { record in if let v = record.validationLoss { validation.append(v) } }
        let summary = try trainer.run()
        let bayes = try #require(summary.bayesLoss)
        #expect(validation.count == 6)
        #expect(validation.last! < validation.first! - 0.3)
        #expect(Double(validation.last!) - bayes < 0.3)
        #expect(summary.finalValidationLoss == validation.last)
        #expect(summary.bestValidationLoss == validation.min())
        #expect(!summary.stopped && summary.step == 60)
    }

    @Test func metricsLinesHaveTheDocumentedKeysAndValues() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let trainer = try makeTrainer(in: folder.url, steps: 10, evalEvery: 5, logEvery: 4)
        _ = try trainer.run()
        let lines = try MetricsLog.read(folder.url.appendingPathComponent("metrics.jsonl"))
        // Every 4th step, every evaluation step, and the last.
        #expect(lines.compactMap { $0["step"]?.intValue } == [4, 5, 8, 10])
        let keys = lines.map { $0.objectValue!.map(\.0) }
        let plain = ["step", "train_loss", "bayes_loss", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s"]
        let evaluated = [
            "step", "train_loss", "val_loss", "bayes_loss", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s",
        ]
        #expect(keys == [plain, evaluated, plain, evaluated])
        for line in lines {
            let step = line["step"]!.intValue!
            #expect(line["tokens"]?.intValue == step * 4 * 16)
            #expect(line["lr"]?.doubleValue == 0.5)
            #expect(line["grad_norm"]!.doubleValue! > 0)
            #expect(line["train_loss"]!.doubleValue! > 0)
            // Tokens over the seconds since the last line: positive (0 is what a broken clock gives).
            #expect(line["tokens_per_s"]!.doubleValue! > 0)
        }
        let elapsed = lines.map { $0["elapsed_s"]!.doubleValue! }
        #expect(elapsed == elapsed.sorted())
        let bayes = MarkovData().bayesLoss(count: 16, context: 16)!
        #expect(lines[1]["bayes_loss"]?.doubleValue == bayes)
    }

    @Test func configRecordsEverythingNeededToReproduceTheRun() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let seed: UInt64 = 1 << 63 + 5
        _ = try makeTrainer(in: folder.url, steps: 2, seed: seed, clipNorm: 1.5).run()
        let text = try String(contentsOf: folder.url.appendingPathComponent("config.json"), encoding: .utf8)
        let config = try JSON.parse(text)
        #expect(
            config.objectValue!.map(\.0) == [
                "optlang_version", "recipe", "hyperparameters", "optimizer_state_bytes", "model", "data", "seed",
                "options",
            ])
        #expect(config["optlang_version"]?.stringValue == "0.0.0-test")
        let recipe = "optimizer sgd { lr = 0.5 }\n"
        #expect(config["recipe"]?["name"]?.stringValue == "sgd-momentum")
        #expect(config["recipe"]?["text"]?.stringValue == recipe)
        #expect(config["recipe"]?["sha256"]?.stringValue == SHA256.hexDigest(recipe))
        #expect(config["hyperparameters"] == .object([("beta", .number("0.9")), ("lr", .number("0.5"))]))
        let model = try #require(config["model"])
        #expect(model["architecture"]?.stringValue == "gpt")
        #expect([model["context"], model["batch"], model["vocab"]].map { $0?.intValue } == [16, 4, 8])
        #expect(model["parameter_count"]?.intValue == 8 * 8 + 8)
        #expect(config["data"]?["summary"]?.stringValue == "markov chain (8 tokens)")
        #expect(config["seed"]?.uint64Value == seed)
        let options = try #require(config["options"])
        #expect(options["steps"]?.intValue == 2)
        #expect(options["clip_norm"]?.doubleValue == 1.5)
        #expect(options["seed"]?.uint64Value == seed)
        #expect(
            options.objectValue!.map(\.0) == [
                "steps", "eval_every", "eval_windows", "checkpoint_every", "clip_norm", "seed", "log_every", "quiet",
            ])
    }

    @Test func sameSeedGivesBitIdenticalLossesAndParameters() throws {
        func run(seed: UInt64) throws -> (losses: [UInt32], bits: [[UInt32]]) {
            let folder = try TemporaryFolder()
            defer { folder.cleanUp() }
            var losses: [UInt32] = []
            let trainer = try makeTrainer(in: folder.url, steps: 12, seed: seed)
            trainer.onStep = { losses.append($0.trainLoss.bitPattern) }
            _ = try trainer.run()
            return (losses, parameterBits(trainer.model))
        }
        let (a, b, c) = (try run(seed: 1), try run(seed: 1), try run(seed: 2))
        #expect(a.losses == b.losses && a.bits == b.bits)
        #expect(a.losses != c.losses)
    }

    @Test(
        arguments: [
            ([0, 1], nil, "step 3: non-finite gradient in 'embed'"),
            ([1], nil, "step 3: non-finite gradient in 'bias'"),
            ([1], 3, "step 3: non-finite loss"),
        ] as [([Int], Int?, String)])
    func nonFiniteValuesStopTheRunNamingStepAndParameter(poisoned: [Int], lossAt: Int?, message: String) throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let model = BigramModel(vocab: 8)
        model.poisonGradients = (call: 3, parameters: poisoned)
        model.poisonLossAt = lossAt
        let trainer = try makeTrainer(in: folder.url, checkpointEvery: 2, model: model)
        var atCheckpoint: [[UInt32]] = []
        trainer.onStep = { if $0.step == 2 { atCheckpoint = parameterBits(model) } }
        let error = #expect(throws: TrainingError.self) { try trainer.run() }
        #expect(error.map { "\($0)" } == message)
        // The last good checkpoint is left as it was.
        let checkpoint = try Checkpoint.read(from: folder.url.appendingPathComponent("checkpoint.ckpt"))
        #expect(checkpoint.step == 2)
        #expect(checkpoint.parameters.map { $0.tensor.scalars.map(\.bitPattern) } == atCheckpoint)
        let steps = try MetricsLog.read(folder.url.appendingPathComponent("metrics.jsonl")).map { $0["step"]?.intValue }
        #expect(steps == [1, 2])
    }

    @Test func requestStopEndsTheRunAfterTheStepWithACheckpoint() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let trainer = try makeTrainer(in: folder.url, steps: 20, logEvery: 3)
        trainer.onStep = { if $0.step == 4 { trainer.requestStop() } }
        let summary = try trainer.run()
        #expect(summary.stopped && summary.step == 4)
        #expect(!trainer.isStopRequested)
        let checkpoint = try Checkpoint.read(from: folder.url.appendingPathComponent("checkpoint.ckpt"))
        #expect(checkpoint.step == 4 && checkpoint.tokens == 4 * 64)
        #expect(checkpoint.parameters.map { $0.tensor.scalars.map(\.bitPattern) } == parameterBits(trainer.model))
        let steps = try MetricsLog.read(folder.url.appendingPathComponent("metrics.jsonl")).map { $0["step"]?.intValue }
        #expect(steps == [3, 4])
    }

    @Test func anInterruptStopsTheRunLikeRequestStop() throws {
        // The run listens to a source of its own, so no other run of the test process hears
        // it (the process's SIGINT is tested on a child process: CtrlCTests).
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let trainer = try makeTrainer(in: folder.url, steps: 20, stopsOnInterrupt: true)
        let source = InterruptSource()
        trainer.interrupts = source
        trainer.onStep = { if $0.step == 3 { source.press() } }
        let summary = try trainer.run()
        #expect(summary.stopped && summary.step == 3)
        let checkpoint = try Checkpoint.read(from: folder.url.appendingPathComponent("checkpoint.ckpt"))
        #expect(checkpoint.step == 3)
    }

    @Test func aRunThatDoesNotListenIgnoresInterrupts() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let trainer = try makeTrainer(in: folder.url, steps: 5, stopsOnInterrupt: false)
        let source = InterruptSource()
        trainer.interrupts = source
        trainer.onStep = { if $0.step == 2 { source.press() } }
        let summary = try trainer.run()
        #expect(!summary.stopped && summary.step == 5)
    }

    @Test func clippingScalesGradientsToTheMaximumNorm() throws {
        var gradients = [Tensor([3]), Tensor([4])]
        #expect(GradientNorm.globalNorm(gradients) == .success(5))
        #expect(GradientNorm.clip(&gradients, norm: 5, maxNorm: 1))
        #expect(gradients.map(\.scalars) == [[0.6], [0.8]])
        #expect(!GradientNorm.clip(&gradients, norm: 1, maxNorm: 2))
        #expect(gradients.map(\.scalars) == [[0.6], [0.8]])
    }

    @Test func trainerClipsAfterRecordingTheNormBeforeClipping() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let trainer = try makeTrainer(in: folder.url, steps: 1, clipNorm: 0.01)
        let before = trainer.model.parameters
        var norm = 0.0
        trainer.onStep = { norm = $0.gradientNorm }
        _ = try trainer.run()
        #expect(norm > 0.01)
        // One momentum step from zero state moves the parameters by lr × the clipped gradient.
        let moved = zip(before, trainer.model.parameters).map { a, b in
            zip(a.scalars, b.scalars).map { Double(($0 - $1) / 0.5) }
        }
        let clippedNorm = moved.joined().reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(clippedNorm - 0.01) < 1e-5)
    }

    @Test func quietRunsWriteNoProgress() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        var text = ""
        let reporter = ProgressReporter(style: .lines) { text += $0 }
        _ = try makeTrainer(in: folder.url, steps: 3, progress: reporter, quiet: true).run()
        #expect(text.isEmpty)
    }

    @Test func badOptionsAreRejectedByName() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        #expect(throws: TrainingError.invalidOptions("steps must be positive, got 0")) {
            try makeTrainer(in: folder.url, steps: 0)
        }
        #expect(throws: TrainingError.invalidOptions("log-every must be positive, got 0")) {
            try makeTrainer(in: folder.url, logEvery: 0)
        }
    }
}
