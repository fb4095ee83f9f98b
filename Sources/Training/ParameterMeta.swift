import RecipeLanguage

/// What a parameter is for: optimizer recipes select parameters by role (defined with the
/// language's selectors).
public typealias ParameterRole = RecipeLanguage.ParameterRole

/// The metadata every model parameter carries (see `docs/model.md` for the full list).
public struct ParameterMeta: Sendable, Equatable, Codable {
    /// Dotted name, e.g. `blocks.3.attn.wq`.
    public var name: String
    public var role: ParameterRole
    /// Block index, or nil outside the blocks (embeddings, final norm, head).
    public var layer: Int?
    /// The tensor's shape; matrices are stored `[out, in]`.
    public var shape: [Int]

    public init(name: String, role: ParameterRole, layer: Int?, shape: [Int]) {
        self.name = name
        self.role = role
        self.layer = layer
        self.shape = shape
    }
}
