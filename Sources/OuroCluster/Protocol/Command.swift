/// The protocol commands (cluster.md §2).
public enum Command: String, Sendable, CaseIterable {
    /// worker → coordinator: registration with capabilities.
    case ready = "READY"
    /// both ways: liveness, optionally with the running task's progress.
    case heartbeat = "HEARTBEAT"
    /// coordinator → worker: one unit of work.
    case task = "TASK"
    /// worker → coordinator: the outcome of a task.
    case result = "RESULT"
    /// worker → coordinator: a task failed (class `system` or `application`).
    case error = "ERROR"
    /// both ways: orderly shutdown or "unknown/incompatible peer".
    case disconnect = "DISCONNECT"
}

/// The protocol name and version carried in every message's first frame.
public enum ProtocolVersion {
    /// The protocol family prefix.
    public static let name = "OMQ"
    /// The version this build speaks.
    public static let current = 1
    /// The header frame text, `"OMQ/1"`.
    public static let header = "\(name)/\(current)"
}
