/// What the language knows about one model parameter: what selectors look at.
public struct ParameterInfo: Sendable, Equatable {
    /// Dotted name, e.g. `blocks.3.attn.wq`.
    public var name: String
    public var role: ParameterRole
    /// The block index, or nil for parameters outside the blocks.
    public var layer: Int?
    public var shape: [Int]

    public init(name: String, role: ParameterRole, layer: Int?, shape: [Int]) {
        self.name = name
        self.role = role
        self.layer = layer
        self.shape = shape
    }

    /// Two or more dimensions.
    public var isMatrix: Bool { shape.count >= 2 }
}

/// A parameter that cannot be bound, with the reason.
public struct BindingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension CheckedRecipe {
    /// Assigns every parameter to the first group whose selector accepts it.
    /// - Returns: the group index of each parameter, in order.
    /// - Throws: when parameters are left over (listing them all), or when a matrix-only
    ///   group would receive a vector.
    public func bind(_ parameters: [ParameterInfo]) throws(BindingError) -> [Int] {
        var assignment: [Int] = []
        var leftover: [ParameterInfo] = []
        for p in parameters {
            if let g = groups.firstIndex(where: { $0.selector.accepts(p) }) {
                if groups[g].matricesOnly && !p.isMatrix {
                    throw BindingError(
                        message:
                            "group '\(groups[g].name)' needs matrices, but parameter '\(p.name)' has shape \(p.shape)")
                }
                assignment.append(g)
            } else {
                leftover.append(p)
                assignment.append(-1)
            }
        }
        guard leftover.isEmpty else {
            let list = leftover.map { "  \($0.name) (role \($0.role), shape \($0.shape))" }.joined(separator: "\n")
            throw BindingError(
                message: """
                    recipe '\(name)' leaves \(leftover.count) parameter\(leftover.count == 1 ? "" : "s") without a group:
                    \(list)
                    add a last group 'group rest: all { … }' or widen a selector
                    """)
        }
        return assignment
    }
}

extension Selector {
    /// True when the parameter matches.
    public func accepts(_ p: ParameterInfo) -> Bool {
        switch self {
        case .all: return true
        case .matrix: return p.isMatrix
        case .vector: return !p.isMatrix
        case .role(let roles, _): return roles.contains { $0.name == p.role.rawValue }
        case .name(let globs, _): return globs.contains { Glob.matches($0, p.name) }
        case .layer(let lo, let hi, _): return p.layer.map { $0 >= lo && $0 <= hi } ?? false
        case .dims(let lo, let hi, _): return (lo...hi).contains(p.shape.count)
        case .and(let a, let b): return a.accepts(p) && b.accepts(p)
        case .or(let a, let b): return a.accepts(p) || b.accepts(p)
        case .not(let a, _): return !a.accepts(p)
        case .parenthesized(let a, _): return a.accepts(p)
        }
    }
}

/// Shell-style name patterns: `*` matches any run of characters, `?` one character.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8)
        let t = Array(text.utf8)
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == UInt8(ascii: "?") || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
