import Foundation
import Testing

@testable import RecipeLanguage

/// Every bad recipe in `Golden/` against its expected diagnostics, compared exactly.
///
/// Set `OPTLANG_RECORD=1` to rewrite the `.expected` files from the current output; the
/// run then fails so that a re-recording is never mistaken for a pass.
@Suite struct GoldenDiagnosticTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".opt") }.map { String($0.dropLast(4)) }.sorted()
    }

    /// Reads recipes by bare file name from the golden folder; `X.opt.import` files are
    /// helpers that only the cases import.
    static let loader: Checker.Loader = { path in
        let name = (path as NSString).lastPathComponent
        for candidate in [name + ".import", name] {
            if let data = FileManager.default.contents(atPath: folder.appendingPathComponent(candidate).path) {
                return SourceFile(path: name, bytes: Array(data))
            }
        }
        return nil
    }

    /// What `optlang check` prints for the case, with paths relative to the folder.
    static func render(_ name: String) -> String {
        let source = loader(name + ".opt")!
        let output = Checker.check(source, load: loader)
        let renderer = DiagnosticRenderer(files: output.sources)
        return output.files.map { renderer.render($0.diagnostics, in: $0.file) }.joined()
    }

    @Test func thereAreGoldenCases() {
        #expect(Self.cases.count >= 20)
    }

    @Test(arguments: cases)
    func diagnosticsMatchTheExpectedFile(_ name: String) throws {
        let actual = Self.render(name)
        let expectedURL = Self.folder.appendingPathComponent(name + ".expected")
        if ProcessInfo.processInfo.environment["OPTLANG_RECORD"] == "1" {
            try actual.write(to: expectedURL, atomically: true, encoding: .utf8)
            Issue.record("recorded \(name).expected; run again without OPTLANG_RECORD")
            return
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(actual == expected)
    }
}
