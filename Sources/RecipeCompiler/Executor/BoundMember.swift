import RecipeLanguage
import Training

/// One parameter bound to a group, with everything the group keeps for it: its state, the
/// scalar values of the current step, and the buffers of values that cross stages.
final class BoundMember {
    /// The parameter's index among the model's parameters.
    let parameter: Int
    let meta: ParameterMeta
    /// The tensor as a matrix: rows (its first extent), columns (the rest), element count.
    let rows: Int
    let columns: Int
    let count: Int
    /// The key of its shape's Newton–Schulz and singular-value workspaces.
    let shapeKey: String
    /// Per state slot: the buffer of a tensor-level slot; nil for a per-layer slot.
    var tensorState: [Buffer?] = []
    /// Per state slot: the value of a per-layer slot.
    let layerState: UnsafeMutablePointer<Float>
    /// Per node: its scalar value in the current step.
    let scalars: UnsafeMutablePointer<Double>
    /// Buffers of tensor values that cross a stage boundary, by node.
    var crossing: [Int: Buffer] = [:]

    init(parameter: Int, meta: ParameterMeta, stateSlots: Int, nodes: Int) {
        self.parameter = parameter
        self.meta = meta
        count = meta.shape.reduce(1, *)
        rows = meta.shape.first ?? 1
        columns = rows == 0 ? 0 : count / rows
        shapeKey = "\(rows)x\(columns)"
        layerState = .allocate(capacity: max(stateSlots, 1))
        layerState.initialize(repeating: 0, count: max(stateSlots, 1))
        scalars = .allocate(capacity: max(nodes, 1))
        scalars.initialize(repeating: 0, count: max(nodes, 1))
    }

    deinit {
        layerState.deallocate()
        scalars.deallocate()
    }

    /// The element count of a value of `type` for this parameter.
    func extentCount(_ type: ValueType) -> Int {
        switch type.extent {
        case .full: return count
        case .row: return rows
        case .column: return columns
        }
    }
}
