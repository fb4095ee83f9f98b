import RecipeLanguage
import TensorRuntime

/// A fused region ready to run: its register code, and where each input and output lives.
final class CompiledRegion {
    enum Output {
        case state(Int)
        case parameter
        case node(Int)
    }

    let kernel: FusedKernel
    let extent: Extent
    /// External tensor nodes read by the region, in input order.
    let tensorInputs: [Int]
    /// External scalar nodes read by the region.
    let scalarInputs: [Int]
    /// The kernel's scalars: a scalar input, or its reciprocal (division by a scalar
    /// becomes multiplication).
    let scalarSources: [(node: Int, reciprocal: Bool)]
    let outputs: [Output]
    let outputLayouts: [FusedKernel.Layout]
    /// True when some input is per-row or per-column (so rows and columns are iterated).
    let needsRows: Bool
    // Argument arrays, allocated once.
    private let inputStride: Int
    private let scalarStride: Int
    private let outputStride: Int
    private let inputPointers: UnsafeMutablePointer<UnsafePointer<Float>>
    private let scalarValues: UnsafeMutablePointer<Float>
    private let outputPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>

    /// - Throws: ``CompileError/internalFault(_:at:in:)`` when the region's code cannot be
    ///   emitted (a compiler bug; the error points at the statement of the node).
    init(region: GroupPlan.Region, nodes: [Node], threads: Int) throws(CompileError) {
        extent = region.extent
        let members = region.nodes
        let isMember = Set(members)
        var tensorInputs: [Int] = []
        var scalarInputs: [Int] = []
        for n in members {
            for j in nodes[n].inputs where !isMember.contains(j) {
                if nodes[j].type.level == .tensor {
                    if !tensorInputs.contains(j) { tensorInputs.append(j) }
                } else if !scalarInputs.contains(j) {
                    scalarInputs.append(j)
                }
            }
        }
        var consumers: [Int: [Int]] = [:]
        for n in members { for j in nodes[n].inputs where isMember.contains(j) { consumers[j, default: []].append(n) } }
        let scalarSet = Set(scalarInputs)
        // A product (or quotient) of a tensor and a scalar read only by one add or subtract
        // is folded into it: `a·s + b` in one pass instead of two.
        func scaledParts(_ n: Int) -> (tensor: Int, scalar: Int, reciprocal: Bool)? {
            let node = nodes[n]
            guard node.inputs.count == 2 else { return nil }
            let (x, y) = (node.inputs[0], node.inputs[1])
            switch node.op {
            case .binary(.multiply):
                if scalarSet.contains(y) && !scalarSet.contains(x) { return (x, y, false) }
                if scalarSet.contains(x) && !scalarSet.contains(y) { return (y, x, false) }
            case .binary(.divide):
                if scalarSet.contains(y) && !scalarSet.contains(x) { return (x, y, true) }
            default: break
            }
            return nil
        }
        var deferred: [Int: (tensor: Int, scalar: Int, reciprocal: Bool)] = [:]
        for n in members where !region.materialized.contains(n) {
            guard let parts = scaledParts(n), let users = consumers[n], users.count == 1 else { continue }
            switch nodes[users[0]].op {
            case .binary(.add), .binary(.subtract):
                if nodes[users[0]].inputs[0] != nodes[users[0]].inputs[1] { deferred[n] = parts }
            default: break
            }
        }
        // `x / (sqrt(y) + s)` (Adam's denominator, RMSprop's, AdaBelief's …) is one pass, with
        // `y` itself possibly a scalar product: `x / (sqrt(y·r) + s)`.
        var absorbed = Set<Int>()
        var rootQuotients: [Int: (x: Int, radicand: Int, scale: Int?, epsilon: Int)] = [:]
        for u in members {
            guard case .binary(.divide) = nodes[u].op else { continue }
            let (x, d) = (nodes[u].inputs[0], nodes[u].inputs[1])
            guard x != d, isMember.contains(d), !region.materialized.contains(d), consumers[d] == [u],
                case .binary(.add) = nodes[d].op
            else { continue }
            let (p, q) = (nodes[d].inputs[0], nodes[d].inputs[1])
            let (root, epsilon) = scalarSet.contains(q) ? (p, q) : (q, p)
            guard scalarSet.contains(epsilon), isMember.contains(root), !region.materialized.contains(root),
                consumers[root] == [d], case .unary(.sqrt) = nodes[root].op
            else { continue }
            var radicand = nodes[root].inputs[0]
            var scale: Int?
            if isMember.contains(radicand), !region.materialized.contains(radicand), consumers[radicand] == [root],
                let parts = scaledParts(radicand), !parts.reciprocal
            {
                absorbed.insert(radicand)
                scale = parts.scalar
                radicand = parts.tensor
            } else if isMember.contains(radicand), !region.materialized.contains(radicand),
                consumers[radicand] == [root], let parts = scaledParts(radicand), parts.reciprocal
            {
                absorbed.insert(radicand)
                scale = -1 - parts.scalar  // marks a reciprocal scale
                radicand = parts.tensor
            }
            absorbed.insert(root)
            absorbed.insert(d)
            rootQuotients[u] = (x, radicand, scale, epsilon)
        }
        for n in absorbed { deferred[n] = nil }
        // `a·s − b·u` has no single instruction: keep the subtrahend's product separate.
        for n in members {
            if case .binary(.subtract) = nodes[n].op, deferred[nodes[n].inputs[0]] != nil {
                deferred[nodes[n].inputs[1]] = nil
            }
        }
        // Last use of every member value (its position in `members`; a materialized value
        // is stored right after it is computed). Reading a folded product reads its parts.
        var lastUse: [Int: Int] = [:]
        for (position, n) in members.enumerated() where deferred[n] == nil && !absorbed.contains(n) {
            if let r = rootQuotients[n] {
                for j in [r.x, r.radicand] where isMember.contains(j) { lastUse[j] = position }
                continue
            }
            for j in nodes[n].inputs {
                if let d = deferred[j] {
                    lastUse[d.tensor] = position
                } else if isMember.contains(j) {
                    lastUse[j] = position
                }
            }
        }
        // Which scalars need a broadcast slot: those read by unary ops, select, both sides
        // of a binary op, or beside a folded product (`a·s ± c`: the fused instruction's
        // addend is a slot).
        var broadcast: [Int] = []
        for n in members where deferred[n] == nil && !absorbed.contains(n) && rootQuotients[n] == nil {
            let node = nodes[n]
            let isBinary: Bool
            if case .binary = node.op { isBinary = true } else { isBinary = false }
            let scalarOperands = node.inputs.filter { scalarSet.contains($0) }
            let besideFolded = node.inputs.contains { deferred[$0] != nil }
            if !isBinary || scalarOperands.count > 1 || besideFolded {
                for j in scalarOperands where !broadcast.contains(j) { broadcast.append(j) }
            }
        }
        // A scalar numerator of a root quotient (`s / (sqrt(y) + e)`) is a slot too.
        for n in members {
            if let r = rootQuotients[n], scalarSet.contains(r.x), !broadcast.contains(r.x) { broadcast.append(r.x) }
        }
        var sources: [(node: Int, reciprocal: Bool)] = []
        func scalarIndex(_ node: Int, reciprocal: Bool) -> Int {
            if let k = sources.firstIndex(where: { $0.node == node && $0.reciprocal == reciprocal }) { return k }
            sources.append((node, reciprocal))
            return sources.count - 1
        }
        // Registers are allocated in program order and freed after their last use.
        var registerOf: [Int: Int] = [:]
        var free: [Int] = []
        var registerCount = 0
        func allocate() -> Int {
            if let r = free.popLast() { return r }
            registerCount += 1
            return registerCount - 1
        }
        // Slot numbers of inputs are final only once the register count is known, so
        // operands are recorded symbolically first.
        enum Operand {
            case register(Int)
            case input(Int)
            case broadcast(Int)
            case scalar(Int)
        }
        func operand(_ j: Int) -> Operand {
            if let r = registerOf[j] { return .register(r) }
            if let k = tensorInputs.firstIndex(of: j) { return .input(k) }
            if let k = broadcast.firstIndex(of: j) { return .broadcast(k) }
            return .scalar(scalarIndex(j, reciprocal: false))
        }
        enum Pending {
            case fill(Int, Float)
            case unary(UnaryFunction, Int, Operand)
            case binary(BinaryFunction, Int, Operand, Operand)
            case select(Int, Operand, Operand, Operand)
            case fused(Int, form: Int, Operand, Int, Operand)
            case linear(Int, Operand, Int, Operand, Int)
            case rootQuotient(Int, Operand, Operand, scale: Int?, epsilon: Int)
            case store(Operand, Int)
        }
        /// Each pending instruction with the node it computes (for fault reports).
        var pending: [(instruction: Pending, node: Int)] = []
        var outputs: [Output] = []
        for (position, n) in members.enumerated() where deferred[n] == nil && !absorbed.contains(n) {
            let node = nodes[n]
            if let r = rootQuotients[n] {
                let (xo, yo) = (operand(r.x), operand(r.radicand))
                for j in (r.x == r.radicand ? [r.x] : [r.x, r.radicand])
                where lastUse[j] == position && !region.materialized.contains(j) {
                    if let reg = registerOf[j] { free.append(reg) }
                }
                let dst = allocate()
                registerOf[n] = dst
                var scaleIndex: Int?
                var reciprocal = false
                if let sc = r.scale {
                    reciprocal = sc < 0
                    scaleIndex = scalarIndex(reciprocal ? -1 - sc : sc, reciprocal: reciprocal)
                }
                pending.append(
                    (
                        .rootQuotient(
                            dst, xo, yo, scale: scaleIndex, epsilon: scalarIndex(r.epsilon, reciprocal: false)), n
                    ))
                if region.materialized.contains(n) {
                    pending.append((.store(.register(dst), outputs.count), n))
                    outputs.append(.node(n))
                }
                if lastUse[n] == nil && !region.materialized.contains(n) { free.append(dst) }
                continue
            }
            // Operands are read before registers that die here are freed.
            let operands = node.inputs.map { j in deferred[j].map { operand($0.tensor) } ?? operand(j) }
            // Each dying register is freed once, even when it is read twice (`b + b`).
            var holders: [Int] = []
            for j in node.inputs where !holders.contains(deferred[j]?.tensor ?? j) {
                holders.append(deferred[j]?.tensor ?? j)
            }
            for holder in holders {
                if lastUse[holder] == position && !region.materialized.contains(holder), let r = registerOf[holder] {
                    free.append(r)
                }
            }
            switch node.op {
            case .stateWrite(let slot):
                pending.append((.store(operands[0], outputs.count), n))
                outputs.append(.state(slot))
                continue
            case .parameterWrite:
                pending.append((.store(operands[0], outputs.count), n))
                outputs.append(.parameter)
                continue
            default: break
            }
            let dst = allocate()
            registerOf[n] = dst
            switch node.op {
            case .fill(let v, _): pending.append((.fill(dst, Float(v)), n))
            case .unary(let f): pending.append((.unary(f, dst, operands[0]), n))
            case .binary(let f):
                let (x, y) = (node.inputs[0], node.inputs[1])
                let scale = { (d: (tensor: Int, scalar: Int, reciprocal: Bool)) in
                    scalarIndex(d.scalar, reciprocal: d.reciprocal)
                }
                if f == .add, let dx = deferred[x], let dy = deferred[y] {
                    pending.append((.linear(dst, operands[0], scale(dx), operands[1], scale(dy)), n))
                } else if let dx = deferred[x], f == .add || f == .subtract {
                    pending.append((.fused(dst, form: f == .add ? 0 : 1, operands[0], scale(dx), operands[1]), n))
                } else if let dy = deferred[y], f == .add || f == .subtract {
                    pending.append((.fused(dst, form: f == .add ? 0 : 2, operands[1], scale(dy), operands[0]), n))
                } else if f == .divide, case .scalar = operands[1] {
                    pending.append((.binary(.multiply, dst, operands[0], .scalar(scalarIndex(y, reciprocal: true))), n))
                } else {
                    pending.append((.binary(f, dst, operands[0], operands[1]), n))
                }
            case .select: pending.append((.select(dst, operands[0], operands[1], operands[2]), n))
            default: break
            }
            if region.materialized.contains(n) {
                pending.append((.store(.register(dst), outputs.count), n))
                outputs.append(.node(n))
            }
            if lastUse[n] == nil && !region.materialized.contains(n) { free.append(dst) }
        }
        let inputBase = registerCount
        let broadcastBase = registerCount + tensorInputs.count
        var current = 0
        func slot(_ o: Operand) throws(CompileError) -> Int {
            switch o {
            case .register(let r): return r
            case .input(let k): return inputBase + k
            case .broadcast(let k): return broadcastBase + k
            case .scalar:
                let name: String
                switch nodes[current].op {
                case .unary(let f): name = f.rawValue
                case .binary(let f): name = f.rawValue
                default: name = "\(nodes[current].op)"
                }
                throw .internalFault(
                    "a scalar operand of '\(name)' has no broadcast slot in its fused region", at: nodes[current].origin
                )
            }
        }
        var code: [FusedKernel.Instruction] = []
        for (p, node) in pending {
            current = node
            switch p {
            case .fill(let dst, let v): code.append(.fill(dst: dst, value: v))
            case .unary(let f, let dst, let a): code.append(.unary(f, dst: dst, a: try slot(a)))
            case .binary(let f, let dst, let a, let b):
                switch (a, b) {
                case (_, .scalar(let k)): code.append(.binaryScalarRight(f, dst: dst, a: try slot(a), scalar: k))
                case (.scalar(let k), _): code.append(.binaryScalarLeft(f, dst: dst, scalar: k, b: try slot(b)))
                default: code.append(.binary(f, dst: dst, a: try slot(a), b: try slot(b)))
                }
            case .select(let dst, let c, let a, let b):
                code.append(.select(dst: dst, c: try slot(c), a: try slot(a), b: try slot(b)))
            case .fused(let dst, let form, let a, let k, let b):
                switch form {
                case 0: code.append(.fmaScalar(dst: dst, a: try slot(a), scalar: k, b: try slot(b)))
                case 1: code.append(.fmsScalar(dst: dst, a: try slot(a), scalar: k, b: try slot(b)))
                default: code.append(.fnmaScalar(dst: dst, a: try slot(a), scalar: k, b: try slot(b)))
                }
            case .linear(let dst, let a, let k, let b, let u):
                code.append(.linear(dst: dst, a: try slot(a), s: k, b: try slot(b), u: u))
            case .rootQuotient(let dst, let x, let y, let scale, let epsilon):
                code.append(.rootQuotient(dst: dst, x: try slot(x), y: try slot(y), scale: scale, epsilon: epsilon))
            case .store(let src, let output): code.append(.store(src: try slot(src), output: output))
            }
        }
        // Broadcast scalars also get a kernel scalar index (their value fills the slot).
        let broadcastIndices = broadcast.map { scalarIndex($0, reciprocal: false) }
        let layouts: [FusedKernel.Layout] = tensorInputs.map { j in
            let e = nodes[j].type.extent
            return e == region.extent ? .same : e == .row ? .perRow : .perColumn
        }
        kernel = FusedKernel(
            instructions: code, registers: registerCount, inputLayouts: layouts, broadcastScalars: broadcastIndices)
        self.tensorInputs = tensorInputs
        self.scalarInputs = scalarInputs
        scalarSources = sources
        self.outputs = outputs
        outputLayouts = outputs.map { _ in .same }
        needsRows = layouts.contains { $0 != .same }
        // Argument arrays per thread, so members can run in parallel.
        inputStride = max(tensorInputs.count, 1)
        scalarStride = max(sources.count, 1)
        outputStride = max(outputs.count, 1)
        inputPointers = .allocate(capacity: inputStride * threads)
        scalarValues = .allocate(capacity: scalarStride * threads)
        outputPointers = .allocate(capacity: outputStride * threads)
    }

