/// The decoder's architecture and sizes, with the `tiny` and `small` presets and the
/// `--model tiny,d=192,layers=6` override syntax.
public struct ModelConfig: Sendable, Equatable, Codable {
    public enum Architecture: String, Sendable, Codable, CaseIterable {
        /// Learned positions, LayerNorm (no bias), GELU MLP of width 4d, untied head.
        case gpt
        /// RMSNorm, SwiGLU MLP, rotary positions.
        case llama
    }

    public var architecture: Architecture
    /// Model width.
    public var d: Int
    public var layers: Int
    public var heads: Int
    /// Context length (tokens per sequence).
    public var context: Int
    /// Sequences per batch.
    public var batch: Int
    /// Vocabulary size; set from the data.
    public var vocab: Int
    /// Width of the MLP's hidden layer (4d for gpt; for llama, 8d/3 rounded up to 32, as LLaMA does).
    public var hidden: Int { architecture == .gpt ? 4 * d : ((8 * d / 3) + 31) / 32 * 32 }

    public static let tiny = ModelConfig(
        architecture: .gpt, d: 128, layers: 4, heads: 4, context: 128, batch: 16, vocab: 0)
    public static let small = ModelConfig(
        architecture: .gpt, d: 256, layers: 6, heads: 8, context: 256, batch: 8, vocab: 0)

    public init(architecture: Architecture, d: Int, layers: Int, heads: Int, context: Int, batch: Int, vocab: Int) {
        self.architecture = architecture
        self.d = d
        self.layers = layers
        self.heads = heads
        self.context = context
        self.batch = batch
        self.vocab = vocab
    }

    /// A problem with a `--model` specification.
    public struct SpecError: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses `tiny`, `small`, or either followed by `,field=value` overrides
    /// (`arch=llama`, `d=192`, `layers=6`, `heads=4`, `context=64`, `batch=8`).
    public static func parse(_ spec: String) throws(SpecError) -> ModelConfig {
        let parts = spec.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var config: ModelConfig
        switch parts[0] {
        case "tiny": config = .tiny
        case "small": config = .small
        default: throw SpecError(message: "unknown model preset '\(parts[0])' (presets: tiny, small)")
        }
        for part in parts.dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw SpecError(message: "expected field=value in --model, got '\(part)'") }
            let (key, value) = (kv[0], kv[1])
            if key == "arch" {
                guard let a = Architecture(rawValue: value) else {
                    throw SpecError(message: "unknown architecture '\(value)' (gpt or llama)")
                }
                config.architecture = a
                continue
            }
            guard let n = Int(value), n > 0, n <= 1 << 16 else {
                throw SpecError(message: "model field '\(key)' needs a positive whole number, got '\(value)'")
            }
            switch key {
            case "d": config.d = n
            case "layers": config.layers = n
            case "heads": config.heads = n
            case "context": config.context = n
            case "batch": config.batch = n
            default:
                throw SpecError(
                    message: "unknown model field '\(key)' (fields: arch, d, layers, heads, context, batch)")
            }
        }
        guard config.d % config.heads == 0 else {
            throw SpecError(message: "d (\(config.d)) must be a multiple of heads (\(config.heads))")
        }
        if config.architecture == .llama && (config.d / config.heads) % 2 != 0 {
            throw SpecError(
                message: "llama needs an even head width for rotary positions (d/heads = \(config.d / config.heads))")
        }
        return config
    }

    /// Tokens per training step.
    public var tokensPerStep: Int { batch * context }
}
