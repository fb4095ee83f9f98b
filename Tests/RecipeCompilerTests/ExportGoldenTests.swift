import Foundation
import RecipeLanguage
import Testing

@testable import RecipeCompiler

/// The Python that `optlang export` writes for three recipes that between them reach every
/// part of the exporters (AdamW: one stage, schedules; Muon: Newton–Schulz, several groups;
/// NALR: group reductions across stages, per-layer state, logs), for each target, against the
/// golden files in `Golden/export/`, so that a change to an exporter shows as a diff of the
/// generated modules. `OPTLANG_UPDATE_GOLDEN=1 swift test --filter ExportGolden` rewrites
/// them; review the diff before committing it. Whether the modules compute the right step
/// is proven by ExportTests, which run them.
@Suite struct ExportGoldenTests {
    static let golden = GeneratedCodeGoldenTests.golden.appendingPathComponent("export")

    static let cases: [(String, ExportTarget)] = ["adamw", "muon", "nalr"].flatMap { recipe in
        ExportTarget.allCases.map { (recipe, $0) }
    }

    @Test(arguments: cases)
    func exportedModuleMatchesItsGoldenFile(_ recipe: String, _ target: ExportTarget) throws {
        let file = GeneratedCodeGoldenTests.recipes.appendingPathComponent(recipe + ".opt").path
        let text = try String(contentsOfFile: file, encoding: .utf8)
        // The path as a user in the repository's root would give it, so the header is the
        // same in every checkout.
        let source = SourceFile(path: "Recipes/\(recipe).opt", text: text)
        let checked = try #require(Checker.check(source).recipe, "\(recipe) does not check")
        let module = try PythonExporter.export(checked, to: target, sourceText: text, version: "(golden)")
        let golden = Self.golden.appendingPathComponent("\(recipe).\(target.rawValue).py")
        if ProcessInfo.processInfo.environment["OPTLANG_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: Self.golden, withIntermediateDirectories: true)
            try module.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(module == expected, "\(recipe) → \(target): the module differs from \(golden.lastPathComponent)")
    }
}
