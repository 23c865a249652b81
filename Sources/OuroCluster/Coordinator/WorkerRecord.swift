import OuroSupport
/// A ROUTER routing id.
struct PeerID: Hashable, CustomStringConvertible, Sendable {
    let bytes: [UInt8]

    init(_ frame: Frame) { bytes = frame.bytes }

    var frame: Frame { Frame(bytes) }

    /// The id as text when printable, hex otherwise.
    var description: String {
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return String(decoding: bytes, as: UTF8.self) }
        return "0x" + SHA256.hex(bytes)
    }
}

/// A task within the coordinator: phase and id.
struct TaskKey: Hashable, Sendable {
    let phase: String
    let id: String
}

/// A registered worker, as the coordinator tracks it.
struct WorkerRecord {
    let peer: PeerID
    let info: WorkerInfo
    let credit: Int
    let registeredAt: UInt64
    var inFlight: [TaskKey] = []
    var lastHeard: UInt64
    var lastSent: UInt64 = 0
    var lruStamp: UInt64 = 0
    var completed = 0
    var progress: HeartbeatInfo?

    func snapshot(now: UInt64, dead: Bool = false) -> WorkerProgress {
        let age = max(Clock.seconds(now &- registeredAt), 1e-9)
        return WorkerProgress(
            workerId: info.workerId, connection: peer.description, backend: info.backend, threads: info.threads,
            credit: credit, state: dead ? .dead : (inFlight.isEmpty ? .idle : .busy), tasks: inFlight.map(\.id),
            completed: completed, step: progress?.step, steps: progress?.steps,
            tasksPerSecond: Double(completed) / age)
    }
}

/// One running phase.
struct PhaseState {
    enum TaskState: Equatable {
        case pending
        case inFlight(PeerID)
        case done
    }

    /// One worker's accepted results in this phase.
    struct Busy {
        var tasks = 0
        var busyNanos: UInt64 = 0
        var lastResult: UInt64 = 0
    }

    let name: String
    let startedAt: UInt64
    let order: [String]
    var specs: [String: TaskSpec]
    var states: [String: TaskState]
    var pending: [String]
    var results: [String: TaskResult]
    let resumed: Int
    var retries = 0
    var failure: ClusterError?
    /// When each task was last sent to a worker.
    var dispatchedAt: [String: UInt64] = [:]
    /// Per worker id.
    var timing: [String: Busy] = [:]

    var isComplete: Bool { results.count == order.count }

    /// Counts an accepted result of `taskId` from `workerId` at `now`. A worker runs its tasks
    /// one at a time in arrival order, so a task queued behind another starts at that one's result.
    mutating func recordResult(_ taskId: String, workerId: String, now: UInt64) {
        var t = timing[workerId] ?? Busy()
        let from = max(dispatchedAt[taskId] ?? now, t.lastResult)
        t.tasks += 1
        t.busyNanos += now > from ? now - from : 0
        t.lastResult = now
        timing[workerId] = t
    }

    /// Per-worker figures, by worker id.
    var workerTimings: [WorkerTiming] {
        timing.keys.sorted().map { id in
            let t = timing[id]!
            return WorkerTiming(workerId: id, tasks: t.tasks, busySeconds: Clock.seconds(t.busyNanos))
        }
    }
}

/// A task state change for the journal (written by the `runPhase` thread, not the I/O thread).
enum JournalEvent {
    case dispatched(TaskKey, attempt: Int, worker: String)
    case completed(TaskResult)
    case failed(TaskKey, attempt: Int, errorClass: ErrorClass, message: String, final: Bool)
}

/// A message the I/O thread must send.
struct Outgoing {
    let peer: PeerID
    let message: ProtocolMessage
}
