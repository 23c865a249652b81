import ArgumentParser
import Foundation
import OuroData
import OuroEngine
import OuroModel
import OuroQuant

/// `ouromamba eval`: top-1 on the test split.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Top-1 accuracy of a model on the Fashion-MNIST test split.",
        discussion: """
        Examples:
          ouromamba eval --json
          ouromamba eval --model models/vim-fashion.safetensors --limit 1000
          ouromamba eval --model M.safetensors --quantized q.safetensors --engine int --json
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Dataset: fashion-mnist or fashion-mnist:DIR.") var data = "fashion-mnist"
    @Option(name: .long, help: "Evaluate only the first N test images.") var limit: Int?
    @Option(name: .long, help: "Images per forward batch.") var batch = 64
    @Option(name: .long, help: "Quantized artifact from `quantize`: report its top-1, agreement with FP and logit cosine.")
    var quantized: String?
    @Option(name: .long, help: "Quantized engine: sim (float32 GEMM over the quantization levels), int (packed integer kernels), or both (compare them; they should agree bit for bit).")
    var engine: EngineChoice = .sim
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
        if batch < 1 { throw ValidationError("--batch must be ≥ 1") }
    }

    func run() throws {
        // The quantized engines are CPU kernels; the FP model runs on either device.
        let resolved = try device.resolve(command: quantized == nil ? "eval" : "eval --quantized", gpuImplemented: quantized == nil,
                                          console: common.console())
        let threads = common.resolvedThreads()
        let console = common.console()
        let (m, path) = try model.load()
        let test = try loadTestSplit(data)
        let n = min(limit ?? test.count, test.count)
        let norm = m.config.normalization(defaultMean: FashionMNIST.mean[0], defaultStd: FashionMNIST.std[0])
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
                                           batch: batch, progress: progress) { try gpu.logits($0) }
        } else {
            result = try Evaluation.topOne(model: m, dataset: test, count: n, mean: norm.mean, std: norm.std,
                                           batch: batch, threads: threads, progress: progress)
        }
        let secs = Date().timeIntervalSince(started)
        if common.json {
            Console.printJSON(["top1": result.top1, "samples": n, "correct": result.correct, "model": path,
                               "seconds": secs, "device": resolved.backendName])
        } else {
            console.result(String(format: "top-1 %.2f%% (%d/%d) on %@ test, %.1f s", 100 * result.top1, result.correct, n,
                                  data, secs))
        }
    }
}

extension EvalCommand {
    /// Runs the sim and int engines on the same images: top-1 of each, prediction differences,
    /// and per-image logit differences max|int − sim| / max|sim|.
    func compareEngines(_ q: QuantizedModel, test: ImageDataset, count n: Int, norm: (mean: [Float], std: [Float]),
                        threads: Int, console: Console) throws {
        let sim = q.simulatedModel(), K = q.config.numClasses
        let hs = try cliQuant { try q.hooks(engine: .sim, threads: threads) }
        let hi = try cliQuant { try q.hooks(engine: .int, threads: threads) }
        var correct = [0, 0], differ = 0, above = 0, worst = 0.0
        var i = 0
        let bar = ProgressBar("eval sim vs int", total: n, console: console)
        while i < n {
            let c = min(batch, n - i)
            let (x, y) = try test.batch(indices: Array(i..<(i + c)), mean: norm.mean, std: norm.std)
            let zs = try sim.logits(x, batchSize: 16, hooks: hs, threads: threads)
            let zi = try sim.logits(x, batchSize: 16, hooks: hi, threads: threads)
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
            i += c
            bar.update(i, unit: "img")
        }
        let t = correct.map { Double($0) / Double(max(n, 1)) }
        if common.json {
            Console.printJSON(["samples": n, "top1_sim": t[0], "top1_int": t[1], "prediction_differences": differ,
                               "max_logit_rel_diff": worst, "images_above_1e-4": above])
        } else {
            console.result(String(format: "sim top-1 %.2f%%, int top-1 %.2f%%; predictions differ on %d of %d images; logits max|int−sim|/max|sim| = %.2e (above 1e-4 on %d images)",
                                  100 * t[0], 100 * t[1], differ, n, worst, above))
        }
    }

    /// Evaluates a quantized artifact against its FP model.
    func runQuantized(_ m: VisionMamba, modelPath: String, artifact: String, test: ImageDataset, count n: Int,
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
                                        batch: batch, threads: threads) { done in bar.update(done, unit: "img") }
        let secs = Date().timeIntervalSince(started)
        if common.json {
            Console.printJSON(["top1": r.top1, "samples": n, "agreement": r.agreement, "logit_cosine": r.logitCosine,
                               "fp_top1": r.fpTop1, "engine": eng.rawValue, "quantized": artifact, "model": modelPath,
                               "setting": q.quant.setting.description, "method": q.quant.method.rawValue,
                               "outlier_frac": r.meanOutlierFraction, "seconds": secs])
        } else {
            console.result(String(format: "%@ %@ (%@ engine): top-1 %.2f%% (FP %.2f%%), agreement %.2f%%, logit cosine %.4f, outlier fraction %.4f on %d %@ test images, %.1f s",
                                  q.quant.setting.description, q.quant.method.rawValue, eng.rawValue, 100 * r.top1, 100 * r.fpTop1,
                                  100 * r.agreement, r.logitCosine, r.meanOutlierFraction, n, data, secs))
        }
    }
}

/// FP vs quantized evaluation (method.md §5): top-1, agreement, mean logit cosine.
enum QuantEvaluation {
    struct Result {
        var fpTop1: Double, top1: Double, agreement: Double, logitCosine: Double
        var report: OutlierReport
        /// Outlier fraction averaged over points.
        var meanOutlierFraction: Double {
            let n = report.entries.count
            return n == 0 ? 0 : (0..<n).map { report.fraction($0) }.reduce(0, +) / Double(n)
        }
    }

    /// Refuses an artifact made from another checkpoint or architecture.
    static func checkSource(_ q: QuantizedModel, model m: VisionMamba, modelPath: String, artifact: String) throws {
        guard q.config == m.config else { throw CLIError("\(artifact): its model config does not match \(modelPath)") }
        let sha = try QuantPipeline.fileSHA256(modelPath)
        guard q.provenance.modelSHA256 == sha else {
            throw CLIError("\(artifact): made from a checkpoint with SHA-256 \(q.provenance.modelSHA256), but \(modelPath) has \(sha)")
        }
    }

    /// FP logits of the first `count` test images (computed once per comparison matrix).
    static func fpLogits(_ m: VisionMamba, dataset: ImageDataset, count: Int, mean: [Float], std: [Float], batch: Int,
                         threads: Int) throws -> [Float] {
        var out: [Float] = []
        var i = 0
        while i < count {
            let n = min(batch, count - i)
            let (x, _) = try dataset.batch(indices: Array(i..<(i + n)), mean: mean, std: std)
            out += try m.logits(x, batchSize: 16, threads: threads).data
            i += n
        }
        return out
    }

    static func run(fp m: VisionMamba, quantized q: QuantizedModel, engine: QuantEngine, dataset: ImageDataset, count: Int,
                    mean: [Float], std: [Float], batch: Int, threads: Int, fpLogits: [Float]? = nil,
                    progress: (Int) -> Void = { _ in }) throws -> Result {
        let sim = q.simulatedModel()
        let hooks = try cliQuant { try q.hooks(engine: engine, threads: threads) }
        let K = m.config.numClasses
        var fpCorrect = 0, qCorrect = 0, agree = 0, cosSum = 0.0
        var i = 0
        while i < count {
            let n = min(batch, count - i)
            let (x, y) = try dataset.batch(indices: Array(i..<(i + n)), mean: mean, std: std)
            let zf = try fpLogits.map { Tensor(shape: [n, K], data: Array($0[(i * K)..<((i + n) * K)])) }
                ?? m.logits(x, batchSize: 16, threads: threads)
            let zq = try sim.logits(x, batchSize: 16, hooks: hooks, threads: threads)
            if let e = hooks.error { throw CLIError("\(engine.rawValue) engine: \(e)") }
            for b in 0..<n {
                let f = zf.data[(b * K)..<((b + 1) * K)], qv = zq.data[(b * K)..<((b + 1) * K)]
                let pf = argmax(f), pq = argmax(qv)
                if pf == Int(y[b]) { fpCorrect += 1 }
                if pq == Int(y[b]) { qCorrect += 1 }
                if pf == pq { agree += 1 }
                var dot = 0.0, nf = 0.0, nq = 0.0
                for (a, c) in zip(f, qv) { dot += Double(a) * Double(c); nf += Double(a) * Double(a); nq += Double(c) * Double(c) }
                cosSum += dot / max((nf * nq).squareRoot(), 1e-30)
            }
            i += n
            progress(i)
        }
        let c = Double(max(count, 1))
        return Result(fpTop1: Double(fpCorrect) / c, top1: Double(qCorrect) / c, agreement: Double(agree) / c,
                      logitCosine: cosSum / c, report: hooks.report)
    }
}

/// Loads the test split of a dataset spec, as a CLI error on failure.
func loadTestSplit(_ spec: String) throws -> ImageDataset {
    do { return try DatasetSpec(parsing: spec).load(split: .test) }
    catch let e as DataError { throw CLIError(e.description) }
}

/// Accuracy of a model on a labelled dataset.
enum Evaluation {
    struct TopOne { var correct: Int; var total: Int; var top1: Double { total == 0 ? 0 : Double(correct) / Double(total) }
        var predictions: [Int] }

    /// Top-1 of precomputed logits.
    static func accuracy(logits: [Float], labels: [Int32], classes K: Int) -> Double {
        var correct = 0
        for (b, y) in labels.enumerated() {
            let row = logits[(b * K)..<((b + 1) * K)]
            if argmax(row) == Int(y) { correct += 1 }
        }
        return labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
    }

    static func topOne(model: VisionMamba, dataset: ImageDataset, count: Int, mean: [Float], std: [Float], batch: Int,
                       threads: Int, hooks: ForwardHooks? = nil, progress: (Int) -> Void = { _ in }) throws -> TopOne {
        try topOne(classes: model.config.numClasses, dataset: dataset, count: count, mean: mean, std: std, batch: batch,
                   progress: progress) { try model.logits($0, batchSize: 16, hooks: hooks, threads: threads) }
    }

    /// Top-1 of the first `count` images, `batch` at a time, with `logits` computing each batch's
    /// logits (the CPU model, or its GPU copy).
    static func topOne(classes K: Int, dataset: ImageDataset, count: Int, mean: [Float], std: [Float], batch: Int,
                       progress: (Int) -> Void = { _ in }, logits computeLogits: (Tensor) throws -> Tensor) throws -> TopOne {
        var correct = 0, preds: [Int] = []
        var i = 0
        while i < count {
            let n = min(batch, count - i)
            let (x, y) = try dataset.batch(indices: Array(i..<(i + n)), mean: mean, std: std)
            let logits = try computeLogits(x)
            for b in 0..<n {
                let row = logits.data[(b * K)..<((b + 1) * K)]
                let p = argmax(row)
                preds.append(p)
                if p == Int(y[b]) { correct += 1 }
            }
            i += n
            progress(i)
        }
        return TopOne(correct: correct, total: count, predictions: preds)
    }
}

/// Index of the first largest value of a logit row (ties go to the lower class, as torch.argmax).
func argmax(_ v: ArraySlice<Float>) -> Int { v.indices.max { v[$0] < v[$1] }! - v.startIndex }
