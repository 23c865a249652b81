import OuroSupport

/// RMSNorm without bias: y = x · (mean x² + eps)^{-1/2} · w (`vim-architecture.md` §2.3, §7).
public enum RMSNorm {
    /// Normalises `rows` rows of length `d`. Writes the per-row reciprocal RMS to `rstd` if given.
    public static func forward(rows: Int, d: Int, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               eps: Float, out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>?,
                               runner: ParallelRunner) {
        runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
            for r in range {
                let xr = x + r * d, yr = out + r * d
                var ss: Float = 0
                for j in 0..<d { ss += xr[j] * xr[j] }
                let inv = 1 / (ss / Float(d) + eps).squareRoot()
                rstd?[r] = inv
                for j in 0..<d { yr[j] = xr[j] * inv * weight[j] }
            }
        }
    }

    /// Backward: gx (overwritten, or accumulated if `accumulate`) and gw (overwritten; summed in row order).
    public static func backward(rows: Int, d: Int, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rstd: UnsafePointer<Float>, gy: UnsafePointer<Float>,
                                gx: UnsafeMutablePointer<Float>, accumulate: Bool,
                                gw: UnsafeMutablePointer<Float>?, runner: ParallelRunner) {
        runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
            for r in range {
                let xr = x + r * d, g = gy + r * d, o = gx + r * d
                let inv = rstd[r]
                var dot: Float = 0
                for j in 0..<d { dot += g[j] * weight[j] * xr[j] * inv }
                let meanDot = dot / Float(d)
                for j in 0..<d {
                    let v = inv * (g[j] * weight[j] - xr[j] * inv * meanDot)
                    o[j] = accumulate ? o[j] + v : v
                }
            }
        }
        if let gw {
            for j in 0..<d { gw[j] = 0 }
            for r in 0..<rows {
                let xr = x + r * d, g = gy + r * d, inv = rstd[r]
                for j in 0..<d { gw[j] += g[j] * xr[j] * inv }
            }
        }
    }
}
