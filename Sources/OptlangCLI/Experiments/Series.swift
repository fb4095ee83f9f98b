import Foundation
import Training

/// Mean, sample standard deviation, minimum and maximum of a few values (one per seed).
struct Stats: Equatable {
    var mean: Double
    /// The sample standard deviation (n − 1 in the denominator); 0 for a single value.
    var std: Double
    var min: Double
    var max: Double
    var count: Int

    /// The statistics of `values`; nil when there are none.
    init?(_ values: [Double]) {
        guard let first = values.first else { return nil }
        count = values.count
        mean = values.reduce(0, +) / Double(count)
        let m = mean
        std = count > 1 ? (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(count - 1)).squareRoot() : 0
        min = values.reduce(first, Swift.min)
        max = values.reduce(first, Swift.max)
    }
}

/// One quantity of a variant across its seeds, at the steps where every seed has it.
struct Band: Equatable {
    /// The horizontal coordinate: the step, or the mean over seeds of another key (elapsed_s).
    var x: [Double]
    var stats: [Stats]
}

/// The runs of one experiment that differ only in their seed.
struct Variant {
    /// The recipe name plus whatever tells it apart from variants of the same recipe (`adamw lr=0.003`).
    var label: String
    var runs: [RunData]
}

/// Aggregation of run series across seeds, and grouping of runs into variants.
enum Series {
    /// Each step present in every one of `runs`, with the runs' values there, sorted by step.
    ///
    /// Seeds logged at different steps are not interpolated: a step missing from one seed is
    /// dropped, so every point of a band is a statistic over all the seeds.
    static func aligned<T>(_ runs: [[Int: T]]) -> [(step: Int, values: [T])] {
        guard let first = runs.first else { return [] }
        return first.keys.sorted().compactMap { step in
            let values = runs.compactMap { $0[step] }
            return values.count == runs.count ? (step, values) : nil
        }
    }

    /// The band of `value` against the step, across the runs of a variant.
    static func band(_ runs: [RunData], _ value: (MetricPoint) -> Double?) -> Band {
        let aligned = aligned(runs.map { run in steps(run.points, value) })
        return Band(x: aligned.map { Double($0.step) }, stats: aligned.compactMap { Stats($0.values) })
    }

    /// The band of `value` against the seeds' mean of `time` at the same steps (wall-clock plots).
    static func band(_ runs: [RunData], _ value: (MetricPoint) -> Double?, against time: (MetricPoint) -> Double?)
        -> Band
    {
        let aligned = aligned(
            runs.map { run in
                steps(run.points) { p in value(p).flatMap { v in time(p).map { (v, $0) } } }
            })
        return Band(
            x: aligned.map { Stats($0.values.map(\.1))!.mean },
            stats: aligned.compactMap { Stats($0.values.map(\.0)) })
    }

    private static func steps<T>(_ points: [MetricPoint], _ value: (MetricPoint) -> T?) -> [Int: T] {
        var result: [Int: T] = [:]
        for p in points { if let v = value(p) { result[p.step] = v } }
        return result
    }

    /// The weight of the previous value in `smoothed` (TensorBoard's slider at 0.6).
    static let smoothing = 0.6

    /// An exponential moving average of a run's training loss, per step, bias-corrected so the
    /// first values are not pulled towards zero.
    static func smoothed(_ points: [MetricPoint], weight: Double = smoothing) -> [MetricPoint] {
        var average = 0.0
        var n = 0
        return points.map { p in
            guard let loss = p.trainLoss else { return p }
            n += 1
            average = weight * average + (1 - weight) * loss
            var q = p
            q.trainLoss = average / (1 - pow(weight, Double(n)))
            return q
        }
    }

    /// At most `limit` indices of `0..<count`, evenly spread, the first and last included.
    static func thinned(count: Int, limit: Int) -> [Int] {
        guard count > limit, limit >= 2 else { return Array(0..<count) }
        return (0..<limit).map { Int((Double($0) * Double(count - 1) / Double(limit - 1)).rounded()) }
    }

