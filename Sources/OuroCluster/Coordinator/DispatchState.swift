import Logging

/// The coordinator's bookkeeping, free of sockets and threads: events go in (`handle`, `tick`,
/// `reject`, …), messages to send come out (`takeOutbox`), journal events come out
/// (`takeJournal`). The `Coordinator` guards it with a lock.
struct DispatchState {
    struct Settings {
        var job: JobContext
        var heartbeatNanos: UInt64
        var livenessNanos: UInt64
        var maxAttempts: Int
        var strictDeterminism: Bool
        var allowMixedBackends: Bool
        var requiredModel: String? = nil
    }

    struct Counters {
        var retries = 0
        var lostWorkers = 0
        var duplicates = 0
        var determinismViolations = 0
        var rejected = 0
    }

    let settings: Settings
    var logger: Logger
    private(set) var workers: [PeerID: WorkerRecord] = [:]
    private(set) var departed: [WorkerProgress] = []
    private(set) var phase: PhaseState?
    private(set) var counters = Counters()
    private(set) var version: UInt64 = 0
    private var lru: UInt64 = 0
    private var backendKey: String?
    private var completedChecksums: [TaskKey: String] = [:]
    private var journaling = false
    private var journal: [JournalEvent] = []
    private var outbox: [Outgoing] = []

    init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    // MARK: outputs

    mutating func takeOutbox() -> [Outgoing] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    mutating func takeJournal() -> [JournalEvent] {
        defer { journal.removeAll(keepingCapacity: true) }
        return journal
    }

    private mutating func send(_ peer: PeerID, _ m: ProtocolMessage, now: UInt64) {
        outbox.append(Outgoing(peer: peer, message: m))
        workers[peer]?.lastSent = now
    }

    private mutating func record(_ e: JournalEvent) {
        if journaling { journal.append(e) }
    }

    // MARK: phases

    mutating func beginPhase(name: String, tasks: [TaskSpec], resumed: [String: TaskResult], journaling: Bool, now: UInt64) {
        var specs: [String: TaskSpec] = [:]
        var states: [String: PhaseState.TaskState] = [:]
        var pending: [String] = []
        for t in tasks {
            specs[t.id] = t
            if resumed[t.id] != nil {
                states[t.id] = .done
                completedChecksums[TaskKey(phase: name, id: t.id)] = resumed[t.id]?.checksum
            } else {
                states[t.id] = .pending
                pending.append(t.id)
            }
        }
        self.journaling = journaling
        journal.removeAll()
        phase = PhaseState(name: name, startedAt: now, order: tasks.map(\.id), specs: specs, states: states,
                           pending: pending, results: resumed, resumed: resumed.count)
        version &+= 1
        dispatch(now: now)
    }

    /// Ends the current phase; tasks still on workers stay counted against their credit
    /// until they answer, and their answers are then ignored (or compared, if duplicates).
    mutating func endPhase() -> PhaseState? {
        defer {
            phase = nil
            journaling = false
            version &+= 1
        }
        return phase
    }

    private mutating func failPhase(_ error: ClusterError) {
        guard phase != nil, phase?.failure == nil else { return }
        logger.error("phase \(phase?.name ?? "?") failed: \(error)")
        phase?.failure = error
        phase?.pending.removeAll()
    }

    // MARK: events

    /// Handles one validated message from `peer`. `checksumOK` is the I/O thread's verdict on a RESULT.
    mutating func handle(_ message: ProtocolMessage, from peer: PeerID, checksumOK: Bool = true, now: UInt64) {
        version &+= 1
        workers[peer]?.lastHeard = now
        switch message {
        case .ready(let info): register(peer, info, now: now)
        case .heartbeat(let hb):
            if workers[peer] == nil {
                send(peer, .disconnect(DisconnectInfo(reason: "unknown peer: re-register", reregister: true)), now: now)
            } else {
                workers[peer]?.progress = hb
            }
        case .result(let r): handleResult(r, from: peer, checksumOK: checksumOK, now: now)
        case .error(let e): handleError(e, from: peer, now: now)
        case .disconnect(let d):
            if workers[peer] != nil {
                lose(peer, reason: "worker disconnected: \(d.reason)", counted: false, now: now)
            }
        case .task:
            reject(peer, ProtocolError.unexpected(.task), now: now)
        }
        dispatch(now: now)
    }

