import CFloatKernels

/// Small vector kernels (SIMD8, unaligned) for loops too short for BLAS calls.
public enum Vec {
    /// y += a·x over n elements: fused multiply-adds in whole groups of 8, then a multiply and
    /// an add per element. Runs the C kernel of `path` (the same bits, wider on AVX-512).
    @inline(__always)
    public static func axpy(_ n: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            path: FloatKernelPath = .automatic) {
        if let c = path.checkedCPath {
            ouro_axpy(c, n, a, x, y)
            return
        }
        let av = SIMD8<Float>(repeating: a)
        var i = 0
        while i + 8 <= n { y.store8(i, y.load8(i).addingProduct(av, x.load8(i))); i += 8 }
        while i < n { y[i] += a * x[i]; i += 1 }
    }

    /// Σ x·y: 32 float partials (element i of each whole block of 32 goes to partial i mod 32,
    /// by fused multiply-adds), summed in Double in order, then the remaining products in Double.
    /// Runs the C kernel of `path` (the same bits).
    @inline(__always)
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, path: FloatKernelPath = .automatic) -> Double {
        if let c = path.checkedCPath { return ouro_dot(c, n, x, y) }
        var part = [Float](repeating: 0, count: 32)
        let whole = n / 32 * 32
        for i in 0..<whole { part[i % 32] = part[i % 32].addingProduct(x[i], y[i]) }
        var s = partialsSum(part)
        for i in whole..<max(whole, n) { s += Double(x[i]) * Double(y[i]) }
        return s
    }

    /// dst[i] = Σ_j w[j]·src[j][i] for j < k (k ≥ 1), in order: a product, then fused
    /// multiply-adds. Runs the C kernel of `path` (the same bits).
    @inline(__always)
    public static func weightedSum(_ n: Int, terms k: Int, _ src: UnsafePointer<UnsafePointer<Float>?>, _ w: UnsafePointer<Float>,
                                   _ dst: UnsafeMutablePointer<Float>, path: FloatKernelPath = .automatic) {
        precondition(k >= 1, "weightedSum needs at least one term")
        if let c = path.checkedCPath { ouro_weighted_sum(c, n, Int32(k), src, w, dst); return }
        for i in 0..<n {
            var acc = w[0] * src[0]![i]
            for j in 1..<max(k, 1) { acc = acc.addingProduct(w[j], src[j]![i]) }
            dst[i] = acc
        }
    }

    /// g[i] = src[0][i] + … + src[k−1][i] (in order); y[i] = a·g[i] as a fused multiply-add onto
    /// +0 (y is written, never read: the bits an accumulation into zeros gives); returns Σ g·h
    /// with `dot`'s partials. Runs the C kernel of `path` (the same bits).
    @inline(__always)
    public static func sumScaleDot(_ n: Int, terms k: Int, _ src: UnsafePointer<UnsafePointer<Float>?>, _ a: Float,
                                   _ y: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>, path: FloatKernelPath = .automatic) -> Double {
        precondition(k >= 1, "sumScaleDot needs at least one term")
        if let c = path.checkedCPath { return ouro_sum_scale_dot(c, n, Int32(k), src, a, y, h) }
        var part = [Float](repeating: 0, count: 32), g = [Float](repeating: 0, count: n)
        let whole = n / 32 * 32
        for i in 0..<n {
            g[i] = src[0]![i]
            for j in 1..<max(k, 1) { g[i] = g[i] + src[j]![i] }
            y[i] = Float(0).addingProduct(a, g[i])
            if i < whole { part[i % 32] = part[i % 32].addingProduct(g[i], h[i]) }
        }
        var s = partialsSum(part)
        for i in whole..<max(whole, n) { s += Double(g[i]) * Double(h[i]) }
        return s
    }

    private static func partialsSum(_ part: [Float]) -> Double {
        var s = 0.0
        for p in part { s += Double(p) }
        return s
    }
}
