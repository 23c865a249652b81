import Foundation
import Logging
import OuroModel

/// How a job runs: endpoint, security, job directory, liveness settings and, for
/// `--workers N`, the local worker processes to start.
public struct JobSessionOptions {
    /// Endpoint to bind.
    public var endpoint: String
    /// CURVE settings (required off loopback).
    public var security: CoordinatorSecurity = .none
    /// Job directory; nil: a temporary one, removed after a successful job.
    public var jobDirectory: String?
    /// Workers to wait for before the first phase.
    public var minWorkers = 1
    /// Seconds to wait for `minWorkers` (nil: forever).
    public var waitWorkers: Double?
    /// Heartbeat interval (seconds).
    public var heartbeat: Double = 1
    /// Attempts per task.
    public var maxAttempts = 3
    /// Accept workers whose thread count or backend differ.
    public var allowMixedBackends = false
    /// Local worker processes to start, if any.
    public var localWorkers: LocalWorkers?

    /// Local worker processes (`ouromamba worker` of this build).
    public struct LocalWorkers {
        /// How many.
        public var count: Int
        /// Compute threads of each (also `OPENBLAS_NUM_THREADS`).
        public var threads: Int = 1
        /// The `ouromamba` executable.
        public var executable: String = LocalWorkerPool.currentExecutable()
        /// Model arguments passed through (`--model M [--config C] [--stride S]`).
        public var modelArguments: [String]
        /// Extra worker arguments (log level, …).
        public var extraArguments: [String] = []

        /// Creates the description.
        public init(count: Int, modelArguments: [String]) {
            self.count = count
            self.modelArguments = modelArguments
        }
    }

    /// Creates options for `endpoint`.
    public init(endpoint: String) { self.endpoint = endpoint }
}

/// Runs one job end to end: opens the journal, binds the coordinator, starts local workers if
/// asked, runs the `JobRunner`, and always shuts the coordinator and its children down.
/// SIGINT/SIGTERM stop the children before this process exits.
public enum JobSession {
    /// Runs `plan`. `onProgress` receives snapshots during phases.
    public static func run(plan: JobPlan, model: VisionMamba, modelSHA256: String, options: JobSessionOptions,
                           logger: Logger, onProgress: ((ClusterProgress) -> Void)? = nil) throws -> JobReport {
        try plan.validate()
        let temporary = options.jobDirectory == nil
        let dir = options.jobDirectory.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ouromamba-job-\(UUID().uuidString.prefix(12))")
        let hash = plan.configurationHash
        let journal = try Journal.open(directory: dir, configurationHash: hash, checkpointHash: modelSHA256, logger: logger)
        if journal.completedTasks > 0 {
            logger.notice("job directory \(dir.path): \(journal.completedTasks) finished shards recorded; resuming")
        }
        var config = CoordinatorConfig(endpoint: options.endpoint, jobId: "ouromamba-\(hash.prefix(12))", configurationHash: hash,
                                       heartbeatInterval: options.heartbeat, maxAttempts: options.maxAttempts,
                                       allowMixedBackends: options.allowMixedBackends, security: options.security,
                                       statusFile: journal.statusFile)
        config.requiredModel = modelSHA256
        let coordinator = try Coordinator(config: config, logger: logger)
        var pool: LocalWorkerPool?
        let signals = forwardSignals(pool: { pool }, coordinator: coordinator, logger: logger)
        defer {
            // DISCONNECT first, so workers leave on their own; then stop whatever is left.
            pool?.markStopping()
            coordinator.shutdown()
            pool?.stop()
            signals.forEach { $0.cancel() }
        }
        if let local = options.localWorkers {
            let endpoint = coordinator.endpoint
            let p = LocalWorkerPool(executable: local.executable, count: local.count,
                                    environment: ["OPENBLAS_NUM_THREADS": String(local.threads)], logger: logger) { i in
                ["worker", "--connect", endpoint, "--id", "local-\(i)", "--threads", String(local.threads),
                 "--heartbeat", String(options.heartbeat), "--max-reconnects", "3"] + local.modelArguments + local.extraArguments
            }
            pool = p
            try p.start()
            watch(p, coordinator: coordinator, logger: logger)
        }
        let want = max(1, options.minWorkers)
        logger.notice("coordinator on \(coordinator.endpoint): waiting for \(want) worker(s); job directory \(dir.path)")
        if !coordinator.waitForWorkers(want, timeout: options.waitWorkers ?? 3.0e8) {
            throw JobError("only \(coordinator.snapshot().workers.filter { $0.state != .dead }.count) of \(want) workers connected to \(coordinator.endpoint) in time")
        }
        let runner = JobRunner(coordinator: coordinator, journal: journal, model: model, modelSHA256: modelSHA256,
                               logger: logger, onProgress: onProgress)
        let report: JobReport
        do {
            report = try runner.run(plan)
        } catch ClusterError.stopped where pool != nil && pool!.running == 0 {
            throw JobError("all \(pool!.count) local workers exited before the job finished (see their errors above)")
        }
        if temporary { try? FileManager.default.removeItem(at: dir) }
        return report
    }

    /// SIGINT/SIGTERM: DISCONNECT the workers, stop local children, then exit with 128 + signal
    /// (the journal is fsync'ed per record, so a rerun resumes).
    private static func forwardSignals(pool: @escaping () -> LocalWorkerPool?, coordinator: Coordinator,
                                       logger: Logger) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                logger.warning("signal \(sig): stopping the job (rerun with the same job directory to resume)")
                pool()?.markStopping()
                coordinator.shutdown()
                pool()?.stop(grace: 2)
                exit(128 + sig)
            }
            s.resume()
            return s
        }
    }

    /// Stops the coordinator when every local worker has exited (the job could never finish).
    private static func watch(_ pool: LocalWorkerPool, coordinator: Coordinator, logger: Logger) {
        let t = Thread { [weak coordinator] in
            while let c = coordinator {
                if pool.isStopping { return }
                if pool.running == 0 {
                    logger.error("all local workers exited")
                    c.shutdown()
                    return
                }
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        t.start()
    }
}
