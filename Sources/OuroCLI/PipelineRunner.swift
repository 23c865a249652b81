import ArgumentParser
import Foundation
import Logging
import OuroCheckpoint
import OuroCluster
import OuroData
import OuroGen
import OuroModel
import OuroPipeline
import OuroQuant
import OuroSupport

/// `--workers N` and friends, shared by `generate` and `quantize`.
struct LocalClusterOptions: ParsableArguments {
    @Option(name: .long, help: "Shard the job over N local worker processes (ipc, 1 thread each by default).")
    var workers: Int?

    @Option(name: .long, help: "Threads per local worker (OPENBLAS_NUM_THREADS too).")
    var workerThreads = 1

    @Option(name: .long, help: "Job directory for --workers (journal; rerun to resume). Default: a temporary one.")
    var jobDir: String?

    @Option(name: .long, help: "Blocks per Gen/calibration task for --workers.")
    var blocksPerTask = 1

    func validate() throws {
        if let w = workers, !(1...256).contains(w) { throw ValidationError("--workers must be in 1…256") }
        if workerThreads < 1 { throw ValidationError("--worker-threads must be ≥ 1") }
        if blocksPerTask < 1 { throw ValidationError("--blocks-per-task must be ≥ 1") }
    }

    /// Compute threads of one process: `--threads` in this process (OpenBLAS's too), each
    /// worker's with `--workers` (the files are the same as in-process with that thread count).
    func computeThreads(_ common: CommonOptions) -> Int {
        workers == nil ? common.resolvedThreads() : workerThreads
    }

    /// `meta.json` entries of generated samples: the model, the threads and, on workers, their count.
    func sampleMeta(modelPath: String, threads: Int) -> [String: Any] {
        var meta: [String: Any] = ["model": modelPath, "threads": threads]
        if let workers { meta["workers"] = workers }
        return meta
    }

    /// Runs `plan` on this command's executor (the GPU copy of the model only in this process).
    func run(_ plan: JobPlan, model: ModelOptions, loaded m: VisionMamba, modelSHA256 sha: String, threads: Int,
             device: ResolvedDevice, common: CommonOptions) throws -> JobReport {
        let gpu = workers == nil ? try device.model(m) : nil
        let runner = PipelineRunner(common: common)
        return try runner.run(model: m, modelSHA256: sha, executor: {
            try executor(for: plan, model: model, loaded: m, modelSHA256: sha, threads: threads, gpu: gpu, runner: runner)
        }) { try $0.run(plan) }
    }

    /// The executor of a command: `workers` local processes of this build on a private ipc
    /// endpoint, or this process with `threads` threads (and the GPU copy, if any).
    func executor(for plan: JobPlan, model: ModelOptions, loaded m: VisionMamba, modelSHA256 sha: String, threads: Int,
                  gpu: GPUVisionMamba?, runner: PipelineRunner) throws -> ShardExecutor {
        guard let workers else {
            return InProcessExecutor(handler: JobWorker(model: m, modelSHA256: sha, threads: threads, gpu: gpu),
                                     logger: runner.logger, onProgress: runner.progress)
        }
        var o = ClusterOptions(endpoint: "ipc://\(NSTemporaryDirectory())ouromamba-\(getpid())-\(UUID().uuidString.prefix(8)).ipc")
        o.jobDirectory = jobDir
        o.waitWorkers = 120
        var modelArguments = ["--model", try model.modelPath()]
        if let c = model.config { modelArguments += ["--config", c] }
        if let s = model.stride { modelArguments += ["--stride", String(s)] }
        // Children share this stderr: only the coordinator draws progress, they log warnings only.
        let extra = ["--quiet", "--log-level", runner.verbose ? "debug" : "warning"]
        let threads = workerThreads, modelArgs = modelArguments
        let spec = LocalWorkersExecutor.Workers(count: workers, threads: threads) { i, endpoint, heartbeat in
            ["worker", "--connect", endpoint, "--id", "local-\(i)", "--threads", String(threads),
             "--heartbeat", String(heartbeat), "--max-reconnects", "3"] + modelArgs + extra
        }
        return try LocalWorkersExecutor(options: o, workers: spec, configurationHash: plan.configurationHash, modelSHA256: sha,
                                        logger: runner.logger, onProgress: runner.progress)
    }
}

/// Runs pipeline jobs for the CLI: a stderr logger above one progress line, the executor's
/// lifetime (closed when the job ends, its temporary job directory removed on success) and
/// errors as `CLIError`s.
struct PipelineRunner {
    let output = StatusLine()
    let logger: Logger
    let verbose: Bool
    private let log: ProgressLog

    init(common: CommonOptions) {
        verbose = common.verbose
        logger = ClusterLog.logger("pipeline", level: common.quiet || common.json ? .warning : (common.verbose ? .debug : .notice),
                                   output: output)
        let output = self.output, silent = common.quiet || common.json
        log = ProgressLog(isTTY: output.isTTY, columns: output.columns) { s in
            if !silent { output.write(s) }
        }
    }

    /// Draws a progress snapshot.
    var progress: (ClusterProgress) -> Void { log.report }

    /// Makes the executor, runs `body` with a driver over it, and closes the executor.
    func run<T>(model m: VisionMamba, modelSHA256 sha: String, executor make: () throws -> ShardExecutor,
                _ body: (PipelineDriver) throws -> T) throws -> T {
        // A failed job leaves its bar open: end that line before the error message.
        defer { output.finish() }
        return try clusterCLI {
            let executor = try make()
            var succeeded = false
            defer { executor.close(succeeded: succeeded) }
            let result = try body(PipelineDriver(executor: executor, model: m, modelSHA256: sha, logger: logger))
            succeeded = true
            return result
        }
    }
}

/// Loggers writing to stderr (stdout is kept for results), above the status line.
enum ClusterLog {
    static func logger(_ role: String, level: Logger.Level, output: StatusLine) -> Logger {
        var l = Logger(label: "ouromamba.\(role)") { ClusterLogHandler(label: $0, output: output) }
        l.logLevel = level
        return l
    }
}

/// Runs a pipeline or cluster call, turning its errors into CLI errors with their messages.
func clusterCLI<T>(_ body: () throws -> T) throws -> T {
    do { return try body() }
    catch let e as CLIError { throw e }
    catch let e as ClusterError { throw CLIError(e.description) }
    catch let e as JobError { throw CLIError(e.description) }
    catch let e as SecurityError { throw CLIError(e.description) }
    catch let e as QuantError { throw CLIError(e.description) }
    catch let e as GenError { throw CLIError(e.description) }
    catch let e as ModelError { throw CLIError(e.description) }
    catch let e as CheckpointError { throw CLIError(e.description) }
    catch let e as DataError { throw CLIError(e.description) }
    catch let e as FileError { throw CLIError(e.description) }
    catch { throw CLIError("\(error)") }
}

/// SHA-256 of a file's bytes, as a CLI error when it cannot be read.
func fileSHA256(_ path: String) throws -> String {
    do { return try SHA256.file(path) } catch { throw CLIError("\(error)") }
}
