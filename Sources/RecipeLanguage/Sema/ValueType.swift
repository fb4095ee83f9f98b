import Foundation

/// Where a value lives: one number for the whole optimizer, one per parameter tensor,
/// or one per element. The checker tracks this for every expression.
public enum Level: Int, Sendable, Comparable, CustomStringConvertible {
    /// Hyperparameters, `t`, `T`, schedules, group reductions.
    case global
    /// One number per parameter tensor: norms, `rows`, `layer_lr`.
    case layer
    /// Element-wise values: `X`, `G`, state buffers.
    case tensor

    public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .global: return "a global scalar"
        case .layer: return "a per-layer scalar"
        case .tensor: return "a tensor"
        }
    }
}

/// The shape of a tensor-level value relative to its parameter.
public enum Extent: Sendable, Equatable {
    /// Like the parameter.
    case full
    /// One value per row (output neuron); broadcasts across columns.
    case row
    /// One value per column; broadcasts across rows.
    case column
}

/// The static type of a checked expression.
public struct ValueType: Sendable, Equatable, CustomStringConvertible {
    public var level: Level
    /// Meaningful for tensors only.
    public var extent: Extent
    public var isBoolean: Bool

    public init(_ level: Level, _ extent: Extent = .full, boolean: Bool = false) {
        self.level = level
        self.extent = level == .tensor ? extent : .full
        self.isBoolean = boolean
    }

    public static let global = ValueType(.global)
    public static let layer = ValueType(.layer)
    public static let tensor = ValueType(.tensor)

    public var description: String {
        let base: String
        switch (level, extent) {
        case (.tensor, .row): base = "a per-row tensor"
        case (.tensor, .column): base = "a per-column tensor"
        default: base = level.description
        }
        return isBoolean ? base.replacingFirst("a ", with: "a boolean ") : base
    }

    /// The type of combining two values element-wise, or nil when a per-row value meets a
    /// per-column one.
    public static func join(_ a: ValueType, _ b: ValueType) -> ValueType? {
        let level = max(a.level, b.level)
        guard level == .tensor else { return ValueType(level) }
        let ea = a.level == .tensor ? a.extent : nil
        let eb = b.level == .tensor ? b.extent : nil
        switch (ea, eb) {
        case (let x?, let y?) where x == y: return ValueType(.tensor, x)
        case (.full?, _), (_, .full?): return ValueType(.tensor, .full)
        case (let x?, nil), (nil, let x?): return ValueType(.tensor, x)
        default: return nil
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = range(of: target) else { return self }
        return replacingCharacters(in: r, with: replacement)
    }
}