    /// Groups runs into variants in order of first appearance. Labels name the recipe and then
    /// what differs between variants of the same recipe: hyperparameters, model settings, step
    /// count and clipping, the recipe's text (a short hash) and the data.
    static func variants(_ runs: [RunData]) -> [Variant] {
        var order: [String] = []
        var byKey: [String: [RunData]] = [:]
        for run in runs {
            if byKey[run.variantKey] == nil { order.append(run.variantKey) }
            byKey[run.variantKey, default: []].append(run)
        }
        let groups = order.map { byKey[$0]! }
        let representatives = groups.map { $0[0] }
        return groups.map { group in
            let run = group[0]
            let siblings = representatives.filter { $0.recipeName == run.recipeName }
            var parts = [run.recipeName]
            let hyperNames = Set(siblings.flatMap { $0.hyperparameters.map(\.name) }).sorted()
            for name in hyperNames where Set(siblings.map { $0.hyperparameter(name) }).count > 1 {
                if let value = run.hyperparameter(name) { parts.append("\(name)=\(JSON.value(value).compact)") }
            }
            for name in run.settings.map(\.name) where Set(siblings.map { $0.setting(name) }).count > 1 {
                parts.append("\(name)=\(run.setting(name) ?? "?")")
            }
            if Set(siblings.map(\.recipeSHA)).count > 1 { parts.append("@" + run.recipeSHA.prefix(7)) }
            if Set(siblings.map(\.dataSummary)).count > 1 { parts.append("[\(run.dataSummary)]") }
            return Variant(label: parts.joined(separator: " "), runs: group)
        }
    }

    /// Orders parameter names as people count: `blocks.2` before `blocks.10`, runs of digits
    /// compared as numbers and everything else as text.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        let x = chunks(a)
        let y = chunks(b)
        for (p, q) in zip(x, y) where p != q {
            if let m = Int(p), let n = Int(q) { return m != n ? m < n : p < q }
            return p < q
        }
        return x.count < y.count
    }

    private static func chunks(_ s: String) -> [String] {
        var result: [String] = []
        var current = ""
        func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
        for c in s {
            if let last = current.last, isDigit(last) != isDigit(c) {
                result.append(current)
                current = ""
            }
            current.append(c)
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// The group a parameter's row belongs to in a heatmap: its name up to the first numeric
    /// component (`blocks.3`), or its first component (`embed`).
    static func rowGroup(_ name: String) -> String {
        let parts = name.split(separator: ".")
        if let i = parts.firstIndex(where: { $0.allSatisfy(\.isNumber) }) {
            return parts[...i].joined(separator: ".")
        }
        return parts.first.map(String.init) ?? name
    }
}

/// Per-layer values that a recipe's `log` statements wrote, as a parameter × step grid.
struct LogGrid: Equatable {
    /// The `log` name (`rate`).
    var name: String
    /// Parameters in natural order.
    var rows: [String]
    /// Steps logged by every seed.
    var steps: [Int]
    /// `values[row][column]`: the mean over seeds; nil where no seed logged the parameter.
    var values: [[Double?]]

    /// One grid per logged name of `runs` (the seeds of a variant), names sorted; a name
    /// with no step that every seed logged has none.
    static func grids(_ runs: [RunData]) -> [LogGrid] {
        let names = Set(runs.flatMap { $0.points.flatMap { $0.log.keys } }).sorted()
        return names.compactMap { name in
            let aligned = Series.aligned(
                runs.map { run in
                    var byStep: [Int: [String: Double]] = [:]
                    for p in run.points { if let values = p.log[name] { byStep[p.step] = values } }
                    return byStep
                })
            let rows = Set(aligned.flatMap { $0.values.flatMap(\.keys) }).sorted(by: Series.naturalLess)
            let values = rows.map { row in
                aligned.map { column in Stats(column.values.compactMap { $0[row] })?.mean }
            }
            guard !aligned.isEmpty else { return nil }
            return LogGrid(name: name, rows: rows, steps: aligned.map(\.step), values: values)
        }
    }
}

extension RunData {
    func hyperparameter(_ name: String) -> Double? { hyperparameters.first { $0.name == name }?.value }
    func setting(_ name: String) -> String? { settings.first { $0.name == name }?.value }
    /// The run with its training loss smoothed (`Series.smoothed`).
    func smoothed() -> RunData {
        var run = self
        run.points = Series.smoothed(points)
        return run
    }
}
