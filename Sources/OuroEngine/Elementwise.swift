import CFloatKernels

/// Elementwise activations and their derivatives, vectorised.
public enum Elementwise {
    /// out = SiLU(x).
    @inlinable public static func silu(_ n: Int, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        mapSIMD8(n, x, out) { VectorMath.silu($0) }
    }

    /// out = softplus(x) with threshold 20.
    public static func softplus(_ n: Int, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                path: FloatKernelPath = .automatic) {
        if let p = path.checkedCPath { ouro_softplus(p, n, x, out); return }
        mapSIMD8(n, x, out) { VectorMath.softplus($0) }
    }

    /// out = 2^x (`base2`) or e^x with the exponentials the kernels inline (`VectorMath.exp2` and
    /// `VectorMath.exp`), so that tests can check every path against the reference at the edges.
    public static func exponential(base2: Bool, _ n: Int, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                   path: FloatKernelPath = .automatic) {
        if let p = path.checkedCPath { ouro_exp_probe(p, base2 ? 1 : 0, n, x, out); return }
        if base2 { mapSIMD8(n, x, out) { VectorMath.exp2($0) } } else { mapSIMD8(n, x, out) { VectorMath.exp($0) } }
    }

    /// The C softplus kernel with the path `automatic` selects, for C code that applies softplus
    /// itself (with `Elementwise.softplus`'s bits); nil where only the Swift reference runs.
    public static var softplusKernel: (function: @convention(c) (Int32, Int, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void,
                                       path: Int32)? {
        FloatKernelPath.automatic.checkedCPath.map { (ouro_softplus, $0) }
    }

    /// m[r][e] = ½·yf[r][e]·SiLU(z[r][e]) + ½·yb[r][e]·SiLU(z[r][e]) for r < rows, e < E: the
    /// mixer's gate, averaged over the two scan directions, with SiLU computed once. It is
    /// summed as (0 + ½·yf·s) + ½·yb·s: the bits of accumulating each direction into zeros.
    /// Row strides are `ldy` (both directions), `ldz` and `ldm`.
    public static func gate(rows: Int, channels E: Int, yForward yf: UnsafePointer<Float>, yBackward yb: UnsafePointer<Float>,
                            ldy: Int, z: UnsafePointer<Float>, ldz: Int, m: UnsafeMutablePointer<Float>, ldm: Int,
                            path: FloatKernelPath = .automatic) {
        if let p = path.checkedCPath { ouro_gate(p, rows, Int32(E), yf, yb, ldy, z, ldz, m, ldm); return }
        for r in 0..<rows {
            let yfr = yf + r * ldy, ybr = yb + r * ldy, zr = z + r * ldz, mr = m + r * ldm
            var e = 0
            while e + 8 <= E {
                let s = VectorMath.silu(zr.load8(e))
                mr.store8(e, (SIMD8<Float>(repeating: 0) + 0.5 * yfr.load8(e) * s) + 0.5 * ybr.load8(e) * s)
                e += 8
            }
            while e < E {
                let s = ScalarMath.silu(zr[e])
                mr[e] = (0 + 0.5 * yfr[e] * s) + 0.5 * ybr[e] * s
                e += 1
            }
        }
    }

    /// SiLU'(z) = σ(z)(1 + z(1 − σ(z))).
    @inlinable @inline(__always)
    public static func siluGrad(_ z: SIMD8<Float>) -> SIMD8<Float> {
        let s = VectorMath.sigmoid(z)
        return s * (1 + z * (1 - s))
    }

    /// Softplus'(v) = σ(v), and exactly 1 above the threshold.
    @inlinable @inline(__always)
    public static func softplusGrad(_ v: SIMD8<Float>) -> SIMD8<Float> {
        VectorMath.sigmoid(v).replacing(with: 1, where: v .> SIMD8<Float>(repeating: 20))
    }
}
