import Foundation
import Training

/// One swept hyperparameter: `--grid lr=0.003,0.01`.
struct GridAxis: Equatable {
    /// A value as written (it names folders) and as a number.
    struct Value: Equatable {
        var text: String
        var number: Double
    }

    var name: String
    var values: [Value]

    /// Parses `NAME=V1,V2,…`.
    /// - Throws: ``UsageError`` with one line for anything else.
    init(parsing text: String) throws(UsageError) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw UsageError("option '--grid' expects NAME=V1,V2,..., got '\(text)'")
        }
        name = parts[0]
        values = []
        for item in parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard let number = Double(item), number.isFinite else {
                throw UsageError("option '--grid \(name)' needs numbers, got '\(item)'")
            }
            guard !values.contains(where: { $0.number == number }) else {
                throw UsageError("option '--grid \(name)' repeats the value '\(item)'")
            }
            values.append(Value(text: item, number: number))
        }
    }
}

/// One run of a sweep: a value for every axis, and a seed.
struct SweepPoint: Equatable {
    var assignments: [(name: String, value: GridAxis.Value)]
    var seed: UInt64

    static func == (a: SweepPoint, b: SweepPoint) -> Bool {
        a.seed == b.seed && a.assignments.map(\.name) == b.assignments.map(\.name)
            && a.assignments.map(\.value) == b.assignments.map(\.value)
    }

    /// The run's folder inside the sweep folder: `lr=0.003,beta=0.9/seed=1`, or `seed=1`
    /// when nothing is swept but the seed.
    var folder: String {
        let grid = assignments.map { "\($0.name)=\($0.value.text)" }.joined(separator: ",")
        return (grid.isEmpty ? "" : grid + "/") + "seed=\(seed)"
    }

    /// How progress lines name the run: `lr=0.003 beta=0.9 seed=1`.
    var label: String { (assignments.map { "\($0.name)=\($0.value.text)" } + ["seed=\(seed)"]).joined(separator: " ") }

    /// The swept values as `--set` overrides.
    var overrides: [String: Double] {
        Dictionary(assignments.map { ($0.name, $0.value.number) }) { a, _ in a }
    }

    /// The cartesian product of `axes` and `seeds`: the first axis varies slowest, the seed
    /// fastest.
    static func expand(_ axes: [GridAxis], seeds: [UInt64]) -> [SweepPoint] {
        var points = [SweepPoint(assignments: [], seed: 0)]
        for axis in axes {
            points = points.flatMap { p in
                axis.values.map { SweepPoint(assignments: p.assignments + [(axis.name, $0)], seed: 0) }
            }
        }
        return points.flatMap { p in seeds.map { SweepPoint(assignments: p.assignments, seed: $0) } }
    }
}

/// Where a run of a sweep stands, judged from its folder.
enum RunState: Equatable {
    /// Nothing to continue from: train from step 0.
    case fresh
    /// A checkpoint before the last step: continue from it.
    case partial(step: Int)
    /// Checkpoint and metrics both reached the last step.
    case finished(validationLoss: Float?, best: Float?)
    /// Finished in the checkpoint, but its metrics are missing or cut short (or the checkpoint
    /// is unreadable or past the last step): train again from step 0.
    case incomplete(reason: String)

    /// Reads `folder`'s checkpoint header and the last line of its metrics.
    static func of(_ folder: URL, steps: Int) -> RunState {
        let checkpointURL = folder.appendingPathComponent(RunFiles.checkpoint)
        guard FileManager.default.fileExists(atPath: checkpointURL.path) else { return .fresh }
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.read(from: checkpointURL)
        } catch {
            return .incomplete(reason: "\(error)")
        }
        if checkpoint.step < steps { return .partial(step: checkpoint.step) }
        guard checkpoint.step == steps else {
            return .incomplete(reason: "its checkpoint is at step \(checkpoint.step) of \(steps)")
        }
        guard let last = lastMetrics(folder), field(last, "step")?.intValue == steps else {
            return .incomplete(reason: "its metrics stop before step \(steps)")
        }
        return .finished(validationLoss: field(last, "val_loss")?.floatValue, best: checkpoint.bestValidation?.loss)
    }

    /// The last complete line of `metrics.jsonl`.
    private static func lastMetrics(_ folder: URL) -> JSON? {
        guard let text = try? String(contentsOf: folder.appendingPathComponent(RunFiles.metrics), encoding: .utf8),
            let line = text.split(separator: "\n").last
        else { return nil }
        return try? JSON.parse(String(line))
    }
}

/// The value under `key` in a JSON object.
func field(_ json: JSON, _ key: String) -> JSON? {
    json.objectValue?.first { $0.0 == key }?.1
}
