import OuroSupport
/// A validated, typed protocol message.
public enum ProtocolMessage: Sendable {
    case ready(WorkerInfo)
    case heartbeat(HeartbeatInfo)
    case task(TaskSpec, JobContext)
    case result(TaskResult)
    case error(TaskErrorReport)
    case disconnect(DisconnectInfo)

    /// The generic message.
    public var message: Message {
        switch self {
        case .ready(let w):
            return Message(command: .ready, fields: [
                "worker_id": .string(w.workerId), "protocol": .int(w.protocolVersion), "backend": .string(w.backend),
                "engine_version": .string(w.engineVersion), "threads": .int(w.threads),
                "memory_bytes": .int(w.memoryBytes), "credit": .int(w.credit),
                "models": .array(w.models.map { .string($0) }),
            ])
        case .heartbeat(let h):
            var f: JSONObject = [:]
            if let t = h.taskId { f["task_id"] = .string(t) }
            if let s = h.step { f["step"] = .int(s) }
            if let n = h.steps { f["steps"] = .int(n) }
            return Message(command: .heartbeat, fields: f)
        case .task(let t, let job):
            var f: JSONObject = [
                "task_id": .string(t.id), "phase": .string(t.phase), "attempt": .int(t.attempt),
                "job_id": .string(job.jobId), "config_hash": .string(job.configurationHash), "meta": .object(t.metadata),
            ]
            if let m = t.requiredModel { f["model_sha256"] = .string(m) }
            return Message(command: .task, fields: f, frames: t.frames)
        case .result(let r):
            return Message(command: .result, fields: [
                "task_id": .string(r.taskId), "phase": .string(r.phase), "attempt": .int(r.attempt),
                "checksum": .string(r.checksum), "worker_id": .string(r.workerId), "meta": .object(r.metadata),
            ], frames: r.frames)
        case .error(let e):
            return Message(command: .error, fields: [
                "task_id": .string(e.taskId), "phase": .string(e.phase), "attempt": .int(e.attempt),
                "class": .string(e.errorClass.rawValue), "message": .string(e.message),
            ])
        case .disconnect(let d):
            return Message(command: .disconnect, fields: ["reason": .string(d.reason), "reregister": .bool(d.reregister)])
        }
    }

    /// Wire frames.
    public func encode() throws -> [Frame] { try MessageCodec.encode(message) }

    /// Validates a generic message's fields. Throws `ProtocolError.badField`.
    public init(_ m: Message) throws {
        let f = m.fields
        switch m.command {
        case .ready:
            guard m.frames.isEmpty else { throw ProtocolError.frameMismatch("READY carries no binary frames") }
            self = .ready(WorkerInfo(
                workerId: try f.requiredString("worker_id", maxLength: 128),
                protocolVersion: try f.requiredInt("protocol", in: 0...1_000_000),
                backend: try f.optionalString("backend", maxLength: 256) ?? "",
                engineVersion: try f.optionalString("engine_version", maxLength: 256) ?? "",
                threads: try f.optionalInt("threads", in: 0...65536) ?? 0,
                memoryBytes: try f.optionalInt("memory_bytes", in: 0...Int.max) ?? 0,
                credit: try f.optionalInt("credit", in: 1...2) ?? 1,
                models: try f.stringArray("models")))
        case .heartbeat:
            self = .heartbeat(HeartbeatInfo(
                taskId: try f.optionalString("task_id", maxLength: 256),
                step: try f.optionalInt("step", in: 0...Int.max),
                steps: try f.optionalInt("steps", in: 0...Int.max)))
        case .task:
            let spec = TaskSpec(
                id: try f.requiredString("task_id"),
                phase: try f.requiredString("phase", maxLength: 128),
                attempt: try f.requiredInt("attempt", in: 1...1000),
                requiredModel: try f.optionalString("model_sha256", maxLength: 128),
                metadata: try f.objectField("meta"),
                frames: m.frames)
            self = .task(spec, JobContext(jobId: try f.optionalString("job_id", maxLength: 256) ?? "",
                                          configurationHash: try f.optionalString("config_hash", maxLength: 256) ?? ""))
        case .result:
            let checksum = try f.requiredString("checksum", maxLength: 64)
            guard SHA256.isHexDigest(checksum) else { throw ProtocolError.badField("checksum must be 64 lowercase hex digits") }
            self = .result(TaskResult(
                taskId: try f.requiredString("task_id"),
                phase: try f.requiredString("phase", maxLength: 128),
                attempt: try f.requiredInt("attempt", in: 1...1000),
                checksum: checksum,
                metadata: try f.objectField("meta"),
                frames: m.frames,
                workerId: try f.optionalString("worker_id", maxLength: 128) ?? ""))
        case .error:
            guard let cls = ErrorClass(rawValue: try f.requiredString("class", maxLength: 32)) else {
                throw ProtocolError.badField("class must be system or application")
            }
            self = .error(TaskErrorReport(
                taskId: try f.requiredString("task_id"),
                phase: try f.requiredString("phase", maxLength: 128),
                attempt: try f.requiredInt("attempt", in: 1...1000),
                errorClass: cls,
                message: try f.optionalString("message", maxLength: 64 * 1024) ?? ""))
        case .disconnect:
            self = .disconnect(DisconnectInfo(reason: try f.optionalString("reason", maxLength: 4096) ?? "",
                                              reregister: f["reregister"]?.boolValue ?? false))
        }
    }

    /// Decodes and validates wire frames (without routing id).
    public static func decode(_ frames: ArraySlice<Frame>, limits: WireLimits) throws -> ProtocolMessage {
        try ProtocolMessage(MessageCodec.decode(frames, limits: limits))
    }
}
