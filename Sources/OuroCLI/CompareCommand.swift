import ArgumentParser
import Foundation
import OuroCheckpoint
import OuroData
import OuroEngine
import OuroModel
import OuroQuant

/// `ouromamba compare`: calibration sources × methods × bit settings, top-1 on the test split.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run the quantization matrix and print/write the comparison tables (method.md §5).",
        discussion: """
        Rows: calibration sources; columns: methods × settings; cells: top-1 on the test split
        (FP top-1 in the header). Writes DIR/compare.md and DIR/compare.json atomically.

        Example:
          ouromamba compare --calib-sources real:128,noise:128 --limit 1000 --out runs/compare
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Comma-separated calibration sources (DIR, real:N, noise:N).") var calibSources = "real:128,noise:128"
    @Option(name: .long, help: "Comma-separated methods.") var methods = "static-minmax,static-per-token,static-outlier-list,ouromamba"
    @Option(name: .long, help: "Comma-separated bit settings.") var settings = "w4a4,w4a8,w8a8"
    @Option(name: .long, help: "Evaluate on the first N test images.") var limit: Int?
    @Option(name: .long, help: "Dataset: fashion-mnist or fashion-mnist:DIR.") var data = "fashion-mnist"
    @Option(name: .long, help: "sim or int.") var engine = "sim"
    @Option(name: .long, help: "Images per forward batch.") var batch = 64
    @Option(name: .long, help: "Seed of real:N / noise:N sources.") var seed: UInt64 = 0
    @Option(name: .long, help: "Output folder for compare.md and compare.json.") var out: String
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
        if QuantEngine(rawValue: engine) == nil { throw ValidationError("--engine must be sim or int") }
    }

    struct Cell { var source: String, method: String, setting: String
        var top1: Double, agreement: Double, cosine: Double, outlier: Double, calibSeconds: Double }

    func run() throws {
        let threads = common.resolvedThreads()
        let console = common.console()
        let (m, path) = try model.load()
        let list = { (s: String) in s.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        let ms = try list(methods).map { s in try cliQuant { try QuantMethod(parsing: s) } }
        let ss = try list(settings).map { s in try cliQuant { try QuantSetting(parsing: s) } }
        let sources = list(calibSources)
        guard !ms.isEmpty, !ss.isEmpty, !sources.isEmpty else { throw CLIError("--methods, --settings and --calib-sources must be non-empty") }
        let test = try loadTestSplit(data)
        let n = min(limit ?? test.count, test.count)
        let norm = m.config.normalization(defaultMean: FashionMNIST.mean[0], defaultStd: FashionMNIST.std[0])
        let fp = try Evaluation.topOne(model: m, dataset: test, count: n, mean: norm.mean, std: norm.std, batch: batch, threads: threads)
        console.info(String(format: "FP top-1 %.2f%% on %d test images", 100 * fp.top1, n))
        var cells: [Cell] = []
        let eng = QuantEngine(rawValue: engine)!
        for src in sources {
            let images = try CalibrationSource(parsing: src, seed: seed).load(for: m.config)
            for method in ms {
                // Calibration depends on the method and the inlier bits only (calib_inputs = fp).
                var cache: [Int: (Calibrator.Result, Double)] = [:]
                for s in ss {
                    let cfg = QuantConfig(setting: s, method: method)
                    if cache[s.inlierBits] == nil {
                        let t0 = Date()
                        let r = try QuantPipeline.calibrate(model: m, config: cfg, images: images, threads: threads, console: console)
                        cache[s.inlierBits] = (r, Date().timeIntervalSince(t0))
                    }
                    let (r, secs) = cache[s.inlierBits]!
                    let q = try QuantPipeline.quantize(model: m, modelPath: path, config: cfg, images: images, sourceName: src,
                                                       threads: threads, console: console, calibration: r)
                    let e = try QuantEvaluation.run(fp: m, quantized: q, engine: eng, dataset: test, count: n, mean: norm.mean,
                                                    std: norm.std, batch: batch, threads: threads)
                    console.info(String(format: "%@ %@ %@: top-1 %.2f%%, agreement %.2f%%, cosine %.4f", src, method.rawValue,
                                        s.description, 100 * e.top1, 100 * e.agreement, e.logitCosine))
                    cells.append(Cell(source: src, method: method.rawValue, setting: s.description, top1: e.top1,
                                      agreement: e.agreement, cosine: e.logitCosine, outlier: e.meanOutlierFraction, calibSeconds: secs))
                }
            }
        }
        let md = markdown(cells, fpTop1: fp.top1, count: n, modelPath: path, sources: sources, methods: ms.map(\.rawValue),
                          settings: ss.map(\.description))
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try cliQuant { try AtomicFile.write(Array(md.utf8), to: out + "/compare.md") }
        let json: [String: Any] = [
            "model": path, "fp_top1": fp.top1, "test_samples": n, "test_set": data, "engine": engine,
            "runs": cells.map { ["calib_source": $0.source, "method": $0.method, "setting": $0.setting, "top1": $0.top1,
                                 "agreement": $0.agreement, "logit_cosine": $0.cosine, "outlier_frac": $0.outlier,
                                 "calib_seconds": $0.calibSeconds] as [String: Any] }]
        let bytes = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try cliQuant { try AtomicFile.write([UInt8](bytes), to: out + "/compare.json") }
        if common.json { Console.printJSON(json) } else { console.result(md) }
    }

    /// Rows: sources; columns: methods × settings; cells: top-1 (agreement, cosine).
    func markdown(_ cells: [Cell], fpTop1: Double, count: Int, modelPath: String, sources: [String], methods: [String],
                  settings: [String]) -> String {
        var s = String(format: "# OuroMamba-Quant comparison (the project's OuroMamba)\n\nmodel `%@`, test set %@ (%d images), engine %@, FP top-1 **%.2f%%**\n\n",
                       modelPath, data, count, engine, 100 * fpTop1)
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
