/// READY content: a worker's capabilities.
public struct WorkerInfo: Sendable, Equatable, Codable {
    /// Human-readable worker id (host/pid/rank), at most 128 bytes.
    public var workerId: String
    /// Protocol version spoken.
    public var protocolVersion: Int
    /// Backend description, for example `"cpu/openblas"` or `"gpu/cuda"`.
    public var backend: String
    /// Engine build identifier.
    public var engineVersion: String
    /// Compute threads.
    public var threads: Int
    /// Memory available for tasks, in bytes (0: unknown).
    public var memoryBytes: Int
    /// Tasks the worker accepts at once (1 or 2).
    public var credit: Int
    /// SHA-256s of the models the worker has.
    public var models: [String]

    /// Creates worker info.
    public init(workerId: String, protocolVersion: Int = ProtocolVersion.current, backend: String = "cpu",
                engineVersion: String = "dev", threads: Int = 1, memoryBytes: Int = 0, credit: Int = 1,
                models: [String] = []) {
        self.workerId = workerId
        self.protocolVersion = protocolVersion
        self.backend = backend
        self.engineVersion = engineVersion
        self.threads = threads
        self.memoryBytes = memoryBytes
        self.credit = credit
        self.models = models
    }

    /// What must agree across workers for bit-identical results (cluster.md §5).
    /// Results are bit-identical across workers with the same key. The thread count is not
    /// part of it: the engine partitions its work (GEMM row blocks included) independently of
    /// the thread count.
    public var determinismKey: String { "\(engineVersion)|\(backend)" }
}

/// HEARTBEAT content: optional progress of the running task.
public struct HeartbeatInfo: Sendable, Equatable {
    /// The running task.
    public var taskId: String?
    /// Step reached.
    public var step: Int?
    /// Total steps.
    public var steps: Int?

    /// Creates heartbeat info.
    public init(taskId: String? = nil, step: Int? = nil, steps: Int? = nil) {
        self.taskId = taskId
        self.step = step
        self.steps = steps
    }
}

/// ERROR content.
public struct TaskErrorReport: Sendable, Equatable {
    /// The failed task.
    public var taskId: String
    /// Its phase.
    public var phase: String
    /// Its attempt.
    public var attempt: Int
    /// The failure class.
    public var errorClass: ErrorClass
    /// The message.
    public var message: String

    /// Creates a report.
    public init(taskId: String, phase: String, attempt: Int, errorClass: ErrorClass, message: String) {
        self.taskId = taskId
        self.phase = phase
        self.attempt = attempt
        self.errorClass = errorClass
        self.message = message
    }
}

/// DISCONNECT content.
public struct DisconnectInfo: Sendable, Equatable {
    /// Why.
    public var reason: String
    /// True when the receiver should register again (send READY) instead of exiting.
    public var reregister: Bool

    /// Creates disconnect info.
    public init(reason: String, reregister: Bool = false) {
        self.reason = reason
        self.reregister = reregister
    }
}

/// Job-level context sent with every TASK.
public struct JobContext: Sendable, Equatable {
    /// The job id.
    public var jobId: String
    /// The job's configuration hash.
    public var configurationHash: String

    /// Creates a job context.
    public init(jobId: String, configurationHash: String) {
        self.jobId = jobId
        self.configurationHash = configurationHash
    }
}