    /// Counts and logs a malformed message; answers DISCONNECT. A registered worker that
    /// misbehaves is dropped (its tasks are re-queued).
    mutating func reject(_ peer: PeerID?, _ error: Error, now: UInt64) {
        version &+= 1
        counters.rejected += 1
        logger.warning("rejected message from \(peer?.description ?? "?"): \(error)")
        guard let peer else { return }
        if workers[peer] != nil {
            lose(peer, reason: "sent a malformed message (\(error))", counted: true, now: now)
        }
        send(peer, .disconnect(DisconnectInfo(reason: "rejected: \(error)", reregister: false)), now: now)
        dispatch(now: now)
    }

    /// A send to `peer` failed (EHOSTUNREACH: the connection is gone).
    mutating func peerUnreachable(_ peer: PeerID, now: UInt64) {
        guard workers[peer] != nil else { return }
        version &+= 1
        lose(peer, reason: "connection gone", counted: true, now: now)
        dispatch(now: now)
    }

    /// Liveness checks, heartbeats and dispatch; call at least every half heartbeat interval.
    mutating func tick(now: UInt64) {
        for (peer, w) in workers where now > w.lastHeard && now - w.lastHeard > settings.livenessNanos {
            version &+= 1
            lose(peer, reason: String(format: "silent for %.2f s", Clock.seconds(now - w.lastHeard)), counted: true, now: now)
        }
        for (peer, w) in workers where now >= w.lastSent &+ settings.heartbeatNanos {
            send(peer, .heartbeat(HeartbeatInfo()), now: now)
        }
        dispatch(now: now)
    }

    /// Sends DISCONNECT to every worker and forgets them.
    mutating func disconnectAll(reason: String, now: UInt64) {
        for peer in workers.keys {
            send(peer, .disconnect(DisconnectInfo(reason: reason, reregister: false)), now: now)
        }
        workers.removeAll()
        version &+= 1
    }

    // MARK: handlers

    private mutating func register(_ peer: PeerID, _ info: WorkerInfo, now: UInt64) {
        if workers[peer] != nil {
            lose(peer, reason: "re-registered", counted: false, now: now)
        }
        guard info.protocolVersion == ProtocolVersion.current else {
            counters.rejected += 1
            logger.warning("worker \(info.workerId) speaks protocol \(info.protocolVersion), refusing it")
            send(peer, .disconnect(DisconnectInfo(reason: "incompatible protocol version \(info.protocolVersion), coordinator speaks \(ProtocolVersion.current)")), now: now)
            return
        }
        if let model = settings.requiredModel, !info.models.contains(model) {
            counters.rejected += 1
            let has = info.models.isEmpty ? "none" : info.models.joined(separator: ", ")
            logger.warning("worker \(info.workerId) does not have the job's model \(model) (it has \(has)); refusing it")
            send(peer, .disconnect(DisconnectInfo(reason: "model mismatch: the job needs model sha256 \(model), this worker has \(has)")), now: now)
            return
        }
        if !settings.allowMixedBackends {
            if let key = backendKey, key != info.determinismKey {
                counters.rejected += 1
                logger.warning("worker \(info.workerId) offers \(info.determinismKey) but the job runs on \(key); refusing it")
                send(peer, .disconnect(DisconnectInfo(reason: "backend mismatch: job runs on \(key), worker offers \(info.determinismKey)")), now: now)
                return
            }
            backendKey = info.determinismKey
        }
        workers[peer] = WorkerRecord(peer: peer, info: info, credit: min(max(info.credit, 1), 2), registeredAt: now, lastHeard: now)
        logger.info("worker \(info.workerId) registered (\(peer), \(info.backend), \(info.threads) threads, credit \(info.credit))")
    }

