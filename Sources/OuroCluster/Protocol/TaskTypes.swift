import OuroSupport
/// One unit of work: what the coordinator sends in a TASK.
public struct TaskSpec: Sendable {
    /// Unique id within its phase (at most 256 bytes), for example a hash of its inputs.
    public var id: String
    /// The phase this task belongs to (at most 128 bytes); set by `Coordinator.runPhase`.
    public var phase: String
    /// 1 for the first dispatch, +1 for every re-dispatch after a system failure.
    public var attempt: Int
    /// SHA-256 of the model the task needs; a worker without it answers an application ERROR.
    public var requiredModel: String?
    /// Task parameters (layer, shard, seeds, input hashes, …), payload-defined.
    public var metadata: JSONObject
    /// Inline binary inputs (raw little-endian tensors described by `metadata`).
    public var frames: [Frame]

    /// Creates a task (phase and attempt are filled in by the coordinator).
    public init(id: String, phase: String = "", attempt: Int = 1, requiredModel: String? = nil,
                metadata: JSONObject = [:], frames: [Frame] = []) {
        self.id = id
        self.phase = phase
        self.attempt = attempt
        self.requiredModel = requiredModel
        self.metadata = metadata
        self.frames = frames
    }
}

/// What a worker's handler returns for one task.
public struct TaskOutput: Sendable {
    /// Result parameters, payload-defined.
    public var metadata: JSONObject
    /// Result tensors.
    public var frames: [Frame]

    /// Creates an output.
    public init(metadata: JSONObject = [:], frames: [Frame] = []) {
        self.metadata = metadata
        self.frames = frames
    }
}

/// A completed task as the coordinator returns it.
public struct TaskResult: Sendable {
    /// The task id.
    public var taskId: String
    /// The phase.
    public var phase: String
    /// The attempt that produced this result.
    public var attempt: Int
    /// `TaskResult.checksum(of: frames)`, verified on receipt.
    public var checksum: String
    /// Result parameters.
    public var metadata: JSONObject
    /// Result tensors.
    public var frames: [Frame]
    /// The id of the worker that produced it ("" when unknown).
    public var workerId: String

    /// Creates a result, computing its checksum.
    public init(taskId: String, phase: String, attempt: Int, metadata: JSONObject, frames: [Frame], workerId: String = "") {
        self.init(taskId: taskId, phase: phase, attempt: attempt, checksum: TaskResult.checksum(of: frames),
                  metadata: metadata, frames: frames, workerId: workerId)
    }

    /// Creates a result with a given checksum (not verified).
    public init(taskId: String, phase: String, attempt: Int, checksum: String, metadata: JSONObject,
                frames: [Frame], workerId: String) {
        self.taskId = taskId
        self.phase = phase
        self.attempt = attempt
        self.checksum = checksum
        self.metadata = metadata
        self.frames = frames
        self.workerId = workerId
    }

    /// SHA-256 over the result frames: for each frame, its size as a little-endian UInt64
    /// followed by its bytes (so frame boundaries are part of the hash). Metadata is not included:
    /// it may legitimately record the producing worker.
    public static func checksum(of frames: [Frame]) -> String {
        var h = SHA256()
        for f in frames {
            h.update(uint64: UInt64(f.count))
            h.update(f)
        }
        return h.finalizeHex()
    }

    /// True when the frames match the recorded checksum.
    public var isIntact: Bool { TaskResult.checksum(of: frames) == checksum }
}

/// The two failure classes of cluster.md §4.
public enum ErrorClass: String, Sendable, Codable {
    /// Infrastructure trouble (lost worker, out of memory, I/O): retried up to the cap.
    case system
    /// Deterministic failure (exception, NaN/Inf, input hash mismatch): fails the job at once.
    case application
}

/// Throw this from a task handler to choose the failure class; any other error counts as `application`.
public struct TaskError: Error, Sendable, CustomStringConvertible {
    /// The class.
    public var errorClass: ErrorClass
    /// The message sent to the coordinator.
    public var message: String

    /// Creates an error.
    public init(_ errorClass: ErrorClass, _ message: String) {
        self.errorClass = errorClass
        self.message = message
    }

    /// A retryable failure.
    public static func system(_ message: String) -> TaskError { TaskError(.system, message) }
    /// A deterministic failure.
    public static func application(_ message: String) -> TaskError { TaskError(.application, message) }

    /// `"class: message"`.
    public var description: String { "\(errorClass.rawValue): \(message)" }
}
