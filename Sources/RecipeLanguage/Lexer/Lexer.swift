/// Turns a recipe's bytes into tokens. Never throws: a bad byte becomes an `invalid`
/// token with a diagnostic, so the parser always sees a well-formed stream ending in
/// `endOfFile`.
public struct Lexer {
    /// The tokens, ending with `endOfFile`, and the comments and problems found on the way.
    public struct Output: Sendable {
        public var tokens: [Token]
        public var comments: [Comment]
        public var diagnostics: [Diagnostic]
    }

    /// Longest string literal accepted, in bytes (a guard against runaway input).
    static let maxStringBytes = 4096

    public static func tokenize(_ source: SourceFile) -> Output {
        var lexer = Lexer(bytes: source.bytes)
        lexer.run()
        return Output(tokens: lexer.tokens, comments: lexer.comments, diagnostics: lexer.diagnostics)
    }

    private let bytes: [UInt8]
    private var i = 0
    private var tokens: [Token] = []
    private var comments: [Comment] = []
    private var diagnostics: [Diagnostic] = []

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func peek(_ ahead: Int = 0) -> UInt8? {
        i + ahead < bytes.count ? bytes[i + ahead] : nil
    }

    private static func isLetter(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == 0x5F
    }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private mutating func run() {
        while let b = peek() {
            let start = i
            switch b {
            case 0x20, 0x09, 0x0A, 0x0D:
                i += 1
            case UInt8(ascii: "#"):
                while let c = peek(), c != 0x0A { i += 1 }
                var end = i
                if end > start && bytes[end - 1] == 0x0D { end -= 1 }
                let text = String(decoding: bytes[(start + 1)..<end], as: UTF8.self)
                comments.append(Comment(text: text, range: SourceRange(start, end)))
            case UInt8(ascii: "\""):
                lexString()
            case _ where Lexer.isLetter(b):
                while let c = peek(), Lexer.isLetter(c) || Lexer.isDigit(c) { i += 1 }
                let text = String(decoding: bytes[start..<i], as: UTF8.self)
                let kind: TokenKind = Keyword(rawValue: text).map { .keyword($0) } ?? .name
                tokens.append(Token(kind: kind, range: SourceRange(start, i), text: text))
            case _ where Lexer.isDigit(b) || (b == UInt8(ascii: ".") && peek(1).map(Lexer.isDigit) == true):
                lexNumber()
            default:
                lexPunctuation()
            }
        }
        tokens.append(Token(kind: .endOfFile, range: SourceRange(bytes.count, bytes.count), text: ""))
    }

    private mutating func lexNumber() {
        let start = i
        func digits(_ lexer: inout Lexer) {
            while let c = lexer.peek(), Lexer.isDigit(c) || c == UInt8(ascii: "_") { lexer.i += 1 }
        }
        digits(&self)
        // `1..3` is a range, not the number `1.` followed by `.3`.
        if peek() == UInt8(ascii: "."), peek(1) != UInt8(ascii: ".") {
            i += 1
            digits(&self)
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var j = 1
            if let s = peek(1), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { j = 2 }
            if let d = peek(j), Lexer.isDigit(d) {
                i += j
                digits(&self)
            }
        }
        // A name glued to a number (`3x`) is one bad token, reported once.
        if let c = peek(), Lexer.isLetter(c) {
            while let c = peek(), Lexer.isLetter(c) || Lexer.isDigit(c) { i += 1 }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            diagnostics.append(.error("invalid number '\(text)'", at: SourceRange(start, i)))
            tokens.append(Token(kind: .invalid, range: SourceRange(start, i), text: text))
            return
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        tokens.append(Token(kind: .number, range: SourceRange(start, i), text: text))
    }

    private mutating func lexString() {
        let start = i
        i += 1
        var value: [UInt8] = []
        while true {
            guard let c = peek(), c != 0x0A else {
                diagnostics.append(
                    .error(
                        "unterminated string", at: SourceRange(start, i),
                        notes: [.init("add '\"' to close the string")]))
                tokens.append(Token(kind: .invalid, range: SourceRange(start, i), text: ""))
                return
            }
            i += 1
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                let escape = peek()
                switch escape {
                case UInt8(ascii: "\""): value.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): value.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "n"): value.append(0x0A)
                case UInt8(ascii: "t"): value.append(0x09)
                default:
                    let text = escape.map { String(decoding: [$0], as: UTF8.self) } ?? ""
                    diagnostics.append(.error("invalid escape '\\\(text)' in string", at: SourceRange(i - 1, i + 1)))
                }
                if escape != nil && escape != 0x0A { i += 1 }
                continue
            }
            value.append(c)
        }
        if value.count > Lexer.maxStringBytes {
            diagnostics.append(
                .error("string is too long (limit is \(Lexer.maxStringBytes) bytes)", at: SourceRange(start, i)))
        }
        if String(validating: value, as: UTF8.self) == nil {
            diagnostics.append(.error("string is not valid UTF-8", at: SourceRange(start, i)))
        }
        tokens.append(
            Token(kind: .string, range: SourceRange(start, i), text: String(decoding: value, as: UTF8.self)))
    }

    private mutating func lexPunctuation() {
        let start = i
        let two: [String: Punctuation] = [
            "..": .dotDot, "-=": .minusAssign, "+=": .plusAssign, "*=": .starAssign, "==": .equal, "!=": .notEqual,
            "<=": .lessEqual, ">=": .greaterEqual,
        ]
        if let a = peek(), let b = peek(1), a < 0x80, b < 0x80 {
            let pair = String(decoding: [a, b], as: UTF8.self)
            if let p = two[pair] {
                i += 2
                tokens.append(Token(kind: .punctuation(p), range: SourceRange(start, i), text: pair))
                return
            }
        }
        let b = bytes[i]
        if b < 0x80, let p = Punctuation(rawValue: String(UnicodeScalar(b))) {
            i += 1
            tokens.append(Token(kind: .punctuation(p), range: SourceRange(start, i), text: p.rawValue))
            return
        }
        // Skip a whole run of bad bytes (one UTF-8 sequence or a binary blob) as one token.
        i += 1
        while let c = peek(), !(c < 0x80 && (Lexer.isLetter(c) || Lexer.isDigit(c) || c == 0x20 || c == 0x0A)),
            Punctuation(rawValue: String(UnicodeScalar(c))) == nil || c >= 0x80
        {
            i += 1
        }
        let raw = bytes[start..<i]
        let shown: String
        if let text = String(validating: raw, as: UTF8.self), raw.count <= 16 {
            shown = "unexpected character '\(text)'"
        } else {
            shown = "unexpected bytes (\(raw.count) byte\(raw.count == 1 ? "" : "s") that are not recipe text)"
        }
        diagnostics.append(.error(shown, at: SourceRange(start, i)))
        tokens.append(Token(kind: .invalid, range: SourceRange(start, i), text: ""))
    }
}
