import CFloatKernels

/// Which implementation runs a float kernel (scan, conv, softplus, gate). Every path gives
/// bit-identical results; they differ only in speed.
public enum FloatKernelPath: Sendable, Equatable, CaseIterable {
    /// The widest C kernel this CPU has (AVX-512, else AVX2); the Swift reference without AVX2.
    case automatic
    /// The Swift SIMD8 reference.
    case reference
    /// The C kernel with 8 lanes (AVX2 + FMA).
    case avx2
    /// The C kernel with 16 lanes (AVX-512 F).
    case avx512

    /// The C path number, or nil for the reference (and for a path this CPU lacks).
    var cPath: Int32? {
        switch self {
        case .reference: return nil
        case .automatic: return Self.best
        case .avx2: return Self.resolve(OURO_FLOAT_PATH_AVX2)
        case .avx512: return Self.resolve(OURO_FLOAT_PATH_AVX512)
        }
    }

    private static func resolve(_ path: Int) -> Int32? {
        let p = ouro_float_resolve_path(Int32(path))
        return p < 0 ? nil : p
    }
    private static let best: Int32? = resolve(OURO_FLOAT_PATH_AUTO)

    /// The C path a kernel runs, or nil for the Swift reference; stops with a message when an
    /// explicitly requested path is missing on this CPU (never a silent fallback).
    var checkedCPath: Int32? {
        precondition(isAvailable, "float kernel \(self) is not available on this CPU")
        return cPath
    }

    /// Whether this CPU can run the path (always true for `automatic` and `reference`).
    public var isAvailable: Bool { self == .automatic || self == .reference || cPath != nil }

    /// The path `automatic` picks on this CPU, for reports.
    public static var selected: FloatKernelPath {
        switch best {
        case Int32(OURO_FLOAT_PATH_AVX512): return .avx512
        case Int32(OURO_FLOAT_PATH_AVX2): return .avx2
        default: return .reference
        }
    }
}
