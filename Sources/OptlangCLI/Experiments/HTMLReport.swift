import Foundation

/// The comparison as one self-contained HTML page: inline CSS and SVG, no scripts and no
/// external resources, so it opens offline and prints.
struct HTMLReport {
    var variants: [Variant]
    var table: SummaryTable
    /// How the table's target was chosen, for the page (`--target`, or the default rule).
    var targetNote: String

    /// The charts of losses, in page order, each with its caption.
    var charts: [(chart: LineChart, caption: String)] {
        let styles = variants.indices.map(LineStyle.init(index:))
        func lines(_ band: ([RunData]) -> Band) -> [LineChart.Line] {
            zip(variants, styles).map { LineChart.Line(label: $0.label, style: $1, band: band($0.runs)) }
        }
        let spread = "Line: mean over seeds; shaded band: min–max over seeds."
        let aligned = "Only steps that every seed of a variant logged are used (no interpolation)."
        return [
            (
                LineChart(
                    id: "val-step", title: "Validation loss", xLabel: "step", yLabel: "val_loss (nats/token)",
                    lines: lines { Series.band($0, \.valLoss) }, floors: bayesFloors),
                "\(spread) \(aligned)"
            ),
            (
                LineChart(
                    id: "train-step", title: "Training loss (smoothed)", xLabel: "step",
                    yLabel: "train_loss (nats/token)",
                    lines: lines { runs in Series.band(runs.map { $0.smoothed() }, \.trainLoss) },
                    floors: bayesFloors),
                "Each run's logged train_loss is smoothed by an exponential moving average (weight "
                    + "\(Series.smoothing) on the previous value, bias-corrected) before the mean over seeds. "
                    + spread
            ),
            (
                LineChart(
                    id: "val-time", title: "Validation loss against wall-clock time", xLabel: "elapsed_s (seconds)",
                    yLabel: "val_loss (nats/token)", lines: lines { Series.band($0, \.valLoss, against: \.elapsed) },
                    floors: bayesFloors),
                "Horizontal position: the mean over seeds of elapsed_s at each evaluation step. \(spread)"
            ),
        ]
    }

    /// Every plot as a standalone SVG file (name, contents), for `--svg-dir`: the page's text
    /// styles are copied inside each file so it renders on its own.
    var svgFiles: [(name: String, svg: String)] {
        var files = charts.map { ("\($0.chart.id).svg", $0.chart.svg()) }
        for variant in variants {
            for grid in LogGrid.grids(variant.runs) {
                let name = "heatmap-\(variant.label)-\(grid.name)".map {
                    $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_"
                }
                files.append(
                    (String(name) + ".svg", Heatmap(title: "\(variant.label): \(grid.name)", grid: grid).svg()))
            }
        }
        let style = "<style>\n" + Self.css + "\n</style>"
        return files.map { name, svg in
            var text = svg
            if !text.contains("xmlns=") {
                text = text.replacingOccurrences(
                    of: "<svg ", with: "<svg xmlns=\"http://www.w3.org/2000/svg\" ", options: [],
                    range: text.range(of: "<svg "))
            }
            if let close = text.range(of: ">") { text.insert(contentsOf: style, at: close.upperBound) }
            return (name, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + text + "\n")
        }
    }

    /// The distinct `bayes_loss` values of the runs' last lines (one per data set).
    var bayesFloors: [Double] {
        let values = variants.flatMap { $0.runs.compactMap { $0.points.last { $0.bayesLoss != nil }?.bayesLoss } }
        var floors: [Double] = []
        for v in values.sorted() where !floors.contains(where: { abs($0 - v) <= 1e-9 * max(1, abs(v)) }) {
            floors.append(v)
        }
        return floors
    }

    /// The whole page.
    var html: String {
        let runCount = variants.reduce(0) { $0 + $1.runs.count }
        var body = [
            "<h1>optlang compare</h1>",
            "<p>\(runCount) run\(runCount == 1 ? "" : "s") in \(variants.count) variant\(variants.count == 1 ? "" : "s") "
                + "(runs that differ only in their seed form one variant).</p>",
            "<h2>Summary</h2>",
            tableHTML,
            "<p class=\"note\">Losses: mean ± sample standard deviation over seeds. Steps to target: the first "
                + "evaluation step with val_loss at or below the target, mean over the seeds that reach it "
                + "(reached/seeds in brackets); \(targetNote.xmlEscaped). tokens/s: the mean of each run's "
                + "logged throughput, averaged over seeds. Optimizer state: from config.json.</p>",
        ]
        for (chart, caption) in charts {
            body.append("<figure>\n\(chart.svg())\n<figcaption>\(caption.xmlEscaped)</figcaption>\n</figure>")
        }
        let logged = variants.map { ($0.label, LogGrid.grids($0.runs)) }.filter { !$0.1.isEmpty }
        if !logged.isEmpty {
            body.append("<h2>Logged values per layer</h2>")
            body.append(
                "<p class=\"note\">Values that the recipe's <code>log</code> statements wrote, per parameter "
                    + "(rows, in natural order, grouped by block) and logged step (columns; at most "
                    + "\(Heatmap.columnLimit), evenly spaced), mean over seeds.</p>")
            for (label, grids) in logged {
                for grid in grids {
                    let map = Heatmap(title: "\(label): \(grid.name)", grid: grid)
                    body.append("<figure>\n\(map.svg())\n</figure>")
                }
            }
        }
        body.append("<h2>Runs</h2>")
        body.append("<ul>")
        for variant in variants {
            let runs = variant.runs.map { "<code>\($0.path.xmlEscaped)</code> (seed \($0.seed.xmlEscaped))" }
            body.append("<li>\(variant.label.xmlEscaped): \(runs.joined(separator: ", "))</li>")
        }
        body.append("</ul>")
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>optlang compare</title>
            <style>
            \(Self.css)
            </style>
            </head>
            <body>
            \(body.joined(separator: "\n"))
            </body>
            </html>

            """
    }

    private var tableHTML: String {
        var rows = ["<table>", "<tr>" + table.header.map { "<th>\($0.xmlEscaped)</th>" }.joined() + "</tr>"]
        for (k, cells) in table.cells.enumerated() {
            let swatch = LineStyle(index: k).sample(2, 9)
            let first =
                "<td><svg width=\"36\" height=\"18\" viewBox=\"0 0 36 18\">\(swatch)</svg> \(cells[0].xmlEscaped)</td>"
            rows.append(
                "<tr>" + first + cells.dropFirst().map { "<td class=\"num\">\($0.xmlEscaped)</td>" }.joined() + "</tr>")
        }
        rows.append("</table>")
        return rows.joined(separator: "\n")
    }

    static let css = """
        body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; padding: 0 1em; }
        h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
        table { border-collapse: collapse; font-size: 0.9em; }
        th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: left; white-space: nowrap; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        td svg { vertical-align: middle; }
        figure { margin: 1.5em 0; break-inside: avoid; }
        figcaption, .note { font-size: 0.85em; color: #555; max-width: 48em; }
        svg text { font: 11px system-ui, sans-serif; fill: #222; }
        svg .title { font-size: 14px; font-weight: 600; }
        svg .axis { font-size: 12px; }
        svg .mono { font-family: ui-monospace, monospace; }
        .frame { fill: none; stroke: #999; }
        .grid { stroke: #e4e4e4; }
        .floor { stroke: #555; stroke-width: 1.5; stroke-dasharray: 6 4; }
        """
}
