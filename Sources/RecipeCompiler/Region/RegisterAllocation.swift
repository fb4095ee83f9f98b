/// The second stage of compiling a fused pass: liveness, which scalars need a broadcast slot,
/// and registers for the emitted nodes, giving a program over symbolic operands.
///
/// Registers are allocated in program order and freed after their value's last use, so a
/// pass keeps only a few chunks live (in L1) however long its expression.
struct RegisterAllocation {
    /// Where an instruction's operand lives, before slots are numbered.
    enum Operand: Equatable {
        case register(Int)
        /// Tensor input `k` of the pass.
        case input(Int)
        /// Broadcast slot `k` (a scalar filled into a chunk).
        case broadcast(Int)
        /// Kernel scalar `k`, read by instructions that take a scalar operand.
        case scalar(Int)
    }

    typealias FusedForm = FusedKernel.FusedForm

    /// One instruction over symbolic operands; `dst` is a register.
    enum Instruction: Equatable {
        case fill(dst: Int, value: Float)
        case unary(UnaryFunction, dst: Int, Operand)
        case binary(BinaryFunction, dst: Int, Operand, Operand)
        case select(dst: Int, Operand, Operand, Operand)
        /// `a·scalar ± b` as `form` says.
        case fused(dst: Int, FusedForm, Operand, scalar: Int, Operand)
        /// `a·s + b·u`
        case linear(dst: Int, Operand, s: Int, Operand, u: Int)
        /// `x·numerator / (sqrt(y·scale) + epsilon)`; numerator and scale are kernel scalars
        /// (nil: 1).
        case rootQuotient(dst: Int, Operand, numerator: Int?, Operand, scale: Int?, epsilon: Int)
        /// Writes the operand to output `output`.
        case store(Operand, output: Int)
    }

    /// Instructions with the node each computes (for fault reports and printing).
    var program: [(instruction: Instruction, node: Int)] = []
    /// What each output of the pass is.
    var outputs: [CompiledRegion.Output] = []
    var registerCount = 0
    /// Scalar nodes that get a broadcast slot, in slot order.
    var broadcast: [Int] = []
    /// The kernel's scalars: a scalar node, or its reciprocal.
    var scalarSources: [(node: Int, reciprocal: Bool)] = []
    /// The kernel scalar of each broadcast slot (its value fills the slot).
    var broadcastScalars: [Int] = []

