/// Vectorised float32 transcendental functions on `SIMD8<Float>` (AVX2 with `-target-cpu haswell`).
///
/// Accuracy is about 1–2 ulp over the ranges the model uses, far inside the 1e-5 golden
/// tolerance; scalar libm calls would make the scan and the gates 10× slower.
public enum VectorMath {
    public typealias V = SIMD8<Float>

    /// 2^x for x in [-126, 127] (clamped), degree-6 polynomial on [-0.5, 0.5].
    ///
    /// Rounding and the float→int step use the 1.5·2²³ magic constant: Swift's generic
    /// `SIMD8<Int32>(_:rounding:)` and `clamped` do not vectorise and were 5× slower.
    @inlinable @inline(__always)
    public static func exp2(_ x: V) -> V {
        var xc = x.replacing(with: -126, where: x .< V(repeating: -126))
        xc = xc.replacing(with: 127, where: xc .> V(repeating: 127))
        let magic = V(repeating: 12582912.0)
        let shifted = xc + magic
        let fx = shifted - magic                       // round half to even
        let r = xc - fx
        // Horner with explicit FMAs (Swift does not contract a*b + c on its own).
        var p = V(repeating: 1.3398874e-3).addingProduct(V(repeating: 1.5353362e-4), r)
        p = V(repeating: 9.6184561e-3).addingProduct(p, r)
        p = V(repeating: 5.5503370e-2).addingProduct(p, r)
        p = V(repeating: 2.4022652e-1).addingProduct(p, r)
        p = V(repeating: 6.9314718e-1).addingProduct(p, r)
        p = V(repeating: 1.0).addingProduct(p, r)
        let e = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127
        return p * unsafeBitCast(e &<< 23, to: V.self)
    }

    /// e^x (x clamped to [−87.3, 88.7]; underflow gives about 1e-38, never NaN).
    ///
    /// Cody–Waite reduction x = n·ln2 + r keeps full precision for large |x| (exp2(x·log2 e)
    /// would lose ~ulp(x·log2 e), about 4e-6 relative at |x| = 80).
    @inlinable @inline(__always)
    public static func exp(_ x: V) -> V {
        var xc = x.replacing(with: -87.33654, where: x .< V(repeating: -87.33654))
        xc = xc.replacing(with: 88.72283, where: xc .> V(repeating: 88.72283))
        let magic = V(repeating: 12582912.0)
        let shifted = (xc * 1.44269504088896341) + magic
        let fx = shifted - magic
        var r = xc.addingProduct(fx, V(repeating: -0.693359375))
        r = r.addingProduct(fx, V(repeating: 2.12194440e-4))
        var p = V(repeating: 1.3981999507e-3).addingProduct(V(repeating: 1.9875691500e-4), r)
        p = V(repeating: 8.3334519073e-3).addingProduct(p, r)
        p = V(repeating: 4.1665795894e-2).addingProduct(p, r)
        p = V(repeating: 1.6666665459e-1).addingProduct(p, r)
        p = V(repeating: 5.0000001201e-1).addingProduct(p, r)
        p = (p * (r * r) + r) + 1
        // 2^fx in two halves so that fx = 128 (x near 88.7) does not overflow the exponent field.
        let e = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let e1 = e &>> 1, e2 = e &- e1
        return p * unsafeBitCast((e1 &+ 127) &<< 23, to: V.self) * unsafeBitCast((e2 &+ 127) &<< 23, to: V.self)
    }

