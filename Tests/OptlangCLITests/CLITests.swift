import Foundation
import RecipeCompiler
import RecipeLanguage
import Testing

@testable import OptlangCLI

@Suite struct CLIExitCodeTests {
    @Test func noArgumentsPrintsUsageAndExitsTwo() {
        let console = Console.capture()
        #expect(CLI.main([], console: console) == 2)
        #expect(console.capturedError.hasPrefix("usage: optlang <command>"))
    }

    @Test func unknownCommandIsOneLineAndExitsTwo() {
        let console = Console.capture()
        #expect(CLI.main(["frobnicate"], console: console) == 2)
        #expect(
            console.capturedError
                == "optlang: unknown command 'frobnicate' (commands: run, sweep, compare, diff, export, check, fmt, graph, replay, bench)\n"
        )
    }

    @Test func unknownBenchmarkKindExitsTwo() {
        let console = Console.capture()
        #expect(CLI.main(["bench", "nope"], console: console) == 2)
        #expect(
            console.capturedError
                == "optlang bench: unknown benchmark 'nope' (one of: matmul, peak, step, orthogonalize, nuclear, train)\n"
        )
    }

    @Test func unknownOptionIsNamed() {
        let console = Console.capture()
        #expect(CLI.main(["bench", "peak", "--fast"], console: console) == 2)
        #expect(console.capturedError == "optlang bench: unknown option '--fast'\n")
    }

    @Test func badOptionValueIsNamed() {
        let console = Console.capture()
        #expect(CLI.main(["bench", "matmul", "--budget", "soon"], console: console) == 2)
        #expect(console.capturedError == "optlang bench: option '--budget' expects seconds in (0, 60], got 'soon'\n")
    }

    @Test func helpAndVersionExitZero() {
        let console = Console.capture()
        #expect(CLI.main(["--version"], console: console) == 0)
        #expect(console.capturedOutput == "optlang \(CLI.version)\n")
        #expect(CLI.main(["help", "bench"], console: console) == 0)
        #expect(console.capturedOutput.contains("usage: optlang bench <kind>"))
    }

    @Test func matmulJSONLinesCarryTheKeysToolsRead() {
        let console = Console.capture()
        #expect(CLI.main(["bench", "matmul", "--json", "--size", "8", "--budget", "0.01"], console: console) == 0)
        let line = console.capturedOutput.split(separator: "\n").first.map(String.init) ?? ""
        #expect(line.hasPrefix("{\"m\":8,\"n\":8,\"k\":8,\"gflops\":"))
        #expect(line.contains("\"of_peak\":"), "the fraction of the peak measured in the same run")
    }

    static let recipes = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Recipes").standardized.path

    @Test func stepBenchAgainstABaselineReportsBothStepsAndTheirRatio() throws {
        let console = Console.capture()
        let status = CLI.main(
            [
                "bench", "step", Self.recipes + "/nalr.opt", "--against", Self.recipes + "/muon.opt", "--model",
                "tiny,d=16,layers=1,heads=2", "--budget", "0.01", "--json",
            ], console: console)
        #expect(status == 0, "\(console.capturedError)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(console.capturedOutput.utf8)) as? [String: Any])
        #expect(json["recipe"] as? String == "nalr")
        #expect(json["baseline"] as? String == "muon")
        let (a, b, ratio) = (
            json["compiled_ms"] as? Double, json["baseline_ms"] as? Double, json["baseline_ratio"] as? Double
        )
        #expect((a ?? 0) > 0 && (b ?? 0) > 0)
        #expect(abs((ratio ?? 0) - (a ?? 0) / (b ?? 1)) <= 0.01 * (ratio ?? 1) + 0.001)
    }

    @Test func nuclearBenchJSONCarriesItsStages() throws {
        let console = Console.capture()
        let status = CLI.main(
            ["bench", "nuclear", "--model", "tiny,d=16,layers=1,heads=2", "--budget", "0.01", "--json"],
            console: console)
        #expect(status == 0, "\(console.capturedError)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(console.capturedOutput.utf8)) as? [String: Any])
        for key in ["ms", "orthogonalize_ms", "ratio", "gram_ms", "tridiagonal_ms", "trace_ms"] {
            #expect((json[key] as? Double).map { $0 >= 0 } == true, "\(key)")
        }
        #expect(json["matrices"] as? Double == 6)
    }
}

