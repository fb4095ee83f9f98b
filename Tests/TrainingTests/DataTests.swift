import Foundation
import TensorRuntime
import Testing

@testable import Training

/// A fresh directory for one test's files.
private func scratchDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("optlang-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

private func writeFile(_ bytes: [UInt8], named name: String) throws -> String {
    let path = try scratchDirectory() + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// The message a throwing call fails with, or nil when it does not throw.
private func message(_ body: () throws -> Any) -> String? {
    do {
        _ = try body()
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite struct DataTests {
    static let sampleText =
        String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 8) + "héllo → wörld!\n"

    // MARK: --data

    @Test func dataSpecChoosesTheDatasetByExtension() throws {
        #expect(try DataSpec.parse(nil) == .synthetic(seed: 1))
        #expect(try DataSpec.parse("synthetic") == .synthetic(seed: 1))
        #expect(try DataSpec.parse("corpus/shakespeare.txt") == .text(path: "corpus/shakespeare.txt"))
        #expect(try DataSpec.parse("fineweb_val_000000.BIN") == .tokenShard(path: "fineweb_val_000000.BIN"))
    }

    @Test func dataSpecRejectsOtherExtensions() {
        #expect(
            message { try DataSpec.parse("table.csv") } == "unknown data file type 'table.csv' (expected .txt or .bin)")
        #expect(
            message { try DataSpec.parse("dir.txt/notes") }
                == "unknown data file type 'dir.txt/notes' (expected .txt or .bin)")
        #expect(message { try DataSpec.parse(".txt") } == "unknown data file type '.txt' (expected .txt or .bin)")
    }

    @Test func syntheticDataNeedsNoFile() throws {
        let data = try DataSpec.synthetic(seed: 1).makeDataset(context: 128)
        #expect(data.vocabularySize == 64)
        #expect(data.summary == "synthetic hmm (seed 1, 64 tokens, 32 states)")
    }

    // MARK: Errors

    @Test func missingFileCannotBeRead() {
        #expect(
            message { try DataSpec.text(path: "no-such-dir/x.txt").makeDataset(context: 4) }
                == "cannot read data file 'no-such-dir/x.txt'")
        #expect(
            message { try DataSpec.tokenShard(path: "no-such-dir/x.bin").makeDataset(context: 4) }
                == "cannot read data file 'no-such-dir/x.bin'")
    }

    @Test func directoryCannotBeRead() throws {
        let directory = try scratchDirectory()
        #expect(message { try TextDataset(path: directory, context: 4) } == "cannot read data file '\(directory)'")
    }

    @Test func emptyFilesAreRejected() throws {
        let text = try writeFile([], named: "x.txt")
        let shard = try writeFile([], named: "x.bin")
        #expect(message { try TextDataset(path: text, context: 4) } == "'\(text)' is empty")
        #expect(message { try TokenShardDataset(path: shard, context: 4) } == "'\(shard)' is empty")
    }

    @Test func invalidUTF8NamesTheByteOffset() {
        // "hé" is 3 bytes; 0xC3 then '(' is a lead byte without its continuation.
        let bytes = Array("hé".utf8) + [0xC3, 0x28] + Array(String(repeating: "a", count: 100).utf8)
        #expect(
            message { try TextDataset(bytes: bytes, path: "x.txt", context: 4) }
                == "'x.txt' is not valid UTF-8: bad byte at offset 3")
        #expect(
            message { try TextDataset(bytes: [0xFF], path: "x.txt", context: 4) }
                == "'x.txt' is not valid UTF-8: bad byte at offset 0")
        // An encoded surrogate is not UTF-8 either.
        #expect(
            message { try TextDataset(bytes: Array("ab".utf8) + [0xED, 0xA0, 0x80], path: "x.txt", context: 4) }
                == "'x.txt' is not valid UTF-8: bad byte at offset 2")
    }

    @Test func textTooShortForOneWindowNamesContextAndLength() throws {
        let short = Array(String(repeating: "ab", count: 20).utf8)
        #expect(
            message { try TextDataset(bytes: short, path: "x.txt", context: 4) }
                == "'x.txt' is too short for context 4: 40 characters, need at least 41")
        // One more character leaves exactly one window (5 characters) for validation.
        let data = try TextDataset(bytes: short + [0x61], path: "x.txt", context: 4)
        #expect(data.validationWindows(count: 3, context: 4).inputs.count == 4)
    }

    @Test func shardTooShortForOneWindowNamesContextAndLength() {
        let bytes = TokenShard.encode([UInt16](repeating: 7, count: 80))
        #expect(
            message { try TokenShardDataset(bytes: bytes, path: "x.bin", context: 8) }
                == "'x.bin' is too short for context 8: 80 tokens, need at least 81")
    }

    @Test func wrongMagicIsNotAShard() {
        var bytes = TokenShard.encode([1, 2, 3])
        bytes[0...3] = [123, 0, 0, 0]
        #expect(
            message { try TokenShard.decode(bytes, path: "x.bin") }
                == "'x.bin' is not a token shard: magic 123, expected 20240520")
        #expect(
            message { try TokenShard.decode(Array("hello".utf8), path: "x.bin") }
                == "'x.bin' is not a token shard: 5 bytes, shorter than the 1024-byte header")
    }

    @Test func otherVersionsAreRejected() {
        var bytes = TokenShard.encode([1, 2, 3])
        bytes[4] = 7
        #expect(message { try TokenShard.decode(bytes, path: "x.bin") } == "'x.bin' has shard version 7, expected 1")
    }

    @Test func truncatedShardSaysHowManyTokensItHolds() {
        let bytes = TokenShard.encode([UInt16](repeating: 1, count: 100))
        #expect(
            message { try TokenShard.decode(Array(bytes.dropLast(3)), path: "x.bin") }
                == "'x.bin' is truncated: header says 100 tokens, file holds 98")
        #expect(
            message { try TokenShard.decode(bytes + [0, 0, 0], path: "x.bin") }
                == "'x.bin' has 3 bytes after the 100 tokens its header announces")
    }

    @Test func unwritableShardPathIsReported() {
        #expect(
            message { try TokenShard.write([1, 2], to: "no-such-dir/x.bin") }
                == "cannot write data file 'no-such-dir/x.bin'")
    }

    // MARK: Token shards

    @Test func shardHeaderIsLittleEndianWithMagicVersionAndCount() {
        let bytes = TokenShard.encode([0x0102, 0xFFFF])
        #expect(bytes.count == 1024 + 4)
        #expect(Array(bytes[0..<12]) == [136, 216, 52, 1, 1, 0, 0, 0, 2, 0, 0, 0])
        #expect(bytes[12..<1024].allSatisfy { $0 == 0 })
        #expect(Array(bytes[1024...]) == [0x02, 0x01, 0xFF, 0xFF])
    }

    @Test func shardRoundTripsThroughTheWriter() throws {
        let tokens = (0..<500).map { UInt16(($0 * 7919) % 300) }
        let path = try scratchDirectory() + "/round.bin"
        try TokenShard.write(tokens, to: path)
        let data = try TokenShardDataset(path: path, context: 16)
        #expect(data.split.tokens == tokens)
        #expect(data.vocabularySize == 300)
        #expect(data.summary == "token shard '\(path)' (500 tokens, vocabulary 300)")
        #expect(try DataSpec.parse(path).makeDataset(context: 16).vocabularySize == 300)
    }

    @Test func validationWindowsAreEvenlySpacedOverTheLastTenthWithoutOverlap() throws {
        // Token i sits at position i, so every window shows where it starts.
        let data = try TokenShardDataset(
            bytes: TokenShard.encode((0..<1000).map(UInt16.init)), path: "x.bin", context: 8)
        let few = data.validationWindows(count: 4, context: 8)
        #expect(stride(from: 0, to: few.inputs.count, by: 8).map { few.inputs[$0] } == [900, 930, 960, 991])
        #expect(few.targets.last == 999)
        // Only (100 - 1) / 8 = 12 windows fit; they tile the part.
        let many = data.validationWindows(count: 20, context: 8)
        #expect(many.inputs == (900..<996).map(Int32.init))
        #expect(many.targets == (901..<997).map(Int32.init))
    }

    @Test func trainingWindowsStayInsideTheFirstNineTenths() throws {
        let data = try TokenShardDataset(
            bytes: TokenShard.encode((0..<1000).map(UInt16.init)), path: "x.bin", context: 8)
        var inputs: [Int32] = []
        var targets: [Int32] = []
        var bounds: [Int] = []
        data.trainBatch(batch: 2, context: 8, inputs: &inputs, targets: &targets) { n in
            bounds.append(n)
            return bounds.count == 1 ? 0 : n - 1
        }
        #expect(bounds == [892, 892])
        #expect(inputs == (0..<8).map(Int32.init) + (891..<899).map(Int32.init))
        #expect(targets.last == 899)
    }

    // MARK: Text

    @Test func textVocabularyIsTheSortedDistinctScalars() throws {
        let data = try TextDataset(bytes: Array(Self.sampleText.utf8), path: "x.txt", context: 8)
        let distinct = Set(Self.sampleText.unicodeScalars.map(\.value)).sorted()
        #expect(data.vocabulary.map(\.value) == distinct)
        #expect(data.vocabularySize == distinct.count)
        #expect(data.decode(data.split.tokens) == Self.sampleText)
        #expect(data.length == Self.sampleText.unicodeScalars.count)
    }

    @Test func textSplitsNinetyTenByPosition() throws {
        let data = try TextDataset(bytes: Array(Self.sampleText.utf8), path: "x.txt", context: 8)
        let scalars = Array(Self.sampleText.unicodeScalars)
        #expect(data.split.boundary == scalars.count * 9 / 10)
        let validation = data.validationWindows(count: 1, context: 8)
        let tail = scalars[data.split.boundary...]
        #expect(data.decode(validation.inputs) == String(String.UnicodeScalarView(tail.prefix(8))))
        #expect(data.decode(validation.targets) == String(String.UnicodeScalarView(tail.dropFirst().prefix(8))))
    }

    // MARK: Every dataset

    static func datasets() throws -> [any Dataset] {
        [
            SyntheticHMM(),
            try TextDataset(bytes: Array(Self.sampleText.utf8), path: "x.txt", context: 8),
            try TokenShardDataset(
                bytes: TokenShard.encode((0..<400).map { UInt16(($0 * $0) % 97) }), path: "x.bin", context: 8),
        ]
    }

    @Test func trainingTargetsAreInputsShiftedByOne() throws {
        for data in try Self.datasets() {
            var rng = SeededRandom(seed: 3)
            var inputs: [Int32] = []
            var targets: [Int32] = []
            data.trainBatch(batch: 4, context: 8, inputs: &inputs, targets: &targets) { rng.nextInt(below: $0) }
            #expect(inputs.count == 32 && targets.count == 32)
            for row in 0..<4 {
                #expect(inputs[(row * 8 + 1)..<(row * 8 + 8)] == targets[(row * 8)..<(row * 8 + 7)], "\(data.summary)")
            }
            #expect((inputs + targets).allSatisfy { $0 >= 0 && Int($0) < data.vocabularySize })
        }
    }

    @Test func sameDrawsGiveSameBatches() throws {
        for data in try Self.datasets() {
            func batch(seed: UInt64) -> [Int32] {
                var rng = SeededRandom(seed: seed)
                var inputs: [Int32] = []
                var targets: [Int32] = []
                data.trainBatch(batch: 4, context: 8, inputs: &inputs, targets: &targets) { rng.nextInt(below: $0) }
                return inputs + targets
            }
            #expect(batch(seed: 5) == batch(seed: 5), "\(data.summary)")
            #expect(batch(seed: 5) != batch(seed: 6), "\(data.summary)")
        }
    }

    @Test func validationWindowsAreIdenticalAcrossCalls() throws {
        for data in try Self.datasets() {
            let first = data.validationWindows(count: 3, context: 8)
            let second = data.validationWindows(count: 3, context: 8)
            #expect(first.inputs == second.inputs && first.targets == second.targets, "\(data.summary)")
            #expect(first.inputs.count == 24, "\(data.summary)")
            for row in 0..<3 {
                #expect(first.inputs[(row * 8 + 1)..<(row * 8 + 8)] == first.targets[(row * 8)..<(row * 8 + 7)])
            }
        }
    }
}
