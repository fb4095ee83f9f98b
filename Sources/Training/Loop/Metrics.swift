import Foundation

/// One line of `metrics.jsonl`: what happened at a logged step. Key names are fixed; tools
/// read them.
public struct MetricsRecord: Sendable, Equatable {
    public var step: Int
    /// This step's training loss (not averaged over the steps since the last line, so a
    /// resumed run writes the same numbers as an uninterrupted one).
    public var trainLoss: Float
    /// Mean loss on the validation windows, on evaluation steps only.
    public var validationLoss: Float?
    /// The dataset's best achievable loss on those windows, when it knows it.
    public var bayesLoss: Double?
    /// ``Optimizer/reportedLearningRate(step:)``.
    public var learningRate: Double?
    /// The global L2 norm of the gradients, before clipping.
    public var gradientNorm: Double
    /// Training tokens consumed up to and including this step.
    public var tokens: Int
    /// Training throughput since the previous line (evaluation time excluded).
    public var tokensPerSecond: Double
    /// Wall time since the run began, over every session of a resumed run.
    public var elapsedSeconds: Double
    /// The optimizer's per-parameter diagnostics: name → parameter → value.
    public var logs: [String: [String: Double]] = [:]

    /// The record as one compact JSON object; keys without a value are left out.
    public var jsonLine: String {
        var pairs: [(String, JSON)] = [("step", .int(step)), ("train_loss", .float(trainLoss))]
        if let v = validationLoss { pairs.append(("val_loss", .float(v))) }
        if let b = bayesLoss { pairs.append(("bayes_loss", .double(b))) }
        if let lr = learningRate { pairs.append(("lr", .double(lr))) }
        pairs += [
            ("grad_norm", .double(gradientNorm)),
            ("tokens", .int(tokens)),
            ("tokens_per_s", .double(Self.rounded(tokensPerSecond, places: 1))),
            ("elapsed_s", .double(Self.rounded(elapsedSeconds, places: 3))),
        ]
        if !logs.isEmpty {
            let entries = logs.keys.sorted().map { name in
                (name, JSON.object(logs[name]!.keys.sorted().map { ($0, JSON.double(logs[name]![$0]!)) }))
            }
            pairs.append(("log", .object(entries)))
        }
        return JSON.object(pairs).compact
    }

    /// Timings carry no meaning past a millisecond; shorter lines are easier to read.
    private static func rounded(_ x: Double, places: Int) -> Double {
        let scale = pow(10.0, Double(places))
        return (x * scale).rounded() / scale
    }
}

/// `metrics.jsonl`: appends one line per logged step, each written straight to the file so
/// that a killed run loses at most the line being written.
struct MetricsLog {
    static let fileName = "metrics.jsonl"
    private let handle: FileHandle
    let url: URL

    /// Opens the log for appending, first dropping every line after `keepingThrough` (the
    /// resumed checkpoint's step) and any partial line, so no step appears twice. A fresh run
    /// (`keepingThrough` 0) starts an empty file.
    init(url: URL, keepingThrough step: Int, copyingFrom source: URL? = nil) throws {
        self.url = url
        var kept: [String] = []
        if step > 0, let text = try? String(contentsOf: source ?? url, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let s = (try? JSON.parse(String(line)))?["step"]?.intValue else { continue }
                if s <= step { kept.append(String(line)) }
            }
        }
        try AtomicFile.replace(url, text: kept.map { $0 + "\n" }.joined())
        do {
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw TrainingError.io("cannot open \(url.path) for appending")
        }
    }

    func append(_ record: MetricsRecord) throws {
        do {
            try handle.write(contentsOf: Data((record.jsonLine + "\n").utf8))
        } catch {
            throw TrainingError.io("cannot append to \(url.path)")
        }
    }

    func close() { try? handle.close() }

    /// Reads every complete line of a metrics file (for tests and tools).
    static func read(_ url: URL) throws -> [JSON] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { line in try JSON.parse(String(line)) }
    }
}
