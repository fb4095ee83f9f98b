import Foundation
import RecipeLanguage

/// A problem turning a checked recipe into a step graph (a bad `--set`, for example).
public struct CompileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// True for a fault of the compiler itself on a recipe the checker accepted: a bug in
    /// optlang, reported as `internal error` at ``range`` of ``path``, never a trap.
    public var isInternal = false
    /// The recipe file the fault points into.
    public var path: String?
    /// The statement the fault arose in.
    public var range: SourceRange?

    public init(_ message: String) { self.message = message }

    /// A compiler fault at `range` (a node's ``Node/origin``) of the recipe at `path`.
    public static func internalFault(_ message: String, at range: SourceRange, in path: String? = nil) -> CompileError {
        var error = CompileError(message)
        error.isInternal = true
        error.range = range
        error.path = path
        return error
    }

    public var description: String { isInternal ? "internal error: \(message)" : message }
}

/// Lowers a checked recipe to a ``StepGraph``: hyperparameters become constants (after
/// overrides), primitives become element-wise arithmetic on explicit state, repeated
/// sub-expressions are shared, and constant sub-expressions are folded.
public enum Lowering {
    /// - Parameter overrides: hyperparameter values by name (`--set lr=0.01`).
    /// - Parameter symbolic: keep hyperparameters as `hyper` nodes instead of folding them
    ///   (for exports, whose hyperparameters stay settable).
    public static func lower(
        _ recipe: CheckedRecipe, overrides: [String: Double] = [:], symbolicHyperparameters symbolic: Bool = false
    ) throws(CompileError) -> StepGraph {
        for name in overrides.keys where recipe.hyperIndex(name) == nil {
            let known = recipe.hypers.map(\.name).joined(separator: ", ")
            throw CompileError("recipe '\(recipe.name)' has no hyperparameter '\(name)' (it has: \(known))")
        }
        var values: [Double] = []
        for h in recipe.hypers {
            let v = overrides[h.name] ?? ConstantEvaluator(hypers: values).evaluate(h.value) ?? .nan
            guard v.isFinite else { throw CompileError("hyperparameter '\(h.name)' is not a finite number (\(v))") }
            values.append(v)
        }
        let groups = recipe.groups.map { group -> GroupGraph in
            var builder = GroupBuilder(hypers: values, group: group, symbolic: symbolic)
            builder.lowerStatements()
            return GroupGraph(
                name: group.name, selectorText: Printer.selector(group.selector), checked: group,
                nodes: Passes.hoistWrites(Passes.removeDeadCode(builder.nodes)), states: group.states)
        }
        return StepGraph(
            name: recipe.name, hyperparameters: zip(recipe.hypers, values).map { ($0.name, $1) }, groups: groups)
    }
}

/// Builds one group's nodes, sharing identical nodes (common-subexpression elimination by
/// construction) and folding constants.
private struct GroupBuilder {
    let hypers: [Double]
    let group: CheckedGroup
    let symbolic: Bool
    var nodes: [Node] = []
    var index: [Node: Int] = [:]
    var locals: [Int: Int] = [:]
    var stateCurrent: [Int: Int] = [:]
    var parameterCurrent: Int?
    /// The range of the statement being lowered (the origin of the nodes it adds).
    var origin = SourceRange.none

    init(hypers: [Double], group: CheckedGroup, symbolic: Bool) {
        self.hypers = hypers
        self.group = group
        self.symbolic = symbolic
    }

    mutating func add(_ op: Op, _ inputs: [Int], _ type: ValueType) -> Int {
        var node = Node(op, inputs, type)
        node.origin = origin
        if !op.isSink, let existing = index[node] { return existing }
        nodes.append(node)
        if !op.isSink { index[node] = nodes.count - 1 }
        return nodes.count - 1
    }

    func constantValue(_ i: Int) -> Double? {
        if case .constant(let v) = nodes[i].op { return v }
        return nil
    }

    mutating func constant(_ v: Double) -> Int { add(.constant(v), [], .global) }

    func join(_ inputs: [Int]) -> ValueType {
        var t = ValueType.global
        for i in inputs {
            let u = nodes[i].type
            t = ValueType.join(ValueType(t.level, t.extent), ValueType(u.level, u.extent)) ?? .tensor
        }
        return t
    }

