import Foundation

/// `optlang fmt`: the canonical layout of a recipe, with every comment kept.
///
/// Layout: the header, a blank line, imports, a blank line, then declarations; a blank
/// line before every group; inside groups, statements indented by four spaces, keeping
/// single blank lines the author left between statements. Comments stay before the
/// node they preceded, or at the end of the line they ended. Formatting is idempotent.
public enum Formatter {
    /// The formatted text, or the parse diagnostics when the recipe does not parse.
    public static func format(_ source: SourceFile) -> Result<String, FormatFailure> {
        let parsed = Parser.parse(source)
        guard parsed.diagnostics.isEmpty else { return .failure(FormatFailure(diagnostics: parsed.diagnostics)) }
        var writer = Writer(source: source, comments: parsed.recipe.comments)
        writer.recipe(parsed.recipe)
        return .success(writer.output)
    }

    /// A recipe that could not be formatted because it does not parse.
    public struct FormatFailure: Error, Sendable {
        public var diagnostics: [Diagnostic]
    }
}

private struct Writer {
    let source: SourceFile
    let comments: [Comment]
    var next = 0
    var output = ""
    /// Where the last emitted item ended in the source.
    var lastEnd = 0

    init(source: SourceFile, comments: [Comment]) {
        self.source = source
        self.comments = comments
    }

    func line(of offset: Int) -> Int { source.position(of: offset).line }

    /// True when the source has an empty line between `from` and `to`.
    func blankBetween(_ from: Int, _ to: Int) -> Bool {
        guard from < to else { return false }
        var newlines = 0
        var sawText = false
        for b in source.bytes[from..<min(to, source.bytes.count)] {
            if b == 0x0A {
                if !sawText { newlines += 1 }
                if newlines >= 2 { return true }
                sawText = false
            } else if b != 0x20 && b != 0x09 && b != 0x0D {
                sawText = true
                newlines = 0
            }
        }
        return false
    }

    /// True when a comment starts between the two offsets.
    func commentBetween(_ from: Int, _ to: Int) -> Bool {
        comments.contains { $0.range.start >= from && $0.range.start < to }
    }

    mutating func emit(_ text: String, indent: Int) {
        output += String(repeating: " ", count: indent) + text + "\n"
    }

    mutating func blankLine() {
        if !output.isEmpty && !output.hasSuffix("\n\n") { output += "\n" }
    }

    /// Emits the comments that come before `offset` as full lines.
    mutating func leadingComments(before offset: Int, indent: Int) {
        while next < comments.count && comments[next].range.start < offset {
            let c = comments[next]
            if blankBetween(lastEnd, c.range.start) { blankLine() }
            emit("#" + c.text, indent: indent)
            lastEnd = c.range.end
            next += 1
        }
    }

    /// Emits `text` for a node spanning `range`, with its trailing comment.
    mutating func item(_ text: String, _ range: SourceRange, indent: Int, keepBlank: Bool = true) {
        leadingComments(before: range.start, indent: indent)
        if keepBlank && blankBetween(lastEnd, range.start) { blankLine() }
        var out = text
        if next < comments.count, line(of: comments[next].range.start) == line(of: max(range.start, range.end - 1)),
            comments[next].range.start >= range.end
        {
            out += "  #" + comments[next].text
            lastEnd = comments[next].range.end
            next += 1
        } else {
            lastEnd = range.end
        }
        emit(out, indent: indent)
    }

    mutating func recipe(_ r: Recipe) {
        if let h = r.header {
            item("optimizer \(h.name.name)" + (h.title.map { " " + Printer.string($0) } ?? ""), h.range, indent: 0)
        }
        if !r.imports.isEmpty {
            if r.header != nil { blankLine() }
            for imp in r.imports {
                item("import \(Printer.string(imp.path)) as \(imp.alias.name)", imp.range, indent: 0, keepBlank: false)
            }
        }
        var first = true
        var index = 0
        let declarations = r.declarations
        while index < declarations.count {
            switch declarations[index] {
            case .hyper:
                if first { blankLine() }
                // A run of hyperparameters with nothing between them is aligned in columns.
                var run: [Hyper] = []
                while index < declarations.count, case .hyper(let h) = declarations[index] {
                    if let last = run.last,
                        blankBetween(last.range.end, h.range.start) || commentBetween(last.range.end, h.range.start)
                    {
                        break
                    }
                    run.append(h)
                    index += 1
                }
                let nameWidth = run.map(\.name.name.count).max() ?? 0
                let values = run.map { Printer.expr($0.value) }
                let valueWidth = zip(run, values).filter { $0.0.doc != nil }.map(\.1.count).max() ?? 0
                for (h, value) in zip(run, values) {
                    var text = "hyper " + h.name.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + " = "
                    if let doc = h.doc {
                        text += value.padding(toLength: max(valueWidth, value.count), withPad: " ", startingAt: 0)
                        text += " " + Printer.string(doc)
                    } else {
                        text += value
                    }
                    item(text, h.range, indent: 0)
                }
                first = false
                continue
            case .group(let g):
                blankLine()
                item(
                    "group \(g.name.name): \(Printer.selector(g.selector)) {",
                    SourceRange(g.range.start, g.openBrace.end),
                    indent: 0)
                var firstStatement = true
                for s in g.statements {
                    item(Printer.statement(s), s.range, indent: 4, keepBlank: !firstStatement)
                    firstStatement = false
                }
                leadingComments(before: g.range.end - 1, indent: 4)
                item("}", SourceRange(g.range.end - 1, g.range.end), indent: 0, keepBlank: false)
            }
            first = false
            index += 1
        }
        leadingComments(before: Int.max, indent: 0)
    }
}
