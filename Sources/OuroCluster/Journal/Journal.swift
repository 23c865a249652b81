import OuroSupport
import Foundation
import Logging

/// One line of the journal.
struct JournalRecord: Codable {
    var event: String
    var phase: String
    var task: String
    var attempt: Int?
    var worker: String?
    var checksum: String?
    var blob: String?
    var errorClass: String?
    var message: String?
    var time: Double

    enum CodingKeys: String, CodingKey {
        case event, phase, task, attempt, worker, checksum, blob, message, time
        case errorClass = "error_class"
    }
}

/// The job directory of cluster.md §7: `job.json` (the configuration and checkpoint hashes),
/// an append-only `journal.jsonl` (one fsync'ed JSON line per task state change: created,
/// dispatched, completed with the result hash, failed), the content-addressed `results/`
/// store, and `status.json`.
///
/// Opening an existing directory replays the journal; `Coordinator.runPhase` then takes every
/// completed task whose stored result still verifies instead of recomputing it.
/// `@unchecked Sendable`: a lock box: the file, the store and the replayed state are used
/// under `lock`.
public final class Journal: @unchecked Sendable {
    /// The job directory.
    public let directory: URL
    /// The configuration hash the directory belongs to.
    public let configurationHash: String
    /// The checkpoint hash the directory belongs to, if any.
    public let checkpointHash: String?

    private let lock = NSLock()
    private let file: DurableFile
    private let store: ResultStore
    private let logger: Logger
    private var completed: [TaskKey: String] = [:]
    private var resumed = 0
    private var replayed = 0

    /// Opens (creating if needed) the job directory. Throws `ClusterError.configurationMismatch`
    /// when the directory was created for another configuration or checkpoint hash.
    public static func open(directory: URL, configurationHash: String, checkpointHash: String? = nil,
                            logger: Logger = Logger(label: "ouromamba.cluster.journal")) throws -> Journal {
        try Journal(directory: directory, configurationHash: configurationHash, checkpointHash: checkpointHash, logger: logger)
    }

    private init(directory: URL, configurationHash: String, checkpointHash: String?, logger: Logger) throws {
        self.directory = directory
        self.configurationHash = configurationHash
        self.checkpointHash = checkpointHash
        self.logger = logger
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ClusterError.journal("cannot create \(directory.path): \(error)")
        }
        let manifest = directory.appendingPathComponent("job.json")
        if let data = fm.contents(atPath: manifest.path) {
            guard let job = try? JSONCoding.decode(JSONValue.self, from: data).objectValue else {
                throw ClusterError.journal("\(manifest.path) is not a JSON object")
            }
            let foundConfig = job["configuration_hash"]?.stringValue ?? ""
            guard foundConfig == configurationHash else {
                throw ClusterError.configurationMismatch(field: "configuration hash", journal: foundConfig, requested: configurationHash)
            }
            let foundCheckpoint = job["checkpoint_hash"]?.stringValue ?? ""
            guard foundCheckpoint == (checkpointHash ?? "") else {
                throw ClusterError.configurationMismatch(field: "checkpoint hash", journal: foundCheckpoint, requested: checkpointHash ?? "")
            }
        } else {
            let job: JSONValue = .object(["format": 1, "configuration_hash": .string(configurationHash),
                                          "checkpoint_hash": .string(checkpointHash ?? "")])
            try DurableFile.writeAtomically(try JSONCoding.encode(job), to: manifest.path)
        }
        store = try ResultStore(directory: directory.appendingPathComponent("results"))
        let journalPath = directory.appendingPathComponent("journal.jsonl").path
        if let data = fm.contents(atPath: journalPath) {
            (completed, replayed) = Journal.replay(data, logger: logger)
        }
        file = try DurableFile.open(journalPath, append: true)
    }

    deinit { file.close() }

    /// `status.json` in the job directory (pass it as `CoordinatorConfig.statusFile`).
    public var statusFile: URL { directory.appendingPathComponent("status.json") }

    /// Journal lines read on open.
    public var replayedRecords: Int { lock.withLock { replayed } }

    /// Tasks recorded as completed (replayed or written since).
    public var completedTasks: Int { lock.withLock { completed.count } }

    /// Tasks served from the journal (not recomputed) since open.
    public var resumedTasks: Int { lock.withLock { resumed } }

    private static func replay(_ data: Data, logger: Logger) -> ([TaskKey: String], Int) {
        var completed: [TaskKey: String] = [:]
        var replayed = 0
        var skipped = 0
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let r = try? JSONCoding.decode(JournalRecord.self, from: Data(line)) else {
                skipped += 1  // a torn last line after a crash, or damage: that task is redone
                continue
            }
            replayed += 1
            let key = TaskKey(phase: r.phase, id: r.task)
            switch r.event {
            case "completed": if let b = r.blob { completed[key] = b }
            case "created": completed[key] = nil
            default: break
            }
        }
        if skipped > 0 { logger.warning("journal: skipped \(skipped) unreadable line(s)") }
        logger.info("journal: replayed \(replayed) records, \(completed.count) completed tasks")
        return (completed, replayed)
    }

    /// The stored result of a completed task if it verifies by hash; nil otherwise (then the
    /// task is recomputed). Counts as resumed when found.
    func completedResult(phase: String, taskId: String) -> TaskResult? {
        let key = TaskKey(phase: phase, id: taskId)
        guard let blob = lock.withLock({ completed[key] }) else { return nil }
        guard let r = store.read(blob), r.taskId == taskId, r.phase == phase else {
            logger.warning("journal: stored result of task \(taskId) (\(blob)) is missing or damaged; recomputing")
            lock.withLock { completed[key] = nil }
            return nil
        }
        lock.withLock { resumed += 1 }
        return r
    }

    /// Records that a task exists (not yet done).
    func recordCreated(phase: String, taskId: String) throws {
        try append(JournalRecord(event: "created", phase: phase, task: taskId, time: Date().timeIntervalSince1970))
    }

    /// Writes one coordinator event; a completed result is stored durably before its record.
    func write(_ event: JournalEvent) throws {
        let now = Date().timeIntervalSince1970
        switch event {
        case .dispatched(let key, let attempt, let worker):
            try append(JournalRecord(event: "dispatched", phase: key.phase, task: key.id, attempt: attempt, worker: worker, time: now))
        case .failed(let key, let attempt, let cls, let message, let final):
            try append(JournalRecord(event: final ? "failed" : "retry", phase: key.phase, task: key.id, attempt: attempt,
                                     errorClass: cls.rawValue, message: String(message.prefix(4096)), time: now))
        case .completed(let r):
            let blob: String
            do { blob = try store.write(r) } catch { throw ClusterError.journal("storing result of \(r.taskId): \(error)") }
            try append(JournalRecord(event: "completed", phase: r.phase, task: r.taskId, attempt: r.attempt, worker: r.workerId,
                                     checksum: r.checksum, blob: blob, time: now))
            lock.withLock { completed[TaskKey(phase: r.phase, id: r.taskId)] = blob }
        }
    }

    private func append(_ record: JournalRecord) throws {
        do {
            var line = try JSONCoding.encode(record)
            line.append(UInt8(ascii: "\n"))
            try lock.withLock {
                try file.write(line)
                try file.sync()
            }
        } catch let e as ClusterError {
            throw e
        } catch {
            throw ClusterError.journal("append: \(error)")
        }
    }
}