@Suite struct ArgumentsTests {
    @Test func optionsAcceptBothSpellingsAndRepeat() throws {
        var a = Arguments(["--set", "lr=1", "x.opt", "--set=beta=2", "--json"])
        let sets = try a.options("set")
        #expect(sets == ["lr=1", "beta=2"])
        let json = a.flag("json")
        #expect(json)
        let rest = a.positionals()
        #expect(rest == ["x.opt"])
        try a.finish()
    }

    @Test func optionWithoutValueIsAnError() {
        var a = Arguments(["--steps"])
        #expect(throws: UsageError("option '--steps' needs a value")) { _ = try a.option("steps") }
    }

    @Test func integerOptionsAreRangeChecked() {
        var a = Arguments(["--steps", "-3"])
        #expect(throws: UsageError("option '--steps' expects an integer in 1...1000000, got '-3'")) {
            _ = try a.intOption("steps", in: 1...1_000_000)
        }
    }
}

/// A fault of the compiler on a recipe that checks is an `internal error` at the statement it
/// arose in, with the source line and a caret, never a trap.
@Suite struct InternalErrorReportTests {
    @Test func compilerFaultPointsAtTheStatementWithACaret() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fault-\(UUID().uuidString).opt").path
        let text = "optimizer fault\n\ngroup all: all {\n    X -= 0.1 * G\n}\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let start = text.utf8.count - "0.1 * G\n}\n".utf8.count
        let fault = CompileError.internalFault("no slot", at: SourceRange(start, start + 7), in: path)
        let expected = [
            "\(path):4:10: error: internal error: no slot",
            "        X -= 0.1 * G",
            "             ^~~~~~~",
            "\(path):4:10: note: this is a bug in optlang, not in the recipe; please report it with the recipe",
        ]
        #expect(CLI.report(fault, color: false) == expected.joined(separator: "\n") + "\n")
        #expect(fault.description == "internal error: no slot")
    }

    @Test func faultWithoutAReadableFileIsOneLine() {
        let fault = CompileError.internalFault("no slot", at: .none, in: "/nonexistent/recipe.opt")
        #expect(CLI.report(fault, color: false) == "optlang: internal error: no slot\n")
    }
}

/// Every way `optlang run` is called wrongly: one line on standard error and the status the
/// README gives (2 for a bad flag or an unreadable file).
/// Every command's usage errors: one line on standard error naming the command, nothing on
/// standard output, exit status 2 (the README's promise for a bad flag or file).
@Suite struct CommandErrorPathTests {
    static let sgd = RunCommandTests.recipesFolder + "/sgd.opt"
    static let notJSON = NSTemporaryDirectory() + "optlang-not-json-\(UUID().uuidString).json"

