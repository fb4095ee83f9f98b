import Foundation

/// How one variant is drawn in every chart: a colour, a dash pattern and a marker, so that
/// lines stay apart when printed in grey.
struct LineStyle {
    /// Okabe–Ito's colour-blind-safe palette, yellow left out (too pale on white).
    static let colors = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    static let dashes = ["", "8 4", "2 3", "10 3 2 3", "4 2", "12 2 2 2 2 2"]
    static let markerCount = 5

    var index: Int
    var color: String { Self.colors[index % Self.colors.count] }
    var dash: String { Self.dashes[index % Self.dashes.count] }

    /// The marker centred at (x, y): circle, square, triangle, diamond, inverted triangle.
    func marker(_ x: Double, _ y: Double) -> String {
        let r = 3.8
        let fill = "fill=\"\(color)\" stroke=\"white\" stroke-width=\"0.8\""
        func polygon(_ points: [(Double, Double)]) -> String {
            "<polygon points=\"\(points.map { SVG.num(x + $0.0) + "," + SVG.num(y + $0.1) }.joined(separator: " "))\" \(fill)/>"
        }
        switch index % Self.markerCount {
        case 0: return "<circle cx=\"\(SVG.num(x))\" cy=\"\(SVG.num(y))\" r=\"\(SVG.num(r))\" \(fill)/>"
        case 1: return polygon([(-r, -r), (r, -r), (r, r), (-r, r)])
        case 2: return polygon([(0, -r * 1.2), (r * 1.1, r * 0.8), (-r * 1.1, r * 0.8)])
        case 3: return polygon([(0, -r * 1.3), (r * 1.1, 0), (0, r * 1.3), (-r * 1.1, 0)])
        default: return polygon([(0, r * 1.2), (r * 1.1, -r * 0.8), (-r * 1.1, -r * 0.8)])
        }
    }

    /// A short stroke with the marker on it, for legends.
    func sample(_ x: Double, _ y: Double) -> String {
        let dashAttribute = dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\""
        return
            "<line x1=\"\(SVG.num(x))\" y1=\"\(SVG.num(y))\" x2=\"\(SVG.num(x + 30))\" y2=\"\(SVG.num(y))\" stroke=\"\(color)\" stroke-width=\"2\"\(dashAttribute)/>"
            + marker(x + 15, y)
    }
}

/// Small helpers shared by the charts.
enum SVG {
    /// A coordinate with one decimal, enough at screen resolution and short in the file.
    static func num(_ x: Double) -> String { String(format: "%.1f", x) }

    /// About `count` round tick values (1, 2 or 5 × 10ⁿ apart) covering `low...high`.
    static func ticks(_ low: Double, _ high: Double, count: Int = 6) -> [Double] {
        guard high > low, low.isFinite, high.isFinite else { return [low] }
        let raw = (high - low) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        // Integer multiples of the step, so that no rounding error accumulates.
        let first = ceil(low / step - 1e-9)
        let last = floor(high / step + 1e-9)
        guard first <= last else { return [low] }
        return stride(from: first, through: last, by: 1).map { $0 * step + 0 }  // + 0 turns -0 into 0
    }

    /// Tick labels with as many decimals as the spacing needs.
    static func labels(_ ticks: [Double]) -> [String] {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let decimals = max(0, Int(ceil(-log10(step) - 1e-9)))
        return ticks.map { String(format: "%.\(decimals)f", $0) }
    }

    /// A number for a legend or tooltip: four significant digits.
    static func short(_ x: Double) -> String { String(format: "%.4g", x) }

    /// A text element; `anchor` is start, middle or end.
    static func text(
        _ s: String, _ x: Double, _ y: Double, anchor: String = "start", extra: String = ""
    ) -> String {
        "<text x=\"\(num(x))\" y=\"\(num(y))\" text-anchor=\"\(anchor)\"\(extra.isEmpty ? "" : " " + extra)>\(s.xmlEscaped)</text>"
    }
}

/// A line chart: per variant, the mean over seeds as a line and the min–max spread as a
/// shaded band, with optional horizontal reference lines (the Bayes floor).
struct LineChart {
    /// One variant's band.
    struct Line {
        var label: String
        var style: LineStyle
        var band: Band
    }

    /// Unique within the page (clip paths are looked up by id).
    var id: String
    var title: String
    var xLabel: String
    var yLabel: String
    var lines: [Line]
    /// Values drawn as dashed grey horizontal lines labelled "Bayes floor".
    var floors: [Double] = []

