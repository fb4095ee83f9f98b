import Foundation
import Testing

@testable import Training

@Suite struct LoopResumeTests {
    /// Losses and gradient norms by step, from a run folder's metrics.
    private func metrics(_ folder: URL) throws -> [(step: Int, loss: String, norm: String)] {
        try MetricsLog.read(folder.appendingPathComponent("metrics.jsonl")).map {
            ($0["step"]!.intValue!, $0["train_loss"]!.compact, $0["grad_norm"]!.compact)
        }
    }

    private func straightRun(steps: Int = 20) throws -> (
        metrics: [(step: Int, loss: String, norm: String)], bits: [[UInt32]], state: [String: [UInt32]]
    ) {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let trainer = try makeTrainer(in: folder.url, steps: steps)
        _ = try trainer.run()
        return (try metrics(folder.url), parameterBits(trainer.model), stateBits(trainer))
    }

    private func stateBits(_ trainer: Trainer) -> [String: [UInt32]] {
        trainer.optimizer.stateTensors().mapValues { $0.scalars.map(\.bitPattern) }
    }

    private func expectSame(
        _ a: [(step: Int, loss: String, norm: String)], _ b: [(step: Int, loss: String, norm: String)]
    ) {
        #expect(a.map(\.step) == b.map(\.step))
        #expect(a.map(\.loss) == b.map(\.loss))
        #expect(a.map(\.norm) == b.map(\.norm))
    }

    @Test func stoppedThenResumedRunMatchesAnUninterruptedOneBitForBit() throws {
        let straight = try straightRun()
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let first = try makeTrainer(in: folder.url)
        first.onStep = { if $0.step == 10 { first.requestStop() } }
        #expect(try first.run().stopped)

        // A new process would build everything afresh: new model, optimizer and trainer.
        let second = try makeTrainer(in: folder.url, model: BigramModel(vocab: 8, seed: 999))
        try second.resume(from: folder.url)
        #expect(second.step == 10)
        let summary = try second.run()
        #expect(!summary.stopped && summary.step == 20)
        expectSame(try metrics(folder.url), straight.metrics)
        #expect(parameterBits(second.model) == straight.bits)
        #expect(stateBits(second) == straight.state)
        let config = try JSON.parse(
            String(contentsOf: folder.url.appendingPathComponent("config.json"), encoding: .utf8))
        #expect(config["resumed_from_step"]?.intValue == 10)
    }

    @Test func finishedRunCanBeExtendedByRaisingTheStepCount() throws {
        let straight = try straightRun()
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        _ = try makeTrainer(in: folder.url, steps: 10).run()
        let second = try makeTrainer(in: folder.url, steps: 20)
        try second.resume(from: folder.url)
        _ = try second.run()
        expectSame(try metrics(folder.url), straight.metrics)
        #expect(parameterBits(second.model) == straight.bits)
    }

    @Test func resumeDropsMetricsWrittenAfterTheCheckpoint() throws {
        let straight = try straightRun()
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        // Checkpoint at 5, then a failure at step 8: metrics hold steps 1–7.
        let model = BigramModel(vocab: 8)
        model.poisonLossAt = 8
        #expect(throws: TrainingError.nonFiniteLoss(step: 8)) {
            try makeTrainer(in: folder.url, checkpointEvery: 5, model: model).run()
        }
        #expect(try metrics(folder.url).map(\.step) == Array(1...7))
        // A partial line, as a kill mid-write would leave.
        let handle = try FileHandle(forWritingTo: folder.url.appendingPathComponent("metrics.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"step\":8,\"train_lo".utf8))
        try handle.close()

        let second = try makeTrainer(in: folder.url, checkpointEvery: 5)
        try second.resume(from: folder.url)
        #expect(second.step == 5)
        _ = try second.run()
        expectSame(try metrics(folder.url), straight.metrics)
        #expect(parameterBits(second.model) == straight.bits)
    }

    @Test func resumeIntoAnotherFolderCarriesTheMetricsOver() throws {
        let straight = try straightRun()
        let (source, target) = (try TemporaryFolder(), try TemporaryFolder())
        defer {
            source.cleanUp()
            target.cleanUp()
        }
        _ = try makeTrainer(in: source.url, steps: 10).run()
        let second = try makeTrainer(in: target.url, steps: 20)
        try second.resume(from: source.url)
        _ = try second.run()
        expectSame(try metrics(target.url), straight.metrics)
        #expect(try metrics(source.url).count == 10)
    }

    @Test func resumingACompletedRunSaysSo() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        _ = try makeTrainer(in: folder.url, steps: 3).run()
        let path = folder.url.appendingPathComponent("checkpoint.ckpt").path
        #expect(
            throws: TrainingError.checkpoint("\(path): already at step 3 of 3; raise the step count to continue")
        ) {
            try makeTrainer(in: folder.url, steps: 3).resume(from: folder.url)
        }
    }
}
