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
        var register: [Int: Int] = [:]
        for (r, n) in members.enumerated() { register[n] = r }
        var tensorInputs: [Int] = [], scalarInputs: [Int] = []
        for n in members {
            for j in nodes[n].inputs where register[j] == nil {
                if nodes[j].type.level == .tensor {
                    if !tensorInputs.contains(j) { tensorInputs.append(j) }
                } else if !scalarInputs.contains(j) {
                    scalarInputs.append(j)
                }
            }
        }
        var code: [FusedKernel.Instruction] = []
        var next = members.count
        var layouts: [FusedKernel.Layout] = []
        for (k, j) in tensorInputs.enumerated() {
            register[j] = next
            code.append(.load(dst: next, input: k))
            next += 1
            let e = nodes[j].type.extent
            layouts.append(e == region.extent ? .same : e == .row ? .perRow : .perColumn)
        }
        for (k, j) in scalarInputs.enumerated() {
            register[j] = next
            code.append(.broadcast(dst: next, input: k))
            next += 1
        }
        var outputs: [Output] = []
        for n in members {
            let node = nodes[n], dst = register[n]!
            let r = node.inputs.map { register[$0]! }
            switch node.op {
            case .fill(let v, _): code.append(.fill(dst: dst, value: Float(v)))
            case .unary(let f): code.append(.unary(f, dst: dst, a: r[0]))
            case .binary(let f): code.append(.binary(f, dst: dst, a: r[0], b: r[1]))
            case .select: code.append(.select(dst: dst, c: r[0], a: r[1], b: r[2]))
            case .stateWrite(let slot):
                code.append(.store(src: r[0], output: outputs.count))
                outputs.append(.state(slot))
            case .parameterWrite:
                code.append(.store(src: r[0], output: outputs.count))
                outputs.append(.parameter)
            default: break
            }
            if region.materialized.contains(n) {
                code.append(.store(src: dst, output: outputs.count))
                outputs.append(.node(n))
            }
        }
        kernel = FusedKernel(
            instructions: code, registers: next, inputLayouts: layouts, scalarInputs: scalarInputs.count,
            outputs: outputs.count)
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
