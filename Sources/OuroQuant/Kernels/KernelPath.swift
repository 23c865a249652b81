import COuroKernels

/// Which implementation runs the integer kernels. All paths give bit-identical results.
public enum KernelPath: Int32, Sendable, CaseIterable {
    /// AVX2 when the CPU has AVX2+FMA, otherwise portable C.
    case auto = 0
    /// Plain C (any CPU).
    case portable = 1
    /// vpmaddubsw/vpmaddwd kernels (runtime-checked).
    case avx2 = 2

    /// True when this CPU can run the AVX2 path.
    public static var avx2Available: Bool { ouro_has_avx2() != 0 }

    /// The concrete path (`.portable` or `.avx2`); throws when AVX2 is requested but missing.
    public func resolved() throws -> KernelPath {
        let r = ouro_resolve_path(Int32(rawValue))
        guard r >= 0, let p = KernelPath(rawValue: r) else { throw IntGEMMError.pathUnavailable }
        return p
    }
}
