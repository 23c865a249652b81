import COuroKernels
import OuroEngine

/// The run-time quantizer of one point (`method.md` §4.5, §4.7): static inlier scales per step
/// (or one per point), the outlier rule of the method, and the outlier precision.
///
/// Detection and fake quantization run in `COuroKernels` (`ouro_point_run`); the portable and
/// AVX2 paths give identical bits.
public struct PointQuantizer: Sendable {
    public enum Outliers: Sendable {
        /// No outliers: everything saturates at the static scale.
        case none
        /// Per-sample dynamic lists refreshed every `nRefresh` steps.
        case dynamic(lambda: Double, nRefresh: Int, stats: OutlierStats)
        /// A fixed channel list chosen at calibration.
        case fixed([Int32])
    }

    public let channels: Int
    public let asymmetric: Bool
    /// S^I(t), one per step, or a single scale for every step.
    public let scales: [Float]
    /// z(t) for Δ (same count as `scales`), else empty.
    public let zeros: [Int32]
    public let inlierBits: Int
    /// 16 = outliers stay float.
    public let outlierBits: Int
    public let outliers: Outliers
    /// The inlier softplus tables of `runSoftplus`, 16 floats per scale (built once here: they
    /// depend on the step only), or empty where the point has none.
    private var softplusTables: [Float] = []

    public init(channels: Int, asymmetric: Bool, scales: [Float], zeros: [Int32], inlierBits: Int, outlierBits: Int,
                outliers: Outliers) {
        self.channels = channels; self.asymmetric = asymmetric; self.scales = scales; self.zeros = zeros
        self.inlierBits = inlierBits; self.outlierBits = outlierBits; self.outliers = outliers
        if asymmetric, Elementwise.softplusKernel != nil, !scales.isEmpty, zeros.isEmpty || zeros.count == scales.count {
            var tables = [Float](repeating: 0, count: 16 * scales.count)
            let rc = withParams(length: 0, path: .portable) { p, _ in
                tables.withUnsafeMutableBufferPointer { ouro_point_softplus_tables(&p, $0.baseAddress!) }
            }
            if rc == 0 { softplusTables = tables }
        }
    }

    @inline(__always) func scale(_ t: Int) -> Float { scales.count == 1 ? scales[0] : scales[t] }

    /// Runs the sequences of `length` rows of `samples` samples, sample s at `x + s·sampleStride`
    /// (rows `ld` apart). Step t is row `reversed ? length − 1 − t : t`. For every step the list is
    /// updated (detection), then, when `apply` is set, the row is fake-quantized in place. Writes
    /// the list size in force at row r of sample s into `counts[s·length + r]` and, when `lists`
    /// is given, that ascending list at `lists + (s·length + r)·channels`. Each sample's results
    /// are those of a run on it alone; several at once let detection step their windows together.
    public func run(_ x: UnsafeMutablePointer<Float>, ld: Int, length L: Int, samples: Int = 1, sampleStride: Int = 0,
                    reversed: Bool, apply: Bool, counts: UnsafeMutablePointer<Int32>, lists: UnsafeMutablePointer<Int32>?,
                    path: KernelPath = .auto) {
        let rc = withParams(length: L, samples: samples, sampleStride: sampleStride, ld: ld, path: path) { p, resolved in
            ouro_point_run(resolved.rawValue, &p, x, Int32(ld), Int32(L), Int32(samples), sampleStride, reversed ? 1 : 0,
                           apply ? 1 : 0, counts, lists)
        }
        precondition(rc == 0, "PointQuantizer: out of memory")
    }

    /// Whether `runSoftplus` can run on `path`: the AVX-512 path, the asymmetric (Δ) point with at
    /// most 4 inlier bits (a 16-entry level table) and outliers below 16 bits.
    public func fusesSoftplus(path: KernelPath = .auto) -> Bool {
        return withParams(length: 0, path: path) { p, resolved in ouro_point_softplus_supported(resolved.rawValue, &p) } == 1
    }

