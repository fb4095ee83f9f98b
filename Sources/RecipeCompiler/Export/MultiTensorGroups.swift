import Foundation
import RecipeLanguage

/// The PyTorch export's group functions: each value is computed for all of a group's members
/// at once.
///
/// A global value is one Python value; a per-layer or element-wise value is a list with one
/// entry per member. Element-wise arithmetic is a multi-tensor operation (`torch._foreach_*`,
/// one call for every member), in place wherever the value it replaces is read by nothing
/// else (a temporary, a state's old value, `X`), so that a step allocates no more than it
/// must; `a ± s·b·c`, `a ± s·b/c` and `a ± s·b` are one fused operation each
/// (`_foreach_addcmul`, `_foreach_addcdiv`, `_foreach_add(…, alpha=s)`) as torch.optim's own
/// optimizers compute them, each rounding once where optlang rounds twice (docs/export.md,
/// "Rounding"). Anything else (reductions, Newton–Schulz, comparisons, `min`/`max`, per-layer
/// arithmetic) is a comprehension over the members that spells the operation as the
/// one-member code of the other exports does.
extension PythonWriter {
    mutating func multiTensorGroupFunction(_ group: GroupGraph) {
        var code = MultiTensorSpelling(writer: self, group: group)
        groupFunctionHeader(group, "one step for all its members at once")
        var body: [String] = []
        var sinks: [String] = []
        // After the state writes, which may copy a view of `x` (a choice that returned it).
        var parameterWrites: [String] = []
        for (i, node) in group.nodes.enumerated() {
            switch node.op {
            case .stateWrite(let slot):
                let name = Self.string(group.states[slot].name)
                if group.states[slot].type.level == .tensor {
                    let fresh = code.mayStoreAsIs(node.inputs[0], in: slot)
                    sinks.append(
                        code.forEachMember(
                            node.inputs[0], context: ["st": "states"],
                            body: { v in
                                "st[\(name)] = " + (fresh ? v : "torch.broadcast_to(\(v), st[\(name)].shape).clone()")
                            }) + "  # %\(i) state \(group.states[slot].name)")
                } else {
                    sinks.append(
                        code.forEachMember(
                            node.inputs[0], context: ["st": "states", "x": "X"],
                            body: { v in "st[\(name)] = _scalar32(\(v), x.device)" })
                            + "  # %\(i) state \(group.states[slot].name) (rounded to float32)")
                }
            case .parameterWrite:
                parameterWrites.append(
                    code.forEachMember(
                        node.inputs[0], context: ["_p": "ps", "x": "X"], body: { v in "_write(_p, \(v), x)" })
                        + "  # %\(i) X")
            case .log(let logName):
                // A copy: a later step may update the logged tensor in place.
                sinks.append(
                    code.forEachMember(
                        node.inputs[0], context: ["name": "members"],
                        body: { v in
                            "state[\"_log\"].setdefault(\(Self.string(logName)), {})[name] = \(v).detach().clone() if _is_tensor(\(v)) else \(v)"
                        }) + "  # %\(i)")
            default:
                if code.absorbed.contains(i) { continue }
                if code.isMultiTensor(i) {
                    body += code.multiTensorStatements(i)
                    continue
                }
                guard let variable = code.spell.variable[i] else { continue }
                if case .groupReduce(let kind) = node.op {
                    body.append("# %\(i): group_\(kind.rawValue) over the group's layers")
                }
                body.append("\(variable) = \(code.value(i))")
            }
        }
        // Writes last, so that every read of a state or of X above sees the old value (what
        // is updated in place is read by nothing else).
        body += sinks + parameterWrites
        let ops = group.nodes.map(\.op)
        emit("if not members:", 1)
        emit("return", 2)
        emit("ps = [params[name] for name in members]", 1)
        emit("rows_of = [p.shape[0] if p.dim() else 1 for p in ps]", 1)
        emit("cols_of = [(math.prod(p.shape) // rows) if rows else 0 for p, rows in zip(ps, rows_of)]", 1)
        if ops.contains(where: \.needsShards) {
            emit("shards = [_shard_of(p, rows) for p, rows in zip(ps, rows_of)]", 1)
        }
        // In float32: a float32 parameter's own storage (updated in place where nothing else
        // reads X), a copy of a bfloat16 one (written back once, by `_write`).
        emit("X = [_matrix(p.data, cols).float() for p, cols in zip(ps, cols_of)]", 1)
        if ops.contains(.gradient) {
            emit("G = [_matrix(grads[name], cols).float() for name, cols in zip(members, cols_of)]", 1)
        }
        if ops.contains(where: { $0.isStateRead || $0.isStateWrite }) {
            emit("states = [state[name] for name in members]", 1)
        }
        for line in body { emit(line, 1) }
        emit()
    }
}

