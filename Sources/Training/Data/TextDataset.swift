/// Character-level data from a UTF-8 text file (`--data FILE.txt`).
///
/// Characters are Unicode scalars, not grapheme clusters: scalars are what the file's bytes
/// encode, they do not depend on the Unicode version's segmentation rules, and `\r\n` stays
/// two tokens. The vocabulary is the file's distinct scalars sorted by code point; the first
/// 90% of the text trains, the last 10% validates.
public struct TextDataset: Dataset {
    /// The file, as given.
    public let path: String
    /// Token id → character, in code-point order.
    public let vocabulary: [Unicode.Scalar]
    let split: PositionalSplit<Int32>

    /// Number of distinct characters in the file.
    public var vocabularySize: Int { vocabulary.count }

    /// Number of characters in the file.
    public var length: Int { split.tokens.count }

    /// For logs, e.g. `text 'x.txt' (1115394 characters, 65 distinct)`.
    public var summary: String {
        "text '\(path)' (\(length) characters, \(vocabulary.count) distinct)"
    }

    /// Reads and tokenises `path`.
    /// - Parameter context: the model's context; the text must hold one window of it in the
    ///   validation part (at least `10 × context + 1` characters).
    public init(path: String, context: Int) throws(DataError) {
        try self.init(bytes: readDataFile(path), path: path, context: context)
    }

    /// Tokenises `bytes`; `path` only names the data in errors and the summary.
    init(bytes: [UInt8], path: String, context: Int) throws(DataError) {
        guard !bytes.isEmpty else { throw .empty(path: path) }
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(bytes.count)
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        decoding: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                scalars.append(Unicode.UTF8.decode(encoded))
                offset += encoded.count
            case .emptyInput:
                break decoding
            case .error:
                throw .invalidUTF8(path: path, offset: offset)
            }
        }
        let minimum = PositionalSplit<Int32>.minimumLength(context: context)
        guard scalars.count >= minimum else {
            throw .tooShort(path: path, length: scalars.count, unit: "characters", context: context, minimum: minimum)
        }
        let vocabulary = Set(scalars.map(\.value)).sorted().map { Unicode.Scalar($0)! }
        var ids: [UInt32: Int32] = [:]
        for (id, scalar) in vocabulary.enumerated() { ids[scalar.value] = Int32(id) }
        self.path = path
        self.vocabulary = vocabulary
        self.split = PositionalSplit(tokens: scalars.map { ids[$0.value]! })
    }

    /// The text that `tokens` spell.
    public func decode(_ tokens: [Int32]) -> String {
        var text = String.UnicodeScalarView()
        for token in tokens { text.append(vocabulary[Int(token)]) }
        return String(text)
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

    /// Unknown for real text.
    public func bayesLoss(count: Int, context: Int) -> Double? { nil }
}
