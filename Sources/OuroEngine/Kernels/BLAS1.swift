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

    /// Σ x·y with float lanes summed in Double.
    @inline(__always)
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Double {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n { acc = acc.addingProduct(x.load8(i), y.load8(i)); i += 8 }
        var s = 0.0
        for j in 0..<8 { s += Double(acc[j]) }
        while i < n { s += Double(x[i]) * Double(y[i]); i += 1 }
        return s
    }
}
