import OuroSupport
import Foundation
import Logging

/// The cluster coordinator (cluster.md §1–§8): binds a ROUTER socket, registers workers,
/// dispatches tasks with credit-based LRU, keeps heartbeats both ways, re-queues the tasks of
/// dead workers, and journals every task state change.
///
/// A dedicated I/O thread owns the socket from `init` until `shutdown()`, so workers stay
/// connected (and heartbeated) between phases. `runPhase` blocks its caller until the phase
/// completes or fails; progress callbacks run on the caller's thread.
/// The dispatch state is in `shared` (a lock box); the socket belongs to the I/O thread.
public final class Coordinator: Sendable {
    /// The configuration.
    public let config: CoordinatorConfig
    /// The bound endpoint, with wildcard ports resolved (connect workers here).
    public let endpoint: String

    let logger: Logger
    let shared: SharedState
    let wakeup: Wakeup
    private let context: ZMQContext
    private let zap: ZAPHandler?
    private let ioThread: ThreadHandle
    private let stopOnce = Locked(false)

    /// Binds the endpoint and starts the I/O thread. A non-loopback endpoint without CURVE throws
    /// `SecurityError.insecureEndpoint`.
    public init(config: CoordinatorConfig, logger: Logger = Logger(label: "ouromamba.cluster.coordinator")) throws {
        if case .none = config.security, !Endpoint.isLocal(config.endpoint) {
            throw SecurityError.insecureEndpoint(config.endpoint)
        }
        guard config.heartbeatInterval > 0, config.livenessIntervals >= 2, config.maxAttempts >= 1 else {
            throw ClusterError.invalidTask("heartbeat interval > 0, liveness intervals >= 2 and max attempts >= 1 are required")
        }
        self.config = config
        self.logger = logger
        context = try config.sharedContext ?? ZMQContext()
        if case .curve(_, let allowed) = config.security {
            zap = try ZAPHandler(context: context, allowed: allowed, logger: logger)
        } else {
            zap = nil
        }
        let router = try ZMQSocket(context: context, kind: .router)
        try router.setRouterMandatory(true)
        try router.setMaxMessageSize(Int64(config.limits.maxMessageBytes))
        try router.setHandshakeInterval(config.handshakeTimeoutMs)
        try router.applyServerSecurity(config.security)
        try router.bind(config.endpoint)
        endpoint = router.lastEndpoint
        wakeup = try Wakeup()
        let settings = DispatchState.Settings(
            job: JobContext(jobId: config.jobId, configurationHash: config.configurationHash),
            heartbeatNanos: Clock.nanos(config.heartbeatInterval),
            livenessNanos: Clock.nanos(config.heartbeatInterval * Double(config.livenessIntervals)),
            maxAttempts: config.maxAttempts, strictDeterminism: config.strictDeterminism,
            allowMixedBackends: config.allowMixedBackends, requiredModel: config.requiredModel)
        shared = SharedState(DispatchState(settings: settings, logger: logger))
        logger.info("coordinator listening on \(endpoint)")
        // Handed over to the I/O thread, which alone uses it from here on.
        nonisolated(unsafe) let io = CoordinatorIO(router: router, shared: shared, wakeup: wakeup, limits: config.limits,
                               heartbeatInterval: config.heartbeatInterval, logger: logger)
        ioThread = ThreadHandle(name: "ouro-coordinator-io") { io.run() }
    }

    deinit { shutdown() }

