import Foundation

/// `optlang compare DIR...`: loss curves, per-layer logs and a summary table of several runs,
/// as one self-contained HTML page, a Markdown table and the same table on the terminal.
struct CompareCommand: Command {
    static let name = "compare"
    static let summary = "compare runs: HTML report with loss curves and a summary table"
    static let usage = """
        usage: optlang compare RUN_OR_SWEEP_DIR... [--out FILE] [--markdown FILE] [--target LOSS] [--svg-dir DIR]

        Reads run folders (config.json and metrics.jsonl; see docs/runs.md), or folders holding
        them at any depth, and groups runs that differ only in their seed into variants. Writes
        one self-contained HTML page (no scripts, no external files): validation and training
        loss against steps, validation loss against wall-clock time (mean over seeds, min–max
        band), the Bayes floor when the data knows it, heatmaps of per-layer values that recipes
        log, and a summary table, which is also printed and written as Markdown.

        options:
          --out FILE       the HTML report (default report.html)
          --markdown FILE  the summary table as Markdown (default: beside the report, report.md)
          --target LOSS    validation loss for the steps-to-target column (default: the worst
                           variant's mean final validation loss)
          --svg-dir DIR    also write every plot as a standalone .svg file into DIR
        """

    let inputs: [String]
    let out: String
    let markdown: String
    let target: Double?
    let svgDirectory: String?

    init(arguments: inout Arguments) throws(UsageError) {
        out = try arguments.option("out") ?? "report.html"
        svgDirectory = try arguments.option("svg-dir")
        markdown = try arguments.option("markdown") ?? Self.markdownPath(beside: out)
        if let text = try arguments.option("target") {
            guard let value = Double(text), value.isFinite else {
                throw UsageError("option '--target' expects a loss, got '\(text)'")
            }
            target = value
        } else {
            target = nil
        }
        inputs = arguments.positionals()
        guard !inputs.isEmpty else { throw UsageError("missing run folder (usage: optlang compare DIR...)") }
    }

    /// `report.html` → `report.md`, in the same folder.
    static func markdownPath(beside html: String) -> String {
        let url = URL(fileURLWithPath: html)
        let base = url.pathExtension.isEmpty ? html : String(html.dropLast(url.pathExtension.count + 1))
        return base + ".md"
    }

    func run(console: Console) throws -> Int32 {
        let runs: [RunData]
        do {
            runs = try RunData.loadAll(inputs)
        } catch {
            throw UsageError(error.description)
        }
        let variants = Series.variants(runs)
        let table = SummaryTable(variants, target: target)
        let targetNote =
            target != nil
            ? "target set by --target" : "target: the worst variant's mean final validation loss (default)"
        let report = HTMLReport(variants: variants, table: table, targetNote: targetNote)
        try write(report.html, to: out)
        try write(table.markdown + "\n", to: markdown)
        if let svgDirectory {
            try? FileManager.default.createDirectory(atPath: svgDirectory, withIntermediateDirectories: true)
            for file in report.svgFiles { try write(file.svg, to: svgDirectory + "/" + file.name) }
            console.print("wrote \(report.svgFiles.count) SVG files to \(svgDirectory)")
        }
        console.print(
            "\(runs.count) run\(runs.count == 1 ? "" : "s"), \(variants.count) variant\(variants.count == 1 ? "" : "s"); \(targetNote)"
        )
        console.print(table.text)
        console.print("wrote \(out) and \(markdown)")
        return 0
    }

    private func write(_ text: String, to path: String) throws(UsageError) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw UsageError("cannot write '\(path)'")
        }
    }
}
