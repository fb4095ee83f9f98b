/// Canonical text of AST pieces: one space around binary operators (none around `^`),
/// arguments separated by ", ", parentheses exactly where the source had them.
public enum Printer {
    public static func expr(_ e: Expr) -> String {
        switch e {
        case .number(_, let spelling, _): return spelling
        case .boolean(let b, _): return b ? "true" : "false"
        case .name(let id): return id.name
        case .member(let a, let b): return "\(a.name).\(b.name)"
        case .call(let callee, let arguments, _):
            return callee.map(\.name).joined(separator: ".") + "(" + self.arguments(arguments) + ")"
        case .unary(.negate, let a, _): return "-" + expr(a)
        case .unary(.not, let a, _): return "not " + expr(a)
        case .binary(.power, let a, let b): return expr(a) + "^" + expr(b)
        case .binary(let op, let a, let b): return expr(a) + " " + op.rawValue + " " + expr(b)
        case .conditional(let c, let a, let b, _): return "if \(expr(c)) then \(expr(a)) else \(expr(b))"
        case .parenthesized(let inner, _): return "(" + expr(inner) + ")"
        case .error: return "<error>"
        }
    }

    public static func arguments(_ arguments: [Argument]) -> String {
        arguments.map { a in (a.label.map { $0.name + ": " } ?? "") + expr(a.value) }.joined(separator: ", ")
    }

    public static func selector(_ s: Selector) -> String {
        switch s {
        case .all: return "all"
        case .matrix: return "matrix"
        case .vector: return "vector"
        case .role(let roles, _): return "role(" + roles.map(\.name).joined(separator: ", ") + ")"
        case .name(let globs, _): return "name(" + globs.map(string).joined(separator: ", ") + ")"
        case .layer(let lo, let hi, _): return lo == hi ? "layer(\(lo))" : "layer(\(lo)..\(hi))"
        case .dims(let lo, let hi, _): return lo == hi ? "dims(\(lo))" : "dims(\(lo)..\(hi))"
        case .and(let a, let b): return selector(a) + " and " + selector(b)
        case .or(let a, let b): return selector(a) + " or " + selector(b)
        case .not(let a, _): return "not " + selector(a)
        case .parenthesized(let a, _): return "(" + selector(a) + ")"
        }
    }

    public static func statement(_ s: Statement) -> String {
        switch s {
        case .state(let name, let value, _): return "state \(name.name) = \(expr(value))"
        case .update(let op, let value, _): return "X \(op.rawValue) \(expr(value))"
        case .use(let module, let group, let arguments, _):
            return "use \(module.name).\(group.name)" + (arguments.isEmpty ? "" : "(\(self.arguments(arguments)))")
        case .log(let name, let value, _): return "log \(name.name) = \(expr(value))"
        case .binding(let name, let value, _): return "\(name.name) = \(expr(value))"
        }
    }

    /// A string literal with its escapes.
    public static func string(_ text: String) -> String {
        var out = "\""
        for c in text {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}
