import Foundation
import Testing

@testable import RecipeLanguage

/// Mutates every shipped recipe (tokens and bytes deleted, duplicated, swapped, inserted)
/// and runs the whole front end on each mutant. Seeded, so a failure repeats.
@Suite struct FuzzTests {
    /// SplitMix64: small and seedable.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    }

    static let vocabulary = [
        "optimizer", "import", "as", "hyper", "group", "state", "use", "log", "if", "then", "else", "and", "or", "not",
        "(", ")", "{", "}", ",", ":", ".", "..", "+", "-", "*", "/", "^", "=", "-=", "*=", "==", "<", "X", "G", "t",
        "momentum", "orthogonalize", "norm", "spectral", "row", "layer_lr", "group_max", "zeros", "1e-3", "0", "\"s\"",
        "all", "matrix", "role", "#c\n", "\n",
    ]

    static func mutate(_ bytes: [UInt8], _ g: inout Generator) -> [UInt8] {
        var out = bytes
        let edits = 1 + g.below(3)
        for _ in 0..<edits {
            let tokens = Lexer.tokenize(SourceFile(path: "m", bytes: out)).tokens.dropLast()
            switch g.below(7) {
            case 0 where !tokens.isEmpty:  // delete a token
                let t = tokens[tokens.startIndex + g.below(tokens.count)]
                out.removeSubrange(t.range.start..<t.range.end)
            case 1 where !tokens.isEmpty:  // duplicate a token
                let t = tokens[tokens.startIndex + g.below(tokens.count)]
                out.insert(contentsOf: Array(out[t.range.start..<t.range.end]) + [0x20], at: t.range.start)
            case 2 where tokens.count > 1:  // swap two neighbouring tokens
                let i = tokens.startIndex + g.below(tokens.count - 1)
                let a = tokens[i]
                let b = tokens[i + 1]
                let swapped =
                    Array(out[b.range.start..<b.range.end]) + Array(out[a.range.end..<b.range.start])
                    + Array(out[a.range.start..<a.range.end])
                out.replaceSubrange(a.range.start..<b.range.end, with: swapped)
            case 3:  // insert a token
                let word = vocabulary[g.below(vocabulary.count)]
                out.insert(contentsOf: Array(" \(word) ".utf8), at: g.below(out.count + 1))
            case 4 where !out.isEmpty:  // delete a byte
                out.remove(at: g.below(out.count))
            case 5:  // insert a random byte
                out.insert(UInt8(truncatingIfNeeded: g.next()), at: g.below(out.count + 1))
            default:  // overwrite a byte
                if !out.isEmpty { out[g.below(out.count)] = UInt8(truncatingIfNeeded: g.next()) }
            }
        }
        return out
    }

    static let mutantsPerRecipe = 250
    /// The most parser steps a token may cost (measured: at most 1.06 on these mutants).
    static let stepsPerToken = 2

    @Test(arguments: ShippedRecipes.paths)
    func mutantsNeverCrashAndRejectionsHavePositions(_ path: String) throws {
        let original = ShippedRecipes.source(path).bytes
        var g = Generator(state: UInt64(original.count) &* 2_654_435_761)
        let folder = (path as NSString).deletingLastPathComponent
        // Imports resolve against the real folder, as in `optlang check`.
        let loader: Checker.Loader = { p in
            Checker.readFile(p) ?? Checker.readFile(folder + "/" + (p as NSString).lastPathComponent)
        }
        for i in 0..<Self.mutantsPerRecipe {
            let bytes = Self.mutate(original, &g)
            let source = SourceFile(path: "mutant.opt", bytes: bytes)
            let output = Checker.check(source, load: loader)
            let rendered = DiagnosticRenderer(files: output.sources).render(output.files[0].diagnostics, in: source)
            if output.recipe == nil {
                let errors = output.files.flatMap(\.diagnostics).filter { $0.severity == .error }
                #expect(!errors.isEmpty, "mutant \(i) of \(path) rejected without an error")
                let positioned =
                    output.files.contains { file in
                        file.diagnostics.contains { $0.severity == .error }
                    } && (rendered.contains("mutant.opt:") || output.files.count > 1)
                #expect(positioned, "mutant \(i) of \(path): no file:line:col diagnostic")
            }
            if case .success(let text) = Formatter.format(source) {
                let again = try Formatter.format(SourceFile(path: "f", text: text)).get()
                #expect(again == text, "mutant \(i) of \(path): formatting is not idempotent")
            }
            // Work, not wall time: the parser's steps stay within a small multiple of the
            // tokens, and each diagnostic is for a token or two, whatever the machine's load.
            let tokens = Lexer.tokenize(source).tokens.count
            let parsed = Parser.parse(source)
            #expect(
                parsed.steps <= Self.stepsPerToken * tokens,
                "mutant \(i) of \(path): \(parsed.steps) parser steps for \(tokens) tokens")
            let diagnostics = output.files.reduce(0) { $0 + $1.diagnostics.count }
            #expect(diagnostics <= tokens, "mutant \(i) of \(path): \(diagnostics) diagnostics for \(tokens) tokens")
        }
    }
}
