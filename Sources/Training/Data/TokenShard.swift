import Foundation

/// The llm.c / nanoGPT token shard format: a header of 256 little-endian `Int32` (magic
/// 20240520, version 1, token count, the rest zero) followed by that many little-endian
/// `UInt16` tokens, and nothing after them.
public enum TokenShard {
    /// The first header word of a shard of 16-bit tokens.
    public static let magic: Int32 = 20_240_520
    /// The only version of that layout.
    public static let version: Int32 = 1
    /// Header length in 32-bit words.
    public static let headerWords = 256
    /// Header length in bytes.
    public static let headerBytes = headerWords * 4

    /// The bytes of a shard holding `tokens`.
    public static func encode(_ tokens: [UInt16]) -> [UInt8] {
        precondition(tokens.count <= Int(Int32.max), "a shard holds fewer than 2^31 tokens")
        var bytes = [UInt8](repeating: 0, count: headerBytes + 2 * tokens.count)
        for (word, value) in [magic, version, Int32(tokens.count)].enumerated() {
            let bits = UInt32(bitPattern: value)
            for k in 0..<4 { bytes[4 * word + k] = UInt8(truncatingIfNeeded: bits >> (8 * k)) }
        }
        for (i, token) in tokens.enumerated() {
            bytes[headerBytes + 2 * i] = UInt8(truncatingIfNeeded: token)
            bytes[headerBytes + 2 * i + 1] = UInt8(truncatingIfNeeded: token >> 8)
        }
        return bytes
    }

    /// Writes a shard holding `tokens` to `path`, replacing any file there.
    public static func write(_ tokens: [UInt16], to path: String) throws(DataError) {
        guard FileManager.default.createFile(atPath: path, contents: Data(encode(tokens))) else {
            throw .cannotWrite(path: path)
        }
    }

    /// The tokens of a shard, after checking its header against its size.
    /// - Parameter path: names the shard in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(DataError) -> [UInt16] {
        guard !bytes.isEmpty else { throw .empty(path: path) }
        guard bytes.count >= headerBytes else { throw .headerTooShort(path: path, bytes: bytes.count) }
        func word(_ index: Int) -> Int32 {
            var bits: UInt32 = 0
            for k in 0..<4 { bits |= UInt32(bytes[4 * index + k]) << (8 * k) }
            return Int32(bitPattern: bits)
        }
        guard word(0) == magic else { throw .notAShard(path: path, magic: word(0)) }
        guard word(1) == version else { throw .unsupportedVersion(path: path, version: word(1)) }
        let declared = Int(word(2))
        let payload = bytes.count - headerBytes
        guard payload / 2 >= declared else { throw .truncated(path: path, declared: declared, found: payload / 2) }
        guard payload == 2 * declared else {
            throw .trailingBytes(path: path, declared: declared, extra: payload - 2 * declared)
        }
        var tokens = [UInt16](repeating: 0, count: declared)
        for i in 0..<declared {
            tokens[i] = UInt16(bytes[headerBytes + 2 * i]) | UInt16(bytes[headerBytes + 2 * i + 1]) << 8
        }
        return tokens
    }
}

/// Pre-tokenised data from an llm.c / nanoGPT shard (`--data FILE.bin`).
///
/// The vocabulary size is the largest token in the file plus one, not GPT-2's 50257: the
/// header does not name a tokenizer, and rows for tokens that never occur would only be
/// dead weight. The first 90% of the tokens train, the last 10% validate.
public struct TokenShardDataset: Dataset {
    /// The file, as given.
    public let path: String
    /// The largest token in the shard plus one.
    public let vocabularySize: Int
    let split: PositionalSplit<UInt16>

    /// Number of tokens in the shard.
    public var length: Int { split.tokens.count }

    /// For logs, e.g. `token shard 'x.bin' (1000000 tokens, vocabulary 50257)`.
    public var summary: String {
        "token shard '\(path)' (\(length) tokens, vocabulary \(vocabularySize))"
    }

    /// Reads and checks `path`.
    /// - Parameter context: the model's context; the shard must hold one window of it in the
    ///   validation part (at least `10 × context + 1` tokens).
    public init(path: String, context: Int) throws(DataError) {
        try self.init(bytes: readDataFile(path), path: path, context: context)
    }

    /// Decodes a shard's `bytes`; `path` only names the data in errors and the summary.
    init(bytes: [UInt8], path: String, context: Int) throws(DataError) {
        let tokens = try TokenShard.decode(bytes, path: path)
        let minimum = PositionalSplit<UInt16>.minimumLength(context: context)
        guard tokens.count >= minimum else {
            throw .tooShort(path: path, length: tokens.count, unit: "tokens", context: context, minimum: minimum)
        }
        self.path = path
        self.vocabularySize = Int(tokens.max() ?? 0) + 1
        self.split = PositionalSplit(tokens: tokens)
    }

    /// Training windows start at positions drawn uniformly from the training part.
    public func trainBatch(batch: Int, context: Int, inputs: inout [Int32], targets: inout [Int32], draw: (Int) -> Int)
    {
        split.trainBatch(batch: batch, context: context, inputs: &inputs, targets: &targets, draw: draw)
    }

    /// Evenly spaced, non-overlapping windows over the validation part: `count` of them, or
    /// fewer when fewer fit (the result then holds `inputs.count / context` windows).
    public func validationWindows(count: Int, context: Int) -> (inputs: [Int32], targets: [Int32]) {
        split.validationWindows(count: count, context: context)
    }

    /// Unknown for real data.
    public func bayesLoss(count: Int, context: Int) -> Double? { nil }
}