    /// Sends DISCONNECT to every worker, stops the I/O thread and closes the socket. Idempotent.
    public func shutdown() {
        let first = stopOnce.withLock { (done: inout Bool) -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        shared.mutate { $0.stopping = true }
        wakeup.signal()
        let ioStopped = ioThread.join(timeout: 10)
        if !ioStopped { logger.error("coordinator I/O thread did not stop in time") }
        let zapStopped = zap?.stop() ?? true
        // The I/O thread closed the socket with a linger; terminating the context waits for the
        // farewell DISCONNECTs to leave, so a process that exits next does not drop them.
        if ioStopped && zapStopped && config.sharedContext == nil { context.terminate() }
        logger.info("coordinator stopped")
    }

    /// The current progress snapshot.
    public func snapshot() -> ClusterProgress {
        let auth = zap?.counts.rejected ?? 0
        return shared.read { $0.state.snapshot(now: Clock.now(), authFailures: auth) }
    }

    /// Waits until at least `count` workers are registered; false on timeout.
    public func waitForWorkers(_ count: Int, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        return shared.wait(until: deadline) { $0.state.workers.count >= count || $0.stopping }
            && shared.read { $0.state.workers.count >= count }
    }

    /// Runs one phase: sends `tasks` to the workers and returns when every task has a result.
    ///
    /// With a `journal`, tasks already completed in it (and whose stored result verifies) are not
    /// redone; every dispatch, failure and result is recorded, results durably before their record.
    /// Throws `ClusterError.taskFailed` (application error, or system error after
    /// `maxAttempts`), `.determinismViolation`, `.phaseTimeout`, `.stopped`, `.invalidTask`, `.journal`.
    public func runPhase(_ name: String, tasks: [TaskSpec], journal: Journal? = nil,
                         onProgress: ((ClusterProgress) -> Void)? = nil) throws -> PhaseOutcome {
        let specs = try prepare(name, tasks)
        var resumed: [String: TaskResult] = [:]
        if let journal {
            for t in specs {
                if let r = journal.completedResult(phase: name, taskId: t.id) { resumed[t.id] = r }
                else { try journal.recordCreated(phase: name, taskId: t.id) }
            }
            if !resumed.isEmpty { logger.info("phase \(name): \(resumed.count) of \(specs.count) tasks taken from the journal") }
        }
        // From before the first dispatch, so no worker's busy time exceeds the phase's wall time.
        let start = Date()
        try shared.mutateThrowing { s in
            if s.stopping { throw ClusterError.stopped }
            if let running = s.state.phase { throw ClusterError.phaseAlreadyRunning(running.name) }
            s.state.beginPhase(name: name, tasks: specs, resumed: resumed, journaling: journal != nil, now: Clock.now())
        }
        wakeup.signal()
        logger.info("phase \(name): \(specs.count) tasks")
        do {
            return try wait(phase: name, journal: journal, onProgress: onProgress, start: start)
        } catch {
            let left = shared.mutate { $0.state.takeJournal() }
            for e in left {
                do { try journal?.write(e) } catch { logger.error("phase \(name): journal write failed: \(error)") }
            }
            report(onProgress)
            _ = shared.mutate { $0.state.endPhase() }
            throw error
        }
    }

    private func prepare(_ name: String, _ tasks: [TaskSpec]) throws -> [TaskSpec] {
        guard !name.isEmpty, name.utf8.count <= 128 else { throw ClusterError.invalidTask("phase name must have 1–128 bytes") }
        var seen = Set<String>()
        return try tasks.map { t in
            guard !t.id.isEmpty, t.id.utf8.count <= 256 else { throw ClusterError.invalidTask("task id must have 1–256 bytes") }
            guard seen.insert(t.id).inserted else { throw ClusterError.invalidTask("duplicate task id \(t.id)") }
            var s = t
            s.phase = name
            s.attempt = 1
            let bytes = try? MessageCodec.encode(ProtocolMessage.task(s, JobContext(jobId: config.jobId, configurationHash: config.configurationHash)).message)
            guard let size = bytes?.reduce(0, { $0 + $1.count }) else {
                throw ClusterError.invalidTask("task \(t.id): metadata cannot be encoded as JSON (NaN or infinity?)")
            }
            guard size <= config.limits.maxMessageBytes, (bytes?[2].count ?? 0) <= config.limits.maxMetadataBytes else {
                throw ClusterError.invalidTask("task \(t.id): \(size) bytes exceed the message limits")
            }
            return s
        }
    }

    /// The `runPhase` loop: journal events, progress reports, completion, failure, timeout.
    private func wait(phase name: String, journal: Journal?, onProgress: ((ClusterProgress) -> Void)?,
                      start: Date) throws -> PhaseOutcome {
        let deadline = config.phaseTimeout.map { start.addingTimeInterval($0) }
        var seenVersion: UInt64 = 0
        var lastReport = Date.distantPast
        while true {
            let step = min(config.progressInterval, 0.25)
            let (events, version, complete, failure, stopping) = shared.waitAndTake(timeout: step, after: seenVersion)
            for e in events {
                do { try journal?.write(e) } catch {
                    logger.error("phase \(name): journal write failed: \(error)")
                    throw error
                }
            }
            if let failure { throw failure }
            if complete {
                report(onProgress)
                guard let ph = shared.mutate({ $0.state.endPhase() }) else { throw ClusterError.stopped }
                logger.info("phase \(name) done: \(ph.order.count) tasks, \(ph.resumed) from the journal, \(ph.retries) retries")
                return PhaseOutcome(phase: name, results: ph.results, resumed: ph.resumed, retries: ph.retries,
                                    elapsedSeconds: Date().timeIntervalSince(start), workers: ph.workerTimings)
            }
            if stopping { throw ClusterError.stopped }
            if let deadline, Date() > deadline {
                let p = snapshot()
                throw ClusterError.phaseTimeout(phase: name, done: p.tasksDone, total: p.tasksTotal)
            }
            if version != seenVersion, Date().timeIntervalSince(lastReport) >= config.progressInterval {
                seenVersion = version
                lastReport = Date()
                report(onProgress)
            }
        }
    }

    private func report(_ onProgress: ((ClusterProgress) -> Void)?) {
        let p = snapshot()
        onProgress?(p)
        if let url = config.statusFile {
            do {
                try DurableFile.writeAtomically(try JSONCoding.encode(p), to: url.path)
            } catch {
                logger.warning("cannot write status file \(url.path): \(error)")
            }
        }
        logger.debug("progress \(p.phase ?? "-"): \(p.tasksDone)/\(p.tasksTotal) done, \(p.tasksInFlight) running, \(p.workers.count) workers")
    }
}

/// The dispatch state and the stop flag, shared by the I/O thread and API callers.
/// `@unchecked Sendable`: a lock box (every access goes through `mutate`).
final class SharedState: @unchecked Sendable {
    struct Inner {
        var state: DispatchState
        var stopping = false
    }

