import OuroEngine
import OuroModel

/// The device-side `CalibrationHooks`: reduces every activation point of one calibration block
/// with `GPUCalibrationKernels` where the GPU forward left it, and downloads only the
/// statistics (a few values per step instead of the activations). On the same activations the
/// result equals the host reduction bit for bit (`GPUCalibrationTests`).
final class GPUCalibrationStatistics: GPUForwardObserver, CalibrationCollector {
    let layout: QuantLayout
    let config: QuantConfig
    let mode: CalibrationHooks.Mode
    let device: GPUDevice
    var pass1: [Pass1Point?]
    var pass2: [[Double]?]

    init(layout: QuantLayout, config: QuantConfig, mode: CalibrationHooks.Mode, device: GPUDevice) {
        self.layout = layout; self.config = config; self.mode = mode; self.device = device
        pass1 = Array(repeating: nil, count: layout.points.count)
        pass2 = Array(repeating: nil, count: layout.points.count)
    }

    private func launch(_ name: String, threads: Int, _ args: [GPUArg]) throws {
        try device.launch(name, in: GPUCalibrationKernels.module, threads: threads, args: args)
    }

    /// `values` as doubles in a fresh arena buffer.
    private func upload(_ values: [Double], _ arena: GPUArena) throws -> GPUBuffer {
        let b = try arena.floats(2 * max(1, values.count))
        try device.upload(values, to: b)
        return b
    }

    func activation(_ point: ActivationPoint, layer: Int, _ v: GPUActivationView, arena: GPUArena) throws {
        let idx = layout.index(layer: layer, point), spec = layout.points[idx]
        let B = v.batch, L = v.length, C = spec.channels
        let x = GPUArg.floats(v.buffer, v.offset)
        let shape: [GPUArg] = [x, .i(v.ld), .i(C), .i(B), .i(L), .i(spec.reversed ? 1 : 0)]
        // Thresholds of the online marking (ouromamba only).
        var thr = GPUArg.pointer(0)
        if config.method.marksOutliers {
            let t = try arena.floats(2 * B * L)
            try launch("cal_thresholds", threads: B * L, shape + [.floats(try upload([QuantLayout.lambda(spec, config)], arena)), .floats(t)])
            thr = .floats(t)
        }
        switch mode {
        case .pass1: pass1[idx] = try collectPass1(spec, shape, thr, B: B, L: L, arena)
        case .pass2(let s): pass2[idx] = try collectPass2(spec, shape, thr, s.points[idx], B: B, L: L, arena)
        }
    }

    private func collectPass1(_ spec: PointSpec, _ shape: [GPUArg], _ thr: GPUArg, B: Int, L: Int, _ arena: GPUArena) throws -> Pass1Point {
        let C = spec.channels
        let rows = try arena.floats(4 * B * L), steps = try arena.floats(4 * L)
        try launch("cal_pass1_rows", threads: B * L, shape + [.i(config.nRefresh), thr, .floats(rows)])
        try launch("cal_pass1_steps", threads: L, [.floats(rows), .i(B), .i(L), .floats(steps)])
        let s = try device.download(steps, count: 4 * L, as: Float.self)
        let counts = s[(3 * L)...].reduce(Int64(0)) { $0 + Int64($1.bitPattern) }
        var p = Pass1Point(maxAbs: Array(s[0..<L]), lo: spec.asymmetric ? Array(s[L..<(2 * L)]) : [],
                           hi: spec.asymmetric ? Array(s[(2 * L)..<(3 * L)]) : [],
                           outlierEntries: counts, entries: Int64(B * L * C), channelMax: [], channelMin: [], channelAbsSum: nil)
        if config.method == .staticOutlierList {
            let ext = try arena.floats(2 * L * C), sums = try arena.floats(2 * C)
            try launch("cal_channel_extremes", threads: L * C, shape + [.floats(ext)])
            try launch("cal_channel_abs_sums", threads: C, shape + [.floats(sums)])
            let e = try device.download(ext, count: 2 * L * C, as: Float.self)
            p.channelMax = Array(e[0..<(L * C)]); p.channelMin = Array(e[(L * C)...])
            p.channelAbsSum = BlockOrderedSum(block: 0, values: try device.download(sums, count: C, as: Double.self))
        }
        return p
    }

    private func collectPass2(_ spec: PointSpec, _ shape: [GPUArg], _ thr: GPUArg, _ bounds: PointBounds,
                              B: Int, L: Int, _ arena: GPUArena) throws -> [Double] {
        let C = spec.channels, n = config.candidates, bits = config.setting.inlierBits
        var fixed = GPUArg.pointer(0)
        if config.method == .staticOutlierList {
            var mask = [Float](repeating: 0, count: C)
            for c in bounds.fixed { mask[Int(c)] = Float(bitPattern: 1) }
            let m = try arena.floats(C)
            try device.upload(mask, to: m)
            fixed = .floats(m)
        }
        let xs = try arena.floats(B * L * C)
        try launch("cal_inliers", threads: B * L * C, shape + [.i(config.nRefresh), thr, fixed, .floats(xs)])
        // The candidate quantizers of every step, as the host search builds them.
        let (scales, zeros) = bounds.candidateQuantizers(asymmetric: spec.asymmetric, count: n, bits: bits)
        let top = Double(spec.asymmetric ? Quantizer.levels(bits: bits) : Quantizer.qmax(bits: bits))
        let partial = try arena.floats(2 * L * n * B), sums = try arena.floats(2 * L * n)
        try launch("cal_pass2_partial", threads: L * n * B,
                   [.floats(xs), .i(C), .i(B), .i(L), .i(n), .floats(try upload(scales.map(Double.init), arena)),
                    spec.asymmetric ? .floats(try upload(zeros.map(Double.init), arena)) : .pointer(0), .floats(try upload([0, top], arena)),
                    .floats(partial)])
        try launch("cal_pass2_sums", threads: L * n, [.floats(partial), .i(B), .i(L * n), .floats(sums)])
        return try device.download(sums, count: L * n, as: Double.self)
    }
}
