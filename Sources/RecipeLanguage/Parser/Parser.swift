/// A hand-written recursive-descent parser for recipes (see `Grammar/optlang.ebnf`).
///
/// Errors are recorded as diagnostics; the parser then skips to the next statement or
/// declaration (panic mode) and goes on, so one run reports every independent mistake.
/// Every recovery loop consumes at least one token, and nesting depth has a named limit.
public struct Parser {
    /// The result of parsing: a tree (always, possibly partial) and the problems found.
    public struct Output: Sendable {
        public var recipe: Recipe
        public var diagnostics: [Diagnostic]
        /// The parser's work: tokens taken, at the end of input included, plus recoveries.
        /// The parser never goes back, so this stays within a small multiple of the tokens
        /// (the robustness tests bound it, rather than timing the parser).
        public var steps: Int
    }

    /// How deeply expressions and selectors may nest (parentheses, prefix operators).
    public static let nestingLimit = 100
    /// How many operators one expression may hold (deeper trees would exhaust the stack
    /// of everything that walks them).
    public static let operatorLimit = 1000

    /// Parses a whole recipe file.
    public static func parse(_ source: SourceFile) -> Output {
        let lexed = Lexer.tokenize(source)
        var parser = Parser(tokens: lexed.tokens)
        let recipe = parser.parseRecipe(comments: lexed.comments)
        return Output(recipe: recipe, diagnostics: lexed.diagnostics + parser.diagnostics, steps: parser.steps)
    }

    /// A grammar production, for parsing a fragment on its own (the grammar's examples).
    public enum Production: String, Sendable {
        case recipe, declaration, statement, selector, expr
    }

    /// Parses `source` as one `production`, which must use up all of the input. Returns
    /// the diagnostics (empty when the text is a valid instance).
    public static func check(_ source: SourceFile, as production: Production) -> [Diagnostic] {
        if production == .recipe { return parse(source).diagnostics }
        let lexed = Lexer.tokenize(source)
        var parser = Parser(tokens: lexed.tokens)
        do {
            switch production {
            case .recipe: break
            case .declaration:
                if parser.at(.keyword(.hyper)) { _ = try parser.parseHyper() } else { _ = try parser.parseGroup() }
            case .statement: _ = try parser.parseStatement()
            case .selector: _ = try parser.parseSelector()
            case .expr: _ = try parser.parseExpression()
            }
            if !parser.at(.endOfFile) { try parser.fail("expected end of input, found \(parser.current.quoted)") }
        } catch {}
        return lexed.diagnostics + parser.diagnostics
    }

    // MARK: State

    private let tokens: [Token]
    private var index = 0
    private var depth = 0
    private var operators = 0
    private var steps = 0
    private(set) var diagnostics: [Diagnostic] = []

    /// Thrown after a syntax error has been recorded, to unwind to a recovery point.
    struct Abort: Error {}

    private init(tokens: [Token]) {
        self.tokens = tokens
    }

    private var current: Token { tokens[index] }
    private var previous: Token { tokens[max(0, index - 1)] }
    private func peek(_ n: Int = 1) -> Token { tokens[min(index + n, tokens.count - 1)] }

    private func at(_ kind: TokenKind) -> Bool { current.kind == kind }
    private func at(_ p: Punctuation) -> Bool { current.kind == .punctuation(p) }
    private func at(_ k: Keyword) -> Bool { current.kind == .keyword(k) }

