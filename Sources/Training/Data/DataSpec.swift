/// What `--data` asked for.
public enum DataSpec: Equatable, Sendable {
    /// The synthetic hidden Markov source. Its seed is fixed (``SyntheticHMM/defaultSeed``),
    /// not taken from the training seed, so runs with different training seeds see the
    /// same language and their losses compare.
    case synthetic(seed: UInt64)
    /// A UTF-8 text file, modelled character by character.
    case text(path: String)
    /// An llm.c / nanoGPT token shard.
    case tokenShard(path: String)

    /// Parses a `--data` value: absent or `synthetic` → the synthetic source; `*.txt` → text;
    /// `*.bin` → token shard (extensions in any case). Files are not read here.
    public static func parse(_ value: String?) throws(DataError) -> DataSpec {
        guard let value, value != "synthetic" else { return .synthetic(seed: SyntheticHMM.defaultSeed) }
        let name = value.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        let fileExtension = parts.count > 1 && !parts[0].isEmpty ? parts.last!.lowercased() : ""
        switch fileExtension {
        case "txt": return .text(path: value)
        case "bin": return .tokenShard(path: value)
        default: throw .unknownExtension(path: value)
        }
    }

    /// Loads the data, checking that it holds at least one window of `context` for validation.
    public func makeDataset(context: Int) throws(DataError) -> any Dataset {
        switch self {
        case .synthetic(let seed): return SyntheticHMM(seed: seed)
        case .text(let path): return try TextDataset(path: path, context: context)
        case .tokenShard(let path): return try TokenShardDataset(path: path, context: context)
        }
    }
}
