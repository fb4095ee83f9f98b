import RecipeLanguage

/// A recipe lowered to straight-line code per group, in static single assignment form.
///
/// Each group's nodes are listed in program order. Reads of persistent state see the
/// value from the previous step; each state slot and the parameter are written once, at
/// the end, from their final value (`stateWrite`, `parameterWrite`). Built once per run.
public struct StepGraph: Sendable {
    /// The recipe's name.
    public var name: String
    /// Hyperparameter values after `--set` overrides, by name, in declaration order.
    public var hyperparameters: [(name: String, value: Double)]
    public var groups: [GroupGraph]
}

/// One group's program.
public struct GroupGraph: Sendable {
    public var name: String
    public var selectorText: String
    public var checked: CheckedGroup
    public let nodes: [Node]
    /// State slots (from the checked group): name, type, initial fill.
    public var states: [StateSlot]
    /// Its schedule (stages, fused passes, kernels), computed once when the graph is built;
    /// the executor, the printers and the exports all read this one.
    var plan: GroupPlan

    init(name: String, selectorText: String, checked: CheckedGroup, nodes: [Node], states: [StateSlot]) {
        self.name = name
        self.selectorText = selectorText
        self.checked = checked
        self.nodes = nodes
        self.states = states
        plan = Scheduler.plan(nodes)
    }
}

/// A value-producing operation (or a sink) with its inputs (node indices).
public struct Node: Sendable, Hashable {
    public var op: Op
    public var inputs: [Int]
    public var type: ValueType
    /// Computed by the scheduler: nodes of stage k run after every group reduction that
    /// stage k depends on.
    public var stage = 0
    /// The recipe statement that first produced the node (in the recipe's own file; an
    /// inlined `use` points at the `use`), for reports of compiler faults. Not part of the
    /// node's identity.
    public var origin = SourceRange.none
    /// The recipe binding (`m_hat = …`) whose value the node is, if any: the name the
    /// Python exports give it. Not part of the node's identity.
    public var binding: String?

    public init(_ op: Op, _ inputs: [Int], _ type: ValueType) {
        self.op = op
        self.inputs = inputs
        self.type = type
    }

    public static func == (a: Node, b: Node) -> Bool { a.op == b.op && a.inputs == b.inputs && a.type == b.type }
    public func hash(into h: inout Hasher) {
        h.combine(op)
        h.combine(inputs)
    }
}

/// Element-wise functions of one argument.
public enum UnaryFunction: String, Sendable, Hashable {
    case negate = "neg"
    case not, sqrt, rsqrt, abs, sign, exp, log, square
}

/// Element-wise functions of two arguments: the language's operators (booleans are 1 and 0)
/// and `min` and `max`, which are calls in the language.
public enum BinaryFunction: Sendable, Hashable {
    case op(BinaryOperator)
    case min, max

    /// Its name in listings and generated code (`add`, `lt`, `min`, …).
    public var name: String {
        switch self {
        case .op(let o): return o.name
        case .min: return "min"
        case .max: return "max"
        }
    }
}

/// Reductions over one parameter's tensor.
public enum Reduction: String, Sendable, Hashable {
    case sum, mean, rms
    case l2, l1, linf, spectral, nuclear
}

/// Which elements a reduction runs over.
public enum ReductionAxis: String, Sendable, Hashable {
    /// All elements → one number per layer.
    case all
    /// Each row → one value per row.
    case row
    /// Each column → one value per column.
    case column
}

/// Reductions across the parameters of a group.
public enum GroupReduction: String, Sendable, Hashable {
    case max, mean, sum
}

/// Step-graph operations.
public enum Op: Sendable, Hashable {
    case constant(Double)
    /// Hyperparameter `index`, kept symbolic (exports only; runs fold it to a constant).
    case hyper(Int)
    case step
    case totalSteps
    case parameter
    case gradient
    case shape(ShapeQuantity)
    /// A tensor of one value (`zeros`, `ones`) with the given extent.
    case fill(Double, Extent)
    /// The state slot's value from the previous step.
    case stateRead(Int)
    case unary(UnaryFunction)
    case binary(BinaryFunction)
    /// `if c then a else b`: inputs (c, a, b).
    case select
    case orthogonalize(steps: Int)
    case reduce(Reduction, ReductionAxis)
    /// Over the layers of the group; the result is the same for every layer.
    case groupReduce(GroupReduction)
    /// A schedule of `t` and `T` (inputs are its arguments).
    case schedule(Builtin)
    // Sinks
    case stateWrite(Int)
    case parameterWrite
    case log(String)

    /// True for operations applied element by element (fusable).
    public var isElementwise: Bool {
        switch self {
        case .unary, .binary, .select, .fill, .constant, .parameter, .gradient, .stateRead, .stateWrite,
            .parameterWrite:
            return true
        default: return false
        }
    }

    /// True for nodes kept for their effect.
    public var isSink: Bool {
        switch self {
        case .stateWrite, .parameterWrite, .log: return true
        default: return false
        }
    }

    /// True for a state's value from the previous step.
    public var isStateRead: Bool {
        if case .stateRead = self { return true }
        return false
    }

    /// True for reductions across a group's members.
    public var isGroupReduce: Bool {
        if case .groupReduce = self { return true }
        return false
    }

    /// True for values read from outside the step's arithmetic (constants, hyperparameters,
    /// the step counts, the parameter, its gradient, its shape, a state's old value).
    public var isLeaf: Bool {
        switch self {
        case .constant, .hyper, .step, .totalSteps, .parameter, .gradient, .shape, .stateRead: return true
        default: return false
        }
    }
}
