import OuroEngine
import OuroModel

/// Two-pass calibration of the static inlier scales (`method.md` §4.4, §4.7) from FP forwards
/// (`calib_inputs = fp`), organised in calibration blocks so shards merge exactly.
///
/// A cluster runs `pass1(block:images:)` per block, merges, calls `summary`, runs
/// `pass2(block:images:summary:)` per block, merges and calls `finalize`. `calibrate` does the
/// same in one process.
public struct Calibrator: Sendable {
    public let model: VisionMamba
    public let config: QuantConfig
    public let layout: QuantLayout
    public let threads: Int
    /// When set, the FP forwards run on this GPU copy of `model`, and the statistics are reduced
    /// where the activations are (`GPUCalibrationStatistics`, bit-identical to the host code).
    public var gpu: GPUVisionMamba?
    /// With `gpu`: reduce the statistics on the host from copies of every activation point
    /// instead (the same CPU code as without a GPU; a cross-check of the device reduction).
    public var statisticsOnHost = false

    public init(model: VisionMamba, config: QuantConfig, threads: Int = Hardware.cores, gpu: GPUVisionMamba? = nil) throws {
        try config.validate()
        self.model = model; self.config = config; layout = QuantLayout(model.config); self.threads = threads; self.gpu = gpu
    }

    /// The CUDA C module of the GPU statistics kernels (for compile checks).
    public static var gpuKernelModule: GPUModuleSource { GPUCalibrationKernels.module }

    /// One FP forward of `images`, reducing the statistics of `mode` at every point (on the GPU
    /// when one is set).
    private func collect(_ images: Tensor, _ mode: CalibrationHooks.Mode) throws -> CalibrationCollector {
        if let gpu, !statisticsOnHost {
            let stats = GPUCalibrationStatistics(layout: layout, config: config, mode: mode, device: gpu.device)
            _ = try gpu.logits(images, observeOnDevice: stats)
            return stats
        }
        let hooks = CalibrationHooks(layout: layout, config: config, mode: mode, threads: threads)
        if let gpu { _ = try gpu.logits(images, observe: hooks) } else { _ = try model.forward(images, hooks: hooks, threads: threads) }
        return hooks
    }

    /// Number of blocks for `samples` calibration images.
    public func blockCount(samples: Int) -> Int { (samples + config.calibBlock - 1) / config.calibBlock }

    private func checkBlock(_ block: Int, _ images: Tensor) throws {
        guard block >= 0 else { throw QuantError("calibration block \(block): expected ≥ 0") }
        guard images.shape.count == 4, (1...config.calibBlock).contains(images.shape[0]) else {
            throw QuantError("calibration block \(block): expected 1…\(config.calibBlock) images [n, C, H, W], got shape \(images.shape)")
        }
        try model.checkInput(images, source: "calibration block \(block)")
        if let i = images.data.firstIndex(where: { !$0.isFinite }) {
            throw QuantError("calibration block \(block): non-finite pixel at index \(i)")
        }
    }

    /// Pass-1 statistics of one block (one FP forward gives every layer's statistics).
    public func pass1(block: Int, images: Tensor) throws -> CalibrationPass1 {
        try checkBlock(block, images)
        let hooks = try collect(images, .pass1)
        var points: [Pass1Point] = []
        for (i, p) in hooks.pass1.enumerated() {
            guard var p else { throw QuantError("pass 1: point \(layout.points[i].name) was never reached") }
            if let s = p.channelAbsSum { p.channelAbsSum = BlockOrderedSum(block: block, values: s.folded) }
            points.append(p)
        }
        return CalibrationPass1(method: config.method, blocks: [block], samples: images.shape[0], points: points)
    }

