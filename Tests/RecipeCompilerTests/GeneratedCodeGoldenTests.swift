import Foundation
import RecipeLanguage
import Testing

@testable import RecipeCompiler

/// The slot code every shipped recipe compiles to (`optlang graph --code`), against the golden
/// files in `Golden/`, so that a change to the back end shows as a diff of generated code.
/// `OPTLANG_UPDATE_GOLDEN=1 swift test --filter GeneratedCodeGolden` rewrites them; review
/// the diff before committing it.
@Suite struct GeneratedCodeGoldenTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let recipes = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Recipes").standardized

    /// Every shipped recipe, as a path under `Recipes/`.
    static let shipped: [String] = {
        let enumerator = FileManager.default.enumerator(atPath: recipes.path)
        var paths: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".opt") { paths.append(path) }
        }
        return paths.sorted()
    }()

    @Test func everyShippedRecipeHasAGoldenFile() {
        #expect(Self.shipped.count >= 15, "\(Self.shipped)")
    }

    @Test(arguments: shipped)
    func generatedCodeMatchesItsGoldenFile(_ path: String) throws {
        let file = Self.recipes.appendingPathComponent(path).path
        let source = try #require(
            FileManager.default.contents(atPath: file).map { SourceFile(path: file, bytes: Array($0)) })
        let recipe = try #require(Checker.check(source).recipe, "\(path) does not check")
        let code = try RegionPrinter.text(try Lowering.lower(recipe))
        let golden = Self.golden.appendingPathComponent(path.replacingOccurrences(of: "/", with: "-") + ".code")
        if ProcessInfo.processInfo.environment["OPTLANG_UPDATE_GOLDEN"] == "1" {
            try code.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(code == expected, "\(path): generated code differs from \(golden.lastPathComponent)")
    }
}
