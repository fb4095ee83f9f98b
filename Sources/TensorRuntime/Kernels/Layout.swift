/// Memory-layout kernels: transposition and copies between strided buffers.
public enum Layout {
    /// Writes the transpose of the row-major `rows × columns` matrix at `src` into `dst`
    /// (which becomes `columns × rows`). Works in 32×32 tiles so both sides stay in cache.
    public static func transpose(
        _ src: UnsafePointer<Float>, rows: Int, columns: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        let tile = 32
        var i0 = 0
        while i0 < rows {
            let i1 = min(i0 + tile, rows)
            var j0 = 0
            while j0 < columns {
                let j1 = min(j0 + tile, columns)
                for i in i0..<i1 {
                    for j in j0..<j1 { dst[j * rows + i] = src[i * columns + j] }
                }
                j0 = j1
            }
            i0 = i1
        }
    }
}
