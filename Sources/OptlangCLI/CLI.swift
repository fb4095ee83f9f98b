import Foundation
import RecipeCompiler
import RecipeLanguage

/// The `optlang` command line: dispatches to one command type per subcommand.
///
/// Exit statuses: 0 success, 1 the input was understood but is wrong (e.g. a recipe with
/// errors), 2 a usage error (bad flag, missing file).
public enum CLI {
    /// The version printed by `optlang --version` and recorded in run folders.
    public static let version = "0.1.0"

    static var commands: [any Command.Type] {
        [
            RunCommand.self, SweepCommand.self, CompareCommand.self, DiffCommand.self, ExportCommand.self,
            CheckCommand.self,
            FormatCommand.self, GraphCommand.self, ReplayCommand.self, BenchCommand.self,
        ]
    }

    /// Runs `optlang` with `arguments` (without the program name) and returns the exit status.
    public static func main(_ arguments: [String], console: Console = .standard()) -> Int32 {
        guard let first = arguments.first else {
            console.error(overview)
            return 2
        }
        switch first {
        case "--help", "-h", "help":
            if arguments.count > 1, let command = commands.first(where: { $0.name == arguments[1] }) {
                console.print(command.usage)
            } else {
                console.print(overview)
            }
            return 0
        case "--version":
            console.print("optlang \(version)")
            return 0
        default:
            break
        }
        guard let command = commands.first(where: { $0.name == first }) else {
            console.error(
                "optlang: unknown command '\(first)' (commands: \(commands.map { $0.name }.joined(separator: ", ")))")
            return 2
        }
        var rest = Arguments(Array(arguments.dropFirst()))
        if rest.flag("help") {
            console.print(command.usage)
            return 0
        }
        do {
            let instance = try command.init(arguments: &rest)
            try rest.finish()
            return try instance.run(console: console)
        } catch let error as UsageError {
            console.error("optlang \(first): \(error.message)")
            return 2
        } catch let error as CompileError where error.isInternal {
            console.errorRaw(report(error, color: console.colorsErrors))
            return 1
        } catch {
            console.error("optlang \(first): \(error)")
            return 1
        }
    }

    /// A compiler fault as a diagnostic at the statement it arose in (`file:line:col:`, the
    /// source line and a caret), or one line when the file cannot be read again.
    static func report(_ error: CompileError, color: Bool) -> String {
        let message = "internal error: \(error.message)"
        guard let path = error.path, let range = error.range, let file = RecipeFiles.read(path) else {
            return "optlang: \(message)\n"
        }
        let diagnostic = Diagnostic.error(
            message, at: range,
            notes: [.init("this is a bug in optlang, not in the recipe; please report it with the recipe")])
        return DiagnosticRenderer(color: color).render(diagnostic, in: file)
    }

    static var overview: String {
        var lines = ["usage: optlang <command> [options]", "", "commands:"]
        for c in commands { lines.append("  " + c.name.padding(toLength: 10, withPad: " ", startingAt: 0) + c.summary) }
        lines.append("")
        lines.append("'optlang help <command>' shows a command's options.")
        return lines.joined(separator: "\n")
    }
}