    /// Merged pass 1 → the bounds pass 2 needs (and the fixed lists of `static-outlier-list`).
    public func summary(_ p1: CalibrationPass1, blockCount: Int) throws -> Pass1Summary {
        guard p1.method == config.method else {
            throw QuantError("pass-1 statistics are for \(p1.method.rawValue), configuration is \(config.method.rawValue)")
        }
        guard p1.points.count == layout.points.count else {
            throw QuantError("pass-1 statistics hold \(p1.points.count) points, the model has \(layout.points.count)")
        }
        try p1.checkComplete(blockCount: blockCount, what: "pass 1")
        var out: [PointBounds] = []
        for (i, p) in p1.points.enumerated() {
            let spec = layout.points[i]
            if config.method != .staticOutlierList {
                let frac = p.entries == 0 ? 0 : Double(p.outlierEntries) / Double(p.entries)
                out.append(PointBounds(maxAbs: p.maxAbs, lo: p.lo, hi: p.hi, fixed: [], outlierFraction: frac))
                continue
            }
            // Fixed list: channels whose mean |x| exceeds μ + λσ over channels (unbiased σ).
            let C = spec.channels, L = layout.length
            let sums = try p.channelAbsSum!.total(blockCount: blockCount, what: "pass 1 Σ|x| of \(spec.name)")
            let denom = Double(p1.samples * L)
            let means = sums.map { $0 / denom }
            let mu = means.reduce(0, +) / Double(C)
            let sd = C > 1 ? (means.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(C - 1)).squareRoot() : 0
            let fixed = C > 1 ? means.indices.filter { means[$0] > mu + config.lambdaStaticList * sd }.map { Int32($0) } : []
            let listed = Set(fixed.map(Int.init))
            var b = PointBounds(maxAbs: [Float](repeating: 0, count: L), lo: spec.asymmetric ? [Float](repeating: 0, count: L) : [],
                                hi: spec.asymmetric ? [Float](repeating: 0, count: L) : [], fixed: fixed,
                                outlierFraction: Double(fixed.count) / Double(C))
            for t in 0..<L {
                for c in 0..<C where !listed.contains(c) {
                    let mx = p.channelMax[t * C + c], mn = p.channelMin[t * C + c]
                    b.maxAbs[t] = max(b.maxAbs[t], max(mx, -mn))
                    if spec.asymmetric { b.lo[t] = min(b.lo[t], mn); b.hi[t] = max(b.hi[t], mx) }
                }
            }
            out.append(b)
        }
        return Pass1Summary(method: config.method, points: out)
    }

    /// Pass-2 error sums of one block for every point, step and candidate.
    public func pass2(block: Int, images: Tensor, summary: Pass1Summary) throws -> CalibrationPass2 {
        try checkBlock(block, images)
        guard summary.method == config.method, summary.points.count == layout.points.count else {
            throw QuantError("pass 2: summary is for \(summary.method.rawValue) with \(summary.points.count) points, expected \(config.method.rawValue) with \(layout.points.count)")
        }
        let n = config.candidates
        guard config.method.searches else {
            return CalibrationPass2(method: config.method, inlierBits: config.setting.inlierBits, candidates: n,
                                    points: layout.points.map { _ in BlockOrderedSum(block: block, values: []) })
        }
        let hooks = try collect(images, .pass2(summary))
        var points: [BlockOrderedSum] = []
        for (i, p) in hooks.pass2.enumerated() {
            guard let p else { throw QuantError("pass 2: point \(layout.points[i].name) was never reached") }
            points.append(BlockOrderedSum(block: block, values: p))
        }
        return CalibrationPass2(method: config.method, inlierBits: config.setting.inlierBits, candidates: n, points: points)
    }

