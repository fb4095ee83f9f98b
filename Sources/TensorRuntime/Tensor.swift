/// A dense, row-major tensor of `Float` values with value semantics.
///
/// Storage is a Swift array, so copies are cheap until one side writes (copy-on-write).
/// Operations check their operands' shapes and throw a ``TensorError`` led by the
/// operation's name rather than ever computing a silent wrong answer.
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// The tensor's extents.
    public internal(set) var shape: Shape
    /// The elements in row-major order; `scalars.count == shape.count` always holds.
    public internal(set) var scalars: [Float]

    // MARK: Creation

    /// Creates a tensor from its shape and row-major elements.
    /// - Throws: when `scalars.count` differs from the shape's element count.
    public init(shape: Shape, scalars: [Float]) throws(TensorError) {
        guard scalars.count == shape.count else {
            throw TensorError("tensor", "\(scalars.count) values do not fill shape \(shape) (\(shape.count) elements)")
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// Creates a tensor of `shape` with every element equal to `value`.
    public init(repeating value: Float, shape: Shape) {
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shape.count)
    }

    /// Creates a tensor of `shape` whose elements are written by `initializer`, which
    /// receives the uninitialised buffer and must set every element.
    public init(
        shape: Shape, unsafeUninitializedElements initializer: (inout UnsafeMutableBufferPointer<Float>) -> Void
    ) {
        self.shape = shape
        self.scalars = [Float](unsafeUninitializedCapacity: shape.count) { buffer, count in
            initializer(&buffer)
            count = shape.count
        }
    }

    /// A scalar (rank-0) tensor.
    public init(_ value: Float) {
        self.shape = Shape([])
        self.scalars = [value]
    }

    /// A vector (rank-1) tensor holding `values`.
    public init(_ values: [Float]) {
        self.shape = Shape([values.count])
        self.scalars = values
    }

    /// A matrix from its rows. All rows must have the same length.
    public init(rows: [[Float]]) throws(TensorError) {
        let cols = rows.first?.count ?? 0
        guard rows.allSatisfy({ $0.count == cols }) else {
            throw TensorError("tensor", "rows differ in length: \(rows.map(\.count))")
        }
        self.shape = Shape([rows.count, cols])
        self.scalars = rows.flatMap { $0 }
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: Shape) -> Tensor { Tensor(repeating: 0, shape: shape) }
    /// A tensor of ones.
    public static func ones(_ shape: Shape) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// A tensor of independent normal samples with the given mean and standard deviation.
    public static func randomNormal(_ shape: Shape, mean: Float = 0, std: Float = 1, using rng: inout SeededRandom)
        -> Tensor
    {
        var values = [Float](repeating: 0, count: shape.count)
        for i in values.indices { values[i] = mean + std * rng.nextNormal() }
        return Tensor(unchecked: shape, values)
    }

    /// A tensor of independent uniform samples in [low, high).
    public static func randomUniform(_ shape: Shape, low: Float = 0, high: Float = 1, using rng: inout SeededRandom)
        -> Tensor
    {
        var values = [Float](repeating: 0, count: shape.count)
        for i in values.indices { values[i] = low + (high - low) * rng.nextUniform() }
        return Tensor(unchecked: shape, values)
    }

    /// Internal initialiser for callers that already know the count matches.
    init(unchecked shape: Shape, _ scalars: [Float]) {
        assert(shape.count == scalars.count)
        self.shape = shape
        self.scalars = scalars
    }

    // MARK: Properties

    /// The number of elements.
    public var count: Int { scalars.count }
    /// The number of dimensions.
    public var rank: Int { shape.rank }
    /// Rows of a matrix (dimension 0).
    public var rows: Int { shape.rank >= 1 ? shape[0] : 1 }
    /// Columns of a matrix (the last dimension).
    public var columns: Int { shape.rank >= 1 ? shape[shape.rank - 1] : 1 }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        get throws(TensorError) {
            guard scalars.count == 1 else {
                throw TensorError("scalar", "tensor of shape \(shape) has \(scalars.count) elements, not 1")
            }
            return scalars[0]
        }
    }

    /// The element at a multi-dimensional index (bounds are checked).
    public subscript(_ index: Int...) -> Float {
        get { scalars[offset(of: index)] }
        set { scalars[offset(of: index)] = newValue }
    }

    private func offset(of index: [Int]) -> Int {
        precondition(
            index.count == shape.rank, "tensor: index \(index) has \(index.count) components for shape \(shape)")
        var offset = 0
        for (i, d) in zip(index, shape.dims) {
            precondition(i >= 0 && i < d, "tensor: index \(index) out of range for shape \(shape)")
            offset = offset * d + i
        }
        return offset
    }

    // MARK: Views and layout

    /// The same elements under another shape with the same element count.
    /// One extent may be -1, inferred from the others.
    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Tensor {
        var dims = newShape
        let unknown = dims.indices.filter { dims[$0] == -1 }
        guard unknown.count <= 1, dims.allSatisfy({ $0 >= -1 }) else {
            throw TensorError("reshape", "invalid target shape \(newShape)")
        }
        if let u = unknown.first {
            let known = dims.enumerated().filter { $0.offset != u }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else {
                throw TensorError("reshape", "cannot infer -1 in \(newShape) for \(count) elements")
            }
            dims[u] = count / known
        }
        let target = Shape(dims)
        guard target.count == count else {
            throw TensorError(
                "reshape", "cannot view \(shape) (\(count) elements) as \(target) (\(target.count) elements)")
        }
        return Tensor(unchecked: target, scalars)
    }

    /// The transpose of a matrix.
    public func transposed() throws(TensorError) -> Tensor {
        guard shape.isMatrix else { throw TensorError("transpose", "expects a matrix, got shape \(shape)") }
        let (r, c) = (shape[0], shape[1])
        if count == 0 { return .zeros(Shape([c, r])) }
        return Tensor(shape: Shape([c, r])) { out in
            scalars.withUnsafeBufferPointer { src in
                Layout.transpose(src.baseAddress!, rows: r, columns: c, into: out.baseAddress!)
            }
        }
    }

    /// Rows `range` of a tensor (slices dimension 0, keeping the others).
    public func rows(_ range: Range<Int>) throws(TensorError) -> Tensor {
        guard shape.rank >= 1 else { throw TensorError("rows", "cannot slice a scalar") }
        guard range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw TensorError(
                "rows", "range \(range.lowerBound)..<\(range.upperBound) out of bounds for shape \(shape)")
        }
        let rowSize = shape.count / Swift.max(shape[0], 1)  // `Swift.`: Tensor has a `max()` reduction
        var dims = shape.dims
        dims[0] = range.count
        let slice = Array(scalars[(range.lowerBound * rowSize)..<(range.upperBound * rowSize)])
        return Tensor(unchecked: Shape(dims), slice)
    }

    /// Row `i` of a matrix, as a vector.
    public func row(_ i: Int) throws(TensorError) -> Tensor {
        let r = try rows(i..<(i + 1))
        return Tensor(unchecked: Shape(Array(r.shape.dims.dropFirst())), r.scalars)
    }

    // MARK: Raw access (for kernels and in-place updates)

    /// Calls `body` with the elements' contiguous storage.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the elements' contiguous, writable storage.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }

    /// Replaces every element; `values.count` must equal `count`.
    public mutating func assign(_ values: [Float]) throws(TensorError) {
        guard values.count == count else {
            throw TensorError("assign", "\(values.count) values for shape \(shape)")
        }
        scalars = values
    }

    // MARK: Description

    public var description: String {
        let shown = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor\(shape)(\(shown)\(scalars.count > 8 ? ", …" : ""))"
    }
}