    /// `run` with `apply`, which also writes softplus(x̂) at `softplus` (rows `ldSoftplus` apart,
    /// sample s at `softplus + s·softplusSampleStride`) with the bits of `Elementwise.softplus`:
    /// inliers read it from a per-step table of the levels. Only where `fusesSoftplus(path:)`.
    public func runSoftplus(_ x: UnsafeMutablePointer<Float>, ld: Int, length L: Int, samples: Int = 1, sampleStride: Int = 0,
                            reversed: Bool, counts: UnsafeMutablePointer<Int32>, lists: UnsafeMutablePointer<Int32>?,
                            softplus: UnsafeMutablePointer<Float>, ldSoftplus: Int, softplusSampleStride: Int = 0,
                            path: KernelPath = .auto) {
        precondition(samples <= 1 || softplusSampleStride >= L * ldSoftplus, "PointQuantizer: softplus rows of samples overlap")
        let rc = withParams(length: L, samples: samples, sampleStride: sampleStride, ld: ld, path: path) { p, resolved in
            ouro_point_run_softplus(resolved.rawValue, &p, x, Int32(ld), Int32(L), Int32(samples), sampleStride,
                                    reversed ? 1 : 0, counts, lists, softplus, Int32(ldSoftplus), softplusSampleStride)
        }
        precondition(rc != -2, "PointQuantizer: softplus fusion requested where fusesSoftplus is false")
        precondition(rc == 0, "PointQuantizer: out of memory")
    }

    /// The C parameters of this point (valid inside `body` only) and the resolved kernel path, after
    /// checking that the scales cover `length` steps and that the samples' rows do not overlap.
    private func withParams<R>(length L: Int, samples: Int = 1, sampleStride: Int = 0, ld: Int = 0, path: KernelPath,
                               _ body: (inout ouro_point_params, KernelPath) -> R) -> R {
        let resolved = path == .auto ? KernelPath.detected : path
        precondition(KernelPath.available.contains(resolved), "PointQuantizer: \(resolved) requested on a CPU without it")
        precondition(scales.count == 1 || scales.count >= L, "PointQuantizer: \(scales.count) scales for \(L) steps")
        precondition(samples >= 0 && (samples <= 1 || sampleStride >= L * ld), "PointQuantizer: \(samples) samples \(sampleStride) apart overlap")
        var mode = Int32(OURO_OUTLIERS_NONE), lambda = 0.0, nRefresh = 1, allZeros: Int32 = 0
        var fixed: [Int32] = []
        switch outliers {
        case .none: break
        case .dynamic(let l, let n, let s):
            mode = Int32(OURO_OUTLIERS_DYNAMIC); lambda = l; nRefresh = n; allZeros = s == .allWithZeros ? 1 : 0
        case .fixed(let f): mode = Int32(OURO_OUTLIERS_FIXED); fixed = f
        }
        let kernel = Elementwise.softplusKernel
        return scales.withUnsafeBufferPointer { s in
            zeros.withUnsafeBufferPointer { z in
                fixed.withUnsafeBufferPointer { f in
                    softplusTables.withUnsafeBufferPointer { tables in
                        var p = ouro_point_params(
                            C: Int32(channels), asymmetric: asymmetric ? 1 : 0, inlier_bits: Int32(inlierBits),
                            outlier_bits: Int32(outlierBits), mode: mode, lambda: lambda, n_refresh: Int32(nRefresh),
                            stats_all_with_zeros: allZeros, scales: s.baseAddress, nscales: Int32(scales.count),
                            zeros: zeros.isEmpty ? nil : z.baseAddress, fixed: fixed.isEmpty ? nil : f.baseAddress,
                            nfixed: Int32(fixed.count), softplus: kernel?.function, softplus_path: kernel?.path ?? 0,
                            softplus_tables: softplusTables.isEmpty ? nil : tables.baseAddress)
                        return body(&p, resolved)
                    }
                }
            }
        }
    }

    /// Convenience for tests and pictures: runs rows stored in step order (stride `channels`)
    /// and returns the ascending list in force at every step.
    public func stepLists(_ x: UnsafeMutablePointer<Float>, length L: Int, apply: Bool, path: KernelPath = .auto) -> [[Int]] {
        var counts = [Int32](repeating: 0, count: L), lists = [Int32](repeating: 0, count: max(1, L * channels))
        counts.withUnsafeMutableBufferPointer { c in
            lists.withUnsafeMutableBufferPointer { l in
                run(x, ld: channels, length: L, reversed: false, apply: apply, counts: c.baseAddress!, lists: l.baseAddress!, path: path)
            }
        }
        return (0..<L).map { t in (0..<Int(counts[t])).map { Int(lists[t * channels + $0]) } }
    }
}
