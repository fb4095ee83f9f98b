import Foundation
import Testing

@testable import OptlangCLI

@Suite struct DiffCommandTests {
    static func recipe(_ name: String) throws -> String {
        try String(contentsOfFile: RunCommandTests.recipesFolder + "/" + name, encoding: .utf8)
    }

    /// Runs `optlang diff a.opt b.opt` on two texts (beside a copy of adamw.opt, which nalr imports).
    static func diff(_ a: String, _ b: String) throws -> (Int32, String) {
        let s = try Scratch(["a.opt": a, "b.opt": b, "adamw.opt": try recipe("adamw.opt")])
        defer { s.remove() }
        let console = Console.capture()
        let status = CLI.main(["diff", s.file("a.opt"), s.file("b.opt")], console: console)
        return (status, console.capturedOutput + console.capturedError)
    }

    @Test func commentsLayoutAndLocalNamesAreNoDifference() throws {
        let nalr = try Self.recipe("nalr.opt")
        let edited = nalr.replacingOccurrences(of: "# NALR", with: "# A comment\n# NALR")
            .replacingOccurrences(of: "\\beta\\b", with: "rate_here", options: .regularExpression).replacingOccurrences(
                of: "    ", with: "  ")
        #expect(try Self.diff(nalr, edited) == (0, "no differences\n"))
    }

    @Test func theMeanAblationShowsTheChangedReduction() throws {
        let nalr = try Self.recipe("nalr.opt")
        let call = "layer_lr(1 / sqrt(H + eps), by: max)"
        let range = try #require(nalr.range(of: call))  // the hidden group's
        let ablation = nalr.replacingCharacters(in: range, with: "layer_lr(1 / sqrt(H + eps), by: mean)")
        let (status, output) = try Self.diff(nalr, ablation)
        #expect(status == 0)
        #expect(output == Self.meanAblation)
    }

    static let meanAblation = """
        group hidden:
          steps:
          - %32 = group_max %31                     global
          + %32 = group_mean %31                    global

        """

    @Test func hyperparametersGroupsAndBindingsAreListed() throws {
        let a = "optimizer sgd\nhyper lr = 0.1\nhyper mu = 0\ngroup all: all {\n    X -= lr * G\n}\n"
        let b = """
            optimizer sgd
            hyper lr = 0.01
            hyper wd = 0.1
            group all: matrix {
                state m = zeros
                m = 0.9 * m + G
                X -= lr * m
            }
            group rest: all {
                X -= lr * G
            }

            """
        let (status, output) = try Self.diff(a, b)
        #expect(status == 0)
        #expect(output.hasPrefix("hyperparameters:\n  - mu = 0\n  + wd = 0.1\n  ~ lr: 0.1 → 0.01\n"))
        #expect(output.contains("groups:\n  + group rest: all\n  ~ group all: all → matrix\n"))
        #expect(output.contains("parameters that change group on tiny:\n"))
        #expect(output.contains("  blocks.0.ln1.weight: all → rest\n"))
        #expect(output.contains("group all:\n  state:\n  + m (tensor, starts at 0)\n  steps:\n"))
    }

    @Test func wrongArgumentCountIsAUsageError() {
        let console = Console.capture()
        #expect(CLI.main(["diff", "a.opt"], console: console) == 2)
        #expect(console.capturedError == "optlang diff: expects two recipe files (usage: optlang diff A.opt B.opt)\n")
    }
}
