import OuroCheckpoint
import OuroData
import OuroEngine
import OuroModel
import OuroQuant
import OuroSupport

/// FP vs quantized evaluation (method.md §5): top-1, agreement, mean logit cosine.
public enum QuantEvaluation {
    /// What an evaluation measured.
    public struct Result {
        /// FP top-1, quantized top-1, their prediction agreement and the mean logit cosine.
        public var fpTop1: Double, top1: Double, agreement: Double, logitCosine: Double
        /// Outlier statistics of the run.
        public var report: OutlierReport
        /// Images evaluated (bad ones left out under --skip-bad are not counted).
        public var samples: Int
        /// Images left out under --skip-bad.
        public var skipped: [BadImage]
        /// Outlier fraction averaged over points.
        public var meanOutlierFraction: Double {
            let n = report.entries.count
            return n == 0 ? 0 : (0..<n).map { report.fraction($0) }.reduce(0, +) / Double(n)
        }
    }

    /// Refuses an artifact made from another checkpoint or architecture.
    public static func checkSource(_ q: QuantizedModel, model m: VisionMamba, modelPath: String, artifact: String) throws {
        guard q.config == m.config else { throw JobError("\(artifact): its model config does not match \(modelPath)") }
        let sha = try SHA256.file(modelPath)
        guard q.provenance.modelSHA256 == sha else {
            throw JobError("\(artifact): made from a checkpoint with SHA-256 \(q.provenance.modelSHA256), but \(modelPath) has \(sha)")
        }
    }

    /// FP logits of the good images among the first `count` (computed once per comparison matrix).
    public static func fpLogits(_ m: VisionMamba, dataset: any LabelledImageSource, count: Int, mean: [Float], std: [Float], batch: Int,
                         threads: Int) throws -> (logits: [Float], labels: [Int32], skipped: [BadImage]) {
        var out: [Float] = [], labels: [Int32] = []
        let skipped = try dataset.forEachInputBatch(count: count, batch: batch, threads: threads, mean: mean, std: std) { x, y in
            out += try m.logits(x, batchSize: m.config.imagesPerForward, threads: threads).data
            labels += y
        }
        return (out, labels, skipped)
    }

    /// The first good image of `dataset`, normalised (for report figures).
    public static func firstImage(_ dataset: any LabelledImageSource, norm: (mean: [Float], std: [Float]), threads: Int) throws -> Tensor {
        var i = 0
        while i < dataset.count {
            let part = try dataset.read([i], threads: 1)
            if part.images.count == 1 { return try part.images.batch(indices: [0], mean: norm.mean, std: norm.std).images }
            i += 1
        }
        throw JobError("the dataset has no readable image")
    }

    /// Evaluates `q` with `engine` against the FP model (or alone, `withFP: false`) on the first `count` images.
    public static func run(fp m: VisionMamba, quantized q: QuantizedModel, engine: QuantEngine, dataset: any LabelledImageSource, count: Int,
                    mean: [Float], std: [Float], batch: Int, threads: Int, fpLogits: [Float]? = nil, withFP: Bool = true,
                    progress: (Int) -> Void = { _ in }) throws -> Result {
        let sim = q.simulatedModel()
        // Lanes for a full batch; a shorter last batch uses the first ones.
        let chunk = m.config.imagesPerForward
        let lanes = try q.laneHooks(engine: engine, images: batch, batchSize: chunk, threads: threads)
        let K = m.config.numClasses
        var fpCorrect = 0, qCorrect = 0, agree = 0, cosSum = 0.0, evaluated = 0
        let skipped = try dataset.forEachInputBatch(count: count, batch: batch, threads: threads, mean: mean, std: std,
                                                    progress: progress) { x, y in
            let n = y.count
            let zq = try sim.logits(x, batchSize: chunk, laneHooks: lanes, threads: threads)
            for h in lanes { if let e = h.error { throw JobError("\(engine.rawValue) engine: \(e)") } }
            guard withFP else {
                for b in 0..<n where argmax(zq.data[(b * K)..<((b + 1) * K)]) == Int(y[b]) { qCorrect += 1 }
                evaluated += n
                return
            }
            let zf = try fpLogits.map { Tensor(shape: [n, K], data: Array($0[(evaluated * K)..<((evaluated + n) * K)])) }
                ?? m.logits(x, batchSize: chunk, threads: threads)
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
            evaluated += n
        }
        let c = Double(max(evaluated, 1))
        return Result(fpTop1: Double(fpCorrect) / c, top1: Double(qCorrect) / c, agreement: Double(agree) / c,
                      logitCosine: cosSum / c, report: try QuantizedModel.report(of: lanes), samples: evaluated, skipped: skipped)
    }
}

