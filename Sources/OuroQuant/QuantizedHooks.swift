import OuroSupport
import OuroEngine
import OuroModel

/// Run-time outlier statistics per point (`method.md` §4.5 "Reported").
public struct OutlierReport: Equatable, Sendable {
    /// Entries (sample, step, channel) in the list in force, and entries seen, per layout index.
    public var outlierEntries: [Int64]
    public var entries: [Int64]
    /// Σ list sizes at the last step of each window, and the number of windows.
    public var windowEndSum: [Int64]
    public var windows: [Int64]

    public init(points: Int) {
        outlierEntries = [Int64](repeating: 0, count: points); entries = outlierEntries
        windowEndSum = outlierEntries; windows = outlierEntries
    }

    /// Fraction of outlier entries of a point.
    public func fraction(_ i: Int) -> Double { entries[i] == 0 ? 0 : Double(outlierEntries[i]) / Double(entries[i]) }
    /// Mean list size at the end of a window.
    public func meanListSize(_ i: Int) -> Double { windows[i] == 0 ? 0 : Double(windowEndSum[i]) / Double(windows[i]) }

    /// The statistics of `other`'s run added to these (integer counts: any order gives the same).
    public mutating func add(_ other: OutlierReport) {
        precondition(entries.count == other.entries.count, "OutlierReport: reports of different layouts")
        for i in entries.indices {
            outlierEntries[i] += other.outlierEntries[i]; entries[i] += other.entries[i]
            windowEndSum[i] += other.windowEndSum[i]; windows[i] += other.windows[i]
        }
    }
}

/// Quantizes every point of a forward pass. The inputs of the quantized linears are not
/// modified: their outlier lists wait for `linear`, which computes the layer from the levels
/// (`.sim`: float32 sgemm over the integer levels; `.int`: the packed integer kernels). Both
/// follow method.md §4.9 with the same arithmetic, so the engines agree bit for bit. The other
/// points (Δ, B, C) are fake-quantized in place. Each sample is processed on its own, so results
/// never depend on the batch.
public final class QuantizedHooks: ForwardHooks {
    public let engine: QuantEngine
    let layout: QuantLayout
    let quantizers: [PointQuantizer]
    let nRefresh: Int
    let threads: Int
    let runner: ParallelRunner
    /// Per layer and linear: packed weights (`.int`) or float levels (`.sim`).
    private var packed: [[LinearKindKey: PackedWeights]] = []
    private var levels: [[LinearKindKey: LevelWeights]] = []
    /// Outlier columns of the linear inputs seen by `activation`, waiting for `linear`.
    private var pending: [Int: OutlierColumns] = [:]
    /// Per-row list sizes and list slots of the last `activation` call (reused).
    private var counts: [Int32] = []
    private var slots: [Int32] = []
    /// Outlier statistics of everything run through these hooks.
    public private(set) var report: OutlierReport
    /// The first failure of a quantized linear (the forward then used float for that linear).
    public private(set) var error: Error?
    /// When set, `observe(index, sample, step, channels)` sees every list in force (ascending
    /// channels; tests, reports).
    public var observer: ((Int, Int, Int, [Int]) -> Void)?
    /// Whether the Δ points take the fused softplus where the kernels offer it (`deltaSoftplus`);
    /// false runs the separate softplus (the tests compare the two).
    public var fusesDeltaSoftplus = true

    public var modifiesLinearInputs: Bool { false }
    /// Detection and the quantized linears are per sample; with the float GEMMs per image too,
    /// an image's logits are the same in any batch (method.md §4.5).
    public var perImageFloatGEMMs: Bool { true }