    private let condition = NSCondition()
    private var inner: Inner

    init(_ state: DispatchState) { inner = Inner(state: state) }

    /// Mutates under the lock and wakes every waiter.
    func mutate<R>(_ body: (inout Inner) -> R) -> R {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return body(&inner)
    }

    func mutateThrowing<R>(_ body: (inout Inner) throws -> R) throws -> R {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return try body(&inner)
    }

    func read<R>(_ body: (Inner) -> R) -> R {
        condition.lock()
        defer { condition.unlock() }
        return body(inner)
    }

    /// Waits until `predicate` holds or `deadline` passes; returns whether it holds.
    func wait(until deadline: Date, _ predicate: (Inner) -> Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !predicate(inner) {
            if !condition.wait(until: deadline) { return predicate(inner) }
        }
        return true
    }

    /// Waits up to `timeout` for a change, then takes the journal events and the phase status.
    func waitAndTake(timeout: Double, after version: UInt64)
        -> (events: [JournalEvent], version: UInt64, complete: Bool, failure: ClusterError?, stopping: Bool) {
        condition.lock()
        defer { condition.unlock() }
        if inner.state.version == version, !inner.stopping {
            _ = condition.wait(until: Date().addingTimeInterval(timeout))
        }
        let events = inner.state.takeJournal()
        let ph = inner.state.phase
        return (events, inner.state.version, ph?.isComplete ?? false, ph?.failure, inner.stopping)
    }
}