    mutating func unary(_ f: UnaryFunction, _ a: Int) -> Int {
        if let x = constantValue(a) { return constant(Scalar.unary(f, x)) }
        return add(.unary(f), [a], join([a]))
    }

    mutating func binary(_ f: BinaryFunction, _ a: Int, _ b: Int) -> Int {
        let x = constantValue(a)
        let y = constantValue(b)
        if let x, let y { return constant(Scalar.binary(f, x, y)) }
        switch f {
        case .op(.multiply) where x == 1: return b
        case .op(.multiply) where y == 1, .op(.divide) where y == 1: return a
        case .op(.add) where x == 0: return b
        case .op(.add) where y == 0, .op(.subtract) where y == 0: return a
        case .op(.power) where y == 2: return unary(.square, a)
        case .op(.power) where y == 1: return a
        default: break
        }
        if f == .op(.multiply), let folded = scalarProduct(a, b) ?? scalarProduct(b, a) { return folded }
        return add(.binary(f), [a, b], join([a, b]))
    }

    /// `s·(t·r)` and `s·(t/r)` with `s`, `r` scalars and `t` a tensor, as `t·(s·r)` and
    /// `t·(s/r)`: the scalars multiply once per layer in Double instead of the tensor twice
    /// (Adam's `eta · (m / (1 − β1ᵗ))` is one product of m).
    mutating func scalarProduct(_ s: Int, _ product: Int) -> Int? {
        func isScalar(_ n: Int) -> Bool { nodes[n].type.level != .tensor }
        guard isScalar(s), !isScalar(product), nodes[product].inputs.count == 2 else { return nil }
        let (p, q) = (nodes[product].inputs[0], nodes[product].inputs[1])
        switch nodes[product].op {
        case .binary(.op(.multiply)) where isScalar(q) && !isScalar(p):
            return binary(.op(.multiply), p, binary(.op(.multiply), s, q))
        case .binary(.op(.multiply)) where isScalar(p) && !isScalar(q):
            return binary(.op(.multiply), q, binary(.op(.multiply), s, p))
        case .binary(.op(.divide)) where isScalar(q) && !isScalar(p):
            return binary(.op(.multiply), p, binary(.op(.divide), s, q))
        default: return nil
        }
    }

    mutating func select(_ c: Int, _ a: Int, _ b: Int) -> Int {
        if let cv = constantValue(c) { return cv != 0 ? a : b }
        return add(.select, [c, a, b], join([c, a, b]))
    }

    /// `v` as a value of `type`: a scalar, per-row or per-column value written into a tensor
    /// state becomes a tensor (`zeros + v`), so that what reads the state back (a reduction,
    /// `orthogonalize`) sees the tensor the state holds, not the value written.
    mutating func broadcast(_ v: Int, to type: ValueType) -> Int {
        let have = nodes[v].type
        guard type.level == .tensor, have.level != .tensor || have.extent != type.extent else { return v }
        let zeros = add(.fill(0, type.extent), [], type)
        return add(.binary(.op(.add)), [zeros, v], type)
    }

    mutating func stateValue(_ slot: Int) -> Int {
        if let current = stateCurrent[slot] { return current }
        return add(.stateRead(slot), [], group.states[slot].type)
    }

    mutating func lowerStatements() {
        for statement in group.statements {
            origin = statement.expression.range
            switch statement {
            case .bind(let i, let e):
                let value = lower(e)
                locals[i] = value
                if nodes[value].binding == nil && !nodes[value].op.isLeaf { nodes[value].binding = group.locals[i] }
            case .setState(let i, let e): stateCurrent[i] = broadcast(lower(e), to: group.states[i].type)
            case .update(let op, let e):
                let v = lower(e)
                let x = parameterCurrent ?? add(.parameter, [], .tensor)
                switch op {
                case .assign: parameterCurrent = v
                case .subtract: parameterCurrent = binary(.op(.subtract), x, v)
                case .add: parameterCurrent = binary(.op(.add), x, v)
                case .multiply: parameterCurrent = binary(.op(.multiply), x, v)
                }
            case .log(let name, let e):
                let v = lower(e)
                _ = add(.log(name), [v], nodes[v].type)
            }
        }
        for slot in group.states.indices {
            guard let value = stateCurrent[slot] else { continue }
            if case .stateRead(slot) = nodes[value].op { continue }
            origin = nodes[value].origin
            _ = add(.stateWrite(slot), [value], group.states[slot].type)
        }
        if let x = parameterCurrent {
            if case .parameter = nodes[x].op { return }
            origin = nodes[x].origin
            _ = add(.parameterWrite, [x], .tensor)
        }
    }