    deinit {
        inputPointers.deallocate()
        scalarValues.deallocate()
        outputPointers.deallocate()
    }

    /// Runs the region for member `m`. With `serial` the region runs on the calling thread
    /// (members are being run in parallel) using thread `thread`'s argument and register
    /// space; otherwise it may split its elements over the worker threads.
    func run(
        _ group: BoundGroup, member m: Int, thread: Int, serial: Bool, x: UnsafeMutablePointer<Float>,
        g: UnsafePointer<Float>
    ) {
        let ins = inputPointers + thread * inputStride
        let vals = scalarValues + thread * scalarStride
        let outs = outputPointers + thread * outputStride
        for (k, j) in tensorInputs.enumerated() {
            ins[k] = UnsafePointer(group.tensorPointer(j, member: m, thread: thread, x: x, g: g))
        }
        for (k, source) in scalarSources.enumerated() {
            let v = group.scalar(source.node, member: m)
            vals[k] = Float(source.reciprocal ? 1 / v : v)
        }
        for (k, o) in outputs.enumerated() {
            switch o {
            case .state(let slot): outs[k] = group.tensorState[m][slot]!.pointer
            case .parameter: outs[k] = x
            case .node(let n): outs[k] = group.tensorPointer(n, member: m, thread: thread, x: x, g: g)
            }
        }
        let shape = group.shapes[m]
        let (rows, columns): (Int, Int)
        switch extent {
        case .full: (rows, columns) = needsRows ? (shape.rows, shape.columns) : (1, shape.count)
        case .row: (rows, columns) = (1, shape.rows)
        case .column: (rows, columns) = (1, shape.columns)
        }
        kernel.run(
            rows: rows, columns: columns, inputs: ins, scalars: vals, outputs: outs, outputLayouts: outputLayouts,
            file: group.registerFile, thread: serial ? thread : nil)
    }
}
