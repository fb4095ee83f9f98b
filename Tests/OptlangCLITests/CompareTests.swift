import Foundation
import Testing

@testable import OptlangCLI

/// Fake run folders in a temporary directory: `config.json` and `metrics.jsonl` written by hand.
struct FakeRuns {
    let root = NSTemporaryDirectory() + "optlang-compare-\(UUID().uuidString)"

    /// One metrics line; keys in the order docs/runs.md gives.
    struct Line {
        var step: Int
        var train: Double? = nil
        var val: Double? = nil
        var bayes: Double? = nil
        var tps: Double? = nil
        var elapsed: Double? = nil
        var log: String? = nil

        var text: String {
            var parts = ["\"step\":\(step)"]
            if let train { parts.append("\"train_loss\":\(train)") }
            if let val { parts.append("\"val_loss\":\(val)") }
            if let bayes { parts.append("\"bayes_loss\":\(bayes)") }
            if let tps { parts.append("\"tokens_per_s\":\(tps)") }
            if let elapsed { parts.append("\"elapsed_s\":\(elapsed)") }
            if let log { parts.append("\"log\":\(log)") }
            return "{" + parts.joined(separator: ",") + "}"
        }
    }

    /// Writes a run folder at `root/folder` and returns its path.
    @discardableResult
    func run(
        _ folder: String, recipe: String = "adamw", hyper: [(String, Double)] = [("lr", 0.001)], seed: Int = 1,
        layers: Int = 2, steps: Int = 30, stateBytes: Int = 1_709_116, lines: [Line], tail: String = ""
    ) throws -> String {
        let path = root + "/" + folder
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let hyperText = hyper.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ")
        let config = """
            {
              "optlang_version": "0.1.0",
              "recipe": {"name": "\(recipe)", "sha256": "abc123", "text": "optimizer \(recipe)"},
              "hyperparameters": {\(hyperText)},
              "optimizer_state_bytes": \(stateBytes),
              "model": {"architecture": "gpt", "d": 128, "layers": \(layers), "parameter_count": \(layers * 1000)},
              "data": {"summary": "synthetic hmm (seed 1, 64 tokens)", "vocabulary_size": 64},
              "seed": \(seed),
              "options": {"steps": \(steps), "eval_every": 10, "clip_norm": null, "seed": \(seed)}
            }
            """
        try config.write(toFile: path + "/config.json", atomically: true, encoding: .utf8)
        let metrics = lines.map { $0.text + "\n" }.joined() + tail
        try metrics.write(toFile: path + "/metrics.jsonl", atomically: true, encoding: .utf8)
        return path
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

@Suite struct CompareSeriesTests {
    @Test func statsAreMeanSampleStdMinMax() throws {
        let s = try #require(Stats([1, 2, 3]))
        #expect(s.mean == 2 && s.std == 1 && s.min == 1 && s.max == 3 && s.count == 3)
        #expect(Stats([5])?.std == 0)
        #expect(Stats([]) == nil)
    }

    @Test func bandsUseOnlyStepsThatEverySeedLogged() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        try fake.run("a", seed: 1, lines: [.init(step: 10, val: 3), .init(step: 20, val: 2), .init(step: 30, val: 1)])
        try fake.run("b", seed: 2, lines: [.init(step: 10, val: 5), .init(step: 30, val: 2), .init(step: 40, val: 1)])
        let runs = try RunData.loadAll([fake.root])
        let band = Series.band(runs, \.valLoss)
        #expect(band.x == [10, 30])
        #expect(band.stats.map(\.mean) == [4, 1.5])
        #expect(band.stats.map(\.min) == [3, 1])
        #expect(band.stats.map(\.max) == [5, 2])
        #expect(band.stats[0].std == 2.0.squareRoot())
    }

    @Test func wallClockBandsPlaceStepsAtTheSeedsMeanElapsedTime() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        try fake.run("a", seed: 1, lines: [.init(step: 10, val: 3, elapsed: 1), .init(step: 20, train: 2, elapsed: 2)])
        try fake.run("b", seed: 2, lines: [.init(step: 10, val: 1, elapsed: 3), .init(step: 20, train: 2, elapsed: 4)])
        let band = Series.band(try RunData.loadAll([fake.root]), \.valLoss, against: \.elapsed)
        #expect(band.x == [2])
        #expect(band.stats.map(\.mean) == [2])
    }

