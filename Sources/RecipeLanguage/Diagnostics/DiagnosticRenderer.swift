/// Formats diagnostics the way compilers do:
///
///     Recipes/bad.opt:7:9: error: unknown function 'momentun'
///         m = momentun(G, beta)
///             ^~~~~~~~
///     Recipes/bad.opt:7:9: note: did you mean 'momentum'?
///
/// Colour (bold, red errors, cyan notes) only when asked for.
public struct DiagnosticRenderer: Sendable {
    public var color: Bool
    /// Other files that notes may point into, by path.
    public var files: [String: SourceFile]

    public init(color: Bool = false, files: [SourceFile] = []) {
        self.color = color
        self.files = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Renders one diagnostic with its notes; ends with a newline.
    public func render(_ diagnostic: Diagnostic, in file: SourceFile) -> String {
        var out = ""
        out += block(file, diagnostic.range, diagnostic.severity, diagnostic.message)
        for note in diagnostic.notes {
            let target = note.file.flatMap { files[$0] } ?? file
            if let range = note.range {
                out += block(target, range, .note, note.message)
            } else {
                let pos = file.position(of: diagnostic.range.start)
                out += "\(file.path):\(pos): \(label(.note)) \(note.message)\n"
            }
        }
        return out
    }

    /// Renders all diagnostics of a file, then nothing else.
    public func render(_ diagnostics: [Diagnostic], in file: SourceFile) -> String {
        diagnostics.map { render($0, in: file) }.joined()
    }

    private func label(_ severity: Diagnostic.Severity) -> String {
        guard color else { return "\(severity.rawValue):" }
        switch severity {
        case .error: return "\u{1B}[1;31merror:\u{1B}[0m"
        case .warning: return "\u{1B}[1;35mwarning:\u{1B}[0m"
        case .note: return "\u{1B}[1;36mnote:\u{1B}[0m"
        }
    }

    private func block(_ file: SourceFile, _ range: SourceRange, _ severity: Diagnostic.Severity, _ message: String)
        -> String
    {
        let pos = file.position(of: range.start)
        let head = "\(file.path):\(pos): \(label(severity)) "
        var out = (color ? "\u{1B}[1m" + head + message + "\u{1B}[0m" : head + message) + "\n"
        if file.bytes.isEmpty { return out }
        let line = file.lineText(pos.line)
        // Very long lines are cut around the caret so the output stays readable.
        let lineBytes = Array(line.utf8)
        let caretStart = pos.column - 1
        let endPos = file.position(of: max(range.start, range.end - 1))
        let caretEnd = endPos.line == pos.line ? max(caretStart + 1, endPos.column) : lineBytes.count
        let window = 160
        let from = lineBytes.count > window ? max(0, min(caretStart - 40, lineBytes.count - window)) : 0
        let to = min(lineBytes.count, from + window)
        let shown = String(decoding: lineBytes[from..<to], as: UTF8.self).replacingTabs()
        out += "    " + (from > 0 ? "…" : "") + shown + (to < lineBytes.count ? "…" : "") + "\n"
        let prefixColumns = displayWidth(lineBytes[from..<min(max(from, caretStart), to)])
        let underlineWidth = max(1, displayWidth(lineBytes[min(caretStart, to)..<min(max(caretStart, caretEnd), to)]))
        var marker = String(repeating: " ", count: prefixColumns + (from > 0 ? 1 : 0)) + "^"
        if underlineWidth > 1 { marker += String(repeating: "~", count: underlineWidth - 1) }
        out += "    " + (color ? "\u{1B}[1;32m" + marker + "\u{1B}[0m" : marker) + "\n"
        return out
    }

    /// Columns a byte run takes on screen: one per character, tabs as one space.
    private func displayWidth(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.reduce(0) { $0 + (($1 & 0xC0) == 0x80 ? 0 : 1) }
    }
}

extension String {
    fileprivate func replacingTabs() -> String {
        String(map { $0 == "\t" ? " " : $0 })
    }
}