    @discardableResult
    private mutating func advance() -> Token {
        let t = current
        steps += 1
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    private mutating func accept(_ p: Punctuation) -> Bool {
        if at(p) {
            advance()
            return true
        }
        return false
    }

    private mutating func fail(_ message: String, at range: SourceRange? = nil, notes: [Diagnostic.Note] = [])
        throws(Abort) -> Never
    {
        // An invalid token was reported by the lexer: recover without a second message.
        if current.kind != .invalid {
            diagnostics.append(.error(message, at: range ?? current.range, notes: notes))
        }
        steps += 1
        throw Abort()
    }

    private mutating func expect(_ p: Punctuation, _ context: String, notes: [Diagnostic.Note] = [])
        throws(Abort) -> Token
    {
        if at(p) { return advance() }
        try fail("expected '\(p.rawValue)' \(context), found \(current.quoted)", notes: notes)
    }

    private mutating func expectName(_ what: String) throws(Abort) -> Identifier {
        if current.kind == .name { return Identifier(advance().text, previous.range) }
        if case .keyword(let k) = current.kind {
            try fail("'\(k.rawValue)' is a keyword and cannot be used as \(what)")
        }
        try fail("expected \(what), found \(current.quoted)")
    }

    private mutating func nest() throws(Abort) {
        depth += 1
        if depth > Parser.nestingLimit {
            try fail("expression is nested too deeply (limit is \(Parser.nestingLimit))")
        }
    }

    // MARK: File

    /// recipe = header { import } { declaration }
    private mutating func parseRecipe(comments: [Comment]) -> Recipe {
        var recipe = Recipe(header: nil, imports: [], declarations: [], comments: comments)
        if at(.keyword(.optimizer)) {
            recipe.header = try? parseHeader()
            if recipe.header == nil { synchronizeTopLevel() }
        } else if !at(.endOfFile) || tokens.count == 1 {
            diagnostics.append(
                .error(
                    "a recipe must start with 'optimizer NAME'", at: current.range,
                    notes: [.init("for example: optimizer my_sgd \"SGD with a twist\"")]))
        }
        while !at(.endOfFile) {
            let start = index
            do {
                switch current.kind {
                case .keyword(.import):
                    let imp = try parseImport()
                    if !recipe.declarations.isEmpty {
                        diagnostics.append(.error("imports must come before hyperparameters and groups", at: imp.range))
                    }
                    recipe.imports.append(imp)
                case .keyword(.hyper): recipe.declarations.append(.hyper(try parseHyper()))
                case .keyword(.group): recipe.declarations.append(.group(try parseGroup()))
                case .keyword(.optimizer):
                    let extra = try parseHeader()
                    diagnostics.append(
                        .error(
                            "a recipe has one 'optimizer' header", at: extra.range,
                            notes: recipe.header.map { [.init("the header is here", at: $0.range)] } ?? []))
                default:
                    var notes: [Diagnostic.Note] = []
                    if current.kind == .name, peek().kind == .punctuation(.assign) {
                        notes.append(.init("hyperparameters are declared with 'hyper \(current.text) = …'"))
                    } else if at(.rightBrace) {
                        notes.append(.init("this '}' closes nothing"))
                    }
                    try fail("expected 'hyper' or 'group', found \(current.quoted)", notes: notes)
                }
            } catch {
                synchronizeTopLevel()
            }
            if index == start { advance() }
        }
        return recipe
    }

    /// Skips to the next token that can start a declaration.
    private mutating func synchronizeTopLevel() {
        while !at(.endOfFile) {
            switch current.kind {
            case .keyword(.hyper), .keyword(.group), .keyword(.import), .keyword(.optimizer): return
            default: advance()
            }
        }
    }

    /// header = "optimizer" NAME [ STRING ]
    private mutating func parseHeader() throws(Abort) -> Header {
        let start = advance().range
        let name = try expectName("the optimizer's name")
        var title: String?
        if current.kind == .string { title = advance().text }
        return Header(name: name, title: title, range: start.union(previous.range))
    }

    /// import = "import" STRING "as" NAME
    private mutating func parseImport() throws(Abort) -> Import {
        let start = advance().range
        guard current.kind == .string else {
            try fail("expected a file name in quotes after 'import', found \(current.quoted)")
        }
        let path = advance()
        guard at(.keyword(.as)) else { try fail("expected 'as NAME' after the imported file, found \(current.quoted)") }
        advance()
        let alias = try expectName("a name for the import")
        return Import(path: path.text, pathRange: path.range, alias: alias, range: start.union(alias.range))
    }

    /// hyper = "hyper" NAME "=" expr [ STRING ]
    private mutating func parseHyper() throws(Abort) -> Hyper {
        let start = advance().range
        let name = try expectName("a hyperparameter name")
        _ = try expect(.assign, "after the hyperparameter's name (hyperparameters need a default)")
        let value = recoveringExpression(synchronize: { $0.synchronizeTopLevel() })
        var doc: String?
        if current.kind == .string { doc = advance().text }
        return Hyper(name: name, value: value, doc: doc, range: start.union(previous.range))
    }

    /// group = "group" NAME ":" selector block
    private mutating func parseGroup() throws(Abort) -> Group {
        let start = advance().range
        let name = try expectName("a group name")
        _ = try expect(.colon, "after the group's name (a selector follows, e.g. 'group hidden: matrix')")
        let selector = try parseSelector()
        let open = try expect(.leftBrace, "to start the group's statements")
        var statements: [Statement] = []
        while !at(.rightBrace) {
            switch current.kind {
            case .endOfFile, .keyword(.group), .keyword(.hyper), .keyword(.import), .keyword(.optimizer):
                diagnostics.append(
                    .error(
                        "expected '}' to close group '\(name.name)', found \(current.quoted)", at: current.range,
                        notes: [.init("to match this '{'", at: open.range)]))
                return Group(
                    name: name, selector: selector, statements: statements, openBrace: open.range,
                    range: start.union(previous.range))
            default: break
            }
            let before = index
            do {
                statements.append(try parseStatement())
            } catch {
                synchronizeStatement()
            }
            if index == before { advance() }
        }
        let close = advance()
        return Group(
            name: name, selector: selector, statements: statements, openBrace: open.range,
            range: start.union(close.range))
    }

    /// Skips to the next token that can start a statement, or to the group's end.
    private mutating func synchronizeStatement() {
        while !at(.endOfFile) {
            switch current.kind {
            case .keyword(.state), .keyword(.use), .punctuation(.rightBrace), .keyword(.group),
                .keyword(.hyper), .keyword(.import), .keyword(.optimizer):
                return
            case .name where Parser.isAssignment(peek().kind) && previous.range.end < current.range.start:
                return
            default: advance()
            }
        }
    }

    private static func isAssignment(_ kind: TokenKind) -> Bool {
        switch kind {
        case .punctuation(.assign), .punctuation(.minusAssign), .punctuation(.plusAssign),
            .punctuation(.starAssign):
            return true
        default: return false
        }
    }

    // MARK: Selectors

    /// selector = sel_and { "or" sel_and }
    private mutating func parseSelector() throws(Abort) -> Selector {
        var lhs = try parseSelectorAnd()
        while at(.keyword(.or)) {
            advance()
            lhs = .or(lhs, try parseSelectorAnd())
        }
        return lhs
    }

    /// sel_and = sel_not { "and" sel_not }
    private mutating func parseSelectorAnd() throws(Abort) -> Selector {
        var lhs = try parseSelectorNot()
        while at(.keyword(.and)) {
            advance()
            lhs = .and(lhs, try parseSelectorNot())
        }
        return lhs
    }

    /// sel_not = "not" sel_not | sel_atom
    private mutating func parseSelectorNot() throws(Abort) -> Selector {
        try nest()
        defer { depth -= 1 }
        if at(.keyword(.not)) {
            let start = advance().range
            let inner = try parseSelectorNot()
            return .not(inner, start.union(inner.range))
        }
        return try parseSelectorAtom()
    }

    static let selectorWords = ["all", "matrix", "vector", "role", "name", "layer", "dims"]

    /// sel_atom = "all" | "matrix" | "vector" | "role" "(" … ")" | "name" "(" … ")"
    ///          | "layer" "(" INTEGER [ ".." INTEGER ] ")" | "dims" "(" INTEGER [ ".." INTEGER ] ")"
    ///          | "(" selector ")"
    private mutating func parseSelectorAtom() throws(Abort) -> Selector {
        if at(.leftParen) {
            let open = advance().range
            let inner = try parseSelector()
            let close = try expect(.rightParen, "to close the selector", notes: [.init("to match this '('", at: open)])
            return .parenthesized(inner, open.union(close.range))
        }
        guard current.kind == .name else {
            try fail(
                "expected a selector (all, matrix, vector, role(…), name(…), layer(…), dims(…)), found \(current.quoted)"
            )
        }
        let word = advance()
        switch word.text {
        case "all": return .all(word.range)
        case "matrix": return .matrix(word.range)
        case "vector": return .vector(word.range)
        case "role":
            let open = try expect(.leftParen, "after 'role' (e.g. role(attention, mlp))")
            var roles: [Identifier] = []
            repeat {
                roles.append(try expectName("a role"))
            } while accept(.comma) && !at(.rightParen)
            let close = try expect(.rightParen, "to close 'role('", notes: [.init("to match this '('", at: open.range)])
            return .role(roles, word.range.union(close.range))
        case "name":
            let open = try expect(.leftParen, "after 'name' (e.g. name(\"blocks.*.attn.*\"))")
            var globs: [String] = []
            repeat {
                guard current.kind == .string else {
                    try fail("expected a name pattern in quotes, found \(current.quoted)")
                }
                globs.append(advance().text)
            } while accept(.comma) && !at(.rightParen)
            let close = try expect(.rightParen, "to close 'name('", notes: [.init("to match this '('", at: open.range)])
            return .name(globs, word.range.union(close.range))
        case "layer":
            let open = try expect(.leftParen, "after 'layer' (e.g. layer(0..3))")
            let lo = try parseLayerIndex()
            var hi = lo
            if accept(.dotDot) { hi = try parseLayerIndex() }
            let close = try expect(
                .rightParen, "to close 'layer('", notes: [.init("to match this '('", at: open.range)])
            let range = word.range.union(close.range)
            if hi < lo {
                diagnostics.append(
                    .error("empty layer range \(lo)..\(hi): the first index must not exceed the second", at: range))
            }
            return .layer(lo, hi, range)
        case "dims":
            let open = try expect(.leftParen, "after 'dims' (e.g. dims(2) for exactly two dimensions)")
            let lo = try parseWholeNumber("a number of dimensions")
            var hi = lo
            if accept(.dotDot) { hi = try parseWholeNumber("a number of dimensions") }
            let close = try expect(
                .rightParen, "to close 'dims('", notes: [.init("to match this '('", at: open.range)])
            let range = word.range.union(close.range)
            if hi < lo {
                diagnostics.append(
                    .error(
                        "empty range of dimensions \(lo)..\(hi): the first number must not exceed the second", at: range
                    ))
            }
            return .dims(lo, hi, range)
        default:
            let notes =
                Suggestion.closest(to: word.text, among: Parser.selectorWords).map {
                    [Diagnostic.Note("did you mean '\($0)'?")]
                } ?? []
            try fail("unknown selector '\(word.text)'", at: word.range, notes: notes)
        }
    }

    private mutating func parseLayerIndex() throws(Abort) -> Int {
        try parseWholeNumber("a layer index")
    }

    /// A whole number in a selector (`layer(3)`, `dims(2)`); `what` names it in the error.
    private mutating func parseWholeNumber(_ what: String) throws(Abort) -> Int {
        guard current.kind == .number, let n = Int(current.text.filter { $0 != "_" }), n >= 0
        else {
            try fail("expected \(what) (a whole number), found \(current.quoted)")
        }
        advance()
        return n
    }

    // MARK: Statements

    /// statement = state | update | use | log | binding
    private mutating func parseStatement() throws(Abort) -> Statement {
        let start = current.range
        switch current.kind {
        case .keyword(.state):
            advance()
            let name = try expectName("a state name")
            _ = try expect(.assign, "after the state's name (state needs an initial value, e.g. 'state m = zeros')")
            let value = recoveringExpression(synchronize: { $0.synchronizeStatement() })
            return .state(name, value, start.union(value.range))
        case .name where current.text == "log" && peek().kind == .name && peek(2).kind == .punctuation(.assign):
            // `log` starts a statement only as `log NAME = …`; elsewhere it is the function.
            advance()
            let name = try expectName("a name for the logged value")
            _ = try expect(.assign, "after the logged name")
            let value = try parseExpression()
            return .log(name, value, start.union(value.range))
        case .keyword(.use):
            advance()
            let module = try expectName("an imported recipe's name")
            _ = try expect(.dot, "after '\(module.name)' (use names a group as 'recipe.group')")
            let group = try expectName("a group name")
            var arguments: [Argument] = []
            if at(.leftParen) { arguments = try parseArguments(after: group.name) }
            return .use(module: module, group: group, arguments: arguments, start.union(previous.range))
        case .name:
            let name = Identifier(advance().text, start)
            let op = current
            switch op.kind {
            case .punctuation(.assign):
                advance()
                let value = recoveringExpression(synchronize: { $0.synchronizeStatement() })
                if name.name == "X" { return .update(.assign, value, start.union(value.range)) }
                return .binding(name, value, start.union(value.range))
            case .punctuation(.minusAssign), .punctuation(.plusAssign), .punctuation(.starAssign):
                advance()
                let value = try parseExpression()
                guard name.name == "X" else {
                    try fail(
                        "'\(op.text)' updates the parameter 'X' only; write '\(name.name) = \(name.name) \(op.text.dropLast()) …'",
                        at: op.range)
                }
                let kind: UpdateOperator =
                    op.kind == .punctuation(.minusAssign)
                    ? .subtract : op.kind == .punctuation(.plusAssign) ? .add : .multiply
                return .update(kind, value, start.union(value.range))
            default:
                try fail("expected '=' after '\(name.name)' to bind a value, found \(op.quoted)", at: op.range)
            }
        default:
            try fail("expected a statement (a binding, 'state', 'X -= …', 'use' or 'log'), found \(current.quoted)")
        }
    }

    // MARK: Expressions

    /// An expression whose errors are recovered from here, so the statement that holds it
    /// still declares its name (and later uses of the name do not cascade into errors).
    private mutating func recoveringExpression(synchronize: (inout Parser) -> Void) -> Expr {
        let start = current.range
        do {
            return try parseExpression()
        } catch {
            synchronize(&self)
            return .error(start.union(previous.range))
        }
    }

    /// expr = "if" expr "then" expr "else" expr | disjunction
    private mutating func parseExpression() throws(Abort) -> Expr {
        if depth == 0 { operators = 0 }
        if at(.keyword(.if)) {
            try nest()
            defer { depth -= 1 }
            let start = advance().range
            let condition = try parseExpression()
            guard at(.keyword(.then)) else { try fail("expected 'then' after the condition, found \(current.quoted)") }
            advance()
            let yes = try parseExpression()
            guard at(.keyword(.else)) else {
                try fail("expected 'else' (a conditional needs both branches), found \(current.quoted)")
            }
            advance()
            let no = try parseExpression()
            return .conditional(condition, yes, no, start.union(no.range))
        }
        return try parseBinary(minimum: 1)
    }

    private func binaryOperator() -> BinaryOperator? {
        switch current.kind {
        case .keyword(.or): return .or
        case .keyword(.and): return .and
        case .punctuation(let p):
            switch p {
            case .equal: return .equal
            case .notEqual: return .notEqual
            case .less: return .less
            case .lessEqual: return .lessEqual
            case .greater: return .greater
            case .greaterEqual: return .greaterEqual
            case .plus: return .add
            case .minus: return .subtract
            case .star: return .multiply
            case .slash: return .divide
            case .caret: return .power
            default: return nil
            }
        default: return nil
        }
    }

    /// disjunction … power, by precedence climbing: operators binding at least `minimum`.
    private mutating func parseBinary(minimum: Int) throws(Abort) -> Expr {
        var lhs = try parseOperand()
        var comparisons = 0
        while let op = binaryOperator(), op.precedence >= minimum {
            let opToken = advance()
            operators += 1
            if operators > Parser.operatorLimit {
                try fail("expression is too long (limit is \(Parser.operatorLimit) operators)", at: opToken.range)
            }
            if op.precedence == BinaryOperator.equal.precedence {
                comparisons += 1
                if comparisons > 1 {
                    try fail("comparisons cannot be chained; combine them with 'and'", at: opToken.range)
                }
            }
            // `^` is right-associative; the others associate to the left.
            let rhs = try parseBinary(minimum: op == .power ? op.precedence : op.precedence + 1)
            lhs = .binary(op, lhs, rhs)
        }
        return lhs
    }

    /// prefix operators, then a primary
    private mutating func parseOperand() throws(Abort) -> Expr {
        try nest()
        defer { depth -= 1 }
        if at(.keyword(.not)) {
            let start = advance().range
            let operand = try parseBinary(minimum: 3)
            return .unary(.not, operand, start.union(operand.range))
        }
        if at(.minus) {
            let start = advance().range
            let operand = try parseBinary(minimum: 7)
            return .unary(.negate, operand, start.union(operand.range))
        }
        return try parsePrimary()
    }

    /// primary = NUMBER | "true" | "false" | NAME [ "." NAME ] [ "(" arguments ")" ] | "(" expr ")"
    private mutating func parsePrimary() throws(Abort) -> Expr {
        let token = current
        switch token.kind {
        case .number:
            advance()
            guard let value = Double(token.text.filter { $0 != "_" }) else {
                try fail("invalid number '\(token.text)'", at: token.range)
            }
            return .number(value, token.text, token.range)
        case .keyword(.true):
            advance()
            return .boolean(true, token.range)
        case .keyword(.false):
            advance()
            return .boolean(false, token.range)
        case .name:
            advance()
            var path = [Identifier(token.text, token.range)]
            if at(.dot) {
                advance()
                path.append(try expectName("a name after '.'"))
            }
            if at(.leftParen) {
                let arguments = try parseArguments(after: path.map(\.name).joined(separator: "."))
                return .call(callee: path, arguments: arguments, token.range.union(previous.range))
            }
            return path.count == 2 ? .member(path[0], path[1]) : .name(path[0])
        case .punctuation(.leftParen):
            let open = advance().range
            let inner = try parseExpression()
            let close = try expect(
                .rightParen, "to close the parenthesis", notes: [.init("to match this '('", at: open)])
            return .parenthesized(inner, open.union(close.range))
        case .keyword(.if):
            try fail("a conditional inside an expression needs parentheses: (if … then … else …)")
        default:
            try fail("expected an expression, found \(token.quoted)")
        }
    }

    /// arguments = argument { "," argument } [ "," ]; argument = [ NAME ":" ] expr
    private mutating func parseArguments(after callee: String) throws(Abort) -> [Argument] {
        let open = advance().range
        var arguments: [Argument] = []
        while !at(.rightParen) {
            var label: Identifier?
            if current.kind == .name, peek().kind == .punctuation(.colon) {
                label = Identifier(advance().text, previous.range)
                advance()
            }
            arguments.append(Argument(label: label, value: try parseExpression()))
            if !accept(.comma) { break }
        }
        if !at(.rightParen) {
            try fail(
                "expected ',' or ')' in the arguments of '\(callee)', found \(current.quoted)",
                notes: [.init("to match this '('", at: open)])
        }
        advance()
        return arguments
    }
}