    /// Arg-min selection: the calibrated point quantizers (by layout index).
    public func finalize(summary: Pass1Summary, pass2: CalibrationPass2?, blockCount: Int) throws -> [CalibratedPoint] {
        let bits = config.setting.inlierBits, n = config.candidates, L = layout.length
        if let p2 = pass2 {
            guard p2.method == config.method, p2.inlierBits == bits, p2.candidates == n, p2.points.count == layout.points.count else {
                throw QuantError("pass-2 statistics are for (\(p2.method.rawValue), a\(p2.inlierBits)), configuration is (\(config.method.rawValue), a\(bits))")
            }
        }
        var out: [CalibratedPoint] = []
        for (idx, spec) in layout.points.enumerated() {
            let b = summary.points[idx]
            if config.method == .staticMinmax {
                if spec.asymmetric {
                    let lo = b.lo.min() ?? 0, hi = b.hi.max() ?? 0
                    let s = Float(max(Double(hi) - Double(lo), Quantizer.scaleFloor) / Double(Quantizer.levels(bits: bits)))
                    out.append(CalibratedPoint(scales: [s], zeros: [Quantizer.zeroPoint(lo: Double(lo), scale: s, bits: bits)],
                                               istar: [], fixed: [], outlierFraction: 0))
                } else {
                    let m = b.maxAbs.max() ?? 0
                    let s = Float(max(Double(m), Quantizer.scaleFloor) / Double(Quantizer.qmax(bits: bits)))
                    out.append(CalibratedPoint(scales: [s], zeros: [], istar: [], fixed: [], outlierFraction: 0))
                }
                continue
            }
            guard let p2 = pass2 else { throw QuantError("\(config.method.rawValue) needs pass-2 statistics") }
            let err = try p2.points[idx].total(blockCount: blockCount, what: "pass 2 of \(spec.name)")
            guard err.count == L * n else { throw QuantError("pass 2 of \(spec.name): \(err.count) sums, expected \(L * n)") }
            var scales: [Float] = [], zeros: [Int32] = [], istar: [Int32] = []
            for t in 0..<L {
                var best = 0
                for i in 1..<n where err[t * n + i] < err[t * n + best] { best = i }
                if let i = err[(t * n)..<((t + 1) * n)].firstIndex(where: { !$0.isFinite }) {
                    throw QuantError("pass 2 of \(spec.name): non-finite error sum at step \(t), candidate \(i - t * n)")
                }
                istar.append(Int32(best))
                if spec.asymmetric {
                    let (s, z) = ClipCandidates.asymmetric(lo: b.lo[t], hi: b.hi[t], i: best, count: n, bits: bits)
                    scales.append(s); zeros.append(z)
                } else {
                    scales.append(ClipCandidates.symmetric(maxAbs: b.maxAbs[t], i: best, count: n, qmax: Quantizer.qmax(bits: bits)))
                }
            }
            out.append(CalibratedPoint(scales: scales, zeros: zeros, istar: istar, fixed: b.fixed, outlierFraction: b.outlierFraction))
        }
        return out
    }

    /// Everything a calibration produced.
    public struct Result: Sendable {
        public var pass1: CalibrationPass1
        public var summary: Pass1Summary
        public var pass2: CalibrationPass2?
        public var points: [CalibratedPoint]
    }

    /// Both passes over `images` [N, C, H, W], block by block, in one process.
    /// `progress(phase, blocksDone, blockCount)` reports each finished block.
    public func calibrate(images: Tensor, progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Result {
        try calibrate(images: images, workers: [self], progress: progress)
    }

    /// The same with block k computed by `workers[k % workers.count]` (for example one on the
    /// CPU and one on a GPU) and merged as a cluster merges shards; the summary and the final
    /// argmin run here.
    public func calibrate(images: Tensor, workers: [Calibrator],
                          progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Result {
        guard !workers.isEmpty else { throw QuantError("calibration needs at least one worker") }
        let N = images.shape.first ?? 0
        guard N >= 1 else { throw QuantError("calibration set is empty") }
        let nb = blockCount(samples: N)
        func block(_ k: Int) -> Tensor { images.slice(outer: k * config.calibBlock, count: min(config.calibBlock, N - k * config.calibBlock)) }
        var p1: CalibrationPass1? = nil
        for k in 0..<nb {
            let s = try workers[k % workers.count].pass1(block: k, images: block(k))
            if p1 == nil { p1 = s } else { try p1!.merge(s) }
            progress("pass 1", k + 1, nb)
        }
        let summary = try self.summary(p1!, blockCount: nb)
        var p2: CalibrationPass2? = nil
        if config.method.searches {
            for k in 0..<nb {
                let s = try workers[k % workers.count].pass2(block: k, images: block(k), summary: summary)
                if p2 == nil { p2 = s } else { try p2!.merge(s) }
                progress("pass 2", k + 1, nb)
            }
        }
        let points = try finalize(summary: summary, pass2: p2, blockCount: nb)
        return Result(pass1: p1!, summary: summary, pass2: p2, points: points)
    }
}
