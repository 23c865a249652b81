import COuroKernels
import OuroSupport
import OuroEngine
import OuroModel

/// The per-point statistics of one calibration block, however they were reduced.
protocol CalibrationCollector: AnyObject {
    /// Pass 1: per point (nil when never reached).
    var pass1: [Pass1Point?] { get }
    /// Pass 2: per point, L·candidates partial sums of this block.
    var pass2: [[Double]?] { get }
}

/// Observes every point during one FP forward of one calibration block and accumulates the
/// pass-1 or pass-2 statistics of that block (`calib_inputs = fp`). Never modifies activations.
final class CalibrationHooks: ForwardHooks, CalibrationCollector {
    enum Mode { case pass1, pass2(Pass1Summary) }

    let layout: QuantLayout
    let config: QuantConfig
    let mode: Mode
    let runner: ParallelRunner
    /// Pass 1: per point; pass 2: per point, L·candidates partial sums of this block.
    var pass1: [Pass1Point?]
    var pass2: [[Double]?]

    init(layout: QuantLayout, config: QuantConfig, mode: Mode, threads: Int) {
        self.layout = layout; self.config = config; self.mode = mode; runner = ParallelRunner(threads: threads)
        pass1 = Array(repeating: nil, count: layout.points.count)
        pass2 = Array(repeating: nil, count: layout.points.count)
    }

    /// Calibration only reads activations, so the model may hand over its own buffers (and the
    /// GPU model may run it on host copies).
    var modifiesLinearInputs: Bool { false }

    func activation(_ point: ActivationPoint, layer: Int, _ view: ActivationView) {
        let idx = layout.index(layer: layer, point)
        let spec = layout.points[idx]
        switch mode {
        case .pass1: pass1[idx] = collectPass1(spec, view)
        case .pass2(let s): pass2[idx] = collectPass2(spec, view, s.points[idx])
        }
    }

    /// Row of sample b at step t of this point.
    @inline(__always) private func row(_ v: ActivationView, _ spec: PointSpec, _ b: Int, _ t: Int) -> UnsafeMutablePointer<Float> {
        v.row(b, spec.reversed ? v.length - 1 - t : t)
    }

    /// Calibration marking of one sample (§4.4): calls `body(t, row, list)` per step.
    private func walk(_ spec: PointSpec, _ v: ActivationView, _ b: Int, fixed: [Int32]?,
                      _ body: (Int, UnsafeMutablePointer<Float>, OutlierList) -> Void) {
        let C = spec.channels, marks = config.method.marksOutliers
        let lambda = QuantLayout.lambda(spec, config)
        var list = fixed.map { OutlierList(channels: C, listed: $0) } ?? OutlierList(channels: C)
        for t in 0..<v.length {
            let x = row(v, spec, b, t)
            if marks {
                if t % config.nRefresh == 0 { list.reset() }
                OutlierRules.markCalibration(x, channels: C, lambda: lambda, list: &list)
            }
            body(t, x, list)
        }
    }

