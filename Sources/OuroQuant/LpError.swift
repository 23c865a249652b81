/// The clipping-search error |x − Q(x)|^2.4 (`method.md` §4.1), evaluated in Double.
///
/// `pow` from libm costs ~20 ns per call and the activation search evaluates it 100 times per
/// calibration entry, so this is a vectorised pow(|d|, 2.4) = 2^(2.4·log2|d|) with a relative
/// error of a few 1e-16 (atanh series for log, Taylor series for exp2), exactly 0 at d = 0.
public enum LpError {
    public typealias V = SIMD4<Double>
    /// The norm p of `method.md` (fixed; the polynomial evaluation is specialised to it).
    public static let p = 2.4

    /// |d|^2.4 per lane.
    @inline(__always) public static func pow24(_ v: V) -> V {
        let bits = unsafeBitCast(v, to: SIMD4<UInt64>.self) & 0x7FFF_FFFF_FFFF_FFFF
        let d = unsafeBitCast(bits, to: V.self)
        var e = SIMD4<Int64>(truncatingIfNeeded: (bits &>> 52) & 0x7FF) &- 1023
        var m = unsafeBitCast((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000, to: V.self)
        let big = m .> 1.4142135623730951
        m.replace(with: m * 0.5, where: big)
        e.replace(with: e &+ 1, where: big)
        // ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.1716.
        let s = (m - 1) / (m + 1), s2 = s * s
        var poly = V(repeating: 0.047619047619047616)
        poly = poly * s2 + 0.05263157894736842
        poly = poly * s2 + 0.058823529411764705
        poly = poly * s2 + 0.06666666666666667
        poly = poly * s2 + 0.07692307692307693
        poly = poly * s2 + 0.09090909090909091
        poly = poly * s2 + 0.1111111111111111
        poly = poly * s2 + 0.14285714285714285
        poly = poly * s2 + 0.2
        poly = poly * s2 + 0.3333333333333333
        poly = poly * s2 + 1.0
        let lnm = 2 * s * poly
        let ev = V(Double(e[0]), Double(e[1]), Double(e[2]), Double(e[3]))
        let y = 2.4 * (ev + lnm * 1.4426950408889634)
        let n = y.rounded(.toNearestOrEven)
        let g = (y - n) * 0.6931471805599453
        var ex = V(repeating: 1.6059043836821613e-10)
        ex = ex * g + 2.08767569878681e-09
        ex = ex * g + 2.505210838544172e-08
        ex = ex * g + 2.755731922398589e-07
        ex = ex * g + 2.7557319223985893e-06
        ex = ex * g + 2.48015873015873e-05
        ex = ex * g + 0.0001984126984126984
        ex = ex * g + 0.001388888888888889
        ex = ex * g + 0.008333333333333333
        ex = ex * g + 0.041666666666666664
        ex = ex * g + 0.16666666666666666
        ex = ex * g + 0.5
        ex = ex * g + 1.0
        ex = ex * g + 1.0
        let scale = unsafeBitCast(SIMD4<UInt64>(truncatingIfNeeded: SIMD4<Int64>(Int64(n[0]), Int64(n[1]), Int64(n[2]), Int64(n[3])) &+ 1023) &<< 52, to: V.self)
        var r = ex * scale
        // Zeros (and values too small to matter) contribute exactly 0.
        r.replace(with: 0, where: d .< 1e-280)
        return r
    }

    /// |d|^2.4 for one value (same arithmetic as the vector form).
    @inline(__always) public static func pow24(_ d: Double) -> Double { pow24(V(repeating: d))[0] }

    /// Σ |x − s·clamp(round(x/s), −qmax, qmax)|^2.4 over `count4` lanes-of-4 of `x`
    /// (zero-padded; zeros contribute nothing).
    @inline(__always)
    public static func symmetricSum(_ x: UnsafePointer<V>, count4: Int, scale: Double, qmax: Double) -> Double {
        var acc = V(repeating: 0)
        let lo = V(repeating: -qmax), hi = V(repeating: qmax), s = V(repeating: scale)
        for j in 0..<count4 {
            let xv = x[j]
            let q = (xv / s).rounded(.toNearestOrEven).clamped(lowerBound: lo, upperBound: hi)
            acc += pow24(xv - s * q)
        }
        return (acc[0] + acc[1]) + (acc[2] + acc[3])
    }

    /// Σ |x − s·(clamp(round(x/s) + z, 0, 2^b − 1) − z)|^2.4 (asymmetric, Δ).
    @inline(__always)
    public static func asymmetricSum(_ x: UnsafePointer<V>, count4: Int, scale: Double, zero: Double, levels: Double) -> Double {
        var acc = V(repeating: 0)
        let lo = V(repeating: 0), hi = V(repeating: levels), s = V(repeating: scale), z = V(repeating: zero)
        for j in 0..<count4 {
            let xv = x[j]
            let q = ((xv / s).rounded(.toNearestOrEven) + z).clamped(lowerBound: lo, upperBound: hi)
            acc += pow24(xv - s * (q - z))
        }
        return (acc[0] + acc[1]) + (acc[2] + acc[3])
    }
}
