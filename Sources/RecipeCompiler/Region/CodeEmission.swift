/// The last stage of compiling a fused pass: numbers the slots (registers, then tensor
/// inputs, then broadcast scalars) and writes the kernel's instructions.
enum CodeEmission {
    /// The kernel for `allocation`'s program.
    /// - Throws: ``CompileError/internalFault(_:at:in:)`` when an operand that must be a slot
    ///   is a bare scalar (a compiler bug; the error points at the node's statement).
    static func kernel(
        _ allocation: RegisterAllocation, _ patterns: RegionPatterns, layouts: [FusedKernel.Layout], nodes: [Node]
    ) throws(CompileError) -> FusedKernel {
        let inputBase = allocation.registerCount
        let broadcastBase = inputBase + patterns.tensorInputs.count
        var current = 0
        func slot(_ o: RegisterAllocation.Operand) throws(CompileError) -> Int {
            switch o {
            case .register(let r): return r
            case .input(let k): return inputBase + k
            case .broadcast(let k): return broadcastBase + k
            case .scalar:
                let name: String
                switch nodes[current].op {
                case .unary(let f): name = f.rawValue
                case .binary(let f): name = f.name
                default: name = "\(nodes[current].op)"
                }
                throw .internalFault(
                    "a scalar operand of '\(name)' has no broadcast slot in its fused region", at: nodes[current].origin
                )
            }
        }
        var code: [FusedKernel.Instruction] = []
        for (instruction, node) in allocation.program {
            current = node
            switch instruction {
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
                code.append(.fused(form, dst: dst, a: try slot(a), scalar: k, b: try slot(b)))
            case .linear(let dst, let a, let k, let b, let u):
                code.append(.linear(dst: dst, a: try slot(a), s: k, b: try slot(b), u: u))
            case .rootQuotient(let dst, let x, let numerator, let y, let scale, let epsilon):
                code.append(
                    .rootQuotient(
                        dst: dst, x: try slot(x), numerator: numerator, y: try slot(y), scale: scale, epsilon: epsilon))
            case .store(let src, let output): code.append(.store(src: try slot(src), output: output))
            }
        }
        return FusedKernel(
            instructions: code, registers: allocation.registerCount, inputLayouts: layouts,
            broadcastScalars: allocation.broadcastScalars)
    }
}
