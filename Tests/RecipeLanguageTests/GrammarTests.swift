import Foundation
import Testing

@testable import RecipeLanguage

/// The grammar file's examples, each parsed with the production it names: keeps
/// `Grammar/optlang.ebnf` and the parser in step.
@Suite struct GrammarExampleTests {
    static let grammarURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Grammar/optlang.ebnf").standardized

    /// `(* example PRODUCTION:` … `*)` blocks.
    static var examples: [(production: String, text: String)] {
        guard let grammar = try? String(contentsOf: grammarURL, encoding: .utf8) else { return [] }
        var result: [(String, String)] = []
        var current: (String, [String])?
        for line in grammar.components(separatedBy: "\n") {
            if var open = current {
                if line.trimmingCharacters(in: .whitespaces) == "*)" {
                    result.append((open.0, open.1.joined(separator: "\n")))
                    current = nil
                } else {
                    open.1.append(line)
                    current = open
                }
            } else if line.hasPrefix("(* example "), line.hasSuffix(":") {
                current = (String(line.dropFirst("(* example ".count).dropLast()), [])
            }
        }
        return result
    }

    @Test func grammarHasExamplesOfEveryMainProduction() {
        let productions = Set(Self.examples.map(\.production))
        #expect(productions == ["recipe", "declaration", "statement", "selector", "expr"])
    }

    @Test func everyExampleParses() throws {
        for example in Self.examples {
            let production = try #require(Parser.Production(rawValue: example.production))
            let source = SourceFile(path: "example", text: example.text)
            let diagnostics = Parser.check(source, as: production)
            #expect(
                diagnostics.isEmpty,
                "\(example.production) example failed:\n\(DiagnosticRenderer().render(diagnostics, in: source))")
        }
    }

    @Test func fragmentParserRejectsTrailingInput() {
        let source = SourceFile(path: "x", text: "a + b c")
        #expect(Parser.check(source, as: .expr).map(\.message) == ["expected end of input, found 'c'"])
    }
}
