/// The machine's fused-multiply-add throughput, measured with independent SIMD chains that
/// fill the vector registers without spilling (``VectorRegisters``).
public enum FMAPeak {
    /// Runs `iterations` rounds of independent FMA chains on the calling thread, as many as
    /// this CPU's registers hold (``flopsPerIteration``), and returns a value that depends on
    /// every lane (so nothing is optimised away). Every chain computes `a ← a·x + y`, which
    /// settles at a finite value: chains that overflow to infinity ran at half speed on the
    /// Zen 5 machine this was written on.
    public static func spin(iterations: Int, seed: Float) -> Float {
        spin(iterations: iterations, seed: seed, registers: .current)
    }

    /// Floating-point operations performed by one round of ``spin(iterations:seed:)``.
    public static var flopsPerIteration: Int { flopsPerIteration(.current) }

    static func spin(iterations: Int, seed: Float, registers: VectorRegisters) -> Float {
        registers == .avx512 ? spin24(iterations: iterations, seed: seed) : spin12(iterations: iterations, seed: seed)
    }

    /// 12 chains of 16 lanes (24 registers of 8 on AVX2, where they spill) or 6 (12 registers
    /// of 8: enough to cover the latency of two FMA pipes).
    static func flopsPerIteration(_ registers: VectorRegisters) -> Int {
        (registers == .avx512 ? 12 : 6) * 16 * 2
    }

    /// 6 chains of 16 lanes: 12 of AVX2's 16 registers.
    @inline(never)
    static func spin12(iterations: Int, seed: Float) -> Float {
        let x = SIMD16<Float>(repeating: 0.999_999)
        let y = SIMD16<Float>(repeating: seed * 1e-7)
        var a0 = SIMD16<Float>(repeating: 1)
        var a1 = a0
        var a2 = a0
        var a3 = a0
        var a4 = a0
        var a5 = a0
        for _ in 0..<iterations {
            a0 = y.addingProduct(a0, x)
            a1 = y.addingProduct(a1, x)
            a2 = y.addingProduct(a2, x)
            a3 = y.addingProduct(a3, x)
            a4 = y.addingProduct(a4, x)
            a5 = y.addingProduct(a5, x)
        }
        return (((a0 + a1) + (a2 + a3)) + (a4 + a5)).sum()
    }

    /// 12 chains of 16 lanes: 12 of AVX-512's 32 registers.
    @inline(never)
    static func spin24(iterations: Int, seed: Float) -> Float {
        let x = SIMD16<Float>(repeating: 0.999_999)
        let y = SIMD16<Float>(repeating: seed * 1e-7)
        var a0 = SIMD16<Float>(repeating: 1)
        var a1 = a0
        var a2 = a0
        var a3 = a0
        var a4 = a0
        var a5 = a0
        var a6 = a0
        var a7 = a0
        var a8 = a0
        var a9 = a0
        var a10 = a0
        var a11 = a0
        for _ in 0..<iterations {
            a0 = y.addingProduct(a0, x)
            a1 = y.addingProduct(a1, x)
            a2 = y.addingProduct(a2, x)
            a3 = y.addingProduct(a3, x)
            a4 = y.addingProduct(a4, x)
            a5 = y.addingProduct(a5, x)
            a6 = y.addingProduct(a6, x)
            a7 = y.addingProduct(a7, x)
            a8 = y.addingProduct(a8, x)
            a9 = y.addingProduct(a9, x)
            a10 = y.addingProduct(a10, x)
            a11 = y.addingProduct(a11, x)
        }
        let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
        return s.sum()
    }
}
