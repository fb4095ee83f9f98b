/// Why a `--data` value could not become a dataset. Each case renders as one line that
/// starts with the file (or value) at fault.
public enum DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not exist or cannot be read.
    case cannotRead(path: String)
    /// A shard could not be written.
    case cannotWrite(path: String)
    /// The file has no bytes at all.
    case empty(path: String)
    /// A text file is not UTF-8; `offset` is the first byte that is not part of a valid sequence.
    case invalidUTF8(path: String, offset: Int)
    /// A `.bin` file is shorter than the shard header.
    case headerTooShort(path: String, bytes: Int)
    /// A `.bin` file's first header word is not the shard magic number.
    case notAShard(path: String, magic: Int32)
    /// A shard's version is not the one this reader understands.
    case unsupportedVersion(path: String, version: Int32)
    /// A shard holds fewer tokens than its header announces.
    case truncated(path: String, declared: Int, found: Int)
    /// A shard has bytes beyond the tokens its header announces.
    case trailingBytes(path: String, declared: Int, extra: Int)
    /// The data holds too few tokens for one window of `context` in each of the train and
    /// validation parts.
    case tooShort(path: String, length: Int, unit: String, context: Int, minimum: Int)
    /// The `--data` value names a file type other than `.txt` or `.bin`.
    case unknownExtension(path: String)

    /// The one-line message, led by the file or value at fault.
    public var description: String {
        switch self {
        case .cannotRead(let path):
            return "cannot read data file '\(path)'"
        case .cannotWrite(let path):
            return "cannot write data file '\(path)'"
        case .empty(let path):
            return "'\(path)' is empty"
        case .invalidUTF8(let path, let offset):
            return "'\(path)' is not valid UTF-8: bad byte at offset \(offset)"
        case .headerTooShort(let path, let bytes):
            return
                "'\(path)' is not a token shard: \(bytes) bytes, shorter than the \(TokenShard.headerBytes)-byte header"
        case .notAShard(let path, let magic):
            return "'\(path)' is not a token shard: magic \(magic), expected \(TokenShard.magic)"
        case .unsupportedVersion(let path, let version):
            return "'\(path)' has shard version \(version), expected \(TokenShard.version)"
        case .truncated(let path, let declared, let found):
            return "'\(path)' is truncated: header says \(declared) tokens, file holds \(found)"
        case .trailingBytes(let path, let declared, let extra):
            return "'\(path)' has \(extra) bytes after the \(declared) tokens its header announces"
        case .tooShort(let path, let length, let unit, let context, let minimum):
            return "'\(path)' is too short for context \(context): \(length) \(unit), need at least \(minimum)"
        case .unknownExtension(let path):
            return "unknown data file type '\(path)' (expected .txt or .bin)"
        }
    }
}
