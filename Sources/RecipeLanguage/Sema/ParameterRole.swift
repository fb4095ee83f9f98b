/// What a parameter is for: the vocabulary `role(…)` selectors use and models declare (the
/// trainer's model, replay traces, the exports' `ROLES`). This is its one definition.
public enum ParameterRole: String, Sendable, CaseIterable, Codable {
    case embedding, position, head, attention, mlp, norm, bias

    /// True for roles whose parameters are always matrices (so `role(attention, mlp)`
    /// admits matrices only).
    public var isMatrix: Bool {
        switch self {
        case .embedding, .position, .head, .attention, .mlp: return true
        case .norm, .bias: return false
        }
    }
}
