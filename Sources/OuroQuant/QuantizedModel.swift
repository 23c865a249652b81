import OuroEngine
import OuroModel

/// Which engine computes the quantized linears.
public enum QuantEngine: String, CaseIterable, Sendable {
    /// Float fake quantization (the reference).
    case sim
    /// Integer mixed-precision GEMM (`MixedPrecisionGEMM`) for every quantized linear.
    case int
}

/// Where a quantized model came from (artifact metadata).
public struct QuantProvenance: Equatable, Sendable {
    public var calibSource: String
    public var calibCount: Int
    /// SHA-256 of the calibration tensor's float32 little-endian bytes.
    public var calibSHA256: String
    /// SHA-256 of the source checkpoint file.
    public var modelSHA256: String
    public var toolVersion: String

    public init(calibSource: String, calibCount: Int, calibSHA256: String, modelSHA256: String,
                toolVersion: String = OuroQuantVersion.string) {
        self.calibSource = calibSource; self.calibCount = calibCount; self.calibSHA256 = calibSHA256
        self.modelSHA256 = modelSHA256; self.toolVersion = toolVersion
    }
}

/// Version of this quantization toolkit (recorded in artifacts).
public enum OuroQuantVersion {
    public static let string = "ouromamba-quant 0.1.0"
}

/// A quantized Vision Mamba: FP parts, quantized linears, Â/D̂ and calibrated points.
public struct QuantizedModel: Sendable {
    public var config: VisionMambaConfig
    public var quant: QuantConfig
    /// Every FP parameter that stays FP. The entries of quantized tensors are unused.
    public var fp: VisionMambaWeights
    public var layers: [QuantizedLayer]
    /// By `QuantLayout` index.
    public var points: [CalibratedPoint]
    public var provenance: QuantProvenance

    public init(config: VisionMambaConfig, quant: QuantConfig, fp: VisionMambaWeights, layers: [QuantizedLayer],
                points: [CalibratedPoint], provenance: QuantProvenance) throws {
        self.config = config; self.quant = quant; self.fp = fp; self.layers = layers; self.points = points
        self.provenance = provenance
        try checkCoverage()
    }

    /// Quantizes `model`'s weights (layer by layer) and combines them with calibrated points.
    public static func assemble(model: VisionMamba, quant: QuantConfig, points: [CalibratedPoint],
                                provenance: QuantProvenance) throws -> QuantizedModel {
        let layers = model.weights.layers.map {
            QuantizedLayer.quantize($0, config: model.config, weightBits: quant.setting.weightBits, adBits: quant.adBits,
                                    candidates: quant.candidates)
        }
        return try QuantizedModel(config: model.config, quant: quant, fp: model.weights, layers: layers, points: points,
                                  provenance: provenance)
    }

