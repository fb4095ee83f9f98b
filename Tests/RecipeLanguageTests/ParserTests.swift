import Foundation
import Testing

@testable import RecipeLanguage

/// Renders what the parser says about `text`, as a user would see it.
func parseDiagnostics(_ text: String, path: String = "test.opt") -> String {
    let source = SourceFile(path: path, text: text)
    let output = Parser.parse(source)
    return DiagnosticRenderer().render(output.diagnostics, in: source)
}

@Suite struct ParserTests {
    @Test func validRecipeParsesWithoutDiagnostics() {
        let text = """
            # SGD
            optimizer sgd "plain SGD"
            import "adamw.opt" as adamw
            hyper lr = 0.1 "learning rate"
            hyper wd = 1e-4
            group hidden: matrix and role(attention, mlp) and not layer(0..1) {
                state m = zeros
                m = momentum(G, 0.9, nesterov: true)
                X *= 1 - lr * wd
                X -= lr * (if t < 10 then t / 10 else 1) * m
                log step = norm(m, spectral)
            }
            group rest: all {
                use adamw.all(lr: lr / 10)
            }
            """
        #expect(parseDiagnostics(text) == "")
        let recipe = Parser.parse(SourceFile(path: "t", text: text)).recipe
        #expect(recipe.header?.name.name == "sgd")
        #expect(recipe.imports.count == 1)
        #expect(recipe.declarations.count == 4)
        #expect(recipe.comments.map(\.text) == [" SGD"])
    }
}

@Suite struct RendererTests {
    @Test func colourIsUsedOnlyWhenAsked() {
        let source = SourceFile(path: "c.opt", text: "optimizer x\nhyper = 1\n")
        let diagnostics = Parser.parse(source).diagnostics
        let plain = DiagnosticRenderer(color: false).render(diagnostics, in: source)
        let coloured = DiagnosticRenderer(color: true).render(diagnostics, in: source)
        #expect(!plain.contains("\u{1B}["))
        #expect(coloured.contains("\u{1B}[1;31merror:\u{1B}[0m"))
        #expect(
            coloured.replacingOccurrences(of: "\u{1B}[1;31m", with: "").replacingOccurrences(
                of: "\u{1B}[1;32m", with: ""
            )
            .replacingOccurrences(of: "\u{1B}[1m", with: "").replacingOccurrences(of: "\u{1B}[0m", with: "") == plain)
    }

    @Test func caretUnderlinesTheWholeRangeOnLongLines() {
        let long = "optimizer x\nhyper lr = " + String(repeating: "1 + ", count: 100) + "q\n"
        let source = SourceFile(path: "l.opt", text: long)
        let output = Checker.check(source, load: { _ in nil })
        let text = DiagnosticRenderer().render(output.files[0].diagnostics, in: source)
        let lines = text.split(separator: "\n")
        #expect(lines[0] == "l.opt:2:412: error: unknown name 'q'")
        // The shown line is cut around the caret; the caret sits under the 'q'.
        let shown = lines[1]
        let caret = lines[2]
        let column = caret.firstIndex(of: "^").map { caret.distance(from: caret.startIndex, to: $0) }!
        #expect(Array(shown)[column] == "q")
    }
}