    /// Lowers `e` to a node of the level the checker gave it: folding can leave a lower one
    /// (`if h > 0.5 then G else 1` with `h = 0.5` is the scalar 1), which is broadcast back
    /// so that a reduction or `orthogonalize` of it still sees a tensor.
    mutating func lower(_ e: TypedExpr) -> Int {
        broadcast(lowerFolding(e), to: e.type)
    }

    mutating func lowerFolding(_ e: TypedExpr) -> Int {
        switch e.kind {
        case .constant(let v): return constant(v)
        case .hyper(let i): return symbolic ? add(.hyper(i), [], .global) : constant(hypers[i])
        case .step: return add(.step, [], .global)
        case .totalSteps: return add(.totalSteps, [], .global)
        case .parameter: return parameterCurrent ?? add(.parameter, [], .tensor)
        case .gradient: return add(.gradient, [], .tensor)
        case .shape(let q): return add(.shape(q), [], .layer)
        case .local(let i): return locals[i]!
        case .state(let i): return stateValue(i)
        case .unary(.negate, let a): return unary(.negate, lower(a))
        case .unary(.not, let a): return unary(.not, lower(a))
        case .binary(let op, let a, let b):
            let x = lower(a)
            let y = lower(b)
            return binary(.op(op), x, y)
        case .conditional(let c, let a, let b):
            let cc = lower(c)
            let x = lower(a)
            let y = lower(b)
            return select(cc, x, y)
        case .call(let builtin, let args, let options, let state):
            return call(builtin, args, options, state, e.type)
        }
    }