    private mutating func handleResult(_ r: TaskResult, from peer: PeerID, checksumOK: Bool, now: UInt64) {
        let key = TaskKey(phase: r.phase, id: r.taskId)
        let known = workers[peer] != nil
        if known { workers[peer]?.inFlight.removeAll { $0 == key } }
        guard checksumOK else {
            counters.rejected += 1
            handleError(TaskErrorReport(taskId: r.taskId, phase: r.phase, attempt: r.attempt, errorClass: .system,
                                        message: "result checksum does not match its frames"), from: peer, now: now)
            return
        }
        if !known {
            send(peer, .disconnect(DisconnectInfo(reason: "unknown peer: re-register", reregister: true)), now: now)
        }
        guard let ph = phase, ph.name == r.phase, let state = ph.states[r.taskId] else {
            if let first = completedChecksums[key] { compareDuplicate(key, first: first, second: r.checksum) }
            else { logger.debug("ignoring result for unknown task \(r.taskId) of phase \(r.phase)") }
            return
        }
        if state == .done {
            compareDuplicate(key, first: ph.results[r.taskId]?.checksum ?? "", second: r.checksum)
            return
        }
        guard ph.failure == nil else { return }
        var result = r
        result.workerId = workers[peer]?.info.workerId ?? r.workerId
        if state == .pending { phase?.pending.removeAll { $0 == r.taskId } }
        phase?.states[r.taskId] = .done
        phase?.results[r.taskId] = result
        completedChecksums[key] = r.checksum
        workers[peer]?.completed += 1
        phase?.recordResult(r.taskId, workerId: result.workerId, now: now)
        record(.completed(result))
    }

    private mutating func compareDuplicate(_ key: TaskKey, first: String, second: String) {
        counters.duplicates += 1
        guard first != second else {
            logger.info("duplicate result for task \(key.id) of phase \(key.phase) agrees with the first")
            return
        }
        counters.determinismViolations += 1
        let error = ClusterError.determinismViolation(phase: key.phase, taskId: key.id, first: first, second: second)
        logger.error("\(error)")
        if settings.strictDeterminism, phase?.name == key.phase { failPhase(error) }
    }

    private mutating func handleError(_ e: TaskErrorReport, from peer: PeerID, now: UInt64) {
        let key = TaskKey(phase: e.phase, id: e.taskId)
        workers[peer]?.inFlight.removeAll { $0 == key }
        if workers[peer] == nil {
            send(peer, .disconnect(DisconnectInfo(reason: "unknown peer: re-register", reregister: true)), now: now)
        }
        guard let ph = phase, ph.name == e.phase, ph.failure == nil, let state = ph.states[e.taskId], state != .done,
              let spec = ph.specs[e.taskId], e.attempt >= spec.attempt else {
            logger.info("ignoring stale \(e.errorClass.rawValue) error for task \(e.taskId) attempt \(e.attempt)")
            return
        }
        let worker = workers[peer]?.info.workerId ?? peer.description
        logger.warning("task \(e.taskId) attempt \(e.attempt) failed on \(worker): \(e.errorClass.rawValue): \(e.message)")
        failTask(e.taskId, errorClass: e.errorClass, message: e.message, worker: worker)
    }

