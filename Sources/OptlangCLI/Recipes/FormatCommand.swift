import Foundation
import RecipeLanguage

/// `optlang fmt FILE...`: rewrite recipes in the canonical layout.
struct FormatCommand: Command {
    static let name = "fmt"
    static let summary = "format recipes in the canonical layout (--check: only report)"
    static let usage = """
        usage: optlang fmt FILE... [--check]

        Rewrites each recipe in the canonical layout, keeping every comment. A recipe that
        does not parse is left untouched and its errors are printed.
        Exit status: 0 when done (or, with --check, when every file is already formatted),
        1 when a file does not parse or (with --check) would change, 2 for usage errors.

        options:
          --check   change nothing; list the files that are not formatted
        """

    let files: [String]
    let checkOnly: Bool

    init(arguments: inout Arguments) throws(UsageError) {
        checkOnly = arguments.flag("check")
        files = arguments.positionals()
        guard !files.isEmpty else { throw UsageError("missing recipe file (usage: optlang fmt FILE...)") }
    }

    func run(console: Console) throws -> Int32 {
        var status: Int32 = 0
        for path in files {
            guard let source = RecipeFiles.read(path) else { throw UsageError("cannot read '\(path)'") }
            switch Formatter.format(source) {
            case .failure(let failure):
                console.errorRaw(
                    DiagnosticRenderer(color: console.colorsErrors).render(failure.diagnostics, in: source))
                status = 1
            case .success(let text):
                guard Array(text.utf8) != source.bytes else { continue }
                if checkOnly {
                    console.print("\(path): not formatted")
                    status = 1
                } else {
                    // Write beside the file, then rename over it: a crash never leaves half a recipe.
                    let temporary = path + ".fmt-tmp"
                    guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)),
                        rename(temporary, path) == 0
                    else {
                        try? FileManager.default.removeItem(atPath: temporary)
                        throw UsageError("cannot write '\(path)'")
                    }
                    console.print("\(path): formatted")
                }
            }
        }
        return status
    }
}