    static let cases: [([String], String)] = [
        ([], "usage: optlang <command> [options]"),
        (
            ["frobnicate"],
            "optlang: unknown command 'frobnicate' (commands: run, sweep, compare, diff, export, check, fmt, graph, replay, bench)\n"
        ),
        (["check"], "optlang check: missing recipe file (usage: optlang check FILE...)\n"),
        (["check", "/missing.opt"], "optlang check: cannot read '/missing.opt'\n"),
        (["fmt"], "optlang fmt: missing recipe file (usage: optlang fmt FILE...)\n"),
        (["fmt", "/missing.opt"], "optlang fmt: cannot read '/missing.opt'\n"),
        (["graph"], "optlang graph: missing recipe file (usage: optlang graph RECIPE)\n"),
        (["graph", "/missing.opt"], "optlang graph: cannot read recipe '/missing.opt'\n"),
        (["graph", sgd, "--format", "pdf"], "optlang graph: unknown option '--format'\n"),
        (["graph", sgd, "--dot", "--code"], "optlang graph: choose one of --dot, --memory and --code\n"),
        (["diff", sgd], "optlang diff: expects two recipe files (usage: optlang diff A.opt B.opt)\n"),
        (["diff", sgd, "/missing.opt"], "optlang diff: cannot read recipe '/missing.opt'\n"),
        (["replay", sgd], "optlang replay: missing '--trace FILE'\n"),
        (["replay", sgd, "--trace", "/missing.json"], "optlang replay: cannot read trace '/missing.json'\n"),
        (["replay", sgd, "--trace", notJSON], "optlang replay: trace '\(notJSON)' is not a JSON object\n"),
        (
            ["replay", "--trace", "/missing.json"],
            "optlang replay: missing recipe file (usage: optlang replay RECIPE --trace TRACE.json)\n"
        ),
        (["export", "/missing.opt", "--to", "numpy"], "optlang export: cannot read recipe '/missing.opt'\n"),
        (
            ["export", "--to", "numpy"],
            "optlang export: missing recipe file (usage: optlang export RECIPE --to pytorch|numpy|optax)\n"
        ),
        (["sweep"], "optlang sweep: missing recipe file (usage: optlang sweep RECIPE --grid NAME=V1,V2,...)\n"),
        (["compare"], "optlang compare: missing run folder (usage: optlang compare DIR...)\n"),
        (["compare", "/missing"], "optlang compare: '/missing' is not a folder\n"),
        (["compare", "/tmp", "--target", "x"], "optlang compare: option '--target' expects a loss, got 'x'\n"),
        (
            ["bench"],
            "optlang bench: missing benchmark kind (one of: matmul, peak, step, orthogonalize, nuclear, train)\n"
        ),
        (
            ["bench", "warp"],
            "optlang bench: unknown benchmark 'warp' (one of: matmul, peak, step, orthogonalize, nuclear, train)\n"
        ),
        (
            ["bench", "matmul", "--budget", "-1"],
            "optlang bench: option '--budget' expects seconds in (0, 60], got '-1'\n"
        ),
        (
            ["bench", "matmul", "--threads", "0"],
            "optlang bench: option '--threads' expects an integer in 1...256, got '0'\n"
        ),
        (["bench", "step"], "optlang bench: missing recipe (usage: optlang bench step RECIPE)\n"),
        (["bench", "step", "/missing.opt"], "optlang bench: cannot read recipe '/missing.opt'\n"),
        (
            ["run", sgd, "--set", "nope=1"],
            "optlang run: recipe 'sgd' has no hyperparameter 'nope' (it has: lr, mu, nesterov, wd)\n"
        ),
        (["run", sgd, "--set", "lr=abc"], "optlang run: option '--set lr' needs a number, got 'abc'\n"),
        (["run", sgd, "--model", "huge"], "optlang run: unknown model preset 'huge' (presets: tiny, small)\n"),
        (["run", sgd, "--out"], "optlang run: option '--out' needs a value\n"),
    ]

    @Test(arguments: cases)
    func usageErrorsAreOneLineOnStandardErrorAndExitTwo(arguments: [String], message: String) throws {
        try "not json".write(toFile: Self.notJSON, atomically: true, encoding: .utf8)
        let console = Console.capture()
        #expect(CLI.main(arguments, console: console) == 2)
        if arguments.isEmpty {
            #expect(console.capturedError.hasPrefix(message), "the usage text: \(console.capturedError)")
        } else {
            #expect(console.capturedError == message)
            #expect(console.capturedError.filter { $0 == "\n" }.count == 1)
        }
        #expect(console.capturedOutput == "")
    }
}

@Suite struct RunErrorPathTests {
    static let sgd = RunCommandTests.recipesFolder + "/sgd.opt"

    @Test(arguments: [
        (["run"], "optlang run: missing recipe file (usage: optlang run RECIPE)\n"),
        (["run", "/missing.opt"], "optlang run: cannot read recipe '/missing.opt'\n"),
        (
            ["run", sgd, "--steps", "x"],
            "optlang run: option '--steps' expects an integer in 1...10000000, got 'x'\n"
        ),
        (["run", sgd, "--frobnicate"], "optlang run: unknown option '--frobnicate'\n"),
        (
            ["run", sgd, "--resume", "/missing/run"],
            "optlang run: cannot read checkpoint '/missing/run/checkpoint.ckpt': nothing to resume in '/missing/run'\n"
        ),
        (
            ["run", sgd, "--data", "/missing.txt", "--steps", "1"],
            "optlang run: cannot read data file '/missing.txt'\n"
        ),
    ])
    func runUsageErrorsAreOneLineAndExitTwo(arguments: [String], message: String) {
        let console = Console.capture()
        #expect(CLI.main(arguments, console: console) == 2)
        #expect(console.capturedError == message)
    }
}
