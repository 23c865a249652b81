import ArgumentParser
import Foundation
import OuroCheckpoint
import OuroData
import OuroEngine
import OuroGen
import OuroModel
import OuroPipeline
import OuroQuant

/// `ouromamba compare`: calibration sources × methods × bit settings, top-1 on the test split.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run the quantization matrix and print/write the comparison tables (method.md §5).",
        discussion: """
        Rows: calibration sources; columns: methods × settings; cells: top-1 on the test split \
        (FP top-1 in the header). `syn:GENERATOR:N` sources are generated into DIR/samples/GENERATOR \
        (reused when already there with the same settings). Writes DIR/compare.md, DIR/compare.json, \
        DIR/report.json and DIR/report.html atomically.

        Example:
          ouromamba compare --calib-sources real:128,noise:128,syn:ouromamba:128 \\
              --limit 1000 --out runs/compare
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Comma-separated calibration sources (DIR, real:N, real:N@DATASET, noise:N, syn:GENERATOR:N).",
            transform: { try parseList($0, parseCalib).joined(separator: ",") })
    var calibSources = "real:128,noise:128"
    @Option(name: .long, help: ArgumentHelp("Comma-separated methods (\(QuantMethod.allCases.map(\.rawValue).joined(separator: ", "))).",
                                            valueName: "methods"),
            transform: { try parseList($0) { s in try usage { try QuantMethod(parsing: s) } } })
    var methods: [QuantMethod] = [.staticMinmax, .staticPerToken, .staticOutlierList, .ouromamba]
    @Option(name: .long, help: "Comma-separated bit settings (w4a4, w4a8, w8a8 or wXaYoZ).", transform: { try parseList($0, parseSetting) })
    var settings: [QuantSetting] = [.w4a4, .w4a8, .w8a8]
    @Option(name: .long, help: "Evaluate on the first N images.") var limit: Int?
    @OptionGroup var dataset: DataOptions
    @Option(name: .long, help: "Engine of the quantized models.") var engine: QuantEngine = .sim
    @Option(name: .long, help: "Images per forward batch.") var batch = 64
    @Option(name: .long, help: "Seed of real:N / noise:N sources.") var seed: UInt64 = 0
    @OptionGroup var synthetic: SyntheticSourceOptions
    @Option(name: .long, help: "Layer shown in the report's attention and outlier figures (default: middle).") var reportLayer: Int?
    @Option(name: .long, help: "Images of --data that form the reference set of the data-quality diagnostic (the first N readable ones).")
    var referenceImages = 128
    @Option(name: .long, help: "Run folder: compare.md, compare.json, report.json, report.html, samples/.") var out: String
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
        // Refuse before any calibration what the engine cannot run (the format table decides).
        if let why = settings.lazy.compactMap({ $0.unsupported(by: engine) }).first { throw ValidationError(why) }
    }

    /// Generates (or reuses) a `syn:GENERATOR:N` sample set in `out/samples/GENERATOR`.
    func syntheticSource(_ src: String, modelSHA256: String, driver: PipelineDriver, console: Console) throws -> (String, Tensor, Double?) {
        let source = try clusterCLI { try CalibrationSource(parsing: src, seed: seed) }
        guard case .synthetic(let gk, let count, _) = source, let cfg = source.genConfig(base: synthetic.base) else {
            throw CLIError("calibration source '\(src)': not a syn:GENERATOR:N source")
        }
        let dir = out + "/samples/" + gk.rawValue
        // Reused only when it was made by this model with exactly this configuration.
        if let recorded = SampleSet.recorded(dir), recorded.config == cfg, recorded.modelSHA256 == modelSHA256,
           let existing = try? SampleSet.read(dir), existing.images.shape[0] == count {
            console.info("reusing \(dir)")
            return (gk.rawValue, existing.images, recorded.labelFidelity)
        }
        let (set, preds) = try clusterCLI { try driver.generate(cfg, directory: dir) }
        let fidelity = Double(zip(preds, set.labels).filter { $0 == $1 }.count) / Double(count)
        console.info(String(format: "generated %@: label fidelity %.1f%%", gk.rawValue, 100 * fidelity))
        return (gk.rawValue, set.images, fidelity)
    }

    /// Attention, outlier map, outlier fractions and scales for the report.
    func addFigures(_ r: inout ReportData, model m: VisionMamba, quantized q: QuantizedModel?, evalReport: OutlierReport?,
                    samples: Tensor?, test: any LabelledImageSource, norm: (mean: [Float], std: [Float]), threads: Int) throws {
        let layer = min(max(0, reportLayer ?? m.config.depth / 2), m.config.depth - 1)
        let x = try QuantEvaluation.firstImage(test, norm: norm, threads: threads)
        r.attention = try ReportCollector.attention(m, images: samples ?? x, image: 0, layer: layer, threads: threads)
        guard let q else { return }
        r.outlierMap = try ReportCollector.outlierMap(q, image: x, layer: layer, point: ActivationPoint(.out), threads: threads)
        r.calibrationOutlierFractions = ReportCollector.calibrationFractions(q)
        if let evalReport { r.evalOutlierFractions = ReportCollector.evalFractions(evalReport, config: m.config) }
        r.scales = ReportCollector.scales(q, layers: [0, m.config.depth - 1])
        r.notes.append("Figures use the OuroMamba W4A4 model calibrated on \(q.provenance.calibSource).")
    }

    struct Cell { var source: String, method: String, setting: String
        var top1: Double, agreement: Double, cosine: Double, outlier: Double, calibSeconds: Double }

    func run() throws {
        let threads = common.resolvedThreads()
        let console = common.console()
        let (m, path) = try model.load()
        let sha = try fileSHA256(path)
        // Gen and calibration run as the pipeline's phases, in this process.
        let runner = PipelineRunner(common: common)
        defer { runner.output.finish() }
        let driver = PipelineDriver(executor: InProcessExecutor(handler: JobWorker(model: m, modelSHA256: sha, threads: threads),
                                                                logger: runner.logger, onProgress: runner.progress),
                                    model: m, modelSHA256: sha, logger: runner.logger)
        let list = { (s: String) in s.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        let ms = methods, ss = settings
        let sources = list(calibSources)
        guard !sources.isEmpty else { throw CLIError("--calib-sources must be non-empty") }
        let test = try dataset.open(for: m.config)
        let norm = m.config.inputNormalization
        var timings: [ReportData.Timing] = []
        var t0 = Date()
        let requested = min(limit ?? test.count, test.count)
        let fp = try QuantEvaluation.fpLogits(m, dataset: test, count: requested, mean: norm.mean, std: norm.std, batch: batch, threads: threads)
        let n = fp.labels.count
        reportSkipped(fp.skipped, console: console)
        let fpLogits = fp.logits
        let fpTop1 = Evaluation.accuracy(logits: fpLogits, labels: fp.labels, classes: m.config.numClasses)
        timings.append(.init(phase: "FP evaluation", seconds: Date().timeIntervalSince(t0)))
        console.info(String(format: "FP top-1 %.2f%% on %d images of %@", 100 * fpTop1, n, dataset.data))
        var report = ReportData(title: "OuroMamba comparison", model: path, modelSHA256: sha,
                                configSummary: "D=\(m.config.embedDim), depth \(m.config.depth), L=\(m.config.seqLen), \(m.config.numClasses) classes",
                                testSet: dataset.data, testSamples: n, fpTop1: fpTop1)
        // The data-quality diagnostic: every calibration set against real images of --data.
        t0 = Date()
        let refPart = try test.read(Array(0..<min(requested, max(1, referenceImages))), threads: threads)
        let refImages = try refPart.images.batch(indices: Array(0..<refPart.images.count), mean: norm.mean, std: norm.std).images
        let refProfile = try cliQuant { try ActivationProfile.measure(model: m, images: refImages, threads: threads) }
        var quality = ReportData.DataQuality(reference: "\(dataset.data) (first \(refPart.images.count) images)", referenceImages: refPart.images.count,
                                             points: refProfile.points.map(\.name), referenceOutlierRate: refProfile.points.map(\.outlierRate),
                                             sets: [])
        timings.append(.init(phase: "data-quality reference profile", seconds: Date().timeIntervalSince(t0)))
        var cells: [Cell] = []
        let eng = engine
        var firstSynthetic: Tensor?
        var figureModel: QuantizedModel?, figureReport: OutlierReport?, figureSynthetic = false
        for src in sources {
            t0 = Date()
            let images: Tensor
            if src.hasPrefix("syn:") {
                let (gen, images_, fidelity) = try syntheticSource(src, modelSHA256: sha, driver: driver, console: console)
                images = images_
                report.sampleGrids.append(try ReportCollector.sampleGrid(images, model: m, generator: gen, fidelity: fidelity))
                if firstSynthetic == nil { firstSynthetic = images }
                timings.append(.init(phase: "samples \(src)", seconds: Date().timeIntervalSince(t0)))
            } else {
                images = try clusterCLI {
                    try CalibrationSource(parsing: src, seed: seed).load(for: m.config, transform: dataset.transform?.transform, threads: threads)
                }
                // A samples folder from `generate`: show it like a syn: source.
                if !src.hasPrefix("real:") && !src.hasPrefix("noise:"), let set = try? SampleSet.read(src) {
                    let meta = try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: src + "/meta.json"))) as? [String: Any]
                    report.sampleGrids.append(try ReportCollector.sampleGrid(set.images, model: m, generator: set.metadata["generator"] ?? src,
                                                                             fidelity: (meta?["label_fidelity"] as? NSNumber)?.doubleValue))
                    if firstSynthetic == nil { firstSynthetic = images }
                }
            }
            let profile = try cliQuant { try ActivationProfile.measure(model: m, images: images, threads: threads) }
            let ratios = try cliQuant { try profile.ratios(to: refProfile) }
            quality.sets.append(.init(source: src, images: profile.images, maxRatio: ratios.map(\.maxAbs), p999Ratio: ratios.map(\.p999),
                                      outlierRate: profile.points.map(\.outlierRate)))
            for method in ms {
                // Calibration depends on the method and the inlier bits only (calib_inputs = fp).
                var cache: [Int: ([CalibratedPoint], Double)] = [:]
                for s in ss {
                    let cfg = QuantConfig(setting: s, method: method)
                    if cache[s.inlierBits] == nil {
                        let tc = Date()
                        let r = try clusterCLI { try driver.calibrate(images: images, quant: cfg) }
                        cache[s.inlierBits] = (r, Date().timeIntervalSince(tc))
                        timings.append(.init(phase: "calibration \(src) \(method.rawValue) a\(s.inlierBits)", seconds: Date().timeIntervalSince(tc)))
                    }
                    let (r, secs) = cache[s.inlierBits]!
                    let q = try clusterCLI { try driver.assemble(quant: cfg, points: r, images: images, sourceName: src) }
                    let te = Date()
                    let e = try QuantEvaluation.run(fp: m, quantized: q, engine: eng, dataset: test, count: requested, mean: norm.mean,
                                                    std: norm.std, batch: batch, threads: threads, fpLogits: fpLogits)
                    timings.append(.init(phase: "evaluation \(src) \(method.rawValue) \(s)", seconds: Date().timeIntervalSince(te)))
                    console.info(String(format: "%@ %@ %@: top-1 %.2f%%, agreement %.2f%%, cosine %.4f", src, method.rawValue,
                                        s.description, 100 * e.top1, 100 * e.agreement, e.logitCosine))
                    cells.append(Cell(source: src, method: method.rawValue, setting: s.description, top1: e.top1,
                                      agreement: e.agreement, cosine: e.logitCosine, outlier: e.meanOutlierFraction, calibSeconds: secs))
                    report.results.append(.init(source: src, method: method.rawValue, setting: s.description, top1: e.top1,
                                                agreement: e.agreement, logitCosine: e.logitCosine))
                    // Figures come from OuroMamba W4A4, preferring synthetic calibration data.
                    let synthetic = !src.hasPrefix("real:") && !src.hasPrefix("noise:")
                    if method == .ouromamba && s == .w4a4 && (figureModel == nil || (synthetic && !figureSynthetic)) {
                        figureModel = q; figureReport = e.report; figureSynthetic = synthetic
                    }
                }
            }
        }
        try addFigures(&report, model: m, quantized: figureModel, evalReport: figureReport, samples: firstSynthetic,
                       test: test, norm: norm, threads: threads)
        report.timings = timings
        report.dataQuality = quality
        try ReportCollector.write(report, to: out)
        let md = markdown(cells, fpTop1: fpTop1, count: n, modelPath: path, sources: sources, methods: ms.map(\.rawValue),
                          settings: ss.map(\.description)) + Self.qualityMarkdown(quality)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try cliQuant { try AtomicFile.write(Array(md.utf8), to: out + "/compare.md") }
        var json: [String: Any] = [
            "model": path, "fp_top1": fpTop1, "test_samples": n, "test_set": dataset.data, "engine": engine.rawValue,
            "runs": cells.map { ["calib_source": $0.source, "method": $0.method, "setting": $0.setting, "top1": $0.top1,
                                 "agreement": $0.agreement, "logit_cosine": $0.cosine, "outlier_frac": $0.outlier,
                                 "calib_seconds": $0.calibSeconds] as [String: Any] }]
        dataset.addSkipped(fp.skipped, to: &json)
        json["data_quality"] = [
            "reference": quality.reference, "reference_images": quality.referenceImages, "points": quality.points,
            "reference_outlier_rate": quality.referenceOutlierRate,
            "sets": quality.sets.map { ["source": $0.source, "images": $0.images, "max_ratio": $0.maxRatio, "p999_ratio": $0.p999Ratio,
                                        "outlier_rate": $0.outlierRate] as [String: Any] }] as [String: Any]
        let bytes = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try cliQuant { try AtomicFile.write([UInt8](bytes), to: out + "/compare.json") }
        if common.json { Console.printJSON(json) } else { console.result(md) }
    }

    /// One row per calibration set: geometric means over the points of the range ratios to the
    /// reference, and the mean outlier rates.
    static func qualityMarkdown(_ q: ReportData.DataQuality) -> String {
        func gmean(_ v: [Double]) -> Double { Foundation.exp(v.map { Foundation.log(max($0, 1e-30)) }.reduce(0, +) / Double(max(1, v.count))) }
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(1, v.count)) }
        var s = "\n## Calibration data quality\n\nAgainst \(q.reference); geometric means over the \(q.points.count) points "
        s += "(1 = the reference's range; per point in report.html and compare.json).\n\n"
        s += "| calibration | p99.9 ratio | max ratio | points with p99.9 ratio outside [0.5, 2] | outlier rate (reference \(String(format: "%.2f%%", 100 * mean(q.referenceOutlierRate)))) |\n|---|---:|---:|---:|---:|\n"
        for set in q.sets {
            let off = set.p999Ratio.filter { $0 < 0.5 || $0 > 2 }.count
            s += String(format: "| %@ | %.3f | %.3f | %d / %d | %.2f%% |\n", set.source, gmean(set.p999Ratio), gmean(set.maxRatio), off,
                        set.p999Ratio.count, 100 * mean(set.outlierRate))
        }
        return s
    }

    /// Rows: sources; columns: methods × settings; cells: top-1 (agreement, cosine).
    func markdown(_ cells: [Cell], fpTop1: Double, count: Int, modelPath: String, sources: [String], methods: [String],
                  settings: [String]) -> String {
        var s = String(format: "# OuroMamba-Quant comparison (the project's OuroMamba)\n\nmodel `%@`, test set %@ (%d images), engine %@, FP top-1 **%.2f%%**\n\n",
                       modelPath, dataset.data, count, engine.rawValue, 100 * fpTop1)
        let cols = methods.flatMap { m in settings.map { (m, $0) } }
        s += "| calibration | " + cols.map { "\($0.0) \($0.1)" }.joined(separator: " | ") + " |\n"
        s += "|---|" + cols.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for src in sources {
            s += "| \(src) | " + cols.map { c in
                guard let cell = cells.first(where: { $0.source == src && $0.method == c.0 && $0.setting == c.1 }) else { return "–" }
                return String(format: "%.2f (%.1f, %.3f)", 100 * cell.top1, 100 * cell.agreement, cell.cosine)
            }.joined(separator: " | ") + " |\n"
        }
        s += "\nCells: top-1 % (agreement with FP %, mean logit cosine).\n"
        return s
    }
}