    init(_ patterns: RegionPatterns, nodes: [Node]) {
        let members = Self.writesAfterReads(patterns, nodes: nodes)
        let isMember = Set(members)
        let scalarSet = Set(patterns.scalarInputs)
        let folded = patterns.folded
        // Last use of every member value (its position in `members`; a materialized value is
        // stored right after it is computed). Reading a folded product reads its parts.
        var lastUse: [Int: Int] = [:]
        for (position, n) in members.enumerated() where patterns.isEmitted(n) {
            if let r = patterns.rootQuotients[n] {
                for j in [r.x, r.radicand] where isMember.contains(j) { lastUse[j] = position }
                continue
            }
            for j in nodes[n].inputs {
                if let d = folded[j] {
                    lastUse[d.tensor] = position
                } else if isMember.contains(j) {
                    lastUse[j] = position
                }
            }
        }
        // Scalars that need a broadcast slot: those read by unary ops, select, both sides of
        // a binary op, beside a folded product (`a·s ± c`: the fused instruction's addend is
        // a slot), or as the numerator of a root quotient (`s / (sqrt(y) + e)`).
        for n in members where patterns.isEmitted(n) && patterns.rootQuotients[n] == nil {
            let node = nodes[n]
            let isBinary: Bool
            if case .binary = node.op { isBinary = true } else { isBinary = false }
            let scalarOperands = node.inputs.filter { scalarSet.contains($0) }
            let besideFolded = node.inputs.contains { folded[$0] != nil }
            if !isBinary || scalarOperands.count > 1 || besideFolded {
                for j in scalarOperands where !broadcast.contains(j) { broadcast.append(j) }
            }
        }
        for n in members {
            if let r = patterns.rootQuotients[n], scalarSet.contains(r.x), !broadcast.contains(r.x) {
                broadcast.append(r.x)
            }
        }

        var registerOf: [Int: Int] = [:]
        var free: [Int] = []
        func allocate() -> Int {
            if let r = free.popLast() { return r }
            registerCount += 1
            return registerCount - 1
        }
        func operand(_ j: Int) -> Operand {
            if let r = registerOf[j] { return .register(r) }
            if let k = patterns.tensorInputs.firstIndex(of: j) { return .input(k) }
            if let k = broadcast.firstIndex(of: j) { return .broadcast(k) }
            return .scalar(scalarIndex(j, reciprocal: false))
        }
        /// Frees the registers of values that die at `position`, each once (`b + b` reads b twice).
        func release(_ holders: [Int], at position: Int) {
            var seen: [Int] = []
            for holder in holders where !seen.contains(holder) {
                seen.append(holder)
                if lastUse[holder] == position && !patterns.materialized.contains(holder), let r = registerOf[holder] {
                    free.append(r)
                }
            }
        }
        func finish(_ n: Int, _ dst: Int) {
            if patterns.materialized.contains(n) {
                program.append((.store(.register(dst), output: outputs.count), n))
                outputs.append(.node(n))
            }
            if lastUse[n] == nil && !patterns.materialized.contains(n) { free.append(dst) }
        }

        for (position, n) in members.enumerated() where patterns.isEmitted(n) {
            let node = nodes[n]
            if let r = patterns.rootQuotients[n] {
                let (x, y) = (operand(r.x), operand(r.radicand))
                release([r.x, r.radicand].filter { isMember.contains($0) }, at: position)
                let dst = allocate()
                registerOf[n] = dst
                let numerator = r.numeratorScale.map { scalarIndex($0, reciprocal: false) }
                var scale: Int?
                switch r.scale {
                case .times(let s): scale = scalarIndex(s, reciprocal: false)
                case .dividedBy(let s): scale = scalarIndex(s, reciprocal: true)
                case nil: scale = nil
                }
                program.append(
                    (
                        .rootQuotient(
                            dst: dst, x, numerator: numerator, y, scale: scale,
                            epsilon: scalarIndex(r.epsilon, reciprocal: false)), n
                    ))
                finish(n, dst)
                continue
            }
            // Operands are read before registers that die here are freed.
            let operands = node.inputs.map { j in folded[j].map { operand($0.tensor) } ?? operand(j) }
            release(node.inputs.map { folded[$0]?.tensor ?? $0 }, at: position)
            switch node.op {
            case .stateWrite(let slot):
                program.append((.store(operands[0], output: outputs.count), n))
                outputs.append(.state(slot))
                continue
            case .parameterWrite:
                program.append((.store(operands[0], output: outputs.count), n))
                outputs.append(.parameter)
                continue
            default: break
            }
            let dst = allocate()
            registerOf[n] = dst
            switch node.op {
            case .fill(let v, _): program.append((.fill(dst: dst, value: Float(v)), n))
            case .unary(let f): program.append((.unary(f, dst: dst, operands[0]), n))
            case .binary(let f):
                let (x, y) = (node.inputs[0], node.inputs[1])
                func scale(_ d: RegionPatterns.ScaledTensor) -> Int { scalarIndex(d.scalar, reciprocal: d.reciprocal) }
                if f == .op(.add), let dx = folded[x], let dy = folded[y] {
                    program.append((.linear(dst: dst, operands[0], s: scale(dx), operands[1], u: scale(dy)), n))
                } else if let dx = folded[x], f == .op(.add) || f == .op(.subtract) {
                    let form: FusedForm = f == .op(.add) ? .productPlus : .productMinus
                    program.append((.fused(dst: dst, form, operands[0], scalar: scale(dx), operands[1]), n))
                } else if let dy = folded[y], f == .op(.add) || f == .op(.subtract) {
                    let form: FusedForm = f == .op(.add) ? .productPlus : .minusProduct
                    program.append((.fused(dst: dst, form, operands[1], scalar: scale(dy), operands[0]), n))
                } else if f == .op(.divide), case .scalar = operands[1] {
                    program.append(
                        (.binary(.op(.multiply), dst: dst, operands[0], .scalar(scalarIndex(y, reciprocal: true))), n))
                } else {
                    program.append((.binary(f, dst: dst, operands[0], operands[1]), n))
                }
            case .select: program.append((.select(dst: dst, operands[0], operands[1], operands[2]), n))
            default: break
            }
            finish(n, dst)
        }
        broadcastScalars = broadcast.map { scalarIndex($0, reciprocal: false) }
    }

    /// `members` with each write of a state or of the parameter moved after the last member
    /// that reads the value it overwrites: a pass stores in place, so an instruction after the
    /// store would read the new value where the step graph means the old one (`n = m * 2`
    /// read after `m = 0.9 * m + G` was stored).
    static func writesAfterReads(_ patterns: RegionPatterns, nodes: [Node]) -> [Int] {
        /// What an emitted member reads: its inputs, the tensor of a folded product it reads,
        /// a root quotient's parts.
        func reads(_ m: Int) -> [Int] {
            guard patterns.isEmitted(m) else { return [] }
            if let r = patterns.rootQuotients[m] { return [r.x, r.radicand] }
            return nodes[m].inputs.flatMap { j in [j] + (patterns.folded[j].map { [$0.tensor] } ?? []) }
        }
        var order = patterns.members
        for n in patterns.members {
            let overwritten: (Op) -> Bool
            switch nodes[n].op {
            case .stateWrite(let slot): overwritten = { $0 == .stateRead(slot) }
            case .parameterWrite: overwritten = { $0 == .parameter }
            default: continue
            }
            let lastRead = order.lastIndex { m in reads(m).contains { overwritten(nodes[$0].op) } }
            guard let lastRead, let at = order.firstIndex(of: n), at < lastRead else { continue }
            order.remove(at: at)
            order.insert(n, at: lastRead)  // just after the last read, which moved up by one
        }
        return order
    }

    /// The kernel scalar holding `node` (or its reciprocal), added on first use.
    mutating func scalarIndex(_ node: Int, reciprocal: Bool) -> Int {
        if let k = scalarSources.firstIndex(where: { $0.node == node && $0.reciprocal == reciprocal }) { return k }
        scalarSources.append((node, reciprocal))
        return scalarSources.count - 1
    }
}
