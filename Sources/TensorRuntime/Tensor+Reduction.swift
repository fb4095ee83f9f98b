// Every sum is accumulated in a fixed order (see `Reduction`), so results are bit-identical
// for any thread count, and carried in `Double` across chunks, rows or columns.

// MARK: - Whole-tensor reductions

/// Reductions over every element.
extension Tensor {
    /// The sum of all elements (0 for an empty tensor).
    /// - Complexity: O(count), threaded above 32 768 elements.
    public func sum() -> Float { Float(Reduction.sum(scalars)) }

    /// The mean of all elements.
    /// - Throws: `mean: empty tensor of shape …` when there are no elements.
    public func mean() throws(TensorError) -> Float {
        guard count > 0 else { throw TensorError("mean", "empty tensor of shape \(shape)") }
        return Float(Reduction.sum(scalars) / Double(count))
    }

    /// The largest element: `-∞` for an empty tensor (the identity of `max`), NaN if any
    /// element is NaN.
    public func max() -> Float { Reduction.extreme(maximum: true, scalars) }

    /// The smallest element: `+∞` for an empty tensor (the identity of `min`), NaN if any
    /// element is NaN.
    public func min() -> Float { Reduction.extreme(maximum: false, scalars) }
}

// MARK: - Reductions along an axis

/// Reductions along one axis of a matrix. A tensor of rank > 2 is viewed as
/// `[count / C, C]` with `C` its last dimension, so axis 0 runs over all leading dimensions.
extension Tensor {
    /// The `[rows, columns]` view, after checking that `axis` is 0 or 1.
    private func axisView(_ op: String, _ axis: Int) throws(TensorError) -> (rows: Int, columns: Int) {
        let view = try matrixView(op)
        guard axis == 0 || axis == 1 else {
            throw TensorError(op, "axis \(axis) out of range for shape \(shape) (expected 0 or 1)")
        }
        return view
    }

    /// Sums along `axis`: axis 0 gives the column sums (a vector `[C]`), axis 1 the row
    /// sums (a vector `[R]`).
    /// - Throws: `sum: …` for rank < 2 or an axis other than 0 or 1.
    public func sum(alongAxis axis: Int) throws(TensorError) -> Tensor {
        let (r, c) = try axisView("sum", axis)
        let sums =
            axis == 0
            ? Reduction.columnSums(scalars, rows: r, columns: c, squares: false)
            : Reduction.rowSums(scalars, rows: r, columns: c, squares: false)
        return Tensor(sums.map { Float($0) })
    }

    /// Means along `axis`: axis 0 gives the column means `[C]`, axis 1 the row means `[R]`.
    /// - Throws: `mean: …` for rank < 2, an axis other than 0 or 1, or an empty reduced axis.
    public func mean(alongAxis axis: Int) throws(TensorError) -> Tensor {
        let (r, c) = try axisView("mean", axis)
        let n = axis == 0 ? r : c
        guard n > 0 else { throw TensorError("mean", "axis \(axis) of shape \(shape) is empty") }
        let sums =
            axis == 0
            ? Reduction.columnSums(scalars, rows: r, columns: c, squares: false)
            : Reduction.rowSums(scalars, rows: r, columns: c, squares: false)
        return Tensor(sums.map { Float($0 / Double(n)) })
    }

    /// Maxima along `axis`: axis 0 gives the column maxima `[C]`, axis 1 the row maxima
    /// `[R]`. An empty reduced axis gives `-∞`; NaN propagates.
    /// - Throws: `max: …` for rank < 2 or an axis other than 0 or 1.
    public func max(alongAxis axis: Int) throws(TensorError) -> Tensor {
        let (r, c) = try axisView("max", axis)
        return Tensor(
            axis == 0
                ? Reduction.columnExtremes(maximum: true, scalars, rows: r, columns: c)
                : Reduction.rowExtremes(maximum: true, scalars, rows: r, columns: c))
    }

