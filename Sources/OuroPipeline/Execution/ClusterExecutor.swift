import OuroSupport
import Foundation
import Logging
import OuroCluster

/// How a cluster job runs: endpoint, security, job directory and liveness settings.
public struct ClusterOptions: Sendable {
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

    /// Creates options for `endpoint`.
    public init(endpoint: String) { self.endpoint = endpoint }
}

/// Runs phases on the ZeroMQ coordinator and the workers that connect to it, with a journal in
/// the job directory so a restarted job takes its finished shards from there.
///
/// Creating it opens the journal, binds the coordinator and forwards SIGINT/SIGTERM (stop the
/// workers, exit with 128 + signal; a rerun resumes). `waitForWorkers()` blocks until enough
/// workers registered; `close(succeeded:)` shuts everything down.
public class ClusterExecutor: ShardExecutor {
    /// The coordinator the phases run on.
    public let coordinator: Coordinator
    /// The job journal.
    public let journal: Journal
    /// The job directory.
    public let jobDirectory: URL
    let options: ClusterOptions
    let logger: Logger
    private let onProgress: ((ClusterProgress) -> Void)?
    private let temporaryDirectory: Bool
    private var signals: [DispatchSourceSignal] = []
    private var closed = false

    /// Opens the job directory for a job with `configurationHash` on the model `modelSHA256`
    /// and binds the coordinator. `onProgress` is called on the driver's thread during phases.
    public init(options: ClusterOptions, configurationHash hash: String, modelSHA256: String, logger: Logger,
                onProgress: ((ClusterProgress) -> Void)? = nil) throws {
        self.options = options
        self.logger = logger
        self.onProgress = onProgress
        temporaryDirectory = options.jobDirectory == nil
        jobDirectory = options.jobDirectory.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ouromamba-job-\(UUID().uuidString.prefix(12))")
        journal = try Journal.open(directory: jobDirectory, configurationHash: hash, checkpointHash: modelSHA256, logger: logger)
        if journal.completedTasks > 0 {
            logger.notice("job directory \(jobDirectory.path): \(journal.completedTasks) finished shards recorded; resuming")
        }
        var config = CoordinatorConfig(endpoint: options.endpoint, jobId: "ouromamba-\(hash.prefix(12))", configurationHash: hash,
                                       heartbeatInterval: options.heartbeat, maxAttempts: options.maxAttempts,
                                       allowMixedBackends: options.allowMixedBackends, security: options.security,
                                       statusFile: journal.statusFile)
        config.requiredModel = modelSHA256
        coordinator = try Coordinator(config: config, logger: logger)
        signals = forwardSignals()
    }

    deinit { stop() }

    /// Waits until `options.minWorkers` workers registered (at most `options.waitWorkers` seconds).
    public func waitForWorkers() throws {
        let want = max(1, options.minWorkers)
        logger.notice("coordinator on \(coordinator.endpoint): waiting for \(want) worker(s); job directory \(jobDirectory.path)")
        if !coordinator.waitForWorkers(want, timeout: options.waitWorkers ?? 3.0e8) {
            throw JobError("only \(coordinator.snapshot().workers.filter { $0.state != .dead }.count) of \(want) workers connected to \(coordinator.endpoint) in time")
        }
    }

    public func runPhase(_ name: String, tasks: [TaskSpec]) throws -> PhaseOutcome {
        try coordinator.runPhase(name, tasks: tasks, journal: journal, onProgress: onProgress)
    }

    /// `summary.json` in the job directory.
    public var summaryPath: String? { jobDirectory.appendingPathComponent("summary.json").path }

    /// Shuts the coordinator down (workers get DISCONNECT); a temporary job directory is removed
    /// when the job succeeded. Idempotent.
    public func close(succeeded: Bool) {
        stop()
        if succeeded && temporaryDirectory { try? FileManager.default.removeItem(at: jobDirectory) }
    }

    /// Stops the coordinator and whatever this executor started.
    func stop() {
        guard !closed else { return }
        closed = true
        coordinator.shutdown()
        signals.forEach { $0.cancel() }
    }

    /// Called on SIGINT/SIGTERM before the coordinator shuts down (local workers stop here).
    func interrupted() {}

    private func forwardSignals() -> [DispatchSourceSignal] {
        let logger = self.logger, coordinator = self.coordinator
        return [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { [weak self] in
                logger.warning("signal \(sig): stopping the job (rerun with the same job directory to resume)")
                self?.interrupted()
                coordinator.shutdown()
                exit(128 + sig)
            }
            s.resume()
            return s
        }
    }
}

/// The cluster executor with its workers started here: N processes of this build on an ipc
/// endpoint (`--workers N`). Their command line comes from the caller, so this module knows no
/// CLI flag names.
public final class LocalWorkersExecutor: ClusterExecutor {
    /// The worker processes.
    public let pool: LocalWorkerPool

    /// Local worker processes.
    public struct Workers: Sendable {
        /// How many.
        public var count: Int
        /// Compute threads of each (also `OPENBLAS_NUM_THREADS`).
        public var threads: Int = 1
        /// The executable (default: this one).
        public var executable: String = LocalWorkerPool.currentExecutable()
        /// Worker i's arguments, given the coordinator's endpoint and the heartbeat interval.
        public var arguments: @Sendable (_ index: Int, _ endpoint: String, _ heartbeat: Double) -> [String]

        /// Describes `count` workers started with `arguments`.
        public init(count: Int, threads: Int = 1, arguments: @escaping @Sendable (Int, String, Double) -> [String]) {
            self.count = count
            self.threads = threads
            self.arguments = arguments
        }
    }

    /// Binds the coordinator, starts the workers and waits until they registered.
    public init(options: ClusterOptions, workers: Workers, configurationHash: String, modelSHA256: String, logger: Logger,
                onProgress: ((ClusterProgress) -> Void)? = nil) throws {
        var o = options
        o.minWorkers = workers.count
        let endpoint = options.endpoint
        pool = LocalWorkerPool(executable: workers.executable, count: workers.count,
                               environment: ["OPENBLAS_NUM_THREADS": String(workers.threads)], logger: logger) { i in
            workers.arguments(i, endpoint, options.heartbeat)
        }
        try super.init(options: o, configurationHash: configurationHash, modelSHA256: modelSHA256, logger: logger,
                       onProgress: onProgress)
        do {
            try pool.start()
        } catch {
            close(succeeded: false)
            throw error
        }
        watch()
        try waitForWorkers()
    }

    public override func runPhase(_ name: String, tasks: [TaskSpec]) throws -> PhaseOutcome {
        do {
            return try super.runPhase(name, tasks: tasks)
        } catch ClusterError.stopped where pool.running == 0 {
            throw JobError("all \(pool.count) local workers exited before the job finished (see their errors above)")
        }
    }

    override func stop() {
        // DISCONNECT first, so workers leave on their own; then stop whatever is left.
        pool.markStopping()
        super.stop()
        pool.stop()
    }

    override func interrupted() {
        pool.markStopping()
        coordinator.shutdown()
        pool.stop(grace: 2)
    }

    /// Stops the coordinator when every local worker has exited (the job could never finish).
    private func watch() {
        let pool = self.pool, logger = self.logger
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
