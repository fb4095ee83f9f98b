import Foundation
import Testing

@testable import RecipeLanguage

/// Inputs that must never crash or hang the front end.
@Suite struct RobustnessTests {
    /// Parses, checks and formats `bytes`; returns the diagnostics of the main file.
    @discardableResult
    static func frontEnd(_ bytes: [UInt8]) -> [Diagnostic] {
        let source = SourceFile(path: "input.opt", bytes: bytes)
        let output = Checker.check(source, load: { _ in nil })
        _ = Formatter.format(source)
        _ = DiagnosticRenderer().render(output.files.first?.diagnostics ?? [], in: source)
        return output.files.first?.diagnostics ?? []
    }

    @Test func emptyFileAsksForAHeader() {
        let d = Self.frontEnd([])
        #expect(d.map(\.message) == ["a recipe must start with 'optimizer NAME'"])
    }

    @Test(arguments: 1...16 as ClosedRange<UInt64>)
    func binaryGarbageIsRejectedWithPositions(seed: UInt64) {
        // Seeded (the fuzz tests' SplitMix64), so that a failing input can be made again.
        var rng = FuzzTests.Generator(state: seed)
        var bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[0] = 0xFF
        let d = Self.frontEnd(bytes)
        #expect(!d.isEmpty, "seed \(seed)")
        #expect(d.allSatisfy { $0.range.start <= bytes.count }, "seed \(seed)")
    }

    @Test func invalidUTF8InStringsAndCommentsIsReportedNotFatal() {
        let text: [UInt8] =
            Array("optimizer x \"".utf8) + [0xC3, 0x28] + Array("\"\n# \u{FF}".utf8) + [0xFE]
            + Array("\nhyper lr = 1\ngroup a: all { X -= lr * G }\n".utf8)
        let d = Self.frontEnd(text)
        #expect(d.map(\.message) == ["string is not valid UTF-8"])
    }

    @Test func aOneMegabyteLineIsHandled() {
        let long = "optimizer x\nhyper lr = " + String(repeating: "1 + ", count: 250_000) + "1\n"
        let started = Date()
        let d = Self.frontEnd(Array(long.utf8))
        #expect(d.map(\.message) == ["expression is too long (limit is \(Parser.operatorLimit) operators)"])
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test func tenThousandNestedParenthesesHitTheNestingLimit() {
        let text =
            "optimizer x\nhyper lr = " + String(repeating: "(", count: 10_000) + "1"
            + String(repeating: ")", count: 10_000) + "\ngroup a: all { X -= lr * G }\n"
        let d = Self.frontEnd(Array(text.utf8))
        #expect(d.first?.message == "expression is nested too deeply (limit is \(Parser.nestingLimit))")
    }

    @Test func deeplyNestedPrefixOperatorsHitTheLimitToo() {
        let text = "optimizer x\nhyper lr = " + String(repeating: "-", count: 50_000) + "1\n"
        let d = Self.frontEnd(Array(text.utf8))
        #expect(d.first?.message == "expression is nested too deeply (limit is \(Parser.nestingLimit))")
    }

    @Test func unterminatedBlockPointsAtItsBrace() {
        let d = Self.frontEnd(Array("optimizer x\nhyper lr = 1\ngroup a: all {\n  X -= lr * G\n".utf8))
        #expect(d.map(\.message) == ["expected '}' to close group 'a', found end of file"])
        #expect(d.first?.notes.first?.message == "to match this '{'")
    }
}