    /// Re-queues a task with attempt + 1, or fails the phase (application error or retry cap).
    private mutating func failTask(_ id: String, errorClass: ErrorClass, message: String, worker: String) {
        guard let ph = phase, let spec = ph.specs[id] else { return }
        let key = TaskKey(phase: ph.name, id: id)
        let final = errorClass == .application || spec.attempt >= settings.maxAttempts
        record(.failed(key, attempt: spec.attempt, errorClass: errorClass, message: message, final: final))
        if final {
            failPhase(.taskFailed(TaskFailure(phase: ph.name, taskId: id, attempt: spec.attempt, errorClass: errorClass,
                                              message: message, workerId: worker,
                                              retriesExhausted: errorClass == .system)))
            return
        }
        phase?.specs[id]?.attempt += 1
        phase?.states[id] = .pending
        phase?.pending.removeAll { $0 == id }
        phase?.pending.insert(id, at: 0)
        phase?.retries += 1
        counters.retries += 1
    }

    private mutating func lose(_ peer: PeerID, reason: String, counted: Bool, now: UInt64) {
        guard let w = workers.removeValue(forKey: peer) else { return }
        if counted { counters.lostWorkers += 1 }
        let interrupted = w.inFlight.filter { phase?.name == $0.phase && phase?.states[$0.id] == .inFlight(peer) }
        let list = interrupted.map(\.id).joined(separator: ", ")
        logger.warning("worker \(w.info.workerId) (\(peer)) lost: \(reason); interrupted tasks: [\(list)]")
        departed.append(w.snapshot(now: now, dead: true))
        if departed.count > 32 { departed.removeFirst(departed.count - 32) }
        for key in interrupted {
            failTask(key.id, errorClass: .system, message: "worker \(w.info.workerId) lost: \(reason)", worker: w.info.workerId)
        }
    }

    /// Credit-based dispatch: each pending task goes to the least recently used worker with free credit.
    private mutating func dispatch(now: UInt64) {
        guard let ph = phase, ph.failure == nil, !ph.pending.isEmpty else { return }
        while let id = phase?.pending.first {
            let free = workers.values.filter { $0.inFlight.count < $0.credit }
            guard let w = free.min(by: { ($0.inFlight.count, $0.lruStamp) < ($1.inFlight.count, $1.lruStamp) }),
                  let spec = phase?.specs[id] else { return }
            phase?.pending.removeFirst()
            phase?.states[id] = .inFlight(w.peer)
            phase?.dispatchedAt[id] = now
            lru &+= 1
            workers[w.peer]?.lruStamp = lru
            workers[w.peer]?.inFlight.append(TaskKey(phase: ph.name, id: id))
            workers[w.peer]?.progress = nil
            send(w.peer, .task(spec, settings.job), now: now)
            record(.dispatched(TaskKey(phase: ph.name, id: id), attempt: spec.attempt, worker: w.info.workerId))
            version &+= 1
        }
    }

    // MARK: snapshot

    func snapshot(now: UInt64, authFailures: Int) -> ClusterProgress {
        let ph = phase
        let elapsed = ph.map { Clock.seconds(now &- $0.startedAt) } ?? 0
        var eta: Double?
        if let ph {
            let computed = ph.results.count - ph.resumed
            let left = ph.order.count - ph.results.count
            if computed > 0 { eta = elapsed / Double(computed) * Double(left) }
        }
        let inFlight = ph?.states.values.filter { if case .inFlight = $0 { return true }; return false }.count ?? 0
        let live = workers.values.sorted { $0.registeredAt < $1.registeredAt }.map { $0.snapshot(now: now) }
        return ClusterProgress(
            jobId: settings.job.jobId, phase: ph?.name, tasksTotal: ph?.order.count ?? 0,
            tasksDone: ph?.results.count ?? 0, tasksResumed: ph?.resumed ?? 0, tasksInFlight: inFlight,
            tasksPending: ph?.pending.count ?? 0, phaseRetries: ph?.retries ?? 0, retries: counters.retries,
            lostWorkers: counters.lostWorkers, duplicateResults: counters.duplicates,
            determinismViolations: counters.determinismViolations, rejectedMessages: counters.rejected,
            authFailures: authFailures, elapsedSeconds: elapsed, etaSeconds: eta, workers: live + departed)
    }
}
