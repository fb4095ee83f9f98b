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