    mutating func call(
        _ b: Builtin, _ args: [TypedExpr], _ options: BuiltinOptions, _ state: Int?, _ type: ValueType
    ) -> Int {
        let a = args.map { lower($0) }
        let one = constant(1)
        switch b {
        case .momentum, .emaVariance:
            let slot = state!
            let old = stateValue(slot)
            let (x, beta) = (a[0], a[1])
            let decay = binary(.op(.multiply), beta, old)
            let input = b == .emaVariance ? unary(.square, x) : x
            let fresh: Int
            if b == .emaVariance || options.ema {
                fresh = binary(.op(.add), decay, binary(.op(.multiply), binary(.op(.subtract), one, beta), input))
            } else {
                fresh = binary(.op(.add), decay, input)
            }
            stateCurrent[slot] = fresh
            guard b == .momentum && options.nesterov else { return fresh }
            // Nesterov: look ahead along the new momentum.
            let ahead = binary(.op(.multiply), beta, fresh)
            if options.ema {
                return binary(.op(.add), binary(.op(.multiply), binary(.op(.subtract), one, beta), x), ahead)
            }
            return binary(.op(.add), x, ahead)
        case .orthogonalize:
            return add(.orthogonalize(steps: options.steps), [a[0]], .tensor)
        case .dualnorm:
            switch options.kind! {
            case .rmsToRms:
                // The dual of √(cols/rows)·‖·‖_op (RMS→RMS, rows = d_out) carries the
                // LMO's factor: ⟨G, √(rows/cols)·UVᵀ⟩ = √(rows/cols)·Σσ.
                let nuclear = add(.reduce(.nuclear, .all), [a[0]], .layer)
                let cols = add(.shape(.cols), [], .layer)
                let rows = add(.shape(.rows), [], .layer)
                return binary(.op(.multiply), nuclear, unary(.sqrt, binary(.op(.divide), rows, cols)))
            case .spectral: return add(.reduce(.nuclear, .all), [a[0]], .layer)
            case .l1ToLinf: return add(.reduce(.l1, .all), [a[0]], .layer)
            default: return add(.reduce(.l2, .all), [a[0]], .layer)
            }
        case .norm:
            switch options.kind! {
            case .row: return add(.reduce(.l2, .row), [a[0]], ValueType(.tensor, .row))
            case .col: return add(.reduce(.l2, .column), [a[0]], ValueType(.tensor, .column))
            case .spectral: return add(.reduce(.spectral, .all), [a[0]], .layer)
            case .nuclear: return add(.reduce(.nuclear, .all), [a[0]], .layer)
            case .l1: return add(.reduce(.l1, .all), [a[0]], .layer)
            case .linf: return add(.reduce(.linf, .all), [a[0]], .layer)
            default: return add(.reduce(.l2, .all), [a[0]], .layer)
            }
        case .sum, .mean, .rms:
            let r: Reduction = b == .sum ? .sum : b == .mean ? .mean : .rms
            switch options.kind {
            case .row?: return add(.reduce(r, .row), [a[0]], ValueType(.tensor, .row))
            case .col?: return add(.reduce(r, .column), [a[0]], ValueType(.tensor, .column))
            default: return add(.reduce(r, .all), [a[0]], .layer)
            }
        case .layerLR:
            let reference = add(.groupReduce(options.byMean ? .mean : .max), [a[0]], .global)
            return binary(.op(.divide), a[0], reference)
        case .groupMax: return add(.groupReduce(.max), [a[0]], .global)
        case .groupMean: return add(.groupReduce(.mean), [a[0]], .global)
        case .groupSum: return add(.groupReduce(.sum), [a[0]], .global)
        case .sqrt: return unary(.sqrt, a[0])
        case .rsqrt: return unary(.rsqrt, a[0])
        case .abs: return unary(.abs, a[0])
        case .sign: return unary(.sign, a[0])
        case .exp: return unary(.exp, a[0])
        case .log: return unary(.log, a[0])
        case .square: return unary(.square, a[0])
        case .min: return binary(.min, a[0], a[1])
        case .max: return binary(.max, a[0], a[1])
        case .clamp: return binary(.min, binary(.max, a[0], a[1]), a[2])
        case .lerp: return binary(.op(.add), a[0], binary(.op(.multiply), a[2], binary(.op(.subtract), a[1], a[0])))
        case .constant: return one
        case .linearWarmup, .cosineDecay, .wsd:
            return add(.schedule(b), a, .global)
        case .zeros, .ones:
            let extent: Extent = options.kind == .row ? .row : options.kind == .col ? .column : .full
            return add(.fill(b == .zeros ? 0 : 1, extent), [], ValueType(.tensor, extent))
        }
    }
}

/// Scalar semantics shared by constant folding and the executor's scalar code.
enum Scalar {
    static func unary(_ f: UnaryFunction, _ x: Double) -> Double {
        switch f {
        case .negate: return -x
        case .not: return x == 0 ? 1 : 0
        case .sqrt: return x.squareRoot()
        case .rsqrt: return 1 / x.squareRoot()
        case .abs: return Swift.abs(x)
        case .sign: return ConstantEvaluator.sign(x)
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .square: return x * x
        }
    }

    /// The same arithmetic as constant folding in the checker (``ConstantEvaluator``).
    static func binary(_ f: BinaryFunction, _ x: Double, _ y: Double) -> Double {
        switch f {
        case .min: return ConstantEvaluator.minimum(x, y)
        case .max: return ConstantEvaluator.maximum(x, y)
        case .op(let o): return ConstantEvaluator.apply(o, x, y)
        }
    }

    /// A schedule's value at step `t` of `total`.
    static func schedule(_ b: Builtin, _ first: Double, _ second: Double, t: Double, total: Double) -> Double {
        switch b {
        case .linearWarmup: return Swift.min(1, t / Swift.max(first, 1))
        case .cosineDecay:
            let final = first
            return final + (1 - final) * 0.5
                * (1 + Foundation.cos(Double.pi * Swift.min(t, total) / Swift.max(total, 1)))
        case .wsd:
            let (w, d) = (Swift.max(first, 1), Swift.max(second, 1))
            return Swift.max(0, Swift.min(t / w, 1, (total - t) / d))
        default: return 1
        }
    }
}