extension LabelledImageSource {
    /// Visits the first `count` images as normalised batches, `body(x, labels)`, and reports the
    /// source images read so far (good or bad) to `progress`; returns the images and folders
    /// left out under --skip-bad. A batch whose images were all bad only reports progress.
    public func forEachInputBatch(count: Int, batch: Int, threads: Int, mean: [Float], std: [Float], progress: (Int) -> Void = { _ in },
                           _ body: (Tensor, [Int32]) throws -> Void) throws -> [BadImage] {
        var skipped = listingProblems
        try forEachBatch(count: count, batch: batch, threads: threads) { part, done in
            skipped += part.bad
            let n = part.images.count
            if n > 0 {
                let (x, y) = try part.images.batch(indices: Array(0..<n), mean: mean, std: std)
                try body(x, y)
            }
            progress(done)
        }
        return skipped
    }
}

/// Accuracy of a model on a labelled dataset.
public enum Evaluation {
    /// Top-1 over a dataset.
    public struct TopOne {
        /// Correct predictions.
        public var correct: Int
        /// Images evaluated (without the ones --skip-bad left out).
        public var total: Int
        /// correct / total.
        public var top1: Double { total == 0 ? 0 : Double(correct) / Double(total) }
        /// Predicted class of each evaluated image.
        public var predictions: [Int]
        /// Images left out under --skip-bad.
        public var skipped: [BadImage] = []
    }

    /// Top-1 of precomputed logits.
    public static func accuracy(logits: [Float], labels: [Int32], classes K: Int) -> Double {
        var correct = 0
        for (b, y) in labels.enumerated() {
            let row = logits[(b * K)..<((b + 1) * K)]
            if argmax(row) == Int(y) { correct += 1 }
        }
        return labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
    }

    /// Top-1 of `model` (with `hooks`) on the first `count` images.
    public static func topOne(model: VisionMamba, dataset: any LabelledImageSource, count: Int, mean: [Float], std: [Float], batch: Int,
                       threads: Int, hooks: ForwardHooks? = nil, progress: (Int) -> Void = { _ in }) throws -> TopOne {
        try topOne(classes: model.config.numClasses, dataset: dataset, count: count, mean: mean, std: std, batch: batch,
                   threads: threads, progress: progress) { try model.logits($0, batchSize: model.config.imagesPerForward, hooks: hooks, threads: threads) }
    }

    /// Top-1 of the first `count` images, `batch` at a time (decoded on `threads` threads), with
    /// `logits` computing each batch's logits (the CPU model, or its GPU copy).
    public static func topOne(classes K: Int, dataset: any LabelledImageSource, count: Int, mean: [Float], std: [Float], batch: Int,
                       threads: Int, progress: (Int) -> Void = { _ in },
                       logits computeLogits: (Tensor) throws -> Tensor) throws -> TopOne {
        var correct = 0, preds: [Int] = []
        let skipped = try dataset.forEachInputBatch(count: count, batch: batch, threads: threads, mean: mean, std: std,
                                                    progress: progress) { x, y in
            let logits = try computeLogits(x)
            for b in 0..<y.count {
                let p = argmax(logits.data[(b * K)..<((b + 1) * K)])
                preds.append(p)
                if p == Int(y[b]) { correct += 1 }
            }
        }
        return TopOne(correct: correct, total: preds.count, predictions: preds, skipped: skipped)
    }
}

