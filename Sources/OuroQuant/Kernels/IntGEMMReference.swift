/// Slow, obviously-correct references for the integer GEMM (used by tests and benchmarks).
public enum IntGEMMReference {
    /// Symmetric quantizer of method.md 4.1: clamp(round_half_even(x / s), ±qmax), in Float.
    @inline(__always)
    public static func quantize(_ x: Float, scale s: Float, qmax: Int) -> Int {
        let q = Float(qmax)
        return Int(min(max((x / s).rounded(.toNearestOrEven), -q), q))
    }

    /// Dynamic 8-bit outlier scale s_O = max(max |x_k|, 1e-8) / 127 over the listed columns.
    public static func outlierScale(_ x: UnsafeBufferPointer<Float>, columns: ArraySlice<Int32>) -> Float {
        var m: Float = 0
        for k in columns { m = max(m, abs(x[Int(k)])) }
        return max(m, 1e-8) / 127
    }

    /// Naive `C[t*N + o] = Σ_k a[t*K + k]·q[o*K + k]` in Int64.
    public static func accumulate(a: [Int8], rows: Int, weights q: [Int8], outRows N: Int, cols K: Int) -> [Int64] {
        var c = [Int64](repeating: 0, count: rows * N)
        for t in 0..<rows {
            for o in 0..<N {
                var s: Int64 = 0
                for k in 0..<K { s += Int64(a[t * K + k]) * Int64(q[o * K + k]) }
                c[t * N + o] = s
            }
        }
        return c
    }

    /// Float fake-quant simulation: x̂ = S_I·qI at inliers, s_O·qO (8-bit) or x (16) at outliers,
    /// Ŵ = s_w·qW, Y = x̂·Ŵᵀ in Double. Also returns `magnitude[t*N+o] = Σ_k |x̂_tk·Ŵ_ok|`, the
    /// scale against which float rounding of the integer path is judged.
    public static func simulate(x: [Float], rows: Int, ldx: Int, weights: PackedWeights, inlierScales: [Float],
                                inlierBits: Int, outliers: OutlierColumns, outlierBits: Int)
        -> (y: [Double], magnitude: [Double]) {
        let K = weights.cols, N = weights.rows, qmax = Quantizer.qmax(bits: inlierBits)
        let qw = weights.int8Values()
        var y = [Double](repeating: 0, count: rows * N), mag = y
        var xh = [Double](repeating: 0, count: K)
        x.withUnsafeBufferPointer { xb in
            for t in 0..<rows {
                let xt = UnsafeBufferPointer(rebasing: xb[(t * ldx)..<(t * ldx + K)])
                let cols = outliers.columns(ofRow: t)
                for k in 0..<K {
                    xh[k] = Double(inlierScales[t]) * Double(quantize(xt[k], scale: inlierScales[t], qmax: qmax))
                }
                let so = outlierScale(xt, columns: cols)
                for c in cols {
                    let k = Int(c)
                    xh[k] = outlierBits == 16 ? Double(xt[k]) : Double(so) * Double(quantize(xt[k], scale: so, qmax: 127))
                }
                for o in 0..<N {
                    var s = 0.0, m = 0.0
                    let sw = Double(weights.rowScales[o])
                    for k in 0..<K {
                        let p = xh[k] * (sw * Double(qw[o * K + k]))
                        s += p; m += abs(p)
                    }
                    y[t * N + o] = s; mag[t * N + o] = m
                }
            }
        }
        return (y, mag)
    }
}
