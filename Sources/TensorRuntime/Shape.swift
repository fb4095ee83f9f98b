/// The extents of a row-major tensor, outermost first. A scalar has no dimensions.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The extent of each dimension, outermost first.
    public let dims: [Int]

    /// Creates a shape from its extents. Every extent must be non-negative.
    public init(_ dims: [Int]) {
        precondition(dims.allSatisfy { $0 >= 0 }, "shape: negative extent in \(dims)")
        self.dims = dims
    }

    public init(arrayLiteral elements: Int...) { self.init(elements) }

    /// The number of dimensions.
    public var rank: Int { dims.count }
    /// The number of elements (1 for a scalar).
    public var count: Int { dims.reduce(1, *) }
    /// The extent of dimension `i`.
    public subscript(i: Int) -> Int { dims[i] }
    /// True when the shape has exactly two dimensions.
    public var isMatrix: Bool { dims.count == 2 }

    /// Row-major strides in elements.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= dims[i]
        }
        return s
    }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}
