#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Monotonic wall-clock time in seconds, for benchmarks.
enum Stopwatch {
    /// Seconds since an arbitrary fixed point, from the monotonic clock.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// The best (smallest) time per call of `body` over repeated batches lasting about
    /// `budget` seconds in all, after one warm-up call.
    /// - Throws: what `body` throws: a failing call is an error, not a time.
    static func best(budget: Double, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var reps = 1
        var best = Double.infinity
        let end = now() + budget
        repeat {
            let t0 = now()
            for _ in 0..<reps { try body() }
            let dt = (now() - t0) / Double(reps)
            best = min(best, dt)
            if dt * Double(reps) < 0.05 { reps = min(reps * 2, 1 << 16) }
        } while now() < end
        return best
    }

    /// The best time per call of `a` and of `b`, measured in alternating batches so that a
    /// noisy machine slows both alike; about `budget` seconds in all.
    static func bestAlternating(budget: Double, _ a: () throws -> Void, _ b: () throws -> Void) rethrows -> (
        a: Double, b: Double
    ) {
        try a()
        try b()
        var bestA = Double.infinity
        var bestB = Double.infinity
        let end = now() + budget
        repeat {
            let t0 = now()
            try a()
            let t1 = now()
            try b()
            let t2 = now()
            bestA = min(bestA, t1 - t0)
            bestB = min(bestB, t2 - t1)
        } while now() < end
        return (bestA, bestB)
    }
}
