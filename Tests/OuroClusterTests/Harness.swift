import OuroSupport
import Foundation
import Logging
import OuroTestSupport
@testable import OuroCluster

/// Shared helpers for the cluster tests: fast heartbeats, a deterministic handler, workers on threads.
enum Harness {
    static var logger: Logger { TestEnvironment.logger("ouromamba.cluster.test") }

    static let heartbeat = 0.1

    /// `context`: the shared context of an in-memory (`inproc://`) network, else nil.
    static func coordinatorConfig(_ endpoint: String, context: ZMQContext? = nil, maxAttempts: Int = 3) -> CoordinatorConfig {
        var c = CoordinatorConfig(endpoint: endpoint, jobId: "test-job", configurationHash: "cfg",
                                  heartbeatInterval: heartbeat, livenessIntervals: 5, maxAttempts: maxAttempts,
                                  limits: WireLimits(maxMessageBytes: 4 << 20, maxMetadataBytes: 64 << 10),
                                  phaseTimeout: 20, progressInterval: 0.05)
        c.sharedContext = context
        return c
    }

    static func workerConfig(_ endpoint: String, context: ZMQContext? = nil, id: String, credit: Int = 1, models: [String] = [],
                             security: WorkerSecurity = .none, maxReconnects: Int? = nil) -> WorkerConfig {
        var c = WorkerConfig(endpoint: endpoint,
                             info: WorkerInfo(workerId: id, backend: "cpu/test", engineVersion: "test", threads: 1, credit: credit, models: models),
                             heartbeatInterval: heartbeat, livenessIntervals: 5, reconnectInitial: 0.1, reconnectMax: 0.4,
                             maxReconnects: maxReconnects, limits: WireLimits(maxMessageBytes: 4 << 20, maxMetadataBytes: 64 << 10),
                             security: security)
        c.sharedContext = context
        return c
    }

    /// libzmq's in-memory transport: a fresh `inproc://` endpoint on its own context, which the
    /// coordinator, the workers and any raw test socket share. No ports, no files, no network:
    /// the default for tests of cluster behaviour (tcp, ipc and CURVE have their own tests).
    struct InMemoryNetwork {
        let endpoint = "inproc://ouro-test-\(UUID().uuidString.prefix(12))"
        let context: ZMQContext
    }

    static func inMemory() throws -> InMemoryNetwork { InMemoryNetwork(context: try ZMQContext()) }

    static func ipcEndpoint() -> String { "ipc:///tmp/ouro-test-\(UUID().uuidString.prefix(12)).ipc" }

    static let tcpEndpoint = "tcp://127.0.0.1:*"

    /// Tasks t00, t01, …: metadata {"n": i} and one small Int32 input frame.
    static func tasks(_ count: Int, model: String? = nil) -> [TaskSpec] {
        (0..<count).map { i in
            TaskSpec(id: String(format: "t%02d", i), requiredModel: model, metadata: ["n": .int(i)],
                     frames: [Frame(copyingElementsOf: [Int32(i)])])
        }
    }

    /// A deterministic computation: a 4 KiB float tensor (zero-copy path) and a tiny frame.
    static func compute(_ spec: TaskSpec) throws -> TaskOutput {
        guard let n = spec.frames.first?.elements(as: Int32.self)?.first else { throw TaskError.application("no input") }
        let values = (0..<1024).map { Float(sin(Double(n) * 0.37 + Double($0) * 0.011)) }
        return TaskOutput(metadata: ["n": .int(Int(n)), "sum": .double(Double(values.reduce(0, +)))],
                          frames: [Frame(copyingElementsOf: values), Frame([UInt8(truncatingIfNeeded: n)])])
    }

    static let handler: Worker.Handler = { spec, _ in try compute(spec) }

    /// Expected checksums by task id.
    static func expected(_ tasks: [TaskSpec]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, TaskResult.checksum(of: (try? compute($0).frames) ?? [])) })
    }

    static func tempDirectory() -> URL { TestFiles.temporaryDirectory() }

    static func eventually(timeout: Double = 5, _ condition: () -> Bool) -> Bool { TestFiles.eventually(timeout: timeout, condition) }
}

/// A worker running `run()` on its own thread.
final class RunningWorker: Sendable {
    let worker: Worker
    private let outcome = Locked<Result<WorkerExit, Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ config: WorkerConfig, handler: @escaping Worker.Handler = Harness.handler) throws {
        let w = try Worker(config: config, logger: Harness.logger, handler: handler)
        worker = w
        let outcome = self.outcome
        let done = self.done
        Thread {
            let r = Result { try w.run() }
            outcome.withLock { $0 = r }
            done.signal()
        }.start()
    }

    /// Waits for `run()` to return; nil on timeout.
    func exit(timeout: Double = 5) -> Result<WorkerExit, Error>? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        done.signal()
        return outcome.current
    }

    /// How `run()` returned normally; nil on timeout or error.
    func exitReason(timeout: Double = 5) -> WorkerExit? {
        if case .success(let e)? = exit(timeout: timeout) { return e }
        return nil
    }

    /// Stops the worker and waits for it.
    func stop() {
        worker.stop()
        _ = exit()
    }
}

/// Runs a phase on a background thread.
final class BackgroundPhase: Sendable {
    private let outcome = Locked<Result<PhaseOutcome, Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ coordinator: Coordinator, _ name: String, _ tasks: [TaskSpec], journal: Journal? = nil) {
        let outcome = self.outcome
        let done = self.done
        Thread {
            let r = Result { try coordinator.runPhase(name, tasks: tasks, journal: journal) }
            outcome.withLock { $0 = r }
            done.signal()
        }.start()
    }

    func result(timeout: Double = 25) -> Result<PhaseOutcome, Error>? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        done.signal()
        return outcome.current
    }
}

/// A thread-safe counter for handler calls.
final class Counter: Sendable {
    private let value = Locked([String: Int]())
    func bump(_ key: String) { value.withLock { $0[key, default: 0] += 1 } }
    subscript(key: String) -> Int { value.withLock { $0[key] ?? 0 } }
    var total: Int { value.withLock { $0.values.reduce(0, +) } }
}