    init(model: QuantizedModel, engine: QuantEngine, threads: Int) throws {
        self.engine = engine; self.threads = threads; runner = ParallelRunner(threads: threads)
        layout = QuantLayout(model.config); quantizers = model.pointQuantizers(); nRefresh = model.quant.nRefresh
        report = OutlierReport(points: layout.points.count)
        let s = model.quant.setting
        switch engine {
        case .int:
            if let why = s.unsupported(by: .int) { throw QuantError(why) }
            packed = try model.layers.map { q in
                var m: [LinearKindKey: PackedWeights] = [:]
                for k in LinearKindKey.all { m[k] = try q.matrix(k.kind).packed() }
                return m
            }
        case .sim:
            levels = model.layers.map { q in
                var m: [LinearKindKey: LevelWeights] = [:]
                for k in LinearKindKey.all { m[k] = LevelWeights(q.matrix(k.kind)) }
                return m
            }
        }
    }

    /// Hooks for another lane of the same model and engine (`QuantizedModel.laneHooks`): they
    /// share `other`'s packed or level weights instead of preparing them again, and keep their
    /// own lists, report and error.
    init(sharingWeightsOf other: QuantizedHooks, threads: Int) {
        engine = other.engine; self.threads = threads; runner = ParallelRunner(threads: threads)
        layout = other.layout; quantizers = other.quantizers; nRefresh = other.nRefresh
        report = OutlierReport(points: layout.points.count)
        packed = other.packed; levels = other.levels
        fusesDeltaSoftplus = other.fusesDeltaSoftplus
    }

    public func activation(_ point: ActivationPoint, layer: Int, _ view: ActivationView) {
        quantize(point, layer: layer, view, softplus: nil)
    }

    /// The Δ points on the AVX-512 path with at most 4 inlier bits (W4A4): fake quantization and
    /// the softplus of the scan in one pass, inliers through a table of softplus at the step's
    /// levels (the same bits as the separate softplus).
    public func deltaSoftplus(_ point: ActivationPoint, layer: Int, _ view: ActivationView, delta: UnsafeMutablePointer<Float>,
                              ldDelta: Int) -> Bool {
        let idx = layout.index(layer: layer, point)
        guard fusesDeltaSoftplus, !layout.points[idx].feedsLinear, quantizers[idx].fusesSoftplus() else { return false }
        quantize(point, layer: layer, view, softplus: (delta, ldDelta))
        return true
    }

    private func quantize(_ point: ActivationPoint, layer: Int, _ view: ActivationView,
                          softplus: (out: UnsafeMutablePointer<Float>, ld: Int)?) {
        let idx = layout.index(layer: layer, point)
        let spec = layout.points[idx], q = quantizers[idx], L = view.length, C = spec.channels
        let rows = view.batch * L, wantLists = spec.feedsLinear || observer != nil
        if counts.count < rows { counts = [Int32](repeating: 0, count: rows) }
        if wantLists, slots.count < rows * C { slots = [Int32](repeating: 0, count: rows * C) }
        counts.withUnsafeMutableBufferPointer { cb in
        slots.withUnsafeMutableBufferPointer { sb in
            let cp = cb.baseAddress!, sp = wantLists ? sb.baseAddress : nil
            // One call per thread's share of the samples, so that detection steps their windows together.
            runner.forEachChunk(view.batch, chunks: runner.threads) { range in
                let b = range.lowerBound
                if let softplus {
                    q.runSoftplus(view.row(b, 0), ld: view.ld, length: L, samples: range.count, sampleStride: L * view.ld,
                                  reversed: spec.reversed, counts: cp + b * L, lists: sp.map { $0 + b * L * C },
                                  softplus: softplus.out + b * L * softplus.ld, ldSoftplus: softplus.ld,
                                  softplusSampleStride: L * softplus.ld)
                } else {
                    q.run(view.row(b, 0), ld: view.ld, length: L, samples: range.count, sampleStride: L * view.ld,
                          reversed: spec.reversed, apply: !spec.feedsLinear, counts: cp + b * L, lists: sp.map { $0 + b * L * C })
                }
            }
            var outl: Int64 = 0, wEnd: Int64 = 0, wins: Int64 = 0
            for b in 0..<view.batch where L > 0 {
                let sample = cp + b * L
                for r in 0..<L { outl += Int64(sample[r]) }
                // The last step of every window (steps nRefresh − 1, 2·nRefresh − 1, …, and L − 1),
                // found by stepping rather than by a remainder on every row.
                var t = nRefresh - 1
                while t < L - 1 {
                    wEnd += Int64(sample[spec.reversed ? L - 1 - t : t]); wins += 1
                    t += nRefresh
                }
                wEnd += Int64(sample[spec.reversed ? 0 : L - 1]); wins += 1
            }
            report.outlierEntries[idx] += outl
            report.entries[idx] += Int64(rows * C)
            report.windowEndSum[idx] += wEnd; report.windows[idx] += wins
            if let observer, let sp {
                for b in 0..<view.batch {
                    for t in 0..<L {
                        let r = b * L + (spec.reversed ? L - 1 - t : t)
                        observer(idx, b, t, (0..<Int(cp[r])).map { Int(sp[r * C + $0]) })
                    }
                }
            }
            if spec.feedsLinear, let sp { pending[idx] = OutlierColumns(rows: rows, cols: C, counts: cp, slots: sp,
                                                                 windows: WindowNesting(length: L, refresh: nRefresh, reversed: spec.reversed)) }
        }}
    }