    @Test func smoothingKeepsAConstantLossConstant() {
        let points = (1...5).map { MetricPoint(step: $0 * 10, trainLoss: 2.5) }
        #expect(Series.smoothed(points).compactMap(\.trainLoss).allSatisfy { abs($0 - 2.5) < 1e-12 })
        let steps = Series.smoothed([MetricPoint(step: 1, trainLoss: 4), MetricPoint(step: 2, trainLoss: 2)])
        let expected = [4, (0.6 * 0.4 * 4 + 0.4 * 2) / (1 - 0.36)]  // bias-corrected EMA
        #expect(zip(steps.compactMap(\.trainLoss), expected).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test(arguments: [(0, 400), (3, 400), (400, 400), (401, 400), (10_000, 400), (9, 2)])
    func thinningKeepsAtMostTheLimitWithBothEnds(count: Int, limit: Int) {
        let indices = Series.thinned(count: count, limit: limit)
        #expect(indices.count == min(count, limit))
        #expect(indices.first == (count > 0 ? 0 : nil))
        #expect(indices.last == (count > 0 ? count - 1 : nil))
        #expect(indices == indices.sorted())
    }

    @Test func parameterNamesSortNaturally() {
        let names = [
            "head", "blocks.10.attn.wq", "embed.tokens", "blocks.2.mlp.fc", "blocks.0.attn.wq", "blocks.1.attn.wk",
        ]
        #expect(
            names.sorted(by: Series.naturalLess) == [
                "blocks.0.attn.wq", "blocks.1.attn.wk", "blocks.2.mlp.fc", "blocks.10.attn.wq", "embed.tokens", "head",
            ])
        #expect(Series.rowGroup("blocks.10.attn.wq") == "blocks.10")
        #expect(Series.rowGroup("embed.tokens") == "embed")
        #expect(Series.rowGroup("head") == "head")
    }

    @Test func loggedValuesBecomeAGridAveragedOverSeeds() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let log1 = #"{"rate":{"head":1,"blocks.10.w":2,"blocks.2.w":3}}"#
        let log2 = #"{"rate":{"head":3,"blocks.10.w":4,"blocks.2.w":5}}"#
        try fake.run("a", seed: 1, lines: [.init(step: 10, log: log1), .init(step: 20, log: log1)])
        try fake.run("b", seed: 2, lines: [.init(step: 10, log: log2)])
        let grids = LogGrid.grids(try RunData.loadAll([fake.root]))
        #expect(
            grids == [
                LogGrid(
                    name: "rate", rows: ["blocks.2.w", "blocks.10.w", "head"], steps: [10], values: [[4], [3], [2]])
            ])
    }
}

