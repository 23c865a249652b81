import Foundation

/// PSAQ-ViT's patch similarity entropy on a layer's mixer output (`method.md` §3.9).
struct PSELoss {
    let bandwidth: Double
    let gridPoints: Int

    /// Entropy H of the cosine-similarity distribution of the M rows of `f` (M × D), and
    /// when `grad` is given, adds `scale`·∂H/∂f to it.
    func entropy(_ f: UnsafePointer<Float>, rows M: Int, cols D: Int, grad: UnsafeMutablePointer<Float>?, scale: Double) -> Double {
        let rows = UnitRows(f, rows: M, cols: D)
        let norms = rows.norms, fh = rows.unit
        var gamma = [Double](repeating: 0, count: M * M)
        for i in 0..<M {
            for j in 0..<M {
                var s = 0.0
                for k in 0..<D { s += fh[i * D + k] * fh[j * D + k] }
                gamma[i * M + j] = s
            }
        }
        let lo = gamma.min()!, hi = gamma.max()!
        let G = gridPoints, h = bandwidth
        let xs = (0..<G).map { lo + Double($0) * (hi - lo) / Double(G - 1) }
        let norm = 1 / (2 * Double.pi * h * h).squareRoot()
        let mm = Double(M * M)
        var p = [Double](repeating: 0, count: G)
        for g in 0..<G {
            var s = 0.0
            for v in gamma { let z = xs[g] - v; s += Foundation.exp(-z * z / (2 * h * h)) }
            p[g] = s * norm / mm
        }
        let q = p.map { $0 + 1e-4 }
        let eta = q.map { -$0 * Foundation.log($0) }
        var H = 0.0
        for g in 0..<(G - 1) { H += (xs[g + 1] - xs[g]) * (eta[g] + eta[g + 1]) / 2 }
        guard let grad else { return H }
        // ∂H/∂p_g = ω_g(−log q_g − 1), trapezoid weights ω.
        let dx = (hi - lo) / Double(G - 1)
        let dHdp = (0..<G).map { g -> Double in
            let w = (g == 0 || g == G - 1) ? dx / 2 : dx
            return w * (-Foundation.log(q[g]) - 1)
        }
        // ∂H/∂Γ_m, then the cosine-similarity backward into f (both ends of each pair).
        var gGamma = [Double](repeating: 0, count: M * M)
        for m in 0..<(M * M) {
            var s = 0.0
            for g in 0..<G {
                let z = xs[g] - gamma[m]
                s += dHdp[g] * Foundation.exp(-z * z / (2 * h * h)) * norm / mm * z / (h * h)
            }
            gGamma[m] = s * scale
        }
        for i in 0..<M {
            guard norms[i] >= 1e-8 else { continue }
            let inv = 1 / norms[i]
            var acc = [Double](repeating: 0, count: D)
            for j in 0..<M {
                let gij = gGamma[i * M + j] + gGamma[j * M + i], s = gamma[i * M + j]
                if gij == 0 { continue }
                for k in 0..<D { acc[k] += gij * (fh[j * D + k] - s * fh[i * D + k]) }
            }
            for k in 0..<D { grad[i * D + k] += Float(acc[k] * inv) }
        }
        return H
    }
}

/// The output loss L^O (`method.md` §3.6) and its logit gradient.
enum OutputLoss {
    /// Returns (loss, ∂loss/∂logits) for one image.
    static func evaluate(_ z: ArraySlice<Float>, label y: Int, kind: String) -> (Double, [Double]) {
        let K = z.count
        let zs = z.map { Double($0) }
        let mx = zs.max()!
        let ex = zs.map { Foundation.exp($0 - mx) }
        let s = ex.reduce(0, +)
        let p = ex.map { $0 / s }
        if kind == "mae" {
            var loss = 0.0
            for k in 0..<K { loss += abs(p[k] - (k == y ? 1 : 0)) }
            loss /= Double(K)
            let g = (0..<K).map { k in -(2 / Double(K)) * p[y] * ((k == y ? 1 : 0) - p[k]) }
            return (loss, g)
        }
        let loss = -(zs[y] - mx - Foundation.log(s))
        return (loss, (0..<K).map { p[$0] - ($0 == y ? 1 : 0) })
    }
}