extension Op {
    /// True for operations that need to know how a parameter is sharded (they gather it or
    /// reduce across processes).
    var needsShards: Bool {
        switch self {
        case .orthogonalize, .reduce(_, .all), .reduce(_, .column): return true
        default: return false
        }
    }

    /// True for a write of a state slot.
    var isStateWrite: Bool {
        if case .stateWrite = self { return true }
        return false
    }
}

/// How the multi-tensor group functions spell each node of a group: one Python value for a
/// global node, a list over the members for the others (``PythonWriter/multiTensorGroupFunction(_:)``).
struct MultiTensorSpelling {
    let writer: PythonWriter
    let group: GroupGraph
    let spell: GroupSpelling
    /// The list holding each multi-tensor node's value, once its statements are written: its
    /// own name, or that of the list it was computed in place in.
    private(set) var holder: [Int: String] = [:]
    /// Whose tensors each multi-tensor node's list holds: new ones, a state's (updated in
    /// place) or the parameters' (`X` updated in place).
    private(set) var origin: [Int: Origin] = [:]
    /// Nodes a state write stores as they are (a second slot written with one gets a copy).
    private(set) var storedAsIs: Set<Int> = []

    enum Origin: Equatable {
        case new
        case state(Int)
        case parameter
    }
    /// Non-tensor nodes whose value is a Python number (not a 0-d tensor): they may be a fused
    /// operation's scale (`alpha=`, `value=`), which torch takes as a number only.
    let isNumber: [Bool]
    /// The fused operations, by the add or subtract node they compute.
    let fused: [Int: Fused]
    /// Nodes computed inside a fused operation: never spelled on their own.
    let absorbed: Set<Int>

    /// `a ± scale · (b ∘ c)` (`c` nil: `a ± scale · b`), as one multi-tensor operation.
    struct Fused {
        enum Kind {
            case addScaled, addProduct, addQuotient
        }
        var kind: Kind
        var base: Int
        var subtract: Bool
        var b: Int
        var c: Int?
        /// The scale: a node whose value is a number, or nil for 1.
        var scale: Int?
    }

