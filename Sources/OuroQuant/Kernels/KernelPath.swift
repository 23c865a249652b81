import COuroKernels

/// Which implementation runs the integer kernels. All paths give bit-identical results.
public enum KernelPath: Int32, Sendable, CaseIterable {
    /// The widest path this CPU has: AVX-512 (with VNNI), else AVX2, else portable C.
    case auto = 0
    /// Plain C (any CPU).
    case portable = 1
    /// vpmaddubsw/vpmaddwd kernels (runtime-checked).
    case avx2 = 2
    /// vpdpbusd (AVX-512 VNNI) microkernels and AVX-512 detection; AVX2 kernels elsewhere.
    case avx512 = 3

    /// True when this CPU can run the AVX2 path.
    public static var avx2Available: Bool { ouro_has_avx2() != 0 }
    /// True when this CPU can run the AVX-512 path.
    public static var avx512Available: Bool { ouro_has_avx512() != 0 }
    /// The concrete paths this CPU can run, portable first (detected once: the point quantizer
    /// checks its path on every call).
    public static let available: [KernelPath] =
        [.portable] + (avx2Available ? [.avx2] : []) + (avx512Available ? [.avx512] : [])
    /// The concrete path `.auto` stands for on this CPU (resolved once: hot loops ask per call).
    public static let detected: KernelPath = (try? KernelPath.auto.resolved()) ?? .portable

    /// The concrete path; throws when a SIMD path is requested but this CPU lacks it.
    public func resolved() throws -> KernelPath {
        let r = ouro_resolve_path(Int32(rawValue))
        guard r >= 0, let p = KernelPath(rawValue: r) else { throw IntGEMMError.pathUnavailable }
        return p
    }
}
