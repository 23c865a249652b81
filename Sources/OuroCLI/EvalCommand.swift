import ArgumentParser
import Foundation
import OuroData
import OuroEngine
import OuroModel
import OuroPipeline
import OuroQuant

/// `ouromamba eval`: top-1 on the test split.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Top-1 accuracy of a model on a labelled dataset (Fashion-MNIST test split, image folder or file list).",
        discussion: """
        Examples:
          ouromamba eval --json
          ouromamba eval --model vim_t_midclstok_76p1acc.pth \\
              --data imagefolder:/data/imagenet/val --json
          ouromamba eval --model models/vim-fashion.safetensors --limit 1000
          ouromamba eval --model M.safetensors --quantized q.safetensors \\
              --engine int --json
          ouromamba eval --quantized q.safetensors --engine int --quantized-only \\
              --limit 2000
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var dataset: DataOptions
    @Option(name: .long, help: "Evaluate only the first N images.") var limit: Int?
    @Option(name: .long, help: "Images per forward batch.") var batch = 64
    @Option(name: .long, help: "Quantized artifact from `quantize`: report its top-1, agreement with FP and logit cosine.")
    var quantized: String?
    @Flag(name: .long, help: "With --quantized: evaluate the quantized model alone (no FP forward, so no agreement or logit cosine).")
    var quantizedOnly = false
    @Option(name: .long, help: "Quantized engine: sim (float32 GEMM over the quantization levels), int (packed integer kernels), or both (compare them; they should agree bit for bit).")
    var engine: EngineChoice = .sim
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
        if quantizedOnly && quantized == nil { throw ValidationError("--quantized-only needs --quantized") }
        if quantizedOnly && engine == .both { throw ValidationError("--quantized-only runs one engine: --engine sim or int") }
        if batch < 1 { throw ValidationError("--batch must be ≥ 1") }
    }

    func run() throws {
        // The quantized engines are CPU kernels; the FP model runs on either device.
        let resolved = try device.resolve(command: quantized == nil ? "eval" : "eval --quantized", gpuImplemented: quantized == nil,
                                          console: common.console())
        let threads = common.resolvedThreads()
        let console = common.console()
        let (m, path) = try model.load()
        let test = try dataset.open(for: m.config)
        let n = min(limit ?? test.count, test.count)
        let norm = m.config.inputNormalization
        if let quantized {
            try runQuantized(m, modelPath: path, artifact: quantized, test: test, count: n, norm: norm, threads: threads, console: console)
            return
        }
        let started = Date()
        let bar = ProgressBar("eval", total: n, console: console)
        let progress = { (done: Int) in bar.update(done, unit: "img") }
        let result: Evaluation.TopOne
        if let gpu = try resolved.model(m) {
            result = try Evaluation.topOne(classes: m.config.numClasses, dataset: test, count: n, mean: norm.mean, std: norm.std,
                                           batch: batch, threads: threads, progress: progress) { try gpu.logits($0) }
        } else {
            result = try Evaluation.topOne(model: m, dataset: test, count: n, mean: norm.mean, std: norm.std,
                                           batch: batch, threads: threads, progress: progress)
        }
        let secs = Date().timeIntervalSince(started)
        if common.json {
            var o: [String: Any] = ["top1": result.top1, "samples": result.total, "correct": result.correct, "model": path,
                                    "seconds": secs, "device": resolved.backendName, "data": dataset.data]
            dataset.addSkipped(result.skipped, to: &o)
            Console.printJSON(o)
        } else {
            console.result(String(format: "top-1 %.2f%% (%d/%d) on %@, %.1f s", 100 * result.top1, result.correct, result.total,
                                  dataset.data, secs))
            reportSkipped(result.skipped, console: console)
        }
    }
}

extension EvalCommand {
    /// Runs the sim and int engines on the same images: top-1 of each, prediction differences,
    /// and per-image logit differences max|int − sim| / max|sim|.
    func compareEngines(_ q: QuantizedModel, test: any LabelledImageSource, count n: Int, norm: (mean: [Float], std: [Float]),
                        threads: Int, console: Console) throws {
        let sim = q.simulatedModel(), K = q.config.numClasses
        let hs = try cliQuant { try q.hooks(engine: .sim, threads: threads) }
        let hi = try cliQuant { try q.hooks(engine: .int, threads: threads) }
        var correct = [0, 0], differ = 0, above = 0, worst = 0.0, evaluated = 0
        let bar = ProgressBar("eval sim vs int", total: n, console: console)
        let skipped = try test.forEachInputBatch(count: n, batch: batch, threads: threads, mean: norm.mean, std: norm.std,
                                                 progress: { bar.update($0, unit: "img") }) { x, y in
            let c = y.count
            let zs = try sim.logits(x, batchSize: q.config.imagesPerForward, hooks: hs, threads: threads)
            let zi = try sim.logits(x, batchSize: q.config.imagesPerForward, hooks: hi, threads: threads)
            if let e = hi.error { throw CLIError("integer engine: \(e)") }
            for b in 0..<c {
                let a = zs.data[(b * K)..<((b + 1) * K)], d = zi.data[(b * K)..<((b + 1) * K)]
                let ps = argmax(a), pi = argmax(d)
                if ps == Int(y[b]) { correct[0] += 1 }
                if pi == Int(y[b]) { correct[1] += 1 }
                if ps != pi { differ += 1 }
                let den = Double(a.map { abs($0) }.max() ?? 0)
                let num = Double(zip(a, d).map { abs($0 - $1) }.max() ?? 0)
                let e = den > 0 ? num / den : num
                worst = max(worst, e)
                if e > 1e-4 { above += 1 }
            }
            evaluated += c
        }
        let t = correct.map { Double($0) / Double(max(evaluated, 1)) }
        if common.json {
            var o: [String: Any] = ["samples": evaluated, "top1_sim": t[0], "top1_int": t[1], "prediction_differences": differ,
                                    "max_logit_rel_diff": worst, "images_above_1e-4": above]
            dataset.addSkipped(skipped, to: &o)
            Console.printJSON(o)
        } else {
            console.result(String(format: "sim top-1 %.2f%%, int top-1 %.2f%%; predictions differ on %d of %d images; logits max|int−sim|/max|sim| = %.2e (above 1e-4 on %d images)",
                                  100 * t[0], 100 * t[1], differ, evaluated, worst, above))
            reportSkipped(skipped, console: console)
        }
    }

    /// Evaluates a quantized artifact against its FP model.
    func runQuantized(_ m: VisionMamba, modelPath: String, artifact: String, test: any LabelledImageSource, count n: Int,
                      norm: (mean: [Float], std: [Float]), threads: Int, console: Console) throws {
        let q = try cliQuant { try QuantArtifact.read(path: artifact) }
        try QuantEvaluation.checkSource(q, model: m, modelPath: modelPath, artifact: artifact)
        if engine == .both {
            try compareEngines(q, test: test, count: n, norm: norm, threads: threads, console: console)
            return
        }
        let eng = engine.engines[0]
        let started = Date()
        let bar = ProgressBar("eval \(q.quant.setting) \(eng.rawValue)", total: n, console: console)
        let r = try QuantEvaluation.run(fp: m, quantized: q, engine: eng, dataset: test, count: n, mean: norm.mean, std: norm.std,
                                        batch: batch, threads: threads, withFP: !quantizedOnly) { done in bar.update(done, unit: "img") }
        let secs = Date().timeIntervalSince(started)
        if common.json {
            var o: [String: Any] = ["top1": r.top1, "samples": r.samples, "engine": eng.rawValue, "quantized": artifact, "model": modelPath,
                                    "setting": q.quant.setting.description, "method": q.quant.method.rawValue,
                                    "outlier_frac": r.meanOutlierFraction, "seconds": secs, "data": dataset.data]
            if !quantizedOnly { o["agreement"] = r.agreement; o["logit_cosine"] = r.logitCosine; o["fp_top1"] = r.fpTop1 }
            dataset.addSkipped(r.skipped, to: &o)
            Console.printJSON(o)
        } else if quantizedOnly {
            console.result(String(format: "%@ %@ (%@ engine): top-1 %.2f%%, outlier fraction %.4f on %d images of %@, %.1f s (quantized model only)",
                                  q.quant.setting.description, q.quant.method.rawValue, eng.rawValue, 100 * r.top1, r.meanOutlierFraction,
                                  r.samples, dataset.data, secs))
            reportSkipped(r.skipped, console: console)
        } else {
            console.result(String(format: "%@ %@ (%@ engine): top-1 %.2f%% (FP %.2f%%), agreement %.2f%%, logit cosine %.4f, outlier fraction %.4f on %d images of %@, %.1f s",
                                  q.quant.setting.description, q.quant.method.rawValue, eng.rawValue, 100 * r.top1, 100 * r.fpTop1,
                                  100 * r.agreement, r.logitCosine, r.meanOutlierFraction, r.samples, dataset.data, secs))
            reportSkipped(r.skipped, console: console)
        }
    }
}

/// Says how many images --skip-bad left out, and which (the first few; --json lists all).
func reportSkipped(_ bad: [BadImage], console: Console) {
    guard !bad.isEmpty else { return }
    console.notice("skipped \(bad.count) bad image\(bad.count == 1 ? "" : "s") or folders (--skip-bad):")
    for b in bad.prefix(10) { console.notice("  \(b)") }
    if bad.count > 10 { console.notice("  … and \(bad.count - 10) more (see --json)") }
}
