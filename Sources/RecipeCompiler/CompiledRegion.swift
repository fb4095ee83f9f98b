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
    let outputs: [Output]
    let outputLayouts: [FusedKernel.Layout]
    /// True when some input is per-row or per-column (so rows and columns are iterated).
    let needsRows: Bool
    // Argument arrays, allocated once.
    private let inputPointers: UnsafeMutablePointer<UnsafePointer<Float>>
    private let scalarValues: UnsafeMutablePointer<Float>
    private let outputPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>>

    init(region: GroupPlan.Region, nodes: [Node]) {
        extent = region.extent
        let members = region.nodes
        let isMember = Set(members)
        var tensorInputs: [Int] = [], scalarInputs: [Int] = []
        for n in members {
            for j in nodes[n].inputs where !isMember.contains(j) {
                if nodes[j].type.level == .tensor {
                    if !tensorInputs.contains(j) { tensorInputs.append(j) }
                } else if !scalarInputs.contains(j) {
                    scalarInputs.append(j)
                }
            }
        }
        // Last use of every member value (its position in `members`; a materialized value
        // is stored right after it is computed).
        var lastUse: [Int: Int] = [:]
        for (position, n) in members.enumerated() { for j in nodes[n].inputs where isMember.contains(j) { lastUse[j] = position } }
        // Which scalars need a broadcast slot: those not used as one operand of a binary op.
        var broadcast: [Int] = []
        for n in members {
            let node = nodes[n]
            let usesAsOperandOfBinary: Bool
            if case .binary = node.op { usesAsOperandOfBinary = true } else { usesAsOperandOfBinary = false }
            let scalarOperands = node.inputs.filter { scalarInputs.contains($0) }
            if !usesAsOperandOfBinary || scalarOperands.count > 1 {
                for j in scalarOperands where !broadcast.contains(j) { broadcast.append(j) }
            }
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
        // Slot numbers of registers are final only once their count is known, so record
        // operands symbolically first.
        enum Operand { case register(Int), input(Int), broadcast(Int), scalar(Int) }
        func operand(_ j: Int) -> Operand {
            if let r = registerOf[j] { return .register(r) }
            if let k = tensorInputs.firstIndex(of: j) { return .input(k) }
            if let k = broadcast.firstIndex(of: j) { return .broadcast(k) }
            return .scalar(scalarInputs.firstIndex(of: j)!)
        }
        enum Pending {
            case fill(Int, Float)
            case unary(UnaryFunction, Int, Operand)
            case binary(BinaryFunction, Int, Operand, Operand)
            case select(Int, Operand, Operand, Operand)
            case store(Operand, Int)
        }
        var pending: [Pending] = []
        var outputs: [Output] = []
        for (position, n) in members.enumerated() {
            let node = nodes[n]
            let operands = node.inputs.map(operand)
            // Free registers whose value dies here (after reading the operands).
            for j in node.inputs where lastUse[j] == position && !region.materialized.contains(j) {
                if let r = registerOf[j] { free.append(r) }
            }
            switch node.op {
            case .stateWrite(let slot):
                pending.append(.store(operands[0], outputs.count))
                outputs.append(.state(slot))
                continue
            case .parameterWrite:
                pending.append(.store(operands[0], outputs.count))
                outputs.append(.parameter)
                continue
            default: break
            }
            let dst = allocate()
            registerOf[n] = dst
            switch node.op {
            case .fill(let v, _): pending.append(.fill(dst, Float(v)))
            case .unary(let f): pending.append(.unary(f, dst, operands[0]))
            case .binary(let f): pending.append(.binary(f, dst, operands[0], operands[1]))
            case .select: pending.append(.select(dst, operands[0], operands[1], operands[2]))
            default: break
            }
            if region.materialized.contains(n) {
                pending.append(.store(.register(dst), outputs.count))
                outputs.append(.node(n))
            }
            if lastUse[n] == nil && !region.materialized.contains(n) { free.append(dst) }
        }
        let inputBase = registerCount, broadcastBase = registerCount + tensorInputs.count
        func slot(_ o: Operand) -> Int {
            switch o {
            case .register(let r): return r
            case .input(let k): return inputBase + k
            case .broadcast(let k): return broadcastBase + k
            case .scalar: fatalError("a scalar operand needs a broadcast slot here")
            }
        }
        var code: [FusedKernel.Instruction] = []
        for p in pending {
            switch p {
            case .fill(let dst, let v): code.append(.fill(dst: dst, value: v))
            case .unary(let f, let dst, let a): code.append(.unary(f, dst: dst, a: slot(a)))
            case .binary(let f, let dst, let a, let b):
                switch (a, b) {
                case (_, .scalar(let k)): code.append(.binaryScalarRight(f, dst: dst, a: slot(a), scalar: k))
                case (.scalar(let k), _): code.append(.binaryScalarLeft(f, dst: dst, scalar: k, b: slot(b)))
                default: code.append(.binary(f, dst: dst, a: slot(a), b: slot(b)))
                }
            case .select(let dst, let c, let a, let b): code.append(.select(dst: dst, c: slot(c), a: slot(a), b: slot(b)))
            case .store(let src, let output): code.append(.store(src: slot(src), output: output))
            }
        }
        let layouts: [FusedKernel.Layout] = tensorInputs.map { j in
            let e = nodes[j].type.extent
            return e == region.extent ? .same : e == .row ? .perRow : .perColumn
        }
        kernel = FusedKernel(
            instructions: code, registers: registerCount, inputLayouts: layouts,
            broadcastScalars: broadcast.map { scalarInputs.firstIndex(of: $0)! })
        self.tensorInputs = tensorInputs
        self.scalarInputs = scalarInputs
        self.outputs = outputs
        outputLayouts = outputs.map { _ in .same }
        needsRows = layouts.contains { $0 != .same }
        inputPointers = .allocate(capacity: max(tensorInputs.count, 1))
        scalarValues = .allocate(capacity: max(scalarInputs.count, 1))
        outputPointers = .allocate(capacity: max(outputs.count, 1))
    }

    deinit {
        inputPointers.deallocate()
        scalarValues.deallocate()
        outputPointers.deallocate()
    }

    func run(_ group: BoundGroup, member m: Int, x: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>) {
        for (k, j) in tensorInputs.enumerated() {
            inputPointers[k] = UnsafePointer(group.tensorPointer(j, member: m, x: x, g: g))
        }
        for (k, j) in scalarInputs.enumerated() { scalarValues[k] = Float(group.scalar(j, member: m)) }
        for (k, o) in outputs.enumerated() {
            switch o {
            case .state(let slot): outputPointers[k] = group.tensorState[m][slot]!.pointer
            case .parameter: outputPointers[k] = x
            case .node(let n): outputPointers[k] = group.tensorPointer(n, member: m, x: x, g: g)
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
            rows: rows, columns: columns, inputs: inputPointers, scalars: scalarValues, outputs: outputPointers,
            outputLayouts: outputLayouts, file: group.registerFile)
    }
}