    /// The most points drawn per line; longer series are thinned evenly.
    static let pointLimit = 400
    static let width = 760.0
    static let plotHeight = 320.0
    static let margin = (left: 72.0, right: 24.0, top: 34.0, bottom: 52.0)

    /// The chart as an `<svg>` element.
    func svg() -> String {
        let m = Self.margin
        let plotWidth = Self.width - m.left - m.right
        let legendItems = lines.count + 1 + (floors.isEmpty ? 0 : 1)
        let legendRows = (legendItems + 2) / 3
        let height = m.top + Self.plotHeight + m.bottom + Double(legendRows) * 20 + 6
        var out = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"\(SVG.num(Self.width))\" height=\"\(SVG.num(height))\" viewBox=\"0 0 \(SVG.num(Self.width)) \(SVG.num(height))\">",
            "<title>\(title.xmlEscaped)</title>",
            SVG.text(title, Self.width / 2, 20, anchor: "middle", extra: "class=\"title\""),
        ]
        let xs = lines.flatMap(\.band.x)
        let lows = lines.flatMap { $0.band.stats.map(\.min) } + floors
        let highs = lines.flatMap { $0.band.stats.map(\.max) } + floors
        guard var x0 = xs.min(), var x1 = xs.max(), var y0 = lows.min(), var y1 = highs.max() else {
            out.append(SVG.text("no data", Self.width / 2, m.top + Self.plotHeight / 2, anchor: "middle"))
            return (out + ["</svg>"]).joined(separator: "\n")
        }
        if x1 == x0 { (x0, x1) = (x0 - 1, x1 + 1) }
        if y1 == y0 { (y0, y1) = (y0 - 0.5, y1 + 0.5) }
        let pad = (y1 - y0) * 0.04
        (y0, y1) = (y0 - pad, y1 + pad)
        func px(_ x: Double) -> Double { m.left + (x - x0) / (x1 - x0) * plotWidth }
        func py(_ y: Double) -> Double { m.top + (1 - (y - y0) / (y1 - y0)) * Self.plotHeight }
        let bottom = m.top + Self.plotHeight

        // Axes, grid and ticks.
        out.append(
            "<rect x=\"\(SVG.num(m.left))\" y=\"\(SVG.num(m.top))\" width=\"\(SVG.num(plotWidth))\" height=\"\(SVG.num(Self.plotHeight))\" class=\"frame\"/>"
        )
        let xTicks = SVG.ticks(x0, x1)
        for (t, label) in zip(xTicks, SVG.labels(xTicks)) {
            out.append(
                "<line x1=\"\(SVG.num(px(t)))\" y1=\"\(SVG.num(m.top))\" x2=\"\(SVG.num(px(t)))\" y2=\"\(SVG.num(bottom + 4))\" class=\"grid\"/>"
            )
            out.append(SVG.text(label, px(t), bottom + 17, anchor: "middle"))
        }
        let yTicks = SVG.ticks(y0, y1)
        for (t, label) in zip(yTicks, SVG.labels(yTicks)) {
            out.append(
                "<line x1=\"\(SVG.num(m.left - 4))\" y1=\"\(SVG.num(py(t)))\" x2=\"\(SVG.num(m.left + plotWidth))\" y2=\"\(SVG.num(py(t)))\" class=\"grid\"/>"
            )
            out.append(SVG.text(label, m.left - 7, py(t) + 4, anchor: "end"))
        }
        out.append(SVG.text(xLabel, m.left + plotWidth / 2, bottom + 38, anchor: "middle", extra: "class=\"axis\""))
        out.append(
            SVG.text(
                yLabel, 18, m.top + Self.plotHeight / 2, anchor: "middle",
                extra: "class=\"axis\" transform=\"rotate(-90 18 \(SVG.num(m.top + Self.plotHeight / 2)))\""))

