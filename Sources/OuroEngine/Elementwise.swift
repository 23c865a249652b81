/// Elementwise activations and their derivatives, vectorised.
public enum Elementwise {
    /// out = SiLU(x).
    public static func silu(_ n: Int, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        mapSIMD8(n, x, out) { VectorMath.silu($0) }
    }

    /// out = softplus(x) with threshold 20.
    public static func softplus(_ n: Int, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        mapSIMD8(n, x, out) { VectorMath.softplus($0) }
    }

    /// SiLU'(z) = σ(z)(1 + z(1 − σ(z))).
    @inline(__always)
    public static func siluGrad(_ z: SIMD8<Float>) -> SIMD8<Float> {
        let s = VectorMath.sigmoid(z)
        return s * (1 + z * (1 - s))
    }

    /// Softplus'(v) = σ(v), and exactly 1 above the threshold.
    @inline(__always)
    public static func softplusGrad(_ v: SIMD8<Float>) -> SIMD8<Float> {
        VectorMath.sigmoid(v).replacing(with: 1, where: v .> SIMD8<Float>(repeating: 20))
    }
}
