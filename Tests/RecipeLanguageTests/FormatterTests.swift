import Foundation
import Testing

@testable import RecipeLanguage

/// Every recipe the project ships, read from `Recipes/`.
enum ShippedRecipes {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Recipes").standardized

    static var paths: [String] {
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        var found: [String] = []
        while let item = enumerator?.nextObject() as? String {
            if item.hasSuffix(".opt") { found.append(folder.appendingPathComponent(item).path) }
        }
        return found.sorted()
    }

    static func source(_ path: String) -> SourceFile {
        SourceFile(path: path, bytes: Array(FileManager.default.contents(atPath: path) ?? Data()))
    }
}

@Suite struct FormatterTests {
    static func format(_ text: String) throws -> String {
        try Formatter.format(SourceFile(path: "f.opt", text: text)).get()
    }

    @Test func messyRecipeGetsTheCanonicalLayout() throws {
        let messy = """
            # header comment
            optimizer   demo   "a demo"
            import "adamw.opt"   as   adamw
            hyper lr=0.1 "learning rate"
            hyper beta =0.9
            # the hidden matrices
            group hidden :matrix and(role(attention,mlp)or layer(0..2)) and dims( 2..3 ) {
            m=momentum(G,beta,nesterov:true)   # momentum

              X-=lr*(m/(1-beta^t))
            }
            group rest: all { use adamw.all( lr : lr/10 ) }
            # trailing
            """
        let expected = """
            # header comment
            optimizer demo "a demo"

            import "adamw.opt" as adamw

            hyper lr   = 0.1 "learning rate"
            hyper beta = 0.9

            # the hidden matrices
            group hidden: matrix and (role(attention, mlp) or layer(0..2)) and dims(2..3) {
                m = momentum(G, beta, nesterov: true)  # momentum

                X -= lr * (m / (1 - beta^t))
            }

            group rest: all {
                use adamw.all(lr: lr / 10)
            }
            # trailing

            """
        #expect(try Self.format(messy) == expected)
    }

    @Test func formattingIsIdempotentOnShippedRecipes() throws {
        #expect(ShippedRecipes.paths.count >= 7)
        for path in ShippedRecipes.paths {
            let once = try Formatter.format(ShippedRecipes.source(path)).get()
            let twice = try Self.format(once)
            #expect(once == twice, "\(path)")
        }
    }

    @Test func shippedRecipesAreAlreadyFormatted() throws {
        for path in ShippedRecipes.paths {
            let source = ShippedRecipes.source(path)
            let formatted = try Formatter.format(source).get()
            #expect(Array(formatted.utf8) == source.bytes, "\(path) is not in the canonical layout")
        }
    }

    @Test func everyCommentSurvivesFormatting() throws {
        for path in ShippedRecipes.paths {
            let source = ShippedRecipes.source(path)
            let before = Lexer.tokenize(source).comments.map(\.text)
            let after = Lexer.tokenize(SourceFile(path: "x", text: try Formatter.format(source).get())).comments.map(
                \.text)
            #expect(before == after, "\(path)")
        }
    }

    @Test func formattingKeepsTheMeaning() throws {
        for path in ShippedRecipes.paths {
            let source = ShippedRecipes.source(path)
            let formatted = SourceFile(path: path, text: try Formatter.format(source).get())
            let a = Parser.parse(source).recipe.declarations.map { Self.render($0) }
            let b = Parser.parse(formatted).recipe.declarations.map { Self.render($0) }
            #expect(a == b, "\(path)")
        }
    }

    static func render(_ d: Declaration) -> String {
        switch d {
        case .hyper(let h): return "hyper \(h.name.name) = \(Printer.expr(h.value))"
        case .group(let g):
            return "group \(g.name.name): \(Printer.selector(g.selector)) "
                + g.statements.map(Printer.statement).joined(separator: "; ")
        }
    }

    @Test func unparsableRecipeIsNotFormatted() {
        guard case .failure(let failure) = Formatter.format(SourceFile(path: "x", text: "optimizer x\nhyper = 1\n"))
        else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.diagnostics.map(\.message) == ["expected a hyperparameter name, found '='"])
    }
}