    init(writer: PythonWriter, group: GroupGraph) {
        self.writer = writer
        self.group = group
        let spell = GroupSpelling(group: group, multiTensor: true)
        self.spell = spell
        let nodes = group.nodes
        var isNumber = [Bool](repeating: false, count: nodes.count)
        for (i, node) in nodes.enumerated() where node.type.level != .tensor {
            switch node.op {
            case .constant, .hyper, .step, .totalSteps, .shape: isNumber[i] = true
            case .unary, .binary, .select, .schedule: isNumber[i] = node.inputs.allSatisfy { isNumber[$0] }
            default: isNumber[i] = false
            }
        }
        self.isNumber = isNumber
        var fused: [Int: Fused] = [:]
        var absorbed = Set<Int>()
        let uses = spell.uses
        func isTensor(_ j: Int) -> Bool { nodes[j].type.level == .tensor }
        /// A tensor node a fused operation may compute inside itself: read once, not a leaf.
        func absorbable(_ j: Int) -> Bool { isTensor(j) && uses[j] == 1 && !nodes[j].op.isLeaf }
        /// A global number (a per-layer one is a list, which `alpha=` does not take).
        func scale(_ j: Int) -> Bool { nodes[j].type.level == .global && isNumber[j] }
        /// The fused form of `base ± term`.
        func fusion(base: Int, term: Int, subtract: Bool) -> (Fused, [Int])? {
            guard isTensor(base), absorbable(term) else { return nil }
            let t = nodes[term]
            switch t.op {
            case .unary(.square):
                return (
                    Fused(kind: .addProduct, base: base, subtract: subtract, b: t.inputs[0], c: t.inputs[0]), [term]
                )
            case .binary(.op(.divide)) where isTensor(t.inputs[0]) && isTensor(t.inputs[1]):
                let (p, q) = (t.inputs[0], t.inputs[1])
                // (r · s) / q: the scale moves out of the quotient.
                if absorbable(p), case .binary(.op(.multiply)) = nodes[p].op {
                    let (r0, r1) = (nodes[p].inputs[0], nodes[p].inputs[1])
                    if scale(r1), isTensor(r0) {
                        return (
                            Fused(kind: .addQuotient, base: base, subtract: subtract, b: r0, c: q, scale: r1),
                            [term, p]
                        )
                    }
                    if scale(r0), isTensor(r1) {
                        return (
                            Fused(kind: .addQuotient, base: base, subtract: subtract, b: r1, c: q, scale: r0),
                            [term, p]
                        )
                    }
                }
                return (Fused(kind: .addQuotient, base: base, subtract: subtract, b: p, c: q), [term])
            case .binary(.op(.multiply)):
                let (p, q) = (t.inputs[0], t.inputs[1])
                if isTensor(p) && isTensor(q) {
                    return (Fused(kind: .addProduct, base: base, subtract: subtract, b: p, c: q), [term])
                }
                let (s, r) = scale(p) && isTensor(q) ? (p, q) : (q, p)
                guard scale(s), isTensor(r) else { return nil }
                // s · (b · c), s · b², s · (b / c) or s · b.
                if absorbable(r) {
                    let inner = nodes[r]
                    let parts: (Fused.Kind, Int, Int)?
                    switch inner.op {
                    case .binary(.op(.multiply)) where inner.inputs.allSatisfy(isTensor):
                        parts = (.addProduct, inner.inputs[0], inner.inputs[1])
                    case .unary(.square): parts = (.addProduct, inner.inputs[0], inner.inputs[0])
                    case .binary(.op(.divide)) where inner.inputs.allSatisfy(isTensor):
                        parts = (.addQuotient, inner.inputs[0], inner.inputs[1])
                    default: parts = nil
                    }
                    if let (kind, b, c) = parts {
                        return (Fused(kind: kind, base: base, subtract: subtract, b: b, c: c, scale: s), [term, r])
                    }
                }
                return (Fused(kind: .addScaled, base: base, subtract: subtract, b: r, scale: s), [term])
            default: return nil
            }
        }
        for (i, node) in nodes.enumerated() where node.type.level == .tensor {
            guard case .binary(.op(let o)) = node.op, o == .add || o == .subtract else { continue }
            let (a, b) = (node.inputs[0], node.inputs[1])
            var found = fusion(base: a, term: b, subtract: o == .subtract)
            if found == nil, o == .add { found = fusion(base: b, term: a, subtract: false) }
            guard let (f, inner) = found, absorbed.isDisjoint(with: inner + [i]) else { continue }
            fused[i] = f
            absorbed.formUnion(inner)
        }
        self.fused = fused
        self.absorbed = absorbed
    }

    var nodes: [Node] { group.nodes }

    /// Node `j` as an operand: its name, or its value's text (parenthesised unless an atom).
    func operand(_ j: Int) -> String {
        let text = argument(j)
        return GroupSpelling.isAtom(text) ? text : "(\(text))"
    }

    /// Node `j` as a call's argument (`alpha=`, `value=`, a scalar): unparenthesised.
    func argument(_ j: Int) -> String {
        if let h = holder[j] { return h }
        if let v = spell.variable[j], !absorbed.contains(j) { return v }
        return value(j)
    }