    /// Natural log for positive finite x (Cephes-style decomposition).
    @inlinable @inline(__always)
    public static func log(_ x: V) -> V {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        // Exponent as float via the magic constant (generic int→float conversion is slow).
        let ei = SIMD8<Int32>(truncatingIfNeeded: (bits &>> 23) & 0xff) &- 126
        var e = unsafeBitCast(ei &+ 0x4B40_0000, to: V.self) - 12582912.0
        var m = unsafeBitCast((bits & 0x807f_ffff) | 0x3f00_0000, to: V.self)
        let small = m .< V(repeating: 0.70710678)
        e = e.replacing(with: e - 1, where: small)
        m = m.replacing(with: m + m - 1, where: small).replacing(with: m - 1, where: .!small)
        let z = m * m
        var y = V(repeating: -1.1514610310e-1).addingProduct(V(repeating: 7.0376836292e-2), m)
        y = V(repeating: 1.1676998740e-1).addingProduct(y, m)
        y = V(repeating: -1.2420140846e-1).addingProduct(y, m)
        y = V(repeating: 1.4249322787e-1).addingProduct(y, m)
        y = V(repeating: -1.6668057665e-1).addingProduct(y, m)
        y = V(repeating: 2.0000714765e-1).addingProduct(y, m)
        y = V(repeating: -2.4999993993e-1).addingProduct(y, m)
        y = V(repeating: 3.3333331174e-1).addingProduct(y, m)
        y = y * m * z
        y = y + e * -2.12194440e-4
        y = y - 0.5 * z
        return m + y + e * 0.693359375
    }

    /// log(1 + y) for y ≥ 0, accurate for small y (Goldberg's correction).
    @inlinable @inline(__always)
    public static func log1p(_ y: V) -> V {
        let w = 1 + y
        let d = w - 1
        let isOne = d .== V(repeating: 0)
        let safeD = d.replacing(with: 1, where: isOne)
        let r = log(w) * (y / safeD)
        return r.replacing(with: y, where: isOne)
    }

    /// Softplus with PyTorch's threshold: v if v > 20, else log(1 + e^v).
    @inlinable @inline(__always)
    public static func softplus(_ v: V) -> V {
        let vc = v.replacing(with: 20, where: v .> V(repeating: 20))
        let r = log1p(exp(vc))
        return r.replacing(with: v, where: v .> V(repeating: 20))
    }

    /// Logistic sigmoid 1 / (1 + e^{−x}).
    @inlinable @inline(__always)
    public static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    /// SiLU x·σ(x).
    @inlinable @inline(__always)
    public static func silu(_ x: V) -> V { x * sigmoid(x) }
}

/// Scalar versions with the same numerics as the SIMD ones (used for tails).
public enum ScalarMath {
    @inlinable @inline(__always) public static func exp(_ x: Float) -> Float { VectorMath.exp(.init(repeating: x))[0] }
    @inlinable @inline(__always) public static func exp2(_ x: Float) -> Float { VectorMath.exp2(.init(repeating: x))[0] }
    @inlinable @inline(__always) public static func sigmoid(_ x: Float) -> Float { VectorMath.sigmoid(.init(repeating: x))[0] }
    @inlinable @inline(__always) public static func silu(_ x: Float) -> Float { VectorMath.silu(.init(repeating: x))[0] }
    @inlinable @inline(__always) public static func softplus(_ x: Float) -> Float { VectorMath.softplus(.init(repeating: x))[0] }
}

/// Applies a SIMD8 function over a buffer, elementwise, in place or out of place.
@inlinable @inline(__always)
public func mapSIMD8(_ n: Int, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                     _ f: (SIMD8<Float>) -> SIMD8<Float>) {
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(dst + i).storeBytes(of: f(v), as: SIMD8<Float>.self)
        i += 8
    }
    if i < n {
        var tmp = SIMD8<Float>(repeating: 0)
        for j in 0..<(n - i) { tmp[j] = src[i + j] }
        let r = f(tmp)
        for j in 0..<(n - i) { dst[i + j] = r[j] }
    }
}

extension UnsafePointer where Pointee == Float {
    /// Loads 8 floats (unaligned).
    @inlinable @inline(__always) public func load8(_ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + i).loadUnaligned(as: SIMD8<Float>.self)
    }
}
extension UnsafeMutablePointer where Pointee == Float {
    /// Loads 8 floats (unaligned).
    @inlinable @inline(__always) public func load8(_ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + i).loadUnaligned(as: SIMD8<Float>.self)
    }
    /// Stores 8 floats (unaligned).
    @inlinable @inline(__always) public func store8(_ i: Int, _ v: SIMD8<Float>) {
        UnsafeMutableRawPointer(self + i).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
