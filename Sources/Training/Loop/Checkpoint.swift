import Foundation
import TensorRuntime

/// Everything a run needs to continue bit-identically: the model's parameters and the
/// optimizer's state by name, the step, the data generator's state and the running totals
/// that metrics continue from.
///
/// One file, `checkpoint.ckpt` in the run folder: an 8-byte magic `OPTLCKPT`, the header's
/// length as a little-endian `UInt64`, a JSON header naming every tensor with its shape and
/// byte offset, then the tensors as raw little-endian `Float32` (see `docs/runs.md`).
public struct Checkpoint: Sendable {
    /// The last completed step.
    public internal(set) var step: Int
    /// Training tokens consumed up to `step`.
    public internal(set) var tokens: Int
    /// Wall time spent up to `step`, over every session of the run.
    public internal(set) var elapsedSeconds: Double
    /// The generator that draws training windows, as it stands after `step`.
    public internal(set) var dataRandom: SeededRandom
    /// The lowest validation loss so far and its step.
    public internal(set) var bestValidation: (loss: Float, step: Int)?
    /// Model parameters, in model order.
    public internal(set) var parameters: [(name: String, tensor: Tensor)]
    /// Optimizer state, sorted by name.
    public internal(set) var optimizerState: [(name: String, tensor: Tensor)]

    /// The checkpoint's file name inside a run folder.
    public static let fileName = "checkpoint.ckpt"
    static let magic: [UInt8] = Array("OPTLCKPT".utf8)
    static let formatVersion = 1

    // MARK: Writing

    /// Writes the checkpoint to `url` atomically: a failure at any point leaves the
    /// previous file intact.
    func write(to url: URL) throws {
        try AtomicFile.replace(url) { writer in try encode(into: writer) }
    }

    /// Writes the whole file through `writer`.
    func encode(into writer: AtomicFile.Writer) throws {
        var offset = 0
        func entries(_ list: [(name: String, tensor: Tensor)]) -> JSON {
            .array(
                list.map { entry in
                    defer { offset += entry.tensor.count * 4 }
                    return .object([
                        ("name", .string(entry.name)),
                        ("shape", .array(entry.tensor.shape.dims.map(JSON.int))),
                        ("offset", .int(offset)),
                    ])
                })
        }
        var header: [(String, JSON)] = [
            ("format", .string("optlang-checkpoint")),
            ("version", .int(Checkpoint.formatVersion)),
            ("step", .int(step)),
            ("tokens", .int(tokens)),
            ("elapsed_s", .double(elapsedSeconds)),
            ("data_rng", .array(dataRandom.state.map { .string(Checkpoint.hex($0)) })),
        ]
        if let best = bestValidation {
            header.append(("best_val_loss", .float(best.loss)))
            header.append(("best_val_step", .int(best.step)))
        }
        header.append(("parameters", entries(parameters)))
        header.append(("optimizer", entries(optimizerState)))
        header.append(("data_bytes", .int(offset)))
        let headerBytes = Array(JSON.object(header).compact.utf8)

        try writer.write(Checkpoint.magic)
        try writer.write(littleEndianBytes(UInt64(headerBytes.count)))
        try writer.write(headerBytes)
        for (_, tensor) in parameters + optimizerState {
            #if _endian(little)
                try tensor.withUnsafeBufferPointer { buffer in try writer.write(UnsafeRawBufferPointer(buffer)) }
            #else
                let swapped = tensor.scalars.map { $0.bitPattern.littleEndian }
                try swapped.withUnsafeBytes { raw in try writer.write(raw) }
            #endif
        }
    }

