/// One worker in a progress snapshot.
public struct WorkerProgress: Sendable, Codable, Equatable {
    /// State of a worker.
    public enum State: String, Sendable, Codable {
        case idle, busy, dead
    }

    /// The worker's id from READY.
    public var workerId: String
    /// Its connection (routing id).
    public var connection: String
    /// Backend string from READY.
    public var backend: String
    /// Compute threads.
    public var threads: Int
    /// Credit (1 or 2).
    public var credit: Int
    /// idle, busy or dead.
    public var state: State
    /// Tasks in flight.
    public var tasks: [String]
    /// Results accepted from it.
    public var completed: Int
    /// Progress of the running task from its last heartbeat.
    public var step: Int?
    /// Total steps of the running task.
    public var steps: Int?
    /// Completed tasks per second since it registered.
    public var tasksPerSecond: Double

    /// Creates a worker entry.
    public init(workerId: String, connection: String, backend: String, threads: Int, credit: Int, state: State, tasks: [String], completed: Int, step: Int?, steps: Int?, tasksPerSecond: Double) {
        self.workerId = workerId
        self.connection = connection
        self.backend = backend
        self.threads = threads
        self.credit = credit
        self.state = state
        self.tasks = tasks
        self.completed = completed
        self.step = step
        self.steps = steps
        self.tasksPerSecond = tasksPerSecond
    }
}

/// A snapshot of the coordinator: the current phase and every worker.
public struct ClusterProgress: Sendable, Codable, Equatable {
    /// Job id.
    public var jobId: String
    /// Running phase, or nil between phases.
    public var phase: String?
    /// Tasks in the phase.
    public var tasksTotal: Int
    /// Tasks with a result (including resumed ones).
    public var tasksDone: Int
    /// Tasks taken from the journal instead of computed.
    public var tasksResumed: Int
    /// Tasks running on workers.
    public var tasksInFlight: Int
    /// Tasks queued.
    public var tasksPending: Int
    /// Re-dispatches in this phase.
    public var phaseRetries: Int
    /// Re-dispatches since the coordinator started.
    public var retries: Int
    /// Workers declared dead (silent, unreachable or misbehaving) since start.
    public var lostWorkers: Int
    /// Duplicate results seen.
    public var duplicateResults: Int
    /// Duplicate results whose checksum differed.
    public var determinismViolations: Int
    /// Malformed, oversized or incompatible messages rejected.
    public var rejectedMessages: Int
    /// CURVE handshakes rejected by the ZAP handler.
    public var authFailures: Int
    /// Seconds since the phase started.
    public var elapsedSeconds: Double
    /// Estimated seconds left, when known.
    public var etaSeconds: Double?
    /// Connected workers, then recently lost ones.
    public var workers: [WorkerProgress]

    /// Creates a snapshot.
    public init(jobId: String, phase: String?, tasksTotal: Int, tasksDone: Int, tasksResumed: Int, tasksInFlight: Int, tasksPending: Int, phaseRetries: Int, retries: Int, lostWorkers: Int, duplicateResults: Int, determinismViolations: Int, rejectedMessages: Int, authFailures: Int, elapsedSeconds: Double, etaSeconds: Double?, workers: [WorkerProgress]) {
        self.jobId = jobId
        self.phase = phase
        self.tasksTotal = tasksTotal
        self.tasksDone = tasksDone
        self.tasksResumed = tasksResumed
        self.tasksInFlight = tasksInFlight
        self.tasksPending = tasksPending
        self.phaseRetries = phaseRetries
        self.retries = retries
        self.lostWorkers = lostWorkers
        self.duplicateResults = duplicateResults
        self.determinismViolations = determinismViolations
        self.rejectedMessages = rejectedMessages
        self.authFailures = authFailures
        self.elapsedSeconds = elapsedSeconds
        self.etaSeconds = etaSeconds
        self.workers = workers
    }
}

/// What one worker did in one phase: the results accepted from it and the time it spent on them.
public struct WorkerTiming: Sendable, Codable, Equatable {
    /// The worker's id from READY.
    public var workerId: String
    /// Results accepted from it (re-dispatched attempts that it lost are not counted).
    public var tasks: Int
    /// Seconds it was busy on those tasks, as the coordinator sees it: from each task's dispatch,
    /// or from the worker's previous result when that came later (a worker computes its queued
    /// tasks one after the other), to the task's result. Transfers are included.
    public var busySeconds: Double

    /// Creates a record.
    public init(workerId: String, tasks: Int, busySeconds: Double) {
        self.workerId = workerId
        self.tasks = tasks
        self.busySeconds = busySeconds
    }
}

/// What `Coordinator.runPhase` returns.
public struct PhaseOutcome: Sendable {
    /// The phase.
    public var phase: String
    /// Results by task id.
    public var results: [String: TaskResult]
    /// Tasks taken from the journal (not recomputed).
    public var resumed: Int
    /// Re-dispatches during the phase.
    public var retries: Int
    /// Wall time in seconds.
    public var elapsedSeconds: Double
    /// Per worker that delivered results in this run, by worker id (resumed tasks count for none).
    public var workers: [WorkerTiming]

    /// Creates an outcome.
    public init(phase: String, results: [String: TaskResult], resumed: Int, retries: Int, elapsedSeconds: Double, workers: [WorkerTiming]) {
        self.phase = phase
        self.results = results
        self.resumed = resumed
        self.retries = retries
        self.elapsedSeconds = elapsedSeconds
        self.workers = workers
    }
}