    /// A per-layer operand of a multi-tensor operation: a list of numbers, or of tensors.
    func layerValues(_ j: Int) -> String { isNumber[j] ? argument(j) : "_layer_values(\(argument(j)))" }

    /// The scalar or scalar list operand of a multi-tensor operation on a tensor list.
    /// A global one that is a 0-d tensor goes as a list (torch's 0-d tensor overloads read
    /// the value on the host).
    func scalarOperand(_ j: Int) -> String {
        if nodes[j].type.level == .layer { return layerValues(j) }
        return isNumber[j] ? argument(j) : "[\(argument(j))] * len(members)"
    }

    /// The text computing node `i`'s value: a Python value for a global node, a list else.
    func value(_ i: Int) -> String {
        let node = nodes[i]
        if node.type.level == .global {
            if case .groupReduce(let kind) = node.op {
                let j = node.inputs[0]
                let over = nodes[j].type.level == .global ? "[\(operand(j))] * len(members)" : operand(j)
                return "_group_reduce(\(PythonWriter.string(kind.rawValue)), \(over), X[0].device)"
            }
            return writer.expression(i, group, operands: node.inputs.map(operand))
        }
        switch node.op {
        case .parameter: return "X"
        case .gradient: return "G"
        case .stateRead(let slot): return "[st[\(PythonWriter.string(group.states[slot].name))] for st in states]"
        default: break
        }
        if case .orthogonalize(let steps) = node.op {
            return "_orthogonalize(\(operand(node.inputs[0])), \(steps), shards)"
        }
        precondition(isComprehension(i), "%\(i) is computed by its own statements")
        return comprehension(i)
    }

    /// True for a tensor node computed by multi-tensor operations (fused, or one of the
    /// operations `torch._foreach_*` has).
    func isMultiTensor(_ i: Int) -> Bool {
        let node = nodes[i]
        guard node.type.level == .tensor, !absorbed.contains(i) else { return false }
        if fused[i] != nil { return true }
        let isTensor = node.inputs.map { nodes[$0].type.level == .tensor }
        switch node.op {
        case .unary(.not): return false
        case .unary: return true
        case .binary(.op(let o)):
            switch (isTensor[0], isTensor[1]) {
            case (true, true), (true, false): return [.add, .subtract, .multiply, .divide].contains(o)
            case (false, true): return [.add, .subtract, .multiply].contains(o)
            case (false, false): return false
            }
        default: return false
        }
    }

    /// Whether node `i` may be computed in the list holding `base`: `base` is read by `i`
    /// alone (`reads` times), has `i`'s shape, and its list is one this function made, a
    /// state's old values (the state is written anew this step) or `X` (written this step).
    func mayUpdateInPlace(_ base: Int, at i: Int, reads: Int = 1) -> Bool {
        let b = nodes[base]
        guard b.type.level == .tensor, b.type.extent == nodes[i].type.extent, spell.uses[base] == reads else {
            return false
        }
        switch b.op {
        case .stateRead(let slot):
            return nodes.contains { $0.op == .stateWrite(slot) } && group.states[slot].type.level == .tensor
        case .parameter: return nodes.contains { $0.op == .parameterWrite }
        case .orthogonalize: return true  // new matrices
        default: return origin[base] != nil
        }
    }

    /// Whose tensors node `j`'s value is: for a node computed in place, those of the list it
    /// was computed in; else new ones.
    func originOf(_ j: Int) -> Origin {
        switch nodes[j].op {
        case .stateRead(let slot): return .state(slot)
        case .parameter: return .parameter
        default: return origin[j] ?? .new
        }
    }

    /// Whether state `slot`'s new value, node `j`, may be stored without a copy: a new tensor of
    /// the slot's shape (``GroupSpelling/storedAsIs(_:in:)``) that is not the parameter's, not
    /// another state's, and not stored in another slot already.
    mutating func mayStoreAsIs(_ j: Int, in slot: Int) -> Bool {
        guard GroupSpelling.storedAsIs(nodes[j], in: group.states[slot]), !storedAsIs.contains(j) else { return false }
        switch originOf(j) {
        case .new: break
        case .state(let s) where s == slot: break
        default: return false
        }
        storedAsIs.insert(j)
        return true
    }

