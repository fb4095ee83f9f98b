/// One problem found in a recipe: data, rendered by ``DiagnosticRenderer``.
public struct Diagnostic: Sendable, Equatable {
    /// How serious a diagnostic is.
    public enum Severity: String, Sendable { case error, warning, note }

    /// A secondary message, pointing at a related place (or nowhere).
    public struct Note: Sendable, Equatable {
        public var message: String
        public var range: SourceRange?
        /// The file the note points into, when it is not the diagnostic's own.
        public var file: SourceFile.ID?
        public init(_ message: String, at range: SourceRange? = nil, in file: SourceFile.ID? = nil) {
            self.message = message
            self.range = range
            self.file = file
        }
    }

    public var severity: Severity
    public var message: String
    public var range: SourceRange
    public var notes: [Note]

    public init(_ severity: Severity = .error, _ message: String, at range: SourceRange, notes: [Note] = []) {
        self.severity = severity
        self.message = message
        self.range = range
        self.notes = notes
    }

    /// An error.
    public static func error(_ message: String, at range: SourceRange, notes: [Note] = []) -> Diagnostic {
        Diagnostic(.error, message, at: range, notes: notes)
    }
}

extension SourceFile {
    /// Identifies a file for notes that point into another file (an imported recipe).
    public typealias ID = String
}

/// Diagnostics found in one file, in the order they were found.
public struct FileDiagnostics: Sendable {
    public var file: SourceFile
    public var diagnostics: [Diagnostic]
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}
