import Foundation

/// Plain, independent implementations of each shipped optimizer, written from the papers'
/// formulas (docs: ../shared/docs/ALGORITHMS.md) in `Double`, one parameter at a time.
/// They share nothing with the compiler but the formulas.
enum Reference {
    /// A parameter for the references: shape and values.
    struct Param {
        var name: String
        var role: String
        var shape: [Int]
        var x: [Double]
        var rows: Int { shape[0] }
        var cols: Int { shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1 }
    }

    // MARK: Newton–Schulz and norms

    static func matmul(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let v = a[i * k + p]
                for j in 0..<n { c[i * n + j] += v * b[p * n + j] }
            }
        }
        return c
    }

    static func transpose(_ a: [Double], _ m: Int, _ n: Int) -> [Double] {
        var t = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { t[j * m + i] = a[i * n + j] } }
        return t
    }

    /// Muon's quintic iteration, 5 steps, on the wide orientation.
    static func newtonSchulz(_ g: [Double], _ rows: Int, _ cols: Int, steps: Int = 5) -> [Double] {
        let tall = rows > cols
        var x = tall ? transpose(g, rows, cols) : g
        let (p, q) = tall ? (cols, rows) : (rows, cols)
        let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot() + 1e-7
        x = x.map { $0 / norm }
        let (a, b, c) = (3.4445, -4.7750, 2.0315)
        for _ in 0..<steps {
            let A = matmul(x, transpose(x, p, q), p, q, p)
            let AA = matmul(A, A, p, p, p)
            let B = zip(A, AA).map { b * $0 + c * $1 }
            let BX = matmul(B, x, p, p, q)
            x = zip(x, BX).map { a * $0 + $1 }
        }
        return tall ? transpose(x, p, q) : x
    }

    /// Singular values by the eigenvalues of the Gram matrix (Jacobi rotations).
    static func singularValues(_ g: [Double], _ rows: Int, _ cols: Int) -> [Double] {
        let small = min(rows, cols)
        let gram =
            rows <= cols
            ? matmul(g, transpose(g, rows, cols), rows, cols, rows)
            : matmul(transpose(g, rows, cols), g, cols, rows, cols)
        var a = gram
        let n = small
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in 0..<n where i != j { off += a[i * n + j] * a[i * n + j] } }
            if off < 1e-24 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where abs(a[p * n + q]) > 1e-300 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    let s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p]
                        let akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k]
                        let aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                }
            }
        }
        return (0..<n).map { max(a[$0 * n + $0], 0).squareRoot() }.sorted(by: >)
    }

    static func frobenius(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    // MARK: Optimizers (state is carried by the caller as dictionaries)

    /// AdamW, PyTorch semantics.
    static func adamw(
        _ x: inout [Double], _ g: [Double], _ state: inout [String: [Double]], t: Int,
        lr: Double, beta1: Double, beta2: Double, eps: Double, wd: Double
    ) {
        var m = state["m"] ?? [Double](repeating: 0, count: x.count)
        var v = state["v"] ?? [Double](repeating: 0, count: x.count)
        for i in x.indices {
            x[i] *= 1 - lr * wd
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            let mh = m[i] / (1 - pow(beta1, Double(t)))
            let vh = v[i] / (1 - pow(beta2, Double(t)))
            x[i] -= lr * mh / (vh.squareRoot() + eps)
        }
        state["m"] = m
        state["v"] = v
    }

    /// PyTorch SGD with momentum (dampening 0) and optional Nesterov, coupled weight decay.
    static func sgd(
        _ x: inout [Double], _ g: [Double], _ state: inout [String: [Double]], lr: Double, mu: Double,
        nesterov: Bool, wd: Double
    ) {
        var buf = state["buf"] ?? [Double](repeating: 0, count: x.count)
        for i in x.indices {
            let d = g[i] + wd * x[i]
            buf[i] = mu * buf[i] + d
            x[i] -= lr * (nesterov ? d + mu * buf[i] : buf[i])
        }
        state["buf"] = buf
    }

    static func sign(_ v: Double) -> Double { v > 0 ? 1 : v < 0 ? -1 : 0 }

    /// Lion: sign of the interpolation, then the momentum update.
    static func lion(
        _ x: inout [Double], _ g: [Double], _ state: inout [String: [Double]], lr: Double, beta1: Double,
        beta2: Double, wd: Double
    ) {
        var m = state["m"] ?? [Double](repeating: 0, count: x.count)
        for i in x.indices {
            x[i] *= 1 - lr * wd
            x[i] -= lr * sign(beta1 * m[i] + (1 - beta1) * g[i])
            m[i] = beta2 * m[i] + (1 - beta2) * g[i]
        }
        state["m"] = m
    }

    /// Muon on one hidden matrix: EMA momentum, Nesterov input, NS5, shape scale, decay.
    static func muon(
        _ p: inout Param, _ g: [Double], _ state: inout [String: [Double]], lr: Double, beta: Double, wd: Double
    ) {
        var m = state["m"] ?? [Double](repeating: 0, count: g.count)
        for i in g.indices { m[i] = beta * m[i] + (1 - beta) * g[i] }
        let u = zip(g, m).map { (1 - beta) * $0 + beta * $1 }
        let o = newtonSchulz(u, p.rows, p.cols)
        let scale = max(1, Double(p.rows) / Double(p.cols)).squareRoot()
        for i in p.x.indices { p.x[i] = p.x[i] * (1 - lr * wd) - lr * scale * o[i] }
        state["m"] = m
    }

    /// NorMuon on one hidden matrix (normuon.py's form: keep O's Frobenius norm).
    static func normuon(
        _ p: inout Param, _ g: [Double], _ state: inout [String: [Double]], lr: Double, beta: Double,
        beta2: Double, wd: Double
    ) {
        var m = state["m"] ?? [Double](repeating: 0, count: g.count)
        var v = state["v"] ?? [Double](repeating: 0, count: p.rows)
        for i in g.indices { m[i] = beta * m[i] + (1 - beta) * g[i] }
        let u = zip(g, m).map { (1 - beta) * $0 + beta * $1 }
        let o = newtonSchulz(u, p.rows, p.cols)
        var n = o
        for r in 0..<p.rows {
            var ms = 0.0
            for c in 0..<p.cols { ms += o[r * p.cols + c] * o[r * p.cols + c] }
            ms /= Double(p.cols)
            v[r] = v[r] + (1 - beta2) * (ms - v[r])
            for c in 0..<p.cols { n[r * p.cols + c] = o[r * p.cols + c] / (v[r].squareRoot() + 1e-10) }
        }
        let rescale = frobenius(o) / (frobenius(n) + 1e-10)
        let scale = max(1, Double(p.rows) / Double(p.cols)).squareRoot()
        for i in p.x.indices { p.x[i] = p.x[i] * (1 - lr * wd) - lr * scale * n[i] * rescale }
        state["m"] = m
        state["v"] = v
    }

    /// AdaGO on one hidden matrix: AdaGrad-norm step size on the orthogonalised momentum.
    static func adago(
        _ p: inout Param, _ g: [Double], _ state: inout [String: [Double]], lr: Double, beta: Double,
        gamma: Double, eps: Double
    ) {
        var m = state["m"] ?? [Double](repeating: 0, count: g.count)
        var v = state["v"]?[0] ?? 1
        for i in g.indices { m[i] = beta * m[i] + (1 - beta) * g[i] }
        let gn = min(frobenius(g), gamma)
        v = (v * v + gn * gn).squareRoot()
        let alpha = max(eps, lr * gn / v)
        let o = newtonSchulz(m, p.rows, p.cols)
        let scale = max(1, Double(p.rows) / Double(p.cols)).squareRoot()
        for i in p.x.indices { p.x[i] -= alpha * scale * o[i] }
        state["m"] = m
        state["v"] = [v]
    }
}
