import Foundation

/// Quantizer primitives of `method.md` §4.1 (round half to even, clamp after rounding).
public enum Quantizer {
    /// Scale floor of every static and dynamic scale.
    public static let scaleFloor = 1e-8

    /// Largest symmetric level 2^(b−1) − 1 (4 bits: 7, 8 bits: 127).
    @inline(__always) public static func qmax(bits: Int) -> Int { (1 << (bits - 1)) - 1 }
    /// Largest asymmetric level 2^b − 1.
    @inline(__always) public static func levels(bits: Int) -> Int { (1 << bits) - 1 }

    /// Symmetric integer clamp(round(x/s), −qmax, qmax), x/s in float32 (run-time path; the
    /// integer GEMM kernels use the same operation order).
    @inline(__always) public static func symmetricLevel(_ x: Float, scale s: Float, qmax: Float) -> Float {
        min(max((x / s).rounded(.toNearestOrEven), -qmax), qmax)
    }

    /// Symmetric fake quantization s·clamp(round(x/s), −qmax, qmax) in float32.
    @inline(__always) public static func symmetric(_ x: Float, scale s: Float, qmax: Float) -> Float {
        s * symmetricLevel(x, scale: s, qmax: qmax)
    }

    /// Asymmetric fake quantization s·(clamp(round(x/s) + z, 0, 2^b − 1) − z) in float32.
    @inline(__always) public static func asymmetric(_ x: Float, scale s: Float, zero z: Float, levels: Float) -> Float {
        s * (min(max((x / s).rounded(.toNearestOrEven) + z, 0), levels) - z)
    }

    /// Zero point clamp(round(−lo/s), 0, 2^b − 1) (computed in Double from the float32 scale).
    public static func zeroPoint(lo: Double, scale: Float, bits: Int) -> Int32 {
        Int32(min(max((-lo / Double(scale)).rounded(.toNearestOrEven), 0), Double(levels(bits: bits))))
    }
}

/// Candidate scales of the clipping searches, formed in Double from float32 inputs and rounded
/// once to float32 (fixtures README, "Quant goldens", convention 3).
public enum ClipCandidates {
    /// Weights: s_i = f32(max(m·i/100/qmax, 1e-8)), i = 1…n.
    @inline(__always) public static func weight(maxAbs m: Float, i: Int, count n: Int, qmax: Int) -> Float {
        Float(max(Double(m) * Double(i) / Double(n) / Double(qmax), Quantizer.scaleFloor))
    }

    /// Symmetric activations: s_i = f32(max(m·(1 − i/100), 1e-8)/qmax), i = 0…n−1.
    @inline(__always) public static func symmetric(maxAbs m: Float, i: Int, count n: Int, qmax: Int) -> Float {
        Float(max(Double(m) * (1 - Double(i) / Double(n)), Quantizer.scaleFloor) / Double(qmax))
    }

    /// Asymmetric (Δ): α_i = i/(2n); lo_i = min(0, lo + α(hi − lo)), hi_i = max(0, hi − α(hi − lo));
    /// s_i = f32(max(hi_i − lo_i, 1e-8)/(2^b − 1)); z_i = clamp(round(−lo_i/s_i), 0, 2^b − 1).
    public static func asymmetric(lo: Float, hi: Float, i: Int, count n: Int, bits: Int) -> (scale: Float, zero: Int32) {
        let a = Double(i) / Double(2 * n), lo64 = Double(lo), hi64 = Double(hi)
        let loI = min(0, lo64 + a * (hi64 - lo64)), hiI = max(0, hi64 - a * (hi64 - lo64))
        let s = Float(max(hiI - loI, Quantizer.scaleFloor) / Double(Quantizer.levels(bits: bits)))
        return (s, Quantizer.zeroPoint(lo: loI, scale: s, bits: bits))
    }
}