    private func collectPass1(_ spec: PointSpec, _ v: ActivationView) -> Pass1Point {
        let L = v.length, C = spec.channels, asym = spec.asymmetric
        let listStats = config.method == .staticOutlierList
        var p = Pass1Point(maxAbs: [Float](repeating: 0, count: L),
                           lo: asym ? [Float](repeating: 0, count: L) : [], hi: asym ? [Float](repeating: 0, count: L) : [],
                           outlierEntries: 0, entries: 0,
                           channelMax: listStats ? [Float](repeating: -.infinity, count: L * C) : [],
                           channelMin: listStats ? [Float](repeating: .infinity, count: L * C) : [],
                           channelAbsSum: nil)
        var absSum = [Double](repeating: 0, count: listStats ? C : 0)
        for b in 0..<v.batch {
            var sampleAbs = [Double](repeating: 0, count: absSum.count)
            walk(spec, v, b, fixed: nil) { t, x, list in
                var m: Float = 0, lo: Float = 0, hi: Float = 0
                for c in 0..<C where !list.mask[c] { m = max(m, abs(x[c])); lo = min(lo, x[c]); hi = max(hi, x[c]) }
                p.maxAbs[t] = max(p.maxAbs[t], m)
                if asym { p.lo[t] = min(p.lo[t], lo); p.hi[t] = max(p.hi[t], hi) }
                p.outlierEntries += Int64(list.count); p.entries += Int64(C)
                if listStats {
                    for c in 0..<C {
                        p.channelMax[t * C + c] = max(p.channelMax[t * C + c], x[c])
                        p.channelMin[t * C + c] = min(p.channelMin[t * C + c], x[c])
                        sampleAbs[c] += Double(abs(x[c]))
                    }
                }
            }
            for c in absSum.indices { absSum[c] += sampleAbs[c] }
        }
        if listStats { p.channelAbsSum = BlockOrderedSum(block: 0, values: absSum) }
        return p
    }

    private func collectPass2(_ spec: PointSpec, _ v: ActivationView, _ bounds: PointBounds) -> [Double] {
        let L = v.length, C = spec.channels, B = v.batch, n = config.candidates, c4 = (C + 3) / 4
        // Inlier values in Double, outliers zeroed (a zero has zero error), padded to lanes of 4.
        let xs = UnsafeMutablePointer<SIMD4<Double>>.allocate(capacity: B * L * c4)
        xs.initialize(repeating: .zero, count: B * L * c4)
        defer { xs.deallocate() }
        let flat = UnsafeMutableRawPointer(xs).assumingMemoryBound(to: Double.self)
        let fixed: [Int32]? = config.method == .staticOutlierList ? bounds.fixed : nil
        for b in 0..<B {
            walk(spec, v, b, fixed: fixed) { t, x, list in
                let dst = flat + ((b * L + t) * c4) * 4
                for c in 0..<C where !list.mask[c] { dst[c] = Double(x[c]) }
            }
        }
        var out = [Double](repeating: 0, count: L * n)
        let bits = config.setting.inlierBits
        let (scales, zeros) = bounds.candidateQuantizers(asymmetric: spec.asymmetric, count: n, bits: bits)
        let cPath = KernelPath.detected.rawValue
        if KernelPath.detected == .avx2 || KernelPath.detected == .avx512 {
            // The same sums in C (8 doubles per vector on AVX-512; the same bits).
            let top = spec.asymmetric ? Double(Quantizer.levels(bits: bits)) : Double(Quantizer.qmax(bits: bits))
            out.withUnsafeMutableBufferPointer { ob in
                scales.withUnsafeBufferPointer { sp in
                    zeros.withUnsafeBufferPointer { zp in
                        let o = ob.baseAddress!, sb = sp.baseAddress!, zb = zp.baseAddress
                        runner.forEach(L) { t in
                            ouro_lp_error_sums(cPath, flat + t * c4 * 4, Int32(B), L * c4 * 4, Int32(c4), sb + t * n,
                                               spec.asymmetric ? zb! + t * n : nil, Int32(n), top, o + t * n)
                        }
                    }
                }
            }
            return out
        }
        out.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            runner.forEach(L) { t in
                for i in 0..<n {
                    var acc = 0.0
                    let s = Double(scales[t * n + i])
                    if spec.asymmetric {
                        let z = Double(zeros[t * n + i]), levels = Double(Quantizer.levels(bits: bits))
                        for b in 0..<B {
                            acc += LpError.asymmetricSum(xs + (b * L + t) * c4, count4: c4, scale: s, zero: z, levels: levels)
                        }
                    } else {
                        let q = Double(Quantizer.qmax(bits: bits))
                        for b in 0..<B { acc += LpError.symmetricSum(xs + (b * L + t) * c4, count4: c4, scale: s, qmax: q) }
                    }
                    o[t * n + i] = acc
                }
            }
        }
        return out
    }
}