    /// Minima along `axis`: axis 0 gives the column minima `[C]`, axis 1 the row minima
    /// `[R]`. An empty reduced axis gives `+∞`; NaN propagates.
    /// - Throws: `min: …` for rank < 2 or an axis other than 0 or 1.
    public func min(alongAxis axis: Int) throws(TensorError) -> Tensor {
        let (r, c) = try axisView("min", axis)
        return Tensor(
            axis == 0
                ? Reduction.columnExtremes(maximum: false, scalars, rows: r, columns: c)
                : Reduction.rowExtremes(maximum: false, scalars, rows: r, columns: c))
    }
}

// MARK: - Norms

/// Vector and matrix norms, and the per-row / per-column statistics that normalisation
/// layers and orthogonalising optimisers need.
extension Tensor {
    /// Σ x² over all elements (0 for an empty tensor).
    public func sumOfSquares() -> Float { Float(Reduction.sumOfSquares(scalars)) }

    /// The Euclidean norm √(Σ x²) over all elements; for a matrix, its Frobenius norm.
    public func l2Norm() -> Float { Float(Reduction.sumOfSquares(scalars).squareRoot()) }

    /// The Frobenius norm √(Σ x²); the same value as ``l2Norm()``.
    public func frobeniusNorm() -> Float { l2Norm() }

    /// Σ |x| over all elements.
    public func l1Norm() -> Float { Float(Reduction.sumOfMagnitudes(scalars)) }

    /// max |x| over all elements (0 for an empty tensor, NaN if any element is NaN).
    public func linfNorm() -> Float { Reduction.maxMagnitude(scalars) }

    /// The root mean square √(mean of x²).
    /// - Throws: `rms: empty tensor of shape …` when there are no elements.
    public func rms() throws(TensorError) -> Float {
        guard count > 0 else { throw TensorError("rms", "empty tensor of shape \(shape)") }
        return Float((Reduction.sumOfSquares(scalars) / Double(count)).squareRoot())
    }

    /// The inner product Σ selfᵢ·otherᵢ of two tensors of the same shape.
    /// - Throws: `dot: shapes differ: …` when the shapes differ.
    public func dot(_ other: Tensor) throws(TensorError) -> Float {
        try checkSameShape(as: other, "dot")
        return Float(Reduction.dot(scalars, other.scalars))
    }

    /// The Euclidean norm of each row: a vector `[R]`.
    /// - Throws: `rowNorms: needs a matrix, got shape …` for rank < 2.
    public func rowNorms() throws(TensorError) -> Tensor {
        let (r, c) = try matrixView("rowNorms")
        return Tensor(Reduction.rowSums(scalars, rows: r, columns: c, squares: true).map { Float($0.squareRoot()) })
    }

    /// The Euclidean norm of each column: a vector `[C]`.
    /// - Throws: `columnNorms: needs a matrix, got shape …` for rank < 2.
    public func columnNorms() throws(TensorError) -> Tensor {
        let (r, c) = try matrixView("columnNorms")
        return Tensor(Reduction.columnSums(scalars, rows: r, columns: c, squares: true).map { Float($0.squareRoot()) })
    }

    /// The mean of x² over each row (RMSNorm's statistic): a vector `[R]`.
    /// - Throws: `rowMeanSquares: …` for rank < 2 or a matrix with no columns.
    public func rowMeanSquares() throws(TensorError) -> Tensor {
        let (r, c) = try matrixView("rowMeanSquares")
        guard c > 0 else { throw TensorError("rowMeanSquares", "no columns to average in shape \(shape)") }
        return Tensor(Reduction.rowSums(scalars, rows: r, columns: c, squares: true).map { Float($0 / Double(c)) })
    }

    /// The mean of x² over each column: a vector `[C]`.
    /// - Throws: `columnMeanSquares: …` for rank < 2 or a matrix with no rows.
    public func columnMeanSquares() throws(TensorError) -> Tensor {
        let (r, c) = try matrixView("columnMeanSquares")
        guard r > 0 else { throw TensorError("columnMeanSquares", "no rows to average in shape \(shape)") }
        return Tensor(Reduction.columnSums(scalars, rows: r, columns: c, squares: true).map { Float($0 / Double(r)) })
    }
}