@Suite struct CompareGroupingTests {
    @Test func seedsFormVariantsLabelledByWhatDiffers() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let line = [FakeRuns.Line(step: 10, val: 3)]
        try fake.run("sweep/adamw-lr1e-3-s1", hyper: [("beta1", 0.9), ("lr", 0.001)], seed: 1, lines: line)
        try fake.run("sweep/adamw-lr1e-3-s2", hyper: [("beta1", 0.9), ("lr", 0.001)], seed: 2, lines: line)
        try fake.run("sweep/adamw-lr3e-3-s1", hyper: [("beta1", 0.9), ("lr", 0.003)], seed: 1, lines: line)
        try fake.run("sweep/muon-s1", recipe: "muon", hyper: [("lr", 0.02)], lines: line)
        try fake.run("sweep/muon-deep-s1", recipe: "muon", hyper: [("lr", 0.02)], layers: 4, lines: line)
        try fake.run("sweep/muon-s1-long", recipe: "muon", hyper: [("lr", 0.02)], steps: 90, lines: line)
        let variants = Series.variants(try RunData.loadAll([fake.root]))
        #expect(
            variants.map(\.label) == [
                "adamw lr=0.001", "adamw lr=0.003", "muon layers=4 steps=30", "muon layers=2 steps=30",
                "muon layers=2 steps=90",
            ])
        #expect(variants.map(\.runs.count) == [2, 1, 1, 1, 1])
        #expect(variants[0].runs.map(\.seed) == ["1", "2"])
    }

    @Test func sweepFoldersAreSearchedRecursivelyButNotInsideRuns() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let line = [FakeRuns.Line(step: 1, val: 1)]
        let run = try fake.run("x/y/run", lines: line)
        try fake.run("x/y/run/nested", lines: line)
        try fake.run("z", lines: line)
        try FileManager.default.createDirectory(atPath: fake.root + "/empty", withIntermediateDirectories: true)
        #expect(RunData.runFolders(under: fake.root) == [run, fake.root + "/z"])
        #expect(RunData.runFolders(under: run) == [run])
    }

    @Test func aRunNamedTwiceIsReadOnce() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let run = try fake.run("sweep/a", lines: [.init(step: 1, val: 1)])
        #expect(try RunData.loadAll([fake.root + "/sweep", run, run + "/"]).map(\.path) == [run])
    }

    @Test func aPartialLastLineIsIgnoredButAMalformedLineIsAnError() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let partial = try fake.run("a", lines: [.init(step: 1, val: 2)], tail: "{\"step\":2,\"tra")
        #expect(try RunData.load(partial).points.map(\.step) == [1])
        let bad = try fake.run("b", lines: [.init(step: 1, val: 2)], tail: "oops\n{\"step\":3}\n")
        #expect(throws: RunLoadError.self) { try RunData.load(bad) }
    }
}

@Suite struct CompareTableTests {
    /// Two variants: `a` (three seeds that reach 2.6 at steps 20 and 30 and never) and `b`
    /// (one seed), with known losses and speeds, so that a mean, a spread and a count of
    /// seeds each show if they are computed wrongly.
    static func variants(_ fake: FakeRuns) throws -> [Variant] {
        try fake.run(
            "a1", hyper: [("lr", 0.001)], seed: 1, stateBytes: 2048,
            lines: [
                .init(step: 10, val: 3.0, tps: 100), .init(step: 20, val: 2.0, tps: 300),
                .init(step: 30, val: 2.5, tps: 200),
            ])
        try fake.run(
            "a2", hyper: [("lr", 0.001)], seed: 2, stateBytes: 2048,
            lines: [
                .init(step: 10, val: 2.8, tps: 400), .init(step: 20, val: 2.7, tps: 400), .init(step: 30, val: 1.5),
            ])
        try fake.run(
            "a3", hyper: [("lr", 0.001)], seed: 3, stateBytes: 2048,
            lines: [.init(step: 10, val: 2.9, tps: 300), .init(step: 20, val: 2.8), .init(step: 30, val: 2.7)])
        try fake.run(
            "b1", hyper: [("lr", 0.1)], seed: 1, stateBytes: 1_709_116,
            lines: [.init(step: 10, val: 3.5, tps: 1500), .init(step: 20, train: 3.4), .init(step: 30, val: 3.25)])
        return Series.variants(try RunData.loadAll([fake.root]))
    }