    /// Sixteen hex digits: JSON numbers cannot hold every 64-bit integer exactly.
    private static func hex(_ word: UInt64) -> String {
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private func littleEndianBytes(_ x: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: x >> (8 * $0)) } }

    // MARK: Reading

    /// Reads and checks the checkpoint file at `url`.
    /// - Throws: ``TrainingError/checkpoint(_:)`` with one line saying what is wrong.
    public static func read(from url: URL) throws(TrainingError) -> Checkpoint {
        let path = url.path
        func fail(_ message: String) -> TrainingError { .checkpoint("\(path): \(message)") }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw FileManager.default.fileExists(atPath: path) ? fail("cannot be read") : fail("no such file")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else { throw fail("not an optlang checkpoint") }
        let headerLength = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[8 + $1]) << (8 * UInt64($1)) }
        guard headerLength <= UInt64(bytes.count - 16) else { throw fail("truncated header") }
        let dataStart = 16 + Int(headerLength)
        let header: JSON
        do {
            header = try JSON.parse(String(decoding: bytes[16..<dataStart], as: UTF8.self))
        } catch {
            throw fail("unreadable header (\(error))")
        }
        guard header["format"]?.stringValue == "optlang-checkpoint" else { throw fail("not an optlang checkpoint") }
        guard let version = header["version"]?.intValue, version == formatVersion else {
            throw fail(
                "format version \(header["version"]?.compact ?? "?") is not supported (expected \(formatVersion))")
        }
        guard let step = header["step"]?.intValue, let tokens = header["tokens"]?.intValue,
            let elapsed = header["elapsed_s"]?.doubleValue, let dataBytes = header["data_bytes"]?.intValue,
            let rngWords = header["data_rng"]?.arrayValue?.compactMap({
                $0.stringValue.flatMap { UInt64($0, radix: 16) }
            }),
            rngWords.count == 4
        else { throw fail("header is missing step, tokens, elapsed_s, data_rng or data_bytes") }
        guard bytes.count - dataStart == dataBytes else {
            throw fail("truncated: expected \(dataBytes) bytes of tensor data, found \(bytes.count - dataStart)")
        }

        func tensors(_ key: String) throws(TrainingError) -> [(name: String, tensor: Tensor)] {
            guard let list = header[key]?.arrayValue else { throw fail("header has no '\(key)' list") }
            var out: [(name: String, tensor: Tensor)] = []
            for entry in list {
                guard let name = entry["name"]?.stringValue,
                    let dims = entry["shape"]?.arrayValue?.compactMap(\.intValue),
                    dims.count == entry["shape"]?.arrayValue?.count, dims.allSatisfy({ $0 >= 0 }),
                    let offset = entry["offset"]?.intValue
                else { throw fail("malformed entry in '\(key)'") }
                // Counted with overflow checks: a damaged header must not trap.
                var count = 1
                for d in dims {
                    let (product, overflow) = count.multipliedReportingOverflow(by: d)
                    guard !overflow, product <= dataBytes / 4 else {
                        throw fail("tensor '\(name)' lies outside the data")
                    }
                    count = product
                }
                let shape = Shape(dims)
                guard offset >= 0, offset % 4 == 0, offset <= dataBytes - count * 4 else {
                    throw fail("tensor '\(name)' lies outside the data")
                }
                let start = dataStart + offset
                let tensor = Tensor(shape: shape) { out in
                    for i in 0..<shape.count {
                        let b = start + 4 * i
                        let bits =
                            UInt32(bytes[b]) | UInt32(bytes[b + 1]) << 8 | UInt32(bytes[b + 2]) << 16
                            | UInt32(bytes[b + 3]) << 24
                        out[i] = Float(bitPattern: bits)
                    }
                }
                out.append((name, tensor))
            }
            return out
        }

        var best: (loss: Float, step: Int)?
        if let loss = header["best_val_loss"]?.floatValue, let s = header["best_val_step"]?.intValue {
            best = (loss, s)
        }
        var random = SeededRandom(seed: 0)
        random.state = rngWords
        return Checkpoint(
            step: step, tokens: tokens, elapsedSeconds: elapsed, dataRandom: random, bestValidation: best,
            parameters: try tensors("parameters"), optimizerState: try tensors("optimizer"))
    }

    // MARK: Checking against a model and an optimizer

    /// Checks that the checkpoint holds exactly the model's parameters, with the same shapes.
    func validate(against metas: [ParameterMeta]) throws(TrainingError) {
        let saved = Dictionary(parameters.map { ($0.name, $0.tensor.shape.dims) }, uniquingKeysWith: { a, _ in a })
        for meta in metas {
            guard let dims = saved[meta.name] else {
                throw .checkpoint("the model has parameter '\(meta.name)' but the checkpoint does not")
            }
            guard dims == meta.shape else {
                throw .checkpoint(
                    "parameter '\(meta.name)' has shape \(Shape(dims)) in the checkpoint but \(Shape(meta.shape)) in the model"
                )
            }
        }
        let names = Set(metas.map(\.name))
        if let extra = parameters.first(where: { !names.contains($0.name) }) {
            throw .checkpoint("the checkpoint has parameter '\(extra.name)' that the model does not")
        }
    }

    /// Checks the optimizer state against what a freshly prepared optimizer holds. Optimizers
    /// that create state lazily report none before their first step; then only
    /// ``Optimizer/loadState(_:)`` can judge.
    func validate(againstOptimizerState fresh: [String: Tensor]) throws(TrainingError) {
        guard !fresh.isEmpty else { return }
        let saved = Dictionary(optimizerState.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        for name in fresh.keys.sorted() {
            guard let tensor = saved[name] else {
                throw .checkpoint("the optimizer has state '\(name)' but the checkpoint does not")
            }
            guard tensor.shape == fresh[name]!.shape else {
                throw .checkpoint(
                    "optimizer state '\(name)' has shape \(tensor.shape) in the checkpoint but \(fresh[name]!.shape) in the optimizer"
                )
            }
        }
        if let extra = optimizerState.first(where: { fresh[$0.name] == nil }) {
            throw .checkpoint("the checkpoint has optimizer state '\(extra.name)' that the optimizer does not")
        }
    }
}
