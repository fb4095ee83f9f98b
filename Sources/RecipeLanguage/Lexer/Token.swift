/// The kinds of token in a recipe.
public enum TokenKind: Sendable, Equatable {
    case name
    case number
    case string
    case keyword(Keyword)
    case punctuation(Punctuation)
    /// A byte sequence the lexer could not make sense of; a diagnostic says why.
    case invalid
    case endOfFile
}

/// Reserved words; they cannot be used as names.
public enum Keyword: String, Sendable, CaseIterable {
    case optimizer, `import`, `as`, hyper, group, state, use
    case `if`, then, `else`, and, or, not, `true`, `false`
}

/// Operators and delimiters.
public enum Punctuation: String, Sendable, CaseIterable {
    case leftParen = "("
    case rightParen = ")"
    case leftBrace = "{"
    case rightBrace = "}"
    case comma = ","
    case colon = ":"
    case dot = "."
    case dotDot = ".."
    case plus = "+"
    case minus = "-"
    case star = "*"
    case slash = "/"
    case caret = "^"
    case assign = "="
    case minusAssign = "-="
    case plusAssign = "+="
    case starAssign = "*="
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessEqual = "<="
    case greater = ">"
    case greaterEqual = ">="
}

/// One token: its kind, where it is, and (for names, numbers and strings) its value.
public struct Token: Sendable, Equatable {
    public var kind: TokenKind
    public var range: SourceRange
    /// The name, the number's spelling, or the string's decoded contents.
    public var text: String

    /// How the token reads in a message: `'momentum'`, `end of file`.
    var quoted: String {
        switch kind {
        case .endOfFile: return "end of file"
        case .string: return "string \"\(text)\""
        case .keyword(let k): return "'\(k.rawValue)'"
        case .punctuation(let p): return "'\(p.rawValue)'"
        default: return "'\(text)'"
        }
    }
}

/// A comment, kept apart from the tokens for the formatter.
public struct Comment: Sendable, Equatable {
    /// The text after `#`, without the newline.
    public var text: String
    public var range: SourceRange
}
