import ArgumentParser
import Foundation
import OuroData
import OuroEngine
import OuroModel

/// `ouromamba eval`: top-1 on the test split.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Top-1 accuracy of a model on the Fashion-MNIST test split.",
        discussion: """
        Examples:
          ouromamba eval --json
          ouromamba eval --model models/vim-fashion.safetensors --limit 1000
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Dataset: fashion-mnist or fashion-mnist:DIR.") var data = "fashion-mnist"
    @Option(name: .long, help: "Evaluate only the first N test images.") var limit: Int?
    @Option(name: .long, help: "Images per forward batch.") var batch = 64
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
        if batch < 1 { throw ValidationError("--batch must be ≥ 1") }
    }

    func run() throws {
        let threads = common.resolvedThreads()
        let console = common.console()
        let (m, path) = try model.load()
        let test = try loadTestSplit(data)
        let n = min(limit ?? test.count, test.count)
        let norm = m.config.normalization(defaultMean: FashionMNIST.mean[0], defaultStd: FashionMNIST.std[0])
        let started = Date()
        let result = try Evaluation.topOne(model: m, dataset: test, count: n, mean: norm.mean, std: norm.std,
                                           batch: batch, threads: threads) { done in
            console.debug("eval \(done)/\(n)")
        }
        let secs = Date().timeIntervalSince(started)
        if common.json {
            Console.printJSON(["top1": result.top1, "samples": n, "correct": result.correct, "model": path,
                               "seconds": secs])
        } else {
            console.result(String(format: "top-1 %.2f%% (%d/%d) on %@ test, %.1f s", 100 * result.top1, result.correct, n,
                                  data, secs))
        }
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

    static func topOne(model: VisionMamba, dataset: ImageDataset, count: Int, mean: [Float], std: [Float], batch: Int,
                       threads: Int, hooks: ForwardHooks? = nil, progress: (Int) -> Void = { _ in }) throws -> TopOne {
        var correct = 0, preds: [Int] = []
        var i = 0
        let K = model.config.numClasses
        while i < count {
            let n = min(batch, count - i)
            let (x, y) = try dataset.batch(indices: Array(i..<(i + n)), mean: mean, std: std)
            let logits = try model.logits(x, batchSize: 16, hooks: hooks, threads: threads)
            for b in 0..<n {
                let row = logits.data[(b * K)..<((b + 1) * K)]
                let p = row.indices.max { row[$0] < row[$1] }! - b * K
                preds.append(p)
                if p == Int(y[b]) { correct += 1 }
            }
            i += n
            progress(i)
        }
        return TopOne(correct: correct, total: count, predictions: preds)
    }
}