    public func linear(_ kind: LinearKind, layer: Int, input: ActivationView, output: UnsafeMutablePointer<Float>, ldOut: Int) -> Bool {
        let key = LinearKindKey(kind)
        let idx = layout.index(layer: layer, key.inputPoint)
        let spec = layout.points[idx], q = quantizers[idx], L = input.length
        guard let cols = pending.removeValue(forKey: idx) else {
            return fail("\(engine.rawValue) engine: no outlier lists for \(spec.name)")
        }
        var scales = [Float](repeating: 0, count: input.batch * L)
        for b in 0..<input.batch {
            for pos in 0..<L { scales[b * L + pos] = q.scale(spec.reversed ? L - 1 - pos : pos) }
        }
        // Both maps hold every layer and linear (built in init); a miss is a bug, reported
        // through `error` like every other failure here.
        switch engine {
        case .sim:
            guard let w = levels[layer][key] else { return fail("sim engine: no weights for layer \(layer) \(kind)") }
            SimulatedLinear.run(x: input.values, rows: input.batch * L, ldx: input.ld, weights: w, inlierScales: scales,
                                inlierBits: q.inlierBits, outliers: cols, outlierBits: q.outlierBits,
                                y: output, ldy: ldOut, runner: runner)
        case .int:
            guard let w = packed[layer][key] else { return fail("int engine: no weights for layer \(layer) \(kind)") }
            do {
                try MixedPrecisionGEMM.run(x: input.values, rows: input.batch * L, ldx: input.ld, weights: w, inlierScales: scales,
                                           inlierBits: q.inlierBits, outliers: cols, outlierBits: q.outlierBits,
                                           y: output, ldy: ldOut, threads: threads)
            } catch {
                if self.error == nil { self.error = error }
                return false
            }
        }
        return true
    }

    /// Records the first failure (the forward then uses float for that linear, and
    /// `QuantizedModel.logits` throws it) and declines the linear.
    private func fail(_ message: String) -> Bool {
        if error == nil { error = QuantError(message) }
        return false
    }
}

/// `LinearKind` as a dictionary key with its input point.
struct LinearKindKey: Hashable {
    let kind: LinearKind
    init(_ k: LinearKind) { kind = k }
    static let all: [LinearKindKey] = LayerTensor.linears.compactMap { $0.linear.map(LinearKindKey.init) }
    /// The point whose quantizer feeds this linear.
    var inputPoint: ActivationPoint {
        switch kind {
        case .inProj: return ActivationPoint(.input)
        case .outProj: return ActivationPoint(.out)
        case .xProj(let d): return ActivationPoint(.xproj, d)
        case .dtProj(let d): return ActivationPoint(.dtproj, d)
        }
    }
}
