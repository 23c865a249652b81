import OuroSupport
import ArgumentParser
import Foundation
import OuroCheckpoint
import OuroCluster
import OuroData
import OuroEngine
import OuroGen
import OuroModel
import OuroPipeline
import OuroQuant

/// `ouromamba quantize`: calibrate and write a quantized-model artifact (method.md §4).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model (OuroMamba-Quant or a baseline) and write the artifact.",
        discussion: """
        --calib: a samples folder from `generate` (samples.safetensors with `images` [N,C,H,W] \
        normalised float32 and `labels` [N]), syn:GENERATOR:N (generate N samples first with the \
        default Gen configuration, --seed and --gen-iterations; written to <out dir>/samples), \
        real:N (seeded Fashion-MNIST training images), real:N@DATASET (N seeded images of \
        fashion-mnist[:DIR], imagefolder:DIR or filelist:FILE, preprocessed with --transform) or \
        noise:N (seeded N(0,1) images).
        --workers N shards the job over N local worker processes (1 thread each); the artifact is \
        byte-identical to the in-process run with --threads 1.
        --setting: w4a4 (4/4/8), w4a8 (4/8/16), w8a8 (8/8/16) or wXaYoZ (bits; o16 = float outliers).

        Example:
          ouromamba quantize --model M.safetensors --calib real:128 --setting w4a4 \\
              --method ouromamba --out q.safetensors
          ouromamba quantize --model vim_t.pth \\
              --calib real:128@imagefolder:/data/imagenet/train \\
              --data imagefolder:/data/imagenet/val --out q.safetensors
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Calibration source: DIR, syn:GENERATOR:N, real:N, real:N@DATASET or noise:N.", transform: parseCalib)
    var calib: String
    @Option(name: .long, help: "Bit setting: w4a4, w4a8, w8a8 or wXaYoZ.", transform: parseSetting) var setting: QuantSetting = .w4a4
    @Option(name: .long, help: "Quantization method.") var method: QuantMethod = .ouromamba
    @Option(name: .long, help: "Output artifact (.safetensors), written atomically.") var out: String
    @Option(name: .long, help: "Refresh period of the outlier lists (steps).") var nRefresh = 10
    @Option(name: .long, help: "Seed of real:N / noise:N sources.") var seed: UInt64 = 0
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    @OptionGroup var synthetic: SyntheticSourceOptions
    @Flag(name: .long, help: "Skip the FP-vs-quantized evaluation and report.html/report.json beside the artifact.")
    var noReport = false
    @Option(name: .long, help: "Evaluate the report on the first N images of --data (default: all).") var evalLimit: Int?
    @OptionGroup var dataset: DataOptions
    @OptionGroup var cluster: LocalClusterOptions

    /// `<directory of --out>/samples`: where a syn: source's samples are written.
    var samplesDirectory: String { JobPlan.samplesDirectory(artifactPath: out) }

    func run() throws {
        let resolved = try device.resolve(command: "quantize", gpuImplemented: cluster.workers == nil, console: common.console())
        let console = common.console()
        try createParentDirectory(of: out)
        let (m, path) = try model.load()
        var cfg = QuantConfig(setting: setting, method: method)
        cfg.nRefresh = nRefresh
        let started = Date()
        let threads = cluster.computeThreads(common)
        let meta = cluster.sampleMeta(modelPath: path, threads: threads)
        let plan = try clusterCLI {
            try JobPlan.quantize(cfg, calib: calib, seed: seed, artifactPath: out, model: m.config, gen: synthetic.base,
                                 transform: dataset.transform?.transform, threads: common.threads ?? Hardware.cores,
                                 sampleMeta: meta, blocksPerTask: cluster.blocksPerTask)
        }
        let sha = try fileSHA256(path)
        let done = try cluster.run(plan, model: model, loaded: m, modelSHA256: sha, threads: threads, device: resolved, common: common)
        let elapsed = Date().timeIntervalSince(started)
        guard let q = done.quantized else { throw CLIError("quantize: the job assembled no model") }
        let job = cluster.workers.map { "job (\($0) workers)" } ?? "job"
        // Phase rows carry the phase names that the per-worker rows refer to; the evaluation
        // uses all workers' threads together.
        let ev = try runFolder(m, path: path, q: q, syn: plan.gen != nil, threads: threads * (cluster.workers ?? 1), console: console,
                               timings: done.phases.map { .init(phase: $0.phase, seconds: $0.seconds) } + [.init(phase: job, seconds: elapsed)],
                               workers: cluster.workers == nil ? [] : done.phases.flatMap { p in
                                   p.workers.map { .init(worker: $0.workerId, phase: p.phase, tasks: $0.tasks, busySeconds: $0.busySeconds) }
                               })
        let layout = QuantLayout(m.config)
        for (i, s) in layout.points.enumerated() where q.points[i].outlierFraction > 0 {
            console.debug(String(format: "  %@: calibration outlier fraction %.4f", s.name, q.points[i].outlierFraction))
        }
        report(cfg: cfg, count: done.calibCount, seconds: elapsed, workers: cluster.workers, console: console, evaluation: ev,
               fractions: Dictionary(uniqueKeysWithValues: layout.points.enumerated().map { ($1.name, q.points[$0].outlierFraction) }))
    }

    /// Evaluates FP vs quantized, writes report.json/report.html beside the artifact, prints the table.
    private func runFolder(_ m: VisionMamba, path: String, q: QuantizedModel, syn: Bool, threads: Int, console: Console,
                           timings: [ReportData.Timing], workers: [ReportData.WorkerTiming] = []) throws -> RunReport.Summary? {
        guard !noReport else { return nil }
        let s = try RunReport.write(model: m, modelPath: path, quantized: q, artifact: out, samplesDirectory: syn ? samplesDirectory : nil,
                                    data: dataset, limit: evalLimit, threads: max(1, threads), console: console, timings: timings,
                                    workers: workers)
        if !common.json && !common.quiet {
            print(RunReport.table(s, setting: q.quant.setting.description, method: q.quant.method.rawValue))
        }
        return s
    }

    private func report(cfg: QuantConfig, count: Int, seconds: Double, workers: Int?, console: Console,
                        evaluation: RunReport.Summary?, fractions: [String: Double]? = nil) {
        if common.json {
            var o: [String: Any] = ["out": out, "setting": cfg.setting.description, "method": cfg.method.rawValue,
                                    "calib_source": calib, "calib_count": count, "seconds": seconds]
            if let e = evaluation {
                o["fp_top1"] = e.fpTop1; o["top1"] = e.top1; o["agreement"] = e.agreement; o["logit_cosine"] = e.cosine
                o["samples"] = e.samples
            }
            if let fractions { o["calib_outlier_frac"] = fractions }
            if let workers { o["workers"] = workers }
            Console.printJSON(o)
        } else {
            let on = workers.map { " on \($0) workers" } ?? ""
            console.result(String(format: "wrote %@ (%@ %@, %d calibration images from %@)%@ in %.1f s", out, cfg.setting.description,
                                  cfg.method.rawValue, count, calib, on, seconds))
        }
    }
}

/// Runs a throwing OuroQuant call, turning its errors into CLI errors.
func cliQuant<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as QuantError { throw CLIError(e.description) }
    catch let e as CheckpointError { throw CLIError(e.description) }
    catch let e as ModelError { throw CLIError(e.description) }
}
