/// A recipe's text as bytes, with the line table that turns offsets into positions.
///
/// The source is kept as bytes, never as a decoded `String`, so invalid UTF-8 is data the
/// lexer reports, not a crash.
public struct SourceFile: Sendable {
    /// The path shown in diagnostics (as given on the command line).
    public let path: String
    /// The file's contents.
    public let bytes: [UInt8]
    /// Offsets at which each line starts; `lineStarts[0] == 0`.
    let lineStarts: [Int]

    /// Creates a source from raw bytes.
    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
        var starts = [0]
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") { starts.append(i + 1) }
        lineStarts = starts
    }

    /// Creates a source from text (for tests and generated recipes).
    public init(path: String, text: String) {
        self.init(path: path, bytes: Array(text.utf8))
    }

    /// The 1-based line and column (in bytes) of `offset`.
    public func position(of offset: Int) -> SourcePosition {
        let clamped = min(max(offset, 0), bytes.count)
        var lo = 0
        var hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= clamped { lo = mid } else { hi = mid - 1 }
        }
        return SourcePosition(line: lo + 1, column: clamped - lineStarts[lo] + 1)
    }

    /// The text of 1-based line `line`, without its newline (lossily decoded).
    public func lineText(_ line: Int) -> String {
        guard line >= 1 && line <= lineStarts.count else { return "" }
        let start = lineStarts[line - 1]
        var end = line < lineStarts.count ? lineStarts[line] - 1 : bytes.count
        if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }

    /// The number of lines.
    public var lineCount: Int { lineStarts.count }

    /// The text covered by `range` (lossily decoded).
    public func text(_ range: SourceRange) -> String {
        let lo = min(max(range.start, 0), bytes.count)
        let hi = min(max(range.end, lo), bytes.count)
        return String(decoding: bytes[lo..<hi], as: UTF8.self)
    }
}

/// A 1-based line and column.
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "\(line):\(column)" }
}

/// A half-open byte range `start..<end` in one source file.
public struct SourceRange: Sendable, Equatable, Hashable {
    public var start: Int
    public var end: Int
    public init(_ start: Int, _ end: Int) {
        self.start = start
        self.end = max(start, end)
    }
    /// The smallest range covering both.
    public func union(_ other: SourceRange) -> SourceRange {
        SourceRange(min(start, other.start), max(end, other.end))
    }
    /// An empty range, for synthesised nodes.
    public static let none = SourceRange(0, 0)
}
