/// One `optlang` subcommand, in the shape of swift-argument-parser: parse, then run.
protocol Command {
    /// The word that selects the command (`bench`).
    static var name: String { get }
    /// A one-line summary for `optlang help`.
    static var summary: String { get }
    /// The full usage text printed by `optlang help NAME` and `--help`.
    static var usage: String { get }
    /// Reads the command's arguments, throwing on anything it does not understand.
    init(arguments: inout Arguments) throws(UsageError)
    /// Runs the command and returns the process exit status.
    func run(console: Console) throws -> Int32
}
