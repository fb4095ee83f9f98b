/// The parsed recipe, exactly as written: names are not yet resolved and nothing is
/// checked beyond the grammar. Every node carries its source range.
public struct Recipe: Sendable {
    public var header: Header?
    public var imports: [Import]
    public var declarations: [Declaration]
    public var comments: [Comment]
}

/// A name as written, with where it was written.
public struct Identifier: Sendable, Equatable {
    public var name: String
    public var range: SourceRange
    public init(_ name: String, _ range: SourceRange) {
        self.name = name
        self.range = range
    }
}

/// `optimizer NAME "title"`.
public struct Header: Sendable {
    public var name: Identifier
    public var title: String?
    public var range: SourceRange
}

/// `import "file.opt" as name`.
public struct Import: Sendable {
    public var path: String
    public var pathRange: SourceRange
    public var alias: Identifier
    public var range: SourceRange
}

/// A top-level declaration.
public enum Declaration: Sendable {
    case hyper(Hyper)
    case group(Group)

    public var range: SourceRange {
        switch self {
        case .hyper(let h): return h.range
        case .group(let g): return g.range
        }
    }
}

/// `hyper NAME = expr "doc"`.
public struct Hyper: Sendable {
    public var name: Identifier
    public var value: Expr
    public var doc: String?
    public var range: SourceRange
}

/// `group NAME: selector { statements }`.
public struct Group: Sendable {
    public var name: Identifier
    public var selector: Selector
    public var statements: [Statement]
    /// The range of the `{`, for "to match this '{'" notes.
    public var openBrace: SourceRange
    public var range: SourceRange
}

/// Which parameters a group takes.
public indirect enum Selector: Sendable {
    case all(SourceRange)
    case matrix(SourceRange)
    case vector(SourceRange)
    case role([Identifier], SourceRange)
    case name([String], SourceRange)
    /// An inclusive range of block indices.
    case layer(Int, Int, SourceRange)
    /// An inclusive range of numbers of dimensions (`dims(2)`: exactly two).
    case dims(Int, Int, SourceRange)
    case and(Selector, Selector)
    case or(Selector, Selector)
    case not(Selector, SourceRange)
    case parenthesized(Selector, SourceRange)

    public var range: SourceRange {
        switch self {
        case .all(let r), .matrix(let r), .vector(let r), .role(_, let r), .name(_, let r), .layer(_, _, let r),
            .dims(_, _, let r), .not(_, let r), .parenthesized(_, let r):
            return r
        case .and(let a, let b), .or(let a, let b): return a.range.union(b.range)
        }
    }
}

/// How an update statement changes the parameter.
public enum UpdateOperator: String, Sendable {
    case assign = "="
    case subtract = "-="
    case add = "+="
    case multiply = "*="
}

/// One statement of a group body.
public enum Statement: Sendable {
    /// `state NAME = initial`
    case state(Identifier, Expr, SourceRange)
    /// `X op= value`
    case update(UpdateOperator, Expr, SourceRange)
    /// `use module.group(arguments)`
    case use(module: Identifier, group: Identifier, arguments: [Argument], SourceRange)
    /// `log NAME = value`
    case log(Identifier, Expr, SourceRange)
    /// `NAME = value`
    case binding(Identifier, Expr, SourceRange)

    public var range: SourceRange {
        switch self {
        case .state(_, _, let r), .update(_, _, let r), .use(_, _, _, let r), .log(_, _, let r),
            .binding(_, _, let r):
            return r
        }
    }
}

/// A call argument, positional or named.
public struct Argument: Sendable {
    public var label: Identifier?
    public var value: Expr
    public var range: SourceRange { label.map { $0.range.union(value.range) } ?? value.range }
}

/// Binary operators, loosest first within each group of the grammar.
public enum BinaryOperator: String, Sendable {
    case or, and
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessEqual = "<="
    case greater = ">"
    case greaterEqual = ">="
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case power = "^"

    /// Its name in step-graph listings and generated code: `add`, `sub`, `lt`, `and`, ….
    public var name: String {
        switch self {
        case .add: return "add"
        case .subtract: return "sub"
        case .multiply: return "mul"
        case .divide: return "div"
        case .power: return "pow"
        case .equal: return "eq"
        case .notEqual: return "ne"
        case .less: return "lt"
        case .lessEqual: return "le"
        case .greater: return "gt"
        case .greaterEqual: return "ge"
        case .and: return "and"
        case .or: return "or"
        }
    }

    /// Binding strength: higher binds tighter.
    public var precedence: Int {
        switch self {
        case .or: return 1
        case .and: return 2
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual: return 4
        case .add, .subtract: return 5
        case .multiply, .divide: return 6
        case .power: return 8
        }
    }
}

/// Unary operators.
public enum UnaryOperator: String, Sendable {
    case negate = "-"
    case not
}

/// An expression as written.
public indirect enum Expr: Sendable {
    /// A number, with its spelling kept for the formatter.
    case number(Double, String, SourceRange)
    case boolean(Bool, SourceRange)
    case name(Identifier)
    /// `module.name`
    case member(Identifier, Identifier)
    /// `callee(arguments)`; the callee is a name or `module.name`.
    case call(callee: [Identifier], arguments: [Argument], SourceRange)
    case unary(UnaryOperator, Expr, SourceRange)
    case binary(BinaryOperator, Expr, Expr)
    case conditional(Expr, Expr, Expr, SourceRange)
    case parenthesized(Expr, SourceRange)
    /// Stands in for an expression that failed to parse (already reported).
    case error(SourceRange)

    public var range: SourceRange {
        switch self {
        case .number(_, _, let r), .boolean(_, let r), .call(_, _, let r), .unary(_, _, let r),
            .conditional(_, _, _, let r), .parenthesized(_, let r), .error(let r):
            return r
        case .name(let id): return id.range
        case .member(let a, let b): return a.range.union(b.range)
        case .binary(_, let a, let b): return a.range.union(b.range)
        }
    }
}
