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
    /// The pass compiled to machine code (``NativeKernels``), when it was; else interpreted.
    var native: NativeKernels.Function?
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

    /// Compiles the pass in three stages: ``RegionPatterns`` (inputs and folded patterns),
    /// ``RegisterAllocation`` (liveness, broadcast slots, registers) and ``CodeEmission``.
    /// - Throws: ``CompileError/internalFault(_:at:in:)`` when the region's code cannot be
    ///   emitted (a compiler bug; the error points at the statement of the node).
    init(region: GroupPlan.Region, nodes: [Node], threads: Int) throws(CompileError) {
        extent = region.extent
        let patterns = RegionPatterns(region: region, nodes: nodes)
        let allocation = RegisterAllocation(patterns, nodes: nodes)
        let layouts: [FusedKernel.Layout] = patterns.tensorInputs.map { j in
            let e = nodes[j].type.extent
            return e == region.extent ? .same : e == .row ? .perRow : .perColumn
        }
        kernel = try CodeEmission.kernel(allocation, patterns, layouts: layouts, nodes: nodes)
        tensorInputs = patterns.tensorInputs
        scalarInputs = patterns.scalarInputs
        scalarSources = allocation.scalarSources
        outputs = allocation.outputs
        outputLayouts = outputs.map { _ in .same }
        needsRows = layouts.contains { $0 != .same }
        // Argument arrays per thread, so members can run in parallel.
        inputStride = max(tensorInputs.count, 1)
        scalarStride = max(scalarSources.count, 1)
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
        let member = group.members[m]
        for (k, j) in tensorInputs.enumerated() {
            ins[k] = UnsafePointer(group.tensorPointer(j, member: member, thread: thread, x: x, g: g))
        }
        for (k, source) in scalarSources.enumerated() {
            let v = group.scalar(source.node, member: member)
            vals[k] = Float(source.reciprocal ? 1 / v : v)
        }
        for (k, o) in outputs.enumerated() {
            switch o {
            case .state(let slot): outs[k] = member.tensorState[slot]!.pointer
            case .parameter: outs[k] = x
            case .node(let n): outs[k] = group.tensorPointer(n, member: member, thread: thread, x: x, g: g)
            }
        }
        let (rows, columns): (Int, Int)
        switch extent {
        case .full: (rows, columns) = needsRows ? (member.rows, member.columns) : (1, member.count)
        case .row: (rows, columns) = (1, member.rows)
        case .column: (rows, columns) = (1, member.columns)
        }
        kernel.run(
            rows: rows, columns: columns, inputs: ins, scalars: vals, outputs: outs, outputLayouts: outputLayouts,
            file: group.registerFile, thread: serial ? thread : nil, native: native)
    }
}