    /// The statements computing tensor node `i` (where ``isMultiTensor(_:)``): one or two
    /// multi-tensor operations, in place in its operand's list where that may be updated
    /// (``mayUpdateInPlace(_:at:reads:)``), else into a new list named after the node.
    mutating func multiTensorStatements(_ i: Int) -> [String] {
        let node = nodes[i]
        // The operand the operations start from, and each operation's name and arguments.
        var base: Int
        var steps: [(op: String, arguments: [String])]
        var reads = 1
        /// For `a + b` and `a · b`: the same operations starting from the other operand.
        var swapped: (base: Int, steps: [(op: String, arguments: [String])])?
        if let f = fused[i] {
            base = f.base
            func scale(_ j: Int?) -> String {
                guard let j else { return f.subtract ? "-1.0" : "1.0" }
                let text = argument(j)
                return f.subtract ? (GroupSpelling.isAtom(text) ? "-" + text : "-(\(text))") : text
            }
            switch f.kind {
            case .addScaled: steps = [(f.subtract ? "sub" : "add", [operand(f.b), "alpha=\(argument(f.scale!))"])]
            case .addProduct: steps = [("addcmul", [operand(f.b), operand(f.c!), "value=\(scale(f.scale))"])]
            case .addQuotient: steps = [("addcdiv", [operand(f.b), operand(f.c!), "value=\(scale(f.scale))"])]
            }
        } else {
            switch node.op {
            case .unary(let f):
                base = node.inputs[0]
                switch f {
                case .rsqrt: steps = [("sqrt", []), ("reciprocal", [])]
                case .square: (steps, reads) = ([("mul", [operand(base)])], 2)
                case .negate: steps = [("neg", [])]
                default: steps = [(f.rawValue, [])]
                }
            case .binary(.op(let o)):
                let (a, b) = (node.inputs[0], node.inputs[1])
                let name = [.add: "add", .subtract: "sub", .multiply: "mul", .divide: "div"][o]!
                switch (nodes[a].type.level == .tensor, nodes[b].type.level == .tensor) {
                case (true, true):
                    (base, steps) = (a, [(name, [operand(b)])])
                    if o == .add || o == .multiply { swapped = (b, [(name, [operand(a)])]) }
                case (true, false): (base, steps) = (a, [(name, [scalarOperand(b)])])
                default:
                    // A scalar and a tensor: added and multiplied the other way round (the
                    // same numbers), subtracted as the tensor's negation plus the scalar.
                    base = b
                    steps = o == .subtract ? [("neg", []), ("add", [scalarOperand(a)])] : [(name, [scalarOperand(a)])]
                }
            default: preconditionFailure("%\(i) has no multi-tensor form")
            }
        }
        if !mayUpdateInPlace(base, at: i, reads: reads), let other = swapped, mayUpdateInPlace(other.base, at: i) {
            (base, steps) = other
        }
        func call(_ op: String, _ list: String, _ arguments: [String]) -> String {
            "torch._foreach_\(op)(\(([list] + arguments).joined(separator: ", ")))"
        }
        var lines: [String] = []
        let list: String
        let inPlace = mayUpdateInPlace(base, at: i, reads: reads)
        origin[i] = inPlace ? originOf(base) : .new
        if inPlace {
            if case .orthogonalize = nodes[base].op, holder[base] == nil, spell.variable[base] == nil {
                // New matrices, spelled inline: named, to be updated.
                list = spell.variable[i] ?? "_t\(i)"
                lines.append("\(list) = \(value(base))")
            } else {
                list = operand(base)
            }
            for step in steps { lines.append(call(step.op + "_", list, step.arguments)) }
        } else {
            list = spell.variable[i] ?? "_t\(i)"
            lines.append("\(list) = " + call(steps[0].op, operand(base), steps[0].arguments))
            for step in steps.dropFirst() { lines.append(call(step.op + "_", list, step.arguments)) }
        }
        if let name = spell.variable[i], name != list {
            lines.append("\(name) = \(list)  # updated in place")
            holder[i] = name
        } else {
            holder[i] = list
        }
        return lines
    }

