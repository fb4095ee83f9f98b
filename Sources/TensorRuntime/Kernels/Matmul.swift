/// Matrix-multiply kernels on raw row-major buffers.
///
/// Computes `C[m,n] = op(A)·op(B)` (or `C += …` when `accumulate`), where `op(A)` is `m×k`
/// and `op(B)` is `k×n`. Without transposition `A` is stored `m×k` with leading dimension
/// `lda`; with it, `A` is stored `k×m` (so `op(A) = Aᵀ`). Likewise for `B`. `C` is stored
/// `m×n` with leading dimension `ldc`.
public enum Matmul {
    /// The fast path. (Currently the reference loop; the blocked SIMD kernel replaces it.)
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool
    ) {
        naive(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
              c: c, ldc: ldc, accumulate: accumulate)
    }

    /// The reference: a plain triple loop with a `Double` accumulator, kept as the test
    /// oracle for the fast kernel.
    public static func naive(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k {
                    let x = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let y = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + Float(sum) : Float(sum)
            }
        }
    }
}
