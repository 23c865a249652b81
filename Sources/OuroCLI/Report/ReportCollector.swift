import Foundation
import OuroCheckpoint
import OuroData
import OuroEngine
import OuroGen
import OuroModel
import OuroQuant

/// Builds the figures of a run report from models, samples and evaluations.
enum ReportCollector {
    /// First 32 images of a set as a de-normalised PNG grid.
    static func sampleGrid(_ images: Tensor, model: VisionMamba, generator: String, fidelity: Double?) throws -> ReportData.SampleGrid {
        let n = min(32, images.shape[0])
        let c = model.config
        let norm = c.normalization(defaultMean: 0, defaultStd: 1)
        let grid = try ImageGrid.make(images: images.slice(outer: 0, count: n), mean: norm.mean, std: norm.std,
                                      columns: min(16, n), scale: max(1, 56 / c.imageSize), padding: 2)
        return .init(generator: generator, png: Data(try grid.pngData()).base64EncodedString(), labelFidelity: fidelity)
    }

    static func attention(_ model: VisionMamba, images: Tensor, image: Int, layer: Int, threads: Int) throws -> ReportData.Attention {
        let a = try ImplicitAttention.maps(model: model, images: images, image: image, layer: layer, threads: threads)
        return .init(layer: layer, image: image, side: a.gridSide, standard: a.standardGrid, patched: a.patchedGrid)
    }

    /// Which channels are outliers at each step of `layer`.`point` for one image (dynamic lists).
    static func outlierMap(_ q: QuantizedModel, image: Tensor, layer: Int, point: ActivationPoint, threads: Int) throws -> ReportData.OutlierMap {
        let layout = QuantLayout(q.config)
        let idx = layout.index(layer: layer, point)
        let spec = layout.points[idx]
        let L = q.config.seqLen, C = spec.channels
        var mask = [UInt8](repeating: 0, count: L * C)
        let hooks = try q.hooks(engine: .sim, threads: threads)
        hooks.observer = { p, b, t, channels in
            guard p == idx, b == 0 else { return }
            for ch in channels { mask[t * C + ch] = 1 }
        }
        _ = try q.simulatedModel().logits(image, batchSize: 1, hooks: hooks, threads: threads)
        return .init(layer: layer, point: point.description, image: 0, channels: C, steps: L, nRefresh: q.quant.nRefresh, mask: mask)
    }

    /// Calibration outlier fractions per point kind, over layers.
    static func calibrationFractions(_ q: QuantizedModel) -> [ReportData.PointSeries] {
        let layout = QuantLayout(q.config)
        return ActivationPoint.all.map { pt in
            .init(point: pt.description, values: (0..<q.config.depth).map { q.points[layout.index(layer: $0, pt)].outlierFraction })
        }.filter { $0.values.contains { $0 > 0 } }
    }

    /// Test-time outlier fractions per point kind, over layers.
    static func evalFractions(_ report: OutlierReport, config: VisionMambaConfig) -> [ReportData.PointSeries] {
        let layout = QuantLayout(config)
        return ActivationPoint.all.map { pt in
            .init(point: pt.description, values: (0..<config.depth).map { report.fraction(layout.index(layer: $0, pt)) })
        }.filter { $0.values.contains { $0 > 0 } }
    }

    /// S^I(t) of every point of the given layers.
    static func scales(_ q: QuantizedModel, layers: [Int]) -> [ReportData.ScaleSeries] {
        let layout = QuantLayout(q.config)
        return layers.flatMap { l in
            ActivationPoint.all.map { pt in
                ReportData.ScaleSeries(layer: l, point: pt.description, scales: q.points[layout.index(layer: l, pt)].scales)
            }
        }
    }

    /// Writes report.json and report.html into `directory` (atomically).
    static func write(_ d: ReportData, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.keyEncodingStrategy = .convertToSnakeCase
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try cliQuant { try AtomicFile.write([UInt8](try enc.encode(d)), to: directory + "/report.json") }
        let html = try HTMLReport.render(d)
        try cliQuant { try AtomicFile.write(Array(html.utf8), to: directory + "/report.html") }
    }
}
