/// Why a task failed the job.
public struct TaskFailure: Sendable, Equatable, CustomStringConvertible {
    /// The phase.
    public var phase: String
    /// The task.
    public var taskId: String
    /// The attempt that failed.
    public var attempt: Int
    /// The failure class.
    public var errorClass: ErrorClass
    /// The worker's (or coordinator's) message.
    public var message: String
    /// The worker it failed on ("" if none).
    public var workerId: String
    /// True when a system failure hit the retry cap.
    public var retriesExhausted: Bool

    /// Human-readable text.
    public var description: String {
        let cap = retriesExhausted ? " (retry cap reached)" : ""
        let on = workerId.isEmpty ? "" : " on worker \(workerId)"
        return "task \(taskId) of phase \(phase) failed at attempt \(attempt)\(on)\(cap): \(errorClass.rawValue) error: \(message)"
    }
}

/// Errors from the coordinator and the journal.
public enum ClusterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A task failed (application error, or system error after the retry cap).
    case taskFailed(TaskFailure)
    /// Two results of one task disagree.
    case determinismViolation(phase: String, taskId: String, first: String, second: String)
    /// The phase did not finish in time.
    case phaseTimeout(phase: String, done: Int, total: Int)
    /// The coordinator was shut down.
    case stopped
    /// `runPhase` was called while another phase runs.
    case phaseAlreadyRunning(String)
    /// A task list problem (empty or duplicate id, unencodable metadata, too large).
    case invalidTask(String)
    /// The job directory belongs to a different configuration or checkpoint.
    case configurationMismatch(field: String, journal: String, requested: String)
    /// The journal or result store could not be written or read.
    case journal(String)
    /// A local worker process could not be started.
    case localWorker(String)

    /// Human-readable text.
    public var description: String {
        switch self {
        case .taskFailed(let f): return f.description
        case .determinismViolation(let p, let t, let a, let b):
            return "determinism violation: task \(t) of phase \(p) produced checksum \(a) and later \(b)"
        case .phaseTimeout(let p, let d, let n): return "phase \(p) timed out with \(d) of \(n) tasks done"
        case .stopped: return "coordinator stopped"
        case .phaseAlreadyRunning(let p): return "phase \(p) is still running"
        case .invalidTask(let s): return "invalid task: \(s)"
        case .configurationMismatch(let f, let j, let r):
            return "refusing to resume: the job directory has \(f) \(j), this run has \(r)"
        case .journal(let s): return "journal: \(s)"
        case .localWorker(let s): return s
        }
    }
}