    /// True for a per-member node computed by a comprehension (not a list leaf, not a
    /// multi-tensor or fused operation).
    func isComprehension(_ j: Int) -> Bool {
        let node = nodes[j]
        switch node.op {
        case .parameter, .gradient, .stateRead, .orthogonalize: return false
        default: return node.type.level == .layer || (node.type.level == .tensor && !isMultiTensor(j))
        }
    }

    /// Node `i` member by member: the one-member spelling of the other exports inside one list
    /// comprehension, into which the unnamed comprehensions it reads are folded, over the lists
    /// it reads (each element named after its list: `u` of `u`, `x` of `X`) and what it needs
    /// of each member.
    func comprehension(_ i: Int) -> String {
        var bound: [(element: String, list: String)] = []
        let body = memberExpression(i, &bound)
        if bound.isEmpty { return "[\(body)] * len(members)" }
        if bound.count == 1 { return "[\(body) for \(bound[0].element) in \(bound[0].list)]" }
        return
            "[\(body) for \(bound.map(\.element).joined(separator: ", ")) in zip(\(bound.map(\.list).joined(separator: ", ")))]"
    }

    /// One member's expression of node `i`, binding the lists it reads in `bound`.
    func memberExpression(_ i: Int, _ bound: inout [(element: String, list: String)]) -> String {
        let node = nodes[i]
        func bind(_ element: String, _ list: String) -> String {
            if let e = bound.first(where: { $0.list == list }) { return e.element }
            var name = element
            var k = 2
            while bound.contains(where: { $0.element == name }) {
                name = "\(element)_\(k)"
                k += 1
            }
            bound.append((name, list))
            return name
        }
        let operands = node.inputs.map { j -> String in
            if nodes[j].type.level == .global { return operand(j) }
            if spell.variable[j] == nil, isComprehension(j) {
                let text = memberExpression(j, &bound)
                return GroupSpelling.isAtom(text) ? text : "(\(text))"
            }
            switch nodes[j].op {
            case .parameter: return bind("x", "X")
            case .gradient: return bind("g", "G")
            default:
                if let v = spell.variable[j], !absorbed.contains(j) { return bind(v, v) }
                return bind("_a", operand(j))
            }
        }
        if node.type.level == .tensor, node.op == .select {
            // A choice returns the value chosen, which may be a number or smaller than the
            // choice's extent: broadcast to it, as every element-wise value is.
            let x = bind("x", "X")
            let shape: String
            switch node.type.extent {
            case .full: shape = "\(x).shape"
            case .row: shape = "(\(x).shape[0], 1)"
            case .column: shape = "(1, \(x).shape[1])"
            }
            return "_elementwise(\(writer.expression(i, group, operands: operands)), \(x), \(shape))"
        }
        switch node.op {
        case .shape(.rows): _ = bind("rows", "rows_of")
        case .shape(.cols): _ = bind("cols", "cols_of")
        case .shape(.numel): _ = (bind("rows", "rows_of"), bind("cols", "cols_of"))
        case .fill: _ = (bind("x", "X"), bind("cols", "cols_of"))
        default: if node.op.needsShards { _ = bind("sh", "shards") }
        }
        return writer.expression(i, group, operands: operands)
    }

    /// A statement running `body` for each member, with `j`'s value (an element of its list,
    /// or its one global value) and the named member lists (`context`: element → list).
    func forEachMember(_ j: Int, context: KeyValuePairs<String, String>, body: (String) -> String) -> String {
        var names = context.map(\.key)
        var lists = context.map(\.value)
        let value: String
        if nodes[j].type.level == .global {
            value = operand(j)
        } else {
            value = "_v"
            names.append("_v")
            lists.append(operand(j))
        }
        let over = lists.count == 1 ? lists[0] : "zip(\(lists.joined(separator: ", ")))"
        return "for \(names.joined(separator: ", ")) in \(over): \(body(value))"
    }
}
