import Foundation

/// One variant's line in the summary table.
struct SummaryRow: Equatable {
    var label: String
    var seeds: Int
    /// Over seeds, of each run's last `val_loss`.
    var finalLoss: Stats?
    /// Over seeds, of each run's lowest `val_loss`.
    var bestLoss: Stats?
    /// Over the seeds that reach the target, of the first evaluation step with `val_loss` ≤ target.
    var stepsToTarget: Double?
    /// How many seeds reach the target.
    var reached: Int
    /// Over seeds, of each run's mean `tokens_per_s`.
    var tokensPerSecond: Double?
    /// From `config.json` (the largest over seeds; they agree unless the runs differ).
    var optimizerStateBytes: Int?
}

/// The comparison table: per variant, final and best validation loss, steps to a target loss,
/// throughput and optimizer memory. Rendered as aligned text, Markdown and HTML.
struct SummaryTable {
    /// The validation loss that `stepsToTarget` counts to.
    var target: Double?
    var rows: [SummaryRow]

    /// Builds the table for `variants`.
    /// - Parameter target: the target loss; nil picks the worst variant's mean final loss, so
    ///   that every variant reaches it on average by its last step.
    init(_ variants: [Variant], target: Double?) {
        var rows = variants.map { variant in
            let runs = variant.runs
            return SummaryRow(
                label: variant.label, seeds: runs.count,
                finalLoss: Stats(runs.compactMap { $0.points.last { $0.valLoss != nil }?.valLoss }),
                bestLoss: Stats(runs.compactMap { $0.points.compactMap(\.valLoss).min() }),
                stepsToTarget: nil, reached: 0,
                tokensPerSecond: Stats(runs.compactMap { Stats($0.points.compactMap(\.tokensPerSecond))?.mean })?.mean,
                optimizerStateBytes: runs.compactMap(\.optimizerStateBytes).max())
        }
        let target = target ?? rows.compactMap { $0.finalLoss?.mean }.max()
        if let target {
            for (i, variant) in variants.enumerated() {
                let steps = variant.runs.compactMap { run in
                    run.points.first { ($0.valLoss ?? .infinity) <= target }.map { Double($0.step) }
                }
                rows[i].reached = steps.count
                rows[i].stepsToTarget = Stats(steps)?.mean
            }
        }
        self.target = target
        self.rows = rows
    }

    /// The column titles.
    var header: [String] {
        let targetText = target.map { String(format: "%.4f", $0) } ?? "target"
        return [
            "variant", "seeds", "final val_loss", "best val_loss", "steps to \(targetText)", "tokens/s",
            "optimizer state",
        ]
    }

    /// The cells of each row, as text.
    var cells: [[String]] {
        rows.map { row in
            [
                row.label, String(row.seeds), Self.loss(row.finalLoss), Self.loss(row.bestLoss),
                row.stepsToTarget.map { String(format: "%.0f (%d/%d)", $0, row.reached, row.seeds) }
                    ?? "— (0/\(row.seeds))",
                row.tokensPerSecond.map(Self.rate) ?? "—",
                row.optimizerStateBytes.map(Self.bytes) ?? "—",
            ]
        }
    }

    /// Columns padded to equal width for a terminal; numbers right-aligned.
    var text: String {
        let table = [header] + cells
        let widths = header.indices.map { c in table.map { $0[c].count }.max() ?? 0 }
        return table.map { line in
            line.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }

    /// A GitHub-flavoured Markdown table.
    var markdown: String {
        func line(_ cells: [String]) -> String {
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }
        let rule = "|" + header.indices.map { $0 == 0 ? "---|" : "---:|" }.joined()
        return ([line(header), rule] + cells.map(line)).joined(separator: "\n")
    }

    /// `mean ± std`, or the mean alone for one seed.
    static func loss(_ stats: Stats?) -> String {
        guard let stats else { return "—" }
        let mean = String(format: "%.4f", stats.mean)
        return stats.count > 1 ? mean + " ± " + String(format: "%.4f", stats.std) : mean
    }

    /// Tokens per second with a k or M suffix (`23.1k`).
    static func rate(_ x: Double) -> String {
        if x >= 1e6 { return String(format: "%.2fM", x / 1e6) }
        if x >= 1e3 { return String(format: "%.1fk", x / 1e3) }
        return String(format: "%.0f", x)
    }

    /// A byte count in binary units (`1.6 MiB`).
    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
