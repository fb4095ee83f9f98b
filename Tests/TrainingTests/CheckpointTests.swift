import Foundation
import TensorRuntime
import Testing

@testable import Training

@Suite struct CheckpointTests {
    private func sample(step: Int, value: Float) -> Checkpoint {
        var random = SeededRandom(seed: 5)
        _ = random.next()
        return Checkpoint(
            step: step, tokens: step * 64, elapsedSeconds: 1.25, dataRandom: random, bestValidation: (2.5, 4),
            parameters: [("w", try! Tensor(rows: [[value, -0.0], [.infinity, 1e-40]])), ("b", Tensor([value]))],
            optimizerState: [("b/m", Tensor([3])), ("w/m", .zeros([2, 2]))])
    }

    private func bits(_ list: [(name: String, tensor: Tensor)]) -> [String] {
        list.map {
            "\($0.name)\($0.tensor.shape)" + $0.tensor.scalars.map { String($0.bitPattern) }.joined(separator: ",")
        }
    }

    @Test func roundTripKeepsEveryBit() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let url = folder.url.appendingPathComponent("checkpoint.ckpt")
        let written = sample(step: 7, value: .pi)
        try written.write(to: url)
        let read = try Checkpoint.read(from: url)
        #expect(read.step == 7 && read.tokens == 7 * 64 && read.elapsedSeconds == 1.25)
        #expect(read.dataRandom == written.dataRandom)
        #expect(read.bestValidation?.loss == 2.5 && read.bestValidation?.step == 4)
        #expect(bits(read.parameters) == bits(written.parameters))
        #expect(bits(read.optimizerState) == bits(written.optimizerState))
        // magic, header length, header, then 4 + 1 + 1 + 4 floats.
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        let bytes = try [UInt8](Data(contentsOf: url))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect(Array(bytes[0..<8]) == Array("OPTLCKPT".utf8))
        #expect(size == 16 + headerLength + 10 * 4)
    }

    @Test func failedWriteLeavesThePreviousCheckpointLoadable() throws {
        struct DiskFull: Error {}
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let url = folder.url.appendingPathComponent("checkpoint.ckpt")
        try sample(step: 3, value: 1).write(to: url)
        #expect(throws: DiskFull.self) {
            try AtomicFile.replace(url) { writer in
                try writer.write(Array("OPTLCKPT".utf8) + [1, 2, 3])
                throw DiskFull()
            }
        }
        #expect(try Checkpoint.read(from: url).step == 3)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.url.path)
        #expect(left == ["checkpoint.ckpt"])
    }

    @Test func temporaryFileLeftByAKillIsHarmless() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let url = folder.url.appendingPathComponent("checkpoint.ckpt")
        try sample(step: 3, value: 1).write(to: url)
        try Data("OPTLCKPT half a checkpoint".utf8).write(to: folder.url.appendingPathComponent(".checkpoint.ckpt.tmp"))
        #expect(try Checkpoint.read(from: url).step == 3)
        try sample(step: 4, value: 2).write(to: url)
        #expect(try Checkpoint.read(from: url).step == 4)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path) == ["checkpoint.ckpt"])
    }

    @Test func unreadableFilesGiveOneClearLine() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let url = folder.url.appendingPathComponent("checkpoint.ckpt")
        let path = url.path
        #expect(throws: TrainingError.checkpoint("\(path): no such file")) { try Checkpoint.read(from: url) }
        try Data("hello, world, this is not it".utf8).write(to: url)
        #expect(throws: TrainingError.checkpoint("\(path): not an optlang checkpoint")) {
            try Checkpoint.read(from: url)
        }
        try sample(step: 3, value: 1).write(to: url)
        let whole = try Data(contentsOf: url)
        try whole.dropLast(6).write(to: url)
        #expect(throws: TrainingError.checkpoint("\(path): truncated: expected 40 bytes of tensor data, found 34")) {
            try Checkpoint.read(from: url)
        }
        try whole.prefix(20).write(to: url)
        #expect(throws: TrainingError.checkpoint("\(path): truncated header")) { try Checkpoint.read(from: url) }
    }

    @Test func damagedHeaderIsReportedNotTrapped() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let url = folder.url.appendingPathComponent("checkpoint.ckpt")
        let header = Array(
            (#"{"format":"optlang-checkpoint","version":1,"step":1,"tokens":0,"elapsed_s":0,"#
                + #""data_rng":["1","2","3","4"],"parameters":[{"name":"w","shape":[1099511627776,1099511627776],"#
                + #""offset":0}],"optimizer":[],"data_bytes":0}"#).utf8)
        let length = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
        try Data(Array("OPTLCKPT".utf8) + length + header).write(to: url)
        #expect(throws: TrainingError.checkpoint("\(url.path): tensor 'w' lies outside the data")) {
            try Checkpoint.read(from: url)
        }
    }

    @Test func checkpointOfAnotherModelIsRejectedBeforeAnythingChanges() throws {
        let (small, large) = (try TemporaryFolder(), try TemporaryFolder())
        defer {
            small.cleanUp()
            large.cleanUp()
        }
        _ = try makeTrainer(in: small.url, steps: 2, vocab: 6).run()
        let trainer = try makeTrainer(in: large.url, steps: 4, vocab: 8)
        let before = parameterBits(trainer.model)
        let path = small.url.appendingPathComponent("checkpoint.ckpt").path
        #expect(
            throws: TrainingError.checkpoint(
                "\(path): parameter 'embed' has shape [6, 6] in the checkpoint but [8, 8] in the model")
        ) {
            try trainer.resume(from: small.url)
        }
        #expect(parameterBits(trainer.model) == before && trainer.step == 0)
    }

    @Test func missingAndExtraTensorsAreNamed() throws {
        let metas = [
            ParameterMeta(name: "w", role: .mlp, layer: 0, shape: [2, 2]),
            ParameterMeta(name: "b", role: .bias, layer: 0, shape: [1]),
            ParameterMeta(name: "c", role: .bias, layer: 0, shape: [1]),
        ]
        let checkpoint = sample(step: 1, value: 0)
        #expect(throws: TrainingError.checkpoint("the model has parameter 'c' but the checkpoint does not")) {
            try checkpoint.validate(against: metas)
        }
        #expect(throws: TrainingError.checkpoint("the checkpoint has parameter 'b' that the model does not")) {
            try checkpoint.validate(against: Array(metas.prefix(1)))
        }
        #expect(throws: TrainingError.checkpoint("the optimizer has state 'v' but the checkpoint does not")) {
            try checkpoint.validate(againstOptimizerState: ["b/m": Tensor([0]), "v": Tensor([0])])
        }
        #expect(
            throws: TrainingError.checkpoint(
                "optimizer state 'b/m' has shape [1] in the checkpoint but [2] in the optimizer")
        ) {
            try checkpoint.validate(againstOptimizerState: ["b/m": Tensor([0, 0]), "w/m": .zeros([2, 2])])
        }
        try checkpoint.validate(againstOptimizerState: [:])
    }
}
