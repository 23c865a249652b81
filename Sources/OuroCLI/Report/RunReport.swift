import Foundation
import OuroData
import OuroEngine
import OuroGen
import OuroModel
import OuroPipeline
import OuroQuant

/// The run folder of `quantize`: FP vs quantized evaluation plus report.json and report.html
/// beside the artifact.
enum RunReport {
    struct Summary { var fpTop1: Double, top1: Double, agreement: Double, cosine: Double, samples: Int }

    static func write(model m: VisionMamba, modelPath: String, quantized q: QuantizedModel, artifact: String,
                      samplesDirectory: String?, data: DataOptions, limit: Int?, threads: Int, console: Console,
                      timings: [ReportData.Timing], workers: [ReportData.WorkerTiming] = []) throws -> Summary {
        let test = try data.open(for: m.config)
        let n = min(limit ?? test.count, test.count)
        let norm = m.config.inputNormalization
        let t0 = Date()
        let bar = ProgressBar("evaluate FP vs quantized", total: n, console: console)
        let e = try QuantEvaluation.run(fp: m, quantized: q, engine: .sim, dataset: test, count: n, mean: norm.mean, std: norm.std,
                                        batch: 64, threads: threads) { bar.update($0, unit: "img") }
        reportSkipped(e.skipped, console: console)
        var d = ReportData(title: "OuroMamba \(q.quant.setting) \(q.quant.method.rawValue)", model: modelPath,
                           modelSHA256: q.provenance.modelSHA256,
                           configSummary: "D=\(m.config.embedDim), depth \(m.config.depth), L=\(m.config.seqLen), \(m.config.numClasses) classes",
                           testSet: data.data, testSamples: e.samples, fpTop1: e.fpTop1)
        d.results = [.init(source: q.provenance.calibSource, method: q.quant.method.rawValue, setting: q.quant.setting.description,
                           top1: e.top1, agreement: e.agreement, logitCosine: e.logitCosine)]
        let layer = m.config.depth / 2
        var attentionInput: Tensor?
        if let dir = samplesDirectory, let s = try? SampleSet.read(dir) {
            let meta = try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/meta.json"))) as? [String: Any]
            d.sampleGrids = [try ReportCollector.sampleGrid(s.images, model: m, generator: s.metadata["generator"] ?? "samples",
                                                            fidelity: (meta?["label_fidelity"] as? NSNumber)?.doubleValue)]
            attentionInput = s.images
        }
        let x0 = try QuantEvaluation.firstImage(test, norm: norm, threads: threads)
        d.attention = try ReportCollector.attention(m, images: attentionInput ?? x0, image: 0, layer: layer, threads: threads)
        d.outlierMap = try ReportCollector.outlierMap(q, image: x0, layer: layer, point: ActivationPoint(.out), threads: threads)
        d.calibrationOutlierFractions = ReportCollector.calibrationFractions(q)
        d.evalOutlierFractions = ReportCollector.evalFractions(e.report, config: m.config)
        d.scales = ReportCollector.scales(q, layers: [0, m.config.depth - 1])
        d.timings = timings + [.init(phase: "evaluation (\(e.samples) images)", seconds: Date().timeIntervalSince(t0))]
        d.workers = workers
        let dir = URL(fileURLWithPath: artifact).deletingLastPathComponent().path
        try ReportCollector.write(d, to: dir)
        return Summary(fpTop1: e.fpTop1, top1: e.top1, agreement: e.agreement, cosine: e.logitCosine, samples: e.samples)
    }

    /// The FP vs quantized table printed at the end of `quantize`.
    static func table(_ s: Summary, setting: String, method: String) -> String {
        """
        | model | top-1 | agreement with FP | logit cosine |
        |---|---:|---:|---:|
        | FP32 | \(String(format: "%.2f%%", 100 * s.fpTop1)) | — | — |
        | \(setting) \(method) | \(String(format: "%.2f%%", 100 * s.top1)) | \(String(format: "%.2f%%", 100 * s.agreement)) | \(String(format: "%.4f", s.cosine)) |
        """
    }
}