        // Bands first, then lines and markers above them all.
        out.append(
            "<clipPath id=\"\(id)-clip\"><rect x=\"\(SVG.num(m.left))\" y=\"\(SVG.num(m.top))\" width=\"\(SVG.num(plotWidth))\" height=\"\(SVG.num(Self.plotHeight))\"/></clipPath>"
        )
        out.append("<g clip-path=\"url(#\(id)-clip)\">")
        let thinned = lines.map { line in Series.thinned(count: line.band.x.count, limit: Self.pointLimit) }
        for (line, indices) in zip(lines, thinned) where line.band.stats.contains(where: { $0.max > $0.min }) {
            let upper = indices.map { SVG.num(px(line.band.x[$0])) + "," + SVG.num(py(line.band.stats[$0].max)) }
            let lower = indices.reversed().map {
                SVG.num(px(line.band.x[$0])) + "," + SVG.num(py(line.band.stats[$0].min))
            }
            out.append(
                "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(line.style.color)\" fill-opacity=\"0.16\"/>"
            )
        }
        for floor in floors {
            out.append(
                "<line x1=\"\(SVG.num(m.left))\" y1=\"\(SVG.num(py(floor)))\" x2=\"\(SVG.num(m.left + plotWidth))\" y2=\"\(SVG.num(py(floor)))\" class=\"floor\"/>"
            )
            out.append(
                SVG.text("Bayes floor \(SVG.short(floor))", m.left + plotWidth - 4, py(floor) - 5, anchor: "end"))
        }
        for (line, indices) in zip(lines, thinned) where !indices.isEmpty {
            let d = indices.enumerated().map { k, i in
                (k == 0 ? "M" : "L") + SVG.num(px(line.band.x[i])) + " " + SVG.num(py(line.band.stats[i].mean))
            }.joined(separator: " ")
            let dash = line.style.dash.isEmpty ? "" : " stroke-dasharray=\"\(line.style.dash)\""
            out.append("<path d=\"\(d)\" fill=\"none\" stroke=\"\(line.style.color)\" stroke-width=\"2\"\(dash)/>")
        }
        out.append("</g>")
        // A few markers per line (unclipped, so none is cut in half at the frame), shifted per
        // variant so that they do not sit on each other.
        for line in lines {
            let count = line.band.x.count
            let shift = Double(line.style.index % 5) * 0.15
            let marks =
                count <= 6 ? Array(0..<count) : (0..<6).map { Int((Double($0) + 0.2 + shift) / 6 * Double(count - 1)) }
            for i in marks {
                out.append(line.style.marker(px(line.band.x[i]), py(line.band.stats[i].mean)))
            }
        }

        // Legend: variants, then what the band and the dashed grey line mean.
        var items = lines.map { ($0.label, $0.style.sample) }
        items.append(
            (
                "shaded: min–max over seeds",
                { x, y in
                    "<rect x=\"\(SVG.num(x))\" y=\"\(SVG.num(y - 6))\" width=\"30\" height=\"12\" fill=\"#888\" fill-opacity=\"0.3\"/>"
                }
            ))
        if !floors.isEmpty {
            items.append(
                (
                    "Bayes floor (best achievable)",
                    { x, y in
                        "<line x1=\"\(SVG.num(x))\" y1=\"\(SVG.num(y))\" x2=\"\(SVG.num(x + 30))\" y2=\"\(SVG.num(y))\" class=\"floor\"/>"
                    }
                ))
        }
        for (k, item) in items.enumerated() {
            let x = m.left + Double(k % 3) * 224
            let y = bottom + m.bottom + 8 + Double(k / 3) * 20
            out.append(item.1(x, y))
            out.append(SVG.text(item.0, x + 36, y + 4))
        }
        out.append("</svg>")
        return out.joined(separator: "\n")
    }
}

/// A parameter × step heatmap of a recipe's logged values, with a colour scale legend.
struct Heatmap {
    var title: String
    var grid: LogGrid

    /// The most columns drawn; longer runs show evenly spaced logged steps.
    static let columnLimit = 80
    static let plotWidth = 560.0
    static let cellHeight = 14.0
    /// Viridis at five stops: its lightness rises steadily, so it reads in grey too.
    static let stops: [(Double, Double, Double)] = [
        (68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37),
    ]

    /// The colour at `t` in 0...1.
    static func color(_ t: Double) -> String {
        let u = min(max(t, 0), 1) * Double(stops.count - 1)
        let i = min(Int(u), stops.count - 2)
        let f = u - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        let rgb = [a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f]
        return "#" + rgb.map { String(format: "%02x", Int($0.rounded())) }.joined()
    }

