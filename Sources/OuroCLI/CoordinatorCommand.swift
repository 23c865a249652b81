import ArgumentParser
import Foundation
import Logging
import OuroCluster
import OuroEngine
import OuroGen
import OuroModel
import OuroPipeline
import OuroQuant

/// `ouromamba coordinator`: runs one job (Gen → calibration → assembly) on the workers that
/// connect to `--bind` (cluster.md; docs/cluster.md for launching).
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run a generate or quantize job on cluster workers (ZeroMQ ROUTER on --bind).",
        discussion: """
        The job comes from --job FILE (JSON, see docs/cluster.md) and/or flags (flags win). \
        Workers connect with `ouromamba worker --connect ENDPOINT --model M`; they must have the \
        same model file (sha256) and thread count. Endpoints other than loopback/ipc require CURVE: \
        --key (this coordinator's key pair from `ouromamba keygen`) and --allow (worker public keys). \
        The job directory (--job-dir) holds the journal: rerun the same command to resume.

        Examples:
          ouromamba coordinator --bind tcp://127.0.0.1:5555 --model M \\
              --calib syn:ouromamba:128 --out q/vim-w4a4.safetensors
          ouromamba coordinator --bind 'tcp://*:5555' --job job.json \\
              --key keys/coordinator.key --allow keys/workers.pub
        """)

    @Option(name: .long, help: "Endpoint to bind (tcp://HOST:PORT, tcp://*:PORT with CURVE, ipc://PATH).") var bind: String
    @Option(name: .long, help: "Job file (JSON).") var job: String?
    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "quantize (default) or generate.") var kind: JobPlan.Kind?
    @Option(name: .long, help: "quantize: syn:GENERATOR:N, real:N, noise:N or a samples directory.", transform: parseCalib)
    var calib: String?
    @Option(name: .long, help: "quantize: w4a4, w4a8, w8a8 or wXaYoZ.", transform: parseSetting) var setting: QuantSetting?
    @Option(name: .long, help: "quantize: method.") var method: QuantMethod?
    @Option(name: .long, help: "quantize: outlier-list refresh period.") var nRefresh: Int?
    @Option(name: .long, help: "Master seed.") var seed: UInt64?
    @Option(name: .long, help: "Gen defaults (syn: sources and generate jobs): recommended (the project's, docs/method-notes.md) or spec (method.md §3.12).")
    var genDefaults: GenDefaults?
    @Option(name: .long, help: "Gen iterations (syn: sources and generate jobs; default: 200 in the recommended defaults, 500 in the spec's).") var genIterations: Int?
    @Option(name: .long, help: "generate: number of samples.") var count: Int?
    @Option(name: .long, help: "generate: generator.") var generator: GeneratorKind?
    @Option(name: .long, help: "quantize: artifact path; generate: samples directory.") var out: String?
    @Option(name: .long, help: "Job directory (journal; default <out>.job).") var jobDir: String?
    @Option(name: .long, help: "Blocks per Gen/calibration task (default 1).") var blocksPerTask: Int?
    @Option(name: .long, help: "Workers to wait for before starting (default 1).") var minWorkers: Int?
    @Option(name: .long, help: "Give up when too few workers connected after this many seconds (default: wait).") var waitWorkers: Double?
    @Option(name: .long, help: "CURVE key pair file of this coordinator (enables CURVE).") var key: String?
    @Option(name: .long, help: "File of allowed worker public keys (repeatable).") var allow: [String] = []
    @Option(name: .long, help: "Heartbeat interval in seconds.") var heartbeat: Double = 1
    @Option(name: .long, help: "Attempts per task before a system failure fails the job.") var maxAttempts: Int = 3
    @Flag(name: .long, help: "Accept workers with different thread counts/backends (results then agree only to rounding).")
    var allowMixedBackends = false
    @OptionGroup var common: CommonOptions

    func run() throws {
        let console = common.console()
        let file = try job.map { p in try clusterCLI { try JobFile.read(p) } } ?? JobFile()
        var modelOptions = model
        if modelOptions.model == nil { modelOptions.model = file.model }
        if modelOptions.config == nil { modelOptions.config = file.modelConfig }
        guard modelOptions.model != nil else { throw CLIError("no model: give --model or \"model\" in the job file") }
        guard let out = out ?? file.out else { throw CLIError("no output: give --out or \"out\" in the job file") }
        let (m, path) = try modelOptions.load()
        let sha = try fileSHA256(path)
        let seed = seed ?? file.seed ?? 0
        let blocks = blocksPerTask ?? file.blocksPerTask ?? 1
        let g = file.gen ?? JobFile.GenOptions()
        // The defaults the job's Gen options change (flags win over the job file).
        func genBase() throws -> GenConfig {
            if let genDefaults { return GenConfig(defaults: genDefaults) }
            guard let name = g.defaults else { return GenConfig(defaults: .recommended) }
            guard let d = GenDefaults(rawValue: name) else {
                throw CLIError("\(job ?? "job file"): gen.defaults '\(name)' is not one of \(GenDefaults.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return GenConfig(defaults: d)
        }
        func genConfig(_ base: GenConfig) throws -> GenConfig {
            var c = base
            if let it = genIterations ?? g.iterations { c.iterations = it }
            if let lr = g.lr { c.lr = lr }
            if let l = g.lambdaO { c.lambdaO = l }
            if let o = g.outputLoss { c.outputLoss = o }
            do { try c.validate() } catch { throw CLIError("\(error)") }
            return c
        }
        let plan: JobPlan
        switch kind ?? file.kind ?? .quantize {
        case .generate:
            var base = try genBase()
            if let generator { base.generator = generator }
            else if let name = g.generator {
                guard let kind = GeneratorKind(rawValue: name) else { throw CLIError("\(job ?? "job file"): unknown generator '\(name)'") }
                base.generator = kind
            }
            base.samples = count ?? g.samples ?? base.samples
            base.seed = seed
            plan = JobPlan.generate(try genConfig(base), directory: out, meta: ["model": path], blocksPerTask: blocks)
        case .quantize:
            guard let calib = calib ?? file.calib else { throw CLIError("quantize job without a calibration source: give --calib or \"calib\"") }
            // Command-line values are parsed by ArgumentParser; the job file's are checked here.
            var cfg = QuantConfig(setting: try setting ?? file.setting.map { s in try cliQuant { try QuantSetting(parsing: s) } } ?? .w4a4,
                                  method: try method ?? file.method.map { s in try cliQuant { try QuantMethod(parsing: s) } } ?? .ouromamba)
            cfg.nRefresh = nRefresh ?? file.nRefresh ?? cfg.nRefresh
            plan = try clusterCLI {
                try JobPlan.quantize(cfg, calib: calib, seed: seed, artifactPath: out, model: m.config, gen: try genBase(),
                                     adjustGen: genConfig, threads: Hardware.cores, sampleMeta: ["model": path], blocksPerTask: blocks)
            }
        }
        var options = ClusterOptions(endpoint: bind)
        options.security = try coordinatorSecurity()
        options.jobDirectory = jobDir ?? file.jobDir ?? out + ".job"
        options.minWorkers = minWorkers ?? file.minWorkers ?? 1
        options.waitWorkers = waitWorkers
        options.heartbeat = heartbeat
        options.maxAttempts = maxAttempts
        options.allowMixedBackends = allowMixedBackends
        let runner = PipelineRunner(common: common)
        let report = try runner.run(model: m, modelSHA256: sha, executor: {
            let e = try ClusterExecutor(options: options, configurationHash: plan.configurationHash, modelSHA256: sha,
                                        logger: runner.logger, onProgress: runner.progress)
            try e.waitForWorkers()
            return e
        }) { try $0.run(plan) }
        if common.json {
            func workers(_ w: [WorkerTiming]) -> [[String: Any]] {
                w.map { ["worker": $0.workerId, "tasks": $0.tasks, "busy_seconds": $0.busySeconds] }
            }
            Console.printJSON(["out": out, "kind": plan.kind.rawValue, "seconds": report.seconds, "job_dir": options.jobDirectory ?? "",
                               "phases": report.phases.map { ["phase": $0.phase, "tasks": $0.tasks, "resumed": $0.resumed,
                                                              "computed": $0.computed, "retries": $0.retries, "seconds": $0.seconds,
                                                              "workers": workers($0.workers)] },
                               "workers": workers(report.workerTotals)])
        } else {
            let per = report.workerTotals.map { String(format: "%@ %d shards in %.1f s", $0.workerId, $0.tasks, $0.busySeconds) }
            console.result(String(format: "job done in %.1f s: wrote %@", report.seconds, out)
                           + (per.isEmpty ? "" : " (" + per.joined(separator: ", ") + ")"))
        }
    }

    private func coordinatorSecurity() throws -> CoordinatorSecurity {
        switch (key, allow.isEmpty) {
        case (nil, true): return .none
        case (nil, false): throw CLIError("--allow needs --key (the coordinator's CURVE key pair)")
        case (_, true): throw CLIError("--key needs at least one --allow file of worker public keys")
        case (let k?, false):
            return try clusterCLI {
                let pair = try KeyPair.load(from: URL(fileURLWithPath: k))
                var keys = Set<String>()
                for a in allow { keys.formUnion(try KeyPair.loadPublicKeys(from: URL(fileURLWithPath: a))) }
                return .curve(server: pair, allowedWorkers: keys)
            }
        }
    }
}

extension JobPlan.Kind: ExpressibleByArgument {}
