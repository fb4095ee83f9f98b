/// A recipe after checking: names resolved, imports inlined, every expression typed.
/// This is what the step-graph compiler receives; it never sees the parsed AST.
public struct CheckedRecipe: Sendable {
    /// The optimizer's name from the header.
    public var name: String
    public var title: String?
    /// Hyperparameters in declaration order; imported ones are named `alias.name`.
    public var hypers: [CheckedHyper]
    public var groups: [CheckedGroup]
    /// The file it came from.
    public var path: String

    /// The index of the hyperparameter called `name`.
    public func hyperIndex(_ name: String) -> Int? { hypers.firstIndex { $0.name == name } }
}

/// A hyperparameter: a global scalar with a default that may use earlier hyperparameters.
public struct CheckedHyper: Sendable {
    public var name: String
    /// The default, as an expression over earlier hyperparameters (constant level).
    public var value: TypedExpr
    /// The default evaluated with no overrides.
    public var defaultValue: Double
    public var doc: String?
    public var range: SourceRange
    /// The file that declared it (differs from the recipe's for imported ones).
    public var path: String
}

/// A named slot of persistent per-parameter state.
public struct StateSlot: Sendable {
    public var name: String
    public var type: ValueType
    public var initial: StateInitial
    public var range: SourceRange
}

/// How a state slot starts.
public enum StateInitial: Sendable {
    /// Filled with a constant (a global-level expression over hyperparameters).
    case fill(TypedExpr)
    /// A copy of the parameter's initial value.
    case parameter

    /// True for `state s = X`.
    public var isParameter: Bool {
        if case .parameter = self { return true }
        return false
    }
}

/// One statement after checking.
public enum CheckedStatement: Sendable {
    /// Binds local slot `index`.
    case bind(Int, TypedExpr)
    /// Writes state slot `index`.
    case setState(Int, TypedExpr)
    /// Changes the parameter.
    case update(UpdateOperator, TypedExpr)
    /// Records a per-parameter diagnostic under `name`.
    case log(String, TypedExpr)

    /// The statement's expression (its right-hand side).
    public var expression: TypedExpr {
        switch self {
        case .bind(_, let e), .setState(_, let e), .update(_, let e), .log(_, let e): return e
        }
    }
}

/// A group after checking: its selector, slots and statements in order.
public struct CheckedGroup: Sendable {
    public var name: String
    public var selector: Selector
    /// True when the selector admits matrices only (so matrix-only calls are allowed).
    public var matricesOnly: Bool
    public var states: [StateSlot]
    /// Local binding names (for display), indexed by slot.
    public var locals: [String]
    public var statements: [CheckedStatement]
    public var range: SourceRange
    /// Calls that need matrices, with their file, for re-checking when inlined by `use`.
    var matrixCalls: [(String, SourceRange, String)]
}

/// A typed expression.
public struct TypedExpr: Sendable {
    public indirect enum Kind: Sendable {
        case constant(Double)
        case hyper(Int)
        /// `t`, counting steps from 1.
        case step
        /// `T`, the run's total steps.
        case totalSteps
        /// `X`
        case parameter
        /// `G`
        case gradient
        case shape(ShapeQuantity)
        case local(Int)
        case state(Int)
        case unary(UnaryOperator, TypedExpr)
        case binary(BinaryOperator, TypedExpr, TypedExpr)
        case conditional(TypedExpr, TypedExpr, TypedExpr)
        /// A built-in call. Stateful built-ins (`momentum`, `ema_variance`) name their
        /// hidden state slot in `state`.
        case call(Builtin, [TypedExpr], BuiltinOptions, state: Int?)
    }

    public var kind: Kind
    public var type: ValueType
    public var range: SourceRange

    public init(_ kind: Kind, _ type: ValueType, _ range: SourceRange) {
        self.kind = kind
        self.type = type
        self.range = range
    }
}

/// Per-parameter quantities known at bind time.
public enum ShapeQuantity: String, Sendable, CaseIterable {
    /// `shape[0]`, the output dimension.
    case rows
    /// The product of the other dimensions (1 for vectors), the input dimension.
    case cols
    /// The element count.
    case numel
}