    /// The chart as an `<svg>` element. Values spanning more than a factor of 100 (all
    /// positive) are coloured on a log scale, which the legend says.
    func svg() -> String {
        let values = grid.values.flatMap { $0.compactMap { $0 } }.filter(\.isFinite)
        let lo = values.min() ?? 0
        let hi = values.max() ?? 1
        let logScale = lo > 0 && hi / lo >= 100
        func position(_ v: Double) -> Double {
            guard hi > lo else { return 0.5 }
            return logScale ? (log10(v) - log10(lo)) / (log10(hi) - log10(lo)) : (v - lo) / (hi - lo)
        }
        let columns = Series.thinned(count: grid.steps.count, limit: Self.columnLimit)
        let labelWidth = Double(grid.rows.map(\.count).max() ?? 4) * 6.6 + 14
        let left = labelWidth
        let top = 32.0
        let cellWidth = columns.isEmpty ? Self.plotWidth : Self.plotWidth / Double(columns.count)
        let plotHeight = Double(grid.rows.count) * Self.cellHeight
        let width = left + Self.plotWidth + 20
        let height = top + plotHeight + 96
        var out = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"\(SVG.num(width))\" height=\"\(SVG.num(height))\" viewBox=\"0 0 \(SVG.num(width)) \(SVG.num(height))\">",
            "<title>\(title.xmlEscaped)</title>",
            SVG.text(title, width / 2, 20, anchor: "middle", extra: "class=\"title\""),
        ]
        for (r, row) in grid.rows.enumerated() {
            let y = top + Double(r) * Self.cellHeight
            out.append(SVG.text(row, left - 6, y + Self.cellHeight - 3.5, anchor: "end", extra: "class=\"mono\""))
            for (c, column) in columns.enumerated() {
                let value = grid.values[r][column]
                let fill = value.map { Self.color(position($0)) } ?? "#e8e8e8"
                let tip = "\(row) step \(grid.steps[column]): \(value.map(SVG.short) ?? "not logged")"
                out.append(
                    "<rect x=\"\(SVG.num(left + Double(c) * cellWidth))\" y=\"\(SVG.num(y))\" width=\"\(SVG.num(cellWidth + 0.3))\" height=\"\(SVG.num(Self.cellHeight))\" fill=\"\(fill)\"><title>\(tip.xmlEscaped)</title></rect>"
                )
            }
            // A white rule between groups of rows (blocks.0, blocks.1, embed, …).
            if r > 0, Series.rowGroup(row) != Series.rowGroup(grid.rows[r - 1]) {
                out.append(
                    "<line x1=\"\(SVG.num(left - 4))\" y1=\"\(SVG.num(y))\" x2=\"\(SVG.num(left + Self.plotWidth))\" y2=\"\(SVG.num(y))\" stroke=\"white\" stroke-width=\"2\"/>"
                )
                out.append(
                    "<line x1=\"\(SVG.num(8))\" y1=\"\(SVG.num(y))\" x2=\"\(SVG.num(left - 4))\" y2=\"\(SVG.num(y))\" class=\"grid\"/>"
                )
            }
        }
        // Step ticks under the grid.
        let bottom = top + plotHeight
        if !columns.isEmpty {
            for c in Series.thinned(count: columns.count, limit: 6) {
                let x = left + (Double(c) + 0.5) * cellWidth
                out.append(
                    "<line x1=\"\(SVG.num(x))\" y1=\"\(SVG.num(bottom))\" x2=\"\(SVG.num(x))\" y2=\"\(SVG.num(bottom + 4))\" class=\"grid\"/>"
                )
                out.append(SVG.text(String(grid.steps[columns[c]]), x, bottom + 16, anchor: "middle"))
            }
        }
        out.append(SVG.text("step", left + Self.plotWidth / 2, bottom + 34, anchor: "middle", extra: "class=\"axis\""))

        // Colour scale: a bar of small steps, labelled at both ends and the middle.
        let barY = bottom + 50
        let barWidth = 240.0
        let barLeft = left
        let pieces = 48
        for k in 0..<pieces {
            let t = (Double(k) + 0.5) / Double(pieces)
            out.append(
                "<rect x=\"\(SVG.num(barLeft + Double(k) * barWidth / Double(pieces)))\" y=\"\(SVG.num(barY))\" width=\"\(SVG.num(barWidth / Double(pieces) + 0.3))\" height=\"10\" fill=\"\(Self.color(t))\"/>"
            )
        }
        let middle = logScale ? pow(10, (log10(lo) + log10(hi)) / 2) : (lo + hi) / 2
        for (t, v) in [(0.0, lo), (0.5, middle), (1.0, hi)] {
            out.append(SVG.text(SVG.short(v), barLeft + t * barWidth, barY + 24, anchor: "middle"))
        }
        let scaleNote = logScale ? "log scale" : "linear scale"
        out.append(
            SVG.text(
                "\(grid.name): mean over seeds, \(scaleNote); grey: not logged", barLeft + barWidth + 14, barY + 9))
        out.append("</svg>")
        return out.joined(separator: "\n")
    }
}

extension String {
    /// The text with XML's special characters escaped, for SVG and HTML.
    var xmlEscaped: String {
        var out = ""
        for c in self {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