    @Test func rowsHoldFinalBestStepsToTargetSpeedAndMemory() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let table = SummaryTable(try Self.variants(fake), target: 2.6)
        let a = table.rows[0]
        #expect(a.label == "adamw lr=0.001" && a.seeds == 3)
        #expect(a.finalLoss == Stats([2.5, 1.5, 2.7]))
        #expect(a.bestLoss == Stats([2.0, 1.5, 2.7]))
        // Seed 1 at step 20, seed 2 at step 30, seed 3 never: the mean of those that reach it.
        #expect(a.stepsToTarget == 25 && a.reached == 2)
        #expect(a.tokensPerSecond == 300)  // means 200, 400 and 300
        #expect(a.optimizerStateBytes == 2048)
        let b = table.rows[1]
        #expect(b.finalLoss == Stats([3.25]) && b.bestLoss == Stats([3.25]))
        #expect(b.stepsToTarget == nil && b.reached == 0)
        #expect(b.tokensPerSecond == 1500)
        #expect(table.cells[1] == ["adamw lr=0.1", "1", "3.2500", "3.2500", "— (0/1)", "1.5k", "1.6 MiB"])
    }

    @Test func theDefaultTargetIsTheWorstVariantsMeanFinalLoss() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let table = SummaryTable(try Self.variants(fake), target: nil)
        #expect(table.target == 3.25)
        #expect(table.rows.map(\.reached) == [3, 1])
        #expect(table.rows.map(\.stepsToTarget) == [10, 30])
    }

    @Test func textAndMarkdownShowTheSameCells() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let table = SummaryTable(try Self.variants(fake), target: 2.6)
        let text = table.text.split(separator: "\n").map(String.init)
        #expect(text.count == 3)
        #expect(text[0].hasPrefix("variant         seeds"))
        #expect(text[1].hasSuffix("2.0 KiB"))
        #expect(Set(text.map(\.count)).count == 1)  // aligned: every line as wide
        #expect(
            table.markdown.split(separator: "\n")[2]
                == "| adamw lr=0.001 | 3 | 2.2333 ± 0.6429 | 2.0667 ± 0.6028 | 25 (2/3) | 300 | 2.0 KiB |")
    }

    @Test(arguments: [(0, "0 B"), (1023, "1023 B"), (2048, "2.0 KiB"), (1_709_116, "1.6 MiB"), (3 << 30, "3.0 GiB")])
    func memoryIsInBinaryUnits(bytes: Int, text: String) {
        #expect(SummaryTable.bytes(bytes) == text)
    }
}

@Suite struct ComparePlotTests {
    @Test func ticksAreRoundAndLabelledWithTheDecimalsTheyNeed() {
        let ticks = SVG.ticks(0.03, 0.97)
        #expect(SVG.labels(ticks) == ["0.2", "0.4", "0.6", "0.8"])
        #expect(SVG.labels(SVG.ticks(0, 1000)) == ["0", "200", "400", "600", "800", "1000"])
        #expect(SVG.labels(SVG.ticks(2.1, 2.6)) == ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6"])
    }

