#if canImport(Glibc)
    import Glibc
#endif

/// Subnormal floats are flushed to zero on every thread the runtime computes on.
///
/// An operation on a subnormal (below 1.2·10⁻³⁸) takes a microcode assist on many x86 cores,
/// some hundred times the cost of a normal one. Attention probabilities far below the row's
/// largest and their gradients reach that range once a model trains at a high rate: a tiny
/// model's step went from 130 ms to 600 ms (Xeon, AVX-512) as they appeared. Flushing
/// (FTZ: results to zero; DAZ: inputs read as zero) changes no value above 10⁻³⁸ and keeps
/// every thread's arithmetic the same, so results still do not depend on the thread count.
public enum Subnormals {
    /// The control bits of MXCSR: flush to zero (bit 15), denormals are zero (bit 6).
    static let flushBits: UInt32 = 0x8040

    /// A value the compiler cannot fold, so the probe below runs at run time.
    nonisolated(unsafe) static var half: Float = 0.5

    /// Flushes subnormals to zero on the calling thread; cheap when already set (one multiply).
    @inline(__always)
    public static func flushOnThisThread() {
        #if arch(x86_64) && canImport(Glibc)
            if Float.leastNormalMagnitude * half != 0 { set() }
        #endif
    }

    #if arch(x86_64) && canImport(Glibc)
        @inline(never)
        static func set() {
            var environment = fenv_t()
            fegetenv(&environment)
            environment.__mxcsr |= flushBits
            fesetenv(&environment)
        }
    #endif
}
