import TensorRuntime

/// Reductions of one parameter's tensor, accumulated in `Double`.
enum Reductions {
    /// - Parameter singularValues: the workspace for the matrix's shape; used (and needed)
    ///   by the spectral and nuclear norms only.
    static func all(
        _ kind: Reduction, _ p: UnsafePointer<Float>, count: Int, rows: Int, columns: Int,
        singularValues: inout SingularValueWorkspace?
    ) -> Double {
        switch kind {
        case .sum: return sum(p, count) { $0 }
        case .mean: return count == 0 ? 0 : sum(p, count) { $0 } / Double(count)
        case .rms: return count == 0 ? 0 : (sum(p, count) { $0 * $0 } / Double(count)).squareRoot()
        case .l2: return sum(p, count) { $0 * $0 }.squareRoot()
        case .l1: return sum(p, count) { Swift.abs($0) }
        case .linf:
            var m = 0.0
            for i in 0..<count { m = Swift.max(m, Swift.abs(Double(p[i]))) }
            return m
        case .nuclear: return singularValues!.nuclearNorm(p)
        case .spectral:
            singularValues!.compute(p)
            return singularValues!.spectralNorm
        }
    }

    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ count: Int, _ f: (Double) -> Double) -> Double {
        var s = 0.0
        for i in 0..<count { s += f(Double(p[i])) }
        return s
    }

    static func along(
        _ kind: Reduction, _ axis: ReductionAxis, _ p: UnsafePointer<Float>, rows: Int, columns: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        let (outer, inner) = axis == .row ? (rows, columns) : (columns, rows)
        for o in 0..<outer {
            var s = 0.0
            var m = 0.0
            for i in 0..<inner {
                let v = Double(axis == .row ? p[o * columns + i] : p[i * columns + o])
                switch kind {
                case .sum, .mean: s += v
                case .rms, .l2: s += v * v
                case .l1: s += Swift.abs(v)
                default: m = Swift.max(m, Swift.abs(v))
                }
            }
            let n = Double(Swift.max(inner, 1))
            let value: Double
            switch kind {
            case .sum, .l1: value = s
            case .mean: value = s / n
            case .rms: value = (s / n).squareRoot()
            case .l2: value = s.squareRoot()
            default: value = m
            }
            out[o] = Float(value)
        }
    }
}