    @Test func longSeriesAreThinnedToThePointLimit() throws {
        let n = 1000
        let band = Band(
            x: (1...n).map(Double.init), stats: (1...n).map { try! #require(Stats([1 / Double($0), 2 / Double($0)])) })
        let svg = LineChart(
            id: "t", title: "t", xLabel: "step", yLabel: "loss",
            lines: [.init(label: "a", style: LineStyle(index: 0), band: band)]
        ).svg()
        let path = try #require(svg.split(separator: "\n").first { $0.hasPrefix("<path d=") })
        #expect(path.components(separatedBy: " L").count == LineChart.pointLimit)
        let bandPolygon = try #require(svg.split(separator: "\n").first { $0.contains("fill-opacity") })
        #expect(bandPolygon.components(separatedBy: ",").count - 1 == 2 * LineChart.pointLimit)
    }

    @Test func heatmapColoursRunFromDarkToLight() {
        #expect(Heatmap.color(0) == "#440154")
        #expect(Heatmap.color(1) == "#fde725")
        #expect(Heatmap.color(-3) == Heatmap.color(0))
    }
}

@Suite struct CompareCommandTests {
    @Test func writesASelfContainedReportAndTheTable() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        let log = #"{"rate":{"blocks.0.w":0.01,"head":0.0003},"noise":{"blocks.0.w":2,"head":3}}"#
        for seed in 1...2 {
            try fake.run(
                "runs/nalr-s\(seed)", recipe: "nalr", seed: seed,
                lines: (1...3).map {
                    .init(
                        step: $0 * 10, train: 4 - Double($0) * 0.1 * Double(seed),
                        val: 4 - Double($0) * 0.2 * Double(seed),
                        bayes: 2.17,
                        tps: 1000, elapsed: Double($0), log: log)
                })
        }
        try fake.run("runs/adamw-s1", lines: [.init(step: 10, train: 3.9, val: 3.8, bayes: 2.17, tps: 900, elapsed: 1)])
        let html = fake.root + "/out/report.html"
        try FileManager.default.createDirectory(atPath: fake.root + "/out", withIntermediateDirectories: true)
        let console = Console.capture()
        #expect(CLI.main(["compare", fake.root + "/runs", "--out", html], console: console) == 0)
        #expect(console.capturedError == "")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.components(separatedBy: "<svg xmlns").count - 1 == 3 + 2)  // three charts, two heatmaps
        #expect(page.components(separatedBy: "<svg").count == page.components(separatedBy: "</svg>").count)
        #expect(!page.lowercased().contains("<script"))
        #expect(!page.contains("src=") && !page.contains("href=") && !page.contains("url(http"))
        #expect(page.contains("Bayes floor 2.17"))
        #expect(page.contains("min–max over seeds"))
        let markdown = try String(contentsOfFile: fake.root + "/out/report.md", encoding: .utf8)
        #expect(markdown.hasPrefix("| variant | seeds | final val_loss |"))
        let nalr = console.capturedOutput.split(separator: "\n").first { $0.hasPrefix("nalr ") }
        #expect(nalr?.contains(" 2  3.1000 ± 0.4243  3.1000 ± 0.4243") == true, "\(nalr ?? "no nalr line")")

        // --svg-dir: every plot as a standalone file.
        let again = Console.capture()
        #expect(
            CLI.main(["compare", fake.root + "/runs", "--out", html, "--svg-dir", fake.root + "/svg"], console: again)
                == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: fake.root + "/svg").sorted()
        #expect(files.count == 5)
        #expect(files.contains("val-step.svg") && files.contains("heatmap-nalr-rate.svg"))
        let chart = try String(contentsOfFile: fake.root + "/svg/val-step.svg", encoding: .utf8)
        #expect(
            chart.hasPrefix("<?xml") && chart.contains("xmlns=\"http://www.w3.org/2000/svg\"")
                && chart.contains("<style>"))
    }

    @Test func aFolderWithoutRunsIsAOneLineUsageError() throws {
        let fake = FakeRuns()
        defer { fake.remove() }
        try FileManager.default.createDirectory(atPath: fake.root + "/nothing", withIntermediateDirectories: true)
        let console = Console.capture()
        #expect(CLI.main(["compare", fake.root + "/nothing"], console: console) == 2)
        #expect(
            console.capturedError
                == "optlang compare: '\(fake.root)/nothing' holds no run (no folder with config.json and metrics.jsonl)\n"
        )
        #expect(CLI.main(["compare"], console: console) == 2)
        #expect(CLI.main(["compare", fake.root, "--target", "low"], console: console) == 2)
    }

    @Test func theMarkdownTableGoesBesideTheReportByDefault() throws {
        var arguments = Arguments(["runs", "--out", "out/cmp.html"])
        let command = try CompareCommand(arguments: &arguments)
        #expect(command.markdown == "out/cmp.md")
        #expect(CompareCommand.markdownPath(beside: "report") == "report.md")
    }
}
