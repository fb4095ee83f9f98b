import TensorRuntime

/// One 64-byte-aligned allocation, carved into named buffers once, at model creation.
final class Arena {
    private let storage: AlignedBuffer<Float>
    private var base: UnsafeMutablePointer<Float> { storage.pointer }
    private let capacity: Int
    private var used = 0

    init(floats: Int) {
        capacity = floats
        storage = AlignedBuffer(count: max(floats, 16), fill: 0)
    }

    /// The next `count` floats, rounded up to a whole 64-byte line.
    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = base + used
        used += (count + 15) / 16 * 16
        precondition(used <= capacity, "arena: out of space")
        return p
    }

    /// Floats that `take` calls with these counts need.
    static func size(_ counts: [Int]) -> Int { counts.reduce(0) { $0 + ($1 + 15) / 16 * 16 } }
}

/// What one block keeps from its forward pass for its backward pass; rows are N = B·T.
struct BlockActivations {
    /// Block input (N,C), and the residual after attention (N,C).
    var input, middle: UnsafeMutablePointer<Float>
    /// First norm: output (N,C), mean and rstd (N).
    var norm1, mean1, rstd1: UnsafeMutablePointer<Float>
    /// Queries, keys (rotated for llama) and values (N,C); attention output (N,C).
    var q, k, v, attention: UnsafeMutablePointer<Float>
    /// Attention softmax statistics (B,H,T,2): row maximum and reciprocal sum.
    var softmaxStats: UnsafeMutablePointer<Float>
    /// Second norm: output (N,C), mean and rstd (N).
    var norm2, mean2, rstd2: UnsafeMutablePointer<Float>
    /// gpt: fc output before GELU (N,H) in `pre`, after it in `hidden`.
    /// llama: gate in `pre`, up in `up`, silu(gate)⊙up in `hidden` (all N,H).
    var pre, up, hidden: UnsafeMutablePointer<Float>

    /// Float counts in the order `init(arena:)` takes them.
    static func counts(_ c: ModelConfig, attention: Fused.AttentionShape) -> [Int] {
        let (n, d, h) = (c.batch * c.context, c.d, c.hidden)
        return [n * d, n * d, n * d, n, n, n * d, n * d, n * d, n * d, attention.statisticsCount, n * d, n, n]
            + [n * h, c.architecture == .llama ? n * h : 0, n * h]
    }

    init(arena: Arena, _ c: ModelConfig, attention shape: Fused.AttentionShape) {
        let counts = Self.counts(c, attention: shape)
        input = arena.take(counts[0])
        middle = arena.take(counts[1])
        norm1 = arena.take(counts[2])
        mean1 = arena.take(counts[3])
        rstd1 = arena.take(counts[4])
        q = arena.take(counts[5])
        k = arena.take(counts[6])
        v = arena.take(counts[7])
        attention = arena.take(counts[8])
        softmaxStats = arena.take(counts[9])
        norm2 = arena.take(counts[10])
        mean2 = arena.take(counts[11])
        rstd2 = arena.take(counts[12])
        pre = arena.take(counts[13])
        up = arena.take(counts[14])
        hidden = arena.take(counts[15])
    }
}

/// Every activation and gradient buffer of one model, allocated once.
final class TransformerBuffers {
    let arena: Arena
    var blocks: [BlockActivations]
    /// Output of the last block (N,C); final norm output (N,C), mean, rstd (N).
    let last, finalNorm, finalMean, finalRstd: UnsafeMutablePointer<Float>
    /// Logits (N, Vp), replaced by their gradient in the backward pass.
    let logits: UnsafeMutablePointer<Float>
    /// Gradient of the residual stream (N,C), and a second (N,C) gradient buffer.
    let dResidual, dScratch: UnsafeMutablePointer<Float>
    /// Gradients of q, k, v (N,C) and of the MLP hidden layer (N,H).
    let dq, dk, dv, dHidden: UnsafeMutablePointer<Float>
    /// Per-chunk partial sums of norm weight gradients (chunks, C).
    let normPartials: UnsafeMutablePointer<Float>
    /// Rotary tables (T, hd/2).
    let cos, sin: UnsafeMutablePointer<Float>
    /// Per-chunk partial losses.
    let lossPartials: UnsafeMutablePointer<Double>
    /// Attention scratch: `attentionParts` pieces of `attention.scratchPerPart` floats.
    let attentionScratch: UnsafeMutablePointer<Float>
    let attentionParts: Int

    init(_ c: ModelConfig, attention: Fused.AttentionShape, vocabStride: Int, parts: Int) {
        let (n, d, h) = (c.batch * c.context, c.d, c.hidden)
        let chunks = Fused.chunkCount(rows: n)
        let tables = c.context * (c.d / c.heads / 2)
        let own =
            [n * d, n * d, n, n, n * vocabStride, n * d, n * d, n * d, n * d, n * d, n * h, chunks * d]
            + [tables, tables, parts * attention.scratchPerPart]
        let perBlock = Arena.size(BlockActivations.counts(c, attention: attention))
        let arena = Arena(floats: Arena.size(own) + c.layers * perBlock)
        self.arena = arena
        blocks = (0..<c.layers).map { _ in BlockActivations(arena: arena, c, attention: attention) }
        last = arena.take(own[0])
        finalNorm = arena.take(own[1])
        finalMean = arena.take(own[2])
        finalRstd = arena.take(own[3])
        logits = arena.take(own[4])
        dResidual = arena.take(own[5])
        dScratch = arena.take(own[6])
        dq = arena.take(own[7])
        dk = arena.take(own[8])
        dv = arena.take(own[9])
        dHidden = arena.take(own[10])
        normPartials = arena.take(own[11])
        cos = arena.take(own[12])
        sin = arena.take(own[13])
        attentionScratch = arena.take(own[14])
        attentionParts = parts
        lossPartials = .allocate(capacity: chunks)
        lossPartials.initialize(repeating: 0, count: chunks)
    }

    deinit { lossPartials.deallocate() }
}