    /// Coverage check (`method.md` §4.10): all depth × 6 linears, Â/D̂ of both directions and
    /// every point of every layer and direction carry consistent parameters.
    public func checkCoverage() throws {
        let c = config, L = c.seqLen
        let layout = QuantLayout(c)
        guard layers.count == c.depth else { throw QuantError("coverage: \(layers.count) quantized layers, the model has \(c.depth)") }
        for (l, q) in layers.enumerated() {
            func check(_ m: QuantizedMatrix, _ name: String, _ r: Int, _ k: Int, _ bits: Int) throws {
                guard m.rows == r, m.cols == k, m.bits == bits, m.values.count == r * k, m.scales.count == r else {
                    throw QuantError("coverage: layer \(l) \(name) is \(m.rows)×\(m.cols) at \(m.bits) bits, expected \(r)×\(k) at \(bits)")
                }
                if let i = m.scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                    throw QuantError("coverage: layer \(l) \(name) row \(i) has scale \(m.scales[i])")
                }
            }
            guard q.xProj.count == 2, q.dtProj.count == 2, q.a.count == 2, q.d.count == 2 else {
                throw QuantError("coverage: layer \(l) lacks a scan direction")
            }
            for t in LayerTensor.all {
                let (rows, cols) = t.shape(c)
                try check(q[keyPath: t.keyPath], t.name, rows, cols, t.bitWidth(quant))
            }
        }
        guard points.count == layout.points.count else {
            throw QuantError("coverage: \(points.count) calibrated points, the model has \(layout.points.count)")
        }
        let perPoint = quant.method == .staticMinmax ? 1 : L
        for (i, spec) in layout.points.enumerated() {
            let p = points[i]
            guard p.scales.count == perPoint else {
                throw QuantError("coverage: \(spec.name) has \(p.scales.count) scales, expected \(perPoint)")
            }
            if let j = p.scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                throw QuantError("coverage: \(spec.name) scale \(j) is \(p.scales[j])")
            }
            guard p.zeros.count == (spec.asymmetric ? perPoint : 0) else {
                throw QuantError("coverage: \(spec.name) has \(p.zeros.count) zero points, expected \(spec.asymmetric ? perPoint : 0)")
            }
            let lv = Int32(Quantizer.levels(bits: quant.setting.inlierBits))
            if let z = p.zeros.first(where: { $0 < 0 || $0 > lv }) { throw QuantError("coverage: \(spec.name) zero point \(z) outside 0…\(lv)") }
            if let f = p.fixed.first(where: { $0 < 0 || Int($0) >= spec.channels }) {
                throw QuantError("coverage: \(spec.name) fixed outlier channel \(f) outside 0..<\(spec.channels)")
            }
            if quant.method != .staticOutlierList, !p.fixed.isEmpty { throw QuantError("coverage: \(spec.name) has a fixed list under \(quant.method.rawValue)") }
        }
    }

    /// The FP architecture running the dequantized weights Ŵ = s·q, Â and D̂ (the simulated
    /// model; activations are quantized by the hooks).
    public func simulatedModel() -> VisionMamba {
        var w = fp
        for (l, q) in layers.enumerated() {
            for t in LayerTensor.all { t.restore(&w.layers[l], q[keyPath: t.keyPath].dequantized()) }
        }
        return VisionMamba(config: config, weights: w)
    }

    /// Run-time quantizers of every point (by layout index).
    public func pointQuantizers() -> [PointQuantizer] {
        let layout = QuantLayout(config), s = quant.setting
        return layout.points.enumerated().map { i, spec in
            let p = points[i]
            let outliers: PointQuantizer.Outliers
            switch quant.method {
            case .ouromamba:
                outliers = .dynamic(lambda: QuantLayout.lambda(spec, quant), nRefresh: quant.nRefresh, stats: quant.outlierStats)
            case .staticOutlierList: outliers = .fixed(p.fixed)
            case .staticMinmax, .staticPerToken: outliers = .none
            }
            return PointQuantizer(channels: spec.channels, asymmetric: spec.asymmetric, scales: p.scales, zeros: p.zeros,
                                  inlierBits: s.inlierBits, outlierBits: s.outlierBits, outliers: outliers)
        }
    }

    /// Forward hooks that quantize every point (and, for `.int`, run the linears on integers).
    public func hooks(engine: QuantEngine, threads: Int = Hardware.cores) throws -> QuantizedHooks {
        try QuantizedHooks(model: self, engine: engine, threads: threads)
    }

    /// Quantized logits of a batch, with the outlier report of this run. The chunks of
    /// `batchSize` images run side by side on lanes (`VisionMamba.logits(_:batchSize:laneHooks:threads:)`),
    /// each lane with its own hooks; the logits and the report do not depend on the lanes.
    public func logits(_ x: Tensor, engine: QuantEngine = .sim, batchSize: Int = 8,
                       threads: Int = Hardware.cores) throws -> (logits: Tensor, report: OutlierReport) {
        let lanes = try laneHooks(engine: engine, images: x.shape.first ?? 0, batchSize: batchSize, threads: threads)
        let y = try simulatedModel().logits(x, batchSize: batchSize, laneHooks: lanes, threads: threads)
        return (y, try QuantizedModel.report(of: lanes))
    }

    /// One set of hooks per lane of `VisionMamba.logits` for `images` images, each for its share
    /// of the threads; the weights are prepared once and shared.
    public func laneHooks(engine: QuantEngine, images: Int, batchSize: Int, threads: Int) throws -> [QuantizedHooks] {
        let lanes = VisionMamba.lanes(images: images, batchSize: batchSize, threads: threads), each = max(1, threads / lanes)
        let first = try hooks(engine: engine, threads: each)
        return [first] + (1..<lanes).map { _ in QuantizedHooks(sharingWeightsOf: first, threads: each) }
    }

    /// The lanes' outlier reports added up; throws the first lane's failure.
    public static func report(of lanes: [QuantizedHooks]) throws -> OutlierReport {
        for h in lanes { if let e = h.error { throw e } }
        return lanes.dropFirst().reduce(into: lanes[0].report) { $0.add($1.report) }
    }
}
