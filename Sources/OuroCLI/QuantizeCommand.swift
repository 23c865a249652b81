import ArgumentParser
import Foundation
import OuroCheckpoint
import OuroCluster
import OuroData
import OuroEngine
import OuroGen
import OuroModel
import OuroQuant

/// `ouromamba quantize`: calibrate and write a quantized-model artifact (method.md §4).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model (OuroMamba-Quant or a baseline) and write the artifact.",
        discussion: """
        --calib: a samples folder from `generate` (samples.safetensors with `images` [N,C,H,W]
        normalised float32 and `labels` [N]), syn:GENERATOR:N (generate N samples first with the
        default Gen configuration, --seed and --gen-iterations; written to <out dir>/samples),
        real:N (seeded Fashion-MNIST training images), real:N@DATASET (N seeded images of
        fashion-mnist[:DIR], imagefolder:DIR or filelist:FILE, preprocessed with --transform) or
        noise:N (seeded N(0,1) images).
        --workers N shards the job over N local worker processes (1 thread each); the artifact is
        byte-identical to the in-process run with --threads 1.
        --setting: w4a4 (4/4/8), w4a8 (4/8/16), w8a8 (8/8/16) or wXaYoZ (bits; o16 = float outliers).

        Example:
          ouromamba quantize --model M.safetensors --calib real:128 --setting w4a4 --method ouromamba --out q.safetensors
          ouromamba quantize --model vim_t.pth --calib real:128@imagefolder:/data/imagenet/train --data imagefolder:/data/imagenet/val --out q.safetensors
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Calibration source: DIR, syn:GENERATOR:N, real:N, real:N@DATASET or noise:N.") var calib: String
    @Option(name: .long, help: "Bit setting: w4a4, w4a8, w8a8 or wXaYoZ.", transform: parseSetting) var setting: QuantSetting = .w4a4
    @Option(name: .long, help: "Quantization method.") var method: QuantMethod = .ouromamba
    @Option(name: .long, help: "Output artifact (.safetensors), written atomically.") var out: String
    @Option(name: .long, help: "Refresh period of the outlier lists (steps).") var nRefresh = 10
    @Option(name: .long, help: "Seed of real:N / noise:N sources.") var seed: UInt64 = 0
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    @Option(name: .long, help: "Adam iterations of a syn:GENERATOR:N source.") var genIterations = GenConfig().iterations
    @Flag(name: .long, help: "Skip the FP-vs-quantized evaluation and report.html/report.json beside the artifact.")
    var noReport = false
    @Option(name: .long, help: "Evaluate the report on the first N images of --data (default: all).") var evalLimit: Int?
    @OptionGroup var dataset: DataOptions
    @OptionGroup var cluster: LocalClusterOptions

    /// `<directory of --out>/samples`: where a syn: source's samples are written.
    var samplesDirectory: String { URL(fileURLWithPath: out).deletingLastPathComponent().appendingPathComponent("samples").path }

    func run() throws {
        let resolved = try device.resolve(command: "quantize", gpuImplemented: cluster.workers == nil, console: common.console())
        let console = common.console()
        try createParentDirectory(of: out)
        let (m, path) = try model.load()
        var cfg = QuantConfig(setting: setting, method: method)
        cfg.nRefresh = nRefresh
        let source = try CalibrationSource(parsing: calib, seed: seed)
        let started = Date()
        if let workers = cluster.workers {
            var plan = JobPlan(kind: .quantize)
            plan.quant = cfg
            plan.calibSource = calib
            plan.artifactPath = out
            plan.blocksPerTask = cluster.blocksPerTask
            if let gen = source.genConfig(iterations: genIterations) {
                plan.gen = gen
                plan.samplesDirectory = samplesDirectory
                plan.sampleMeta = ["model": path, "threads": cluster.workerThreads, "workers": workers]
            } else {
                plan.calibImages = try source.load(for: m.config, transform: dataset.transform?.transform, threads: common.threads ?? Hardware.cores)
            }
            let sha = try QuantPipeline.fileSHA256(path)
            let done = try cluster.execution(model: model, common: common).run(plan: plan, model: m, modelSHA256: sha)
            let elapsed = Date().timeIntervalSince(started)
            let q = try cliQuant { try QuantArtifact.read(path: out) }
            // Phase rows carry the phase names that the per-worker rows refer to.
            let ev = try runFolder(m, path: path, q: q, syn: plan.gen != nil, threads: cluster.workerThreads * workers, console: console,
                                   timings: done.phases.map { .init(phase: $0.phase, seconds: $0.seconds) }
                                       + [.init(phase: "cluster job (\(workers) workers)", seconds: elapsed)],
                                   workers: done.phases.flatMap { p in
                                       p.workers.map { .init(worker: $0.workerId, phase: p.phase, tasks: $0.tasks, busySeconds: $0.busySeconds) }
                                   })
            report(cfg: cfg, count: done.calibCount, seconds: elapsed, workers: workers, console: console, evaluation: ev)
            return
        }
        let threads = common.resolvedThreads()
        let gpu = try resolved.model(m)
        let images: Tensor
        if let gen = source.genConfig(iterations: genIterations) {
            let (set, preds, wall) = try InProcessGen.run(model: m, config: gen, threads: threads, console: console,
                                                          label: "generate \(gen.generator.rawValue)", gpu: gpu)
            try set.write(to: samplesDirectory, config: gen, model: m, modelSHA256: try QuantPipeline.fileSHA256(path),
                          predictions: preds, wallSeconds: wall, extraMeta: ["model": path, "threads": threads])
            images = set.images
        } else {
            images = try source.load(for: m.config, transform: dataset.transform?.transform, threads: threads)
        }
        let genSeconds = Date().timeIntervalSince(started)
        let q = try QuantPipeline.quantize(model: m, modelPath: path, config: cfg, images: images, sourceName: calib,
                                           threads: threads, console: console, gpu: gpu)
        try cliQuant { try QuantArtifact.write(q, to: out) }
        let ev = try runFolder(m, path: path, q: q, syn: source.genConfig(iterations: genIterations) != nil, threads: threads, console: console,
                      timings: [.init(phase: "calibration source", seconds: genSeconds),
                                .init(phase: "calibration + assembly", seconds: Date().timeIntervalSince(started) - genSeconds)])
        let layout = QuantLayout(m.config)
        for (i, s) in layout.points.enumerated() where q.points[i].outlierFraction > 0 {
            console.debug(String(format: "  %@: calibration outlier fraction %.4f", s.name, q.points[i].outlierFraction))
        }
        report(cfg: cfg, count: images.shape[0], seconds: Date().timeIntervalSince(started), workers: nil, console: console,
               evaluation: ev, fractions: Dictionary(uniqueKeysWithValues: layout.points.enumerated().map { ($1.name, q.points[$0].outlierFraction) }))
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

/// The quantization pipeline shared by `quantize` and `compare`.
enum QuantPipeline {
    /// SHA-256 of a file's bytes.
    static func fileSHA256(_ path: String) throws -> String {
        do { return try SHA256.file(path) } catch let e as CheckpointError { throw CLIError(e.description) }
    }

    /// Calibrates on `images` and assembles the quantized model, reporting progress per phase.
    static func quantize(model m: VisionMamba, modelPath: String, config cfg: QuantConfig, images: Tensor, sourceName: String,
                         threads: Int, console: Console, calibration: Calibrator.Result? = nil, gpu: GPUVisionMamba? = nil) throws -> QuantizedModel {
        let r: Calibrator.Result
        if let calibration { r = calibration } else {
            r = try calibrate(model: m, config: cfg, images: images, threads: threads, console: console, gpu: gpu)
        }
        let t0 = Date()
        let prov = QuantProvenance(calibSource: sourceName, calibCount: images.shape[0], calibSHA256: SHA256.hex(floats: images.data),
                                   modelSHA256: try fileSHA256(modelPath))
        let q = try cliQuant { try QuantizedModel.assemble(model: m, quant: cfg, points: r.points, provenance: prov) }
        console.info(String(format: "weights + assembly: %.1f s", Date().timeIntervalSince(t0)))
        return q
    }

    /// Both calibration passes with a progress bar per pass.
    static func calibrate(model m: VisionMamba, config cfg: QuantConfig, images: Tensor, threads: Int,
                          console: Console, gpu: GPUVisionMamba? = nil) throws -> Calibrator.Result {
        let cal = try cliQuant { try Calibrator(model: m, config: cfg, threads: threads, gpu: gpu) }
        let nb = cal.blockCount(samples: images.shape[0])
        var bars: [String: ProgressBar] = [:]
        return try cliQuant {
            try cal.calibrate(images: images) { phase, done, total in
                let bar = bars[phase] ?? ProgressBar("calibration \(phase) (\(cfg.method.rawValue), a\(cfg.setting.inlierBits))",
                                                      total: nb, console: console)
                bars[phase] = bar
                bar.update(done, unit: "blocks")
                _ = total
            }
        }
    }
}

/// Where calibration images come from.
enum CalibrationSource {
    case directory(String)
    /// `real:N` (Fashion-MNIST's training split) or `real:N@DATASET`.
    case real(Int, seed: UInt64, dataset: String?)
    case noise(Int, seed: UInt64)
    case synthetic(GeneratorKind, Int, seed: UInt64)

    init(parsing s: String, seed: UInt64) throws {
        func count(_ v: Substring) throws -> Int {
            guard let n = Int(v), n >= 1 else { throw CLIError("calibration source '\(s)': expected a positive count after ':'") }
            return n
        }
        if s.hasPrefix("real:") {
            let rest = s.dropFirst(5)
            if let at = rest.firstIndex(of: "@") {
                let spec = String(rest[rest.index(after: at)...])
                do { _ = try DatasetSpec(parsing: spec) } catch let e as DataError { throw CLIError("calibration source '\(s)': \(e.message)") }
                self = .real(try count(rest[..<at]), seed: seed, dataset: spec)
            } else {
                self = .real(try count(rest), seed: seed, dataset: nil)
            }
        }
        else if s.hasPrefix("noise:") { self = .noise(try count(s.dropFirst(6)), seed: seed) }
        else if s.hasPrefix("syn:") {
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, let kind = GeneratorKind(rawValue: String(parts[1])) else {
                throw CLIError("calibration source '\(s)': expected syn:GENERATOR:N with GENERATOR one of \(GeneratorKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self = .synthetic(kind, try count(parts[2]), seed: seed)
        }
        else { self = .directory(s) }
    }

    /// The Gen configuration of a `syn:` source (default GenConfig with the source's generator,
    /// count and seed); nil for the other sources.
    func genConfig(iterations: Int) -> GenConfig? {
        guard case .synthetic(let kind, let n, let seed) = self else { return nil }
        var g = GenConfig()
        g.generator = kind; g.samples = n; g.seed = seed; g.iterations = iterations
        return g
    }

    /// The images [N, C, H, W] (normalised model inputs), checked against the model. Image files
    /// of `real:N@DATASET` go through `transform` (nil: the default for the model's size) and
    /// are decoded on `threads` threads.
    func load(for c: VisionMambaConfig, transform: ImageTransform? = nil, threads: Int = 1) throws -> Tensor {
        let x: Tensor
        switch self {
        case .synthetic:
            throw CLIError("syn: calibration sources are generated, not loaded")
        case .noise(let n, let seed):
            // One stream per sample, so a sample does not depend on how many are drawn.
            let per = c.channels * c.imageSize * c.imageSize
            var data: [Float] = []
            data.reserveCapacity(n * per)
            for i in 0..<n {
                var rng = Xoshiro256StarStar(seed: seed, stream: UInt64(i))
                data += rng.normals(per)
            }
            x = Tensor(shape: [n, c.channels, c.imageSize, c.imageSize], data: data)
        case .real(let n, let seed, let spec):
            // Fashion-MNIST: its training split; image folders and lists: the whole set.
            let source = try openDataset(spec ?? "fashion-mnist", split: .train, config: c, transform: transform, policy: .fail)
            let norm = inputNormalization(c)
            do {
                guard n <= source.count else {
                    throw CLIError("calibration source real:\(n)@\(spec ?? "fashion-mnist"): only \(source.count) images there")
                }
                let idx = try Shuffler.seededSubset(count: n, of: source.count, seed: seed)
                let part = try source.read(idx, threads: threads)
                x = try part.images.batch(indices: Array(0..<part.images.count), mean: norm.mean, std: norm.std).images
            } catch let e as DataError { throw CLIError(e.description) }
        case .directory(let d):
            var isDir: ObjCBool = false
            let file = FileManager.default.fileExists(atPath: d, isDirectory: &isDir) && isDir.boolValue ? d + "/samples.safetensors" : d
            do {
                let f = try SafeTensorsFile.read(path: file)
                guard f.contains("images") else { throw CLIError("\(file): missing key 'images' (expected [N,C,H,W] float32)") }
                let t = try f.tensor("images")
                guard t.dtype == .f32, t.shape.count == 4 else {
                    throw CLIError("\(file): key 'images' is \(t.dtype.rawValue) \(t.shape), expected F32 [N,C,H,W]")
                }
                x = Tensor(shape: t.shape, data: try t.floats())
            } catch let e as CheckpointError { throw CLIError(e.description) }
        }
        guard x.shape.count == 4, x.shape[0] >= 1, x.shape[1] == c.channels, x.shape[2] == c.imageSize, x.shape[3] == c.imageSize else {
            throw CLIError("calibration images: shape \(x.shape), the model expects [N, \(c.channels), \(c.imageSize), \(c.imageSize)]")
        }
        if let i = x.data.firstIndex(where: { !$0.isFinite }) { throw CLIError("calibration images: non-finite value at index \(i)") }
        return x
    }
}
