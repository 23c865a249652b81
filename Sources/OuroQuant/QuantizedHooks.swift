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
}

/// Quantizes every point of a forward pass (simulated engine) and, with `.int`, computes the
/// quantized linears with the integer mixed-precision GEMM. Each sample is processed on its own,
/// so results never depend on the batch.
public final class QuantizedHooks: ForwardHooks {
    public let engine: QuantEngine
    let layout: QuantLayout
    let quantizers: [PointQuantizer]
    let nRefresh: Int
    let threads: Int
    /// Integer engine: packed weights per layer and linear, and the outlier columns of the
    /// linear inputs seen by `activation`, waiting for `linear`.
    private var packed: [[LinearKindKey: PackedWeights]] = []
    private var pending: [Int: OutlierColumns] = [:]
    /// Outlier statistics of everything run through these hooks.
    public private(set) var report: OutlierReport
    /// The first integer-kernel failure (the forward then used float for that linear).
    public private(set) var error: Error?
    /// When set, `observe(index, sample, step, list)` sees every list in force (tests, reports).
    public var observer: ((Int, Int, Int, OutlierList) -> Void)?

    init(model: QuantizedModel, engine: QuantEngine, threads: Int) throws {
        self.engine = engine; self.threads = threads
        layout = QuantLayout(model.config); quantizers = model.pointQuantizers(); nRefresh = model.quant.nRefresh
        report = OutlierReport(points: layout.points.count)
        if engine == .int {
            let s = model.quant.setting
            guard s.inlierBits == 4 || s.inlierBits == 8, s.outlierBits == 8 || s.outlierBits == 16 else {
                throw QuantError("--engine int supports inlier bits 4/8 and outlier bits 8/16, not \(s)")
            }
            packed = try model.layers.map { q in
                var m: [LinearKindKey: PackedWeights] = [:]
                for k in LinearKindKey.all { m[k] = try q.matrix(k.kind).packed() }
                return m
            }
        }
    }

    public func activation(_ point: ActivationPoint, layer: Int, _ view: ActivationView) {
        let idx = layout.index(layer: layer, point)
        let spec = layout.points[idx], q = quantizers[idx], L = view.length
        let integer = engine == .int && spec.feedsLinear
        var lists: [[Int]] = integer ? Array(repeating: [], count: view.batch * L) : []
        var outl: Int64 = 0, wEnd: Int64 = 0, wins: Int64 = 0
        for b in 0..<view.batch {
            q.run(length: L, apply: !integer, row: { t in view.row(b, spec.reversed ? L - 1 - t : t) }) { t, list in
                outl += Int64(list.count)
                if t % nRefresh == nRefresh - 1 || t == L - 1 { wEnd += Int64(list.count); wins += 1 }
                if integer, list.count > 0 { lists[b * L + (spec.reversed ? L - 1 - t : t)] = list.channels }
                observer?(idx, b, t, list)
            }
        }
        report.outlierEntries[idx] += outl
        report.entries[idx] += Int64(view.batch * L * spec.channels)
        report.windowEndSum[idx] += wEnd; report.windows[idx] += wins
        if integer {
            do { pending[idx] = try OutlierColumns(perRow: lists, cols: spec.channels) }
            catch { if self.error == nil { self.error = error } }
        }
    }

    public func linear(_ kind: LinearKind, layer: Int, input: ActivationView, output: UnsafeMutablePointer<Float>, ldOut: Int) -> Bool {
        guard engine == .int else { return false }
        let key = LinearKindKey(kind)
        let idx = layout.index(layer: layer, key.inputPoint)
        let spec = layout.points[idx], q = quantizers[idx], L = input.length
        guard let w = packed[layer][key], let cols = pending.removeValue(forKey: idx) else {
            if error == nil { error = QuantError("integer engine: no outlier lists for \(spec.name)") }
            return false
        }
        var scales = [Float](repeating: 0, count: input.batch * L)
        for b in 0..<input.batch {
            for pos in 0..<L { scales[b * L + pos] = q.scale(spec.reversed ? L - 1 - pos : pos) }
        }
        do {
            try MixedPrecisionGEMM.run(x: input.values, rows: input.batch * L, ldx: input.ld, weights: w, inlierScales: scales,
                                       inlierBits: q.inlierBits, outliers: cols, outlierBits: q.outlierBits,
                                       y: output, ldy: ldOut, threads: threads)
        } catch {
            if self.error == nil { self.error = error }
            return false
        }
        return true
    }
}

/// `LinearKind` as a dictionary key with its input point.
struct LinearKindKey: Hashable {
    let kind: LinearKind
    init(_ k: LinearKind) { kind = k }
    static let all: [LinearKindKey] = [.init(.inProj), .init(.outProj), .init(.xProj(.forward)), .init(.xProj(.backward)),
                                       .init(.dtProj(.forward)), .init(.dtProj(.backward))]
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
