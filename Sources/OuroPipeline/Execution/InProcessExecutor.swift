import OuroSupport
import Foundation
import Logging
import OuroCluster

/// Runs every task in this process, in task order, with the handler's threads (the
/// `--threads` path of `generate`, `quantize` and `compare`). Progress is reported as cluster
/// snapshots with one worker named `in-process`, so the same progress display serves both.
public final class InProcessExecutor: ShardExecutor {
    private let handler: JobWorker
    private let logger: Logger
    private let onProgress: ((ClusterProgress) -> Void)?
    /// The worker id in progress snapshots and phase timings.
    public static let workerId = "in-process"

    /// Creates an executor over `handler`; `onProgress` receives a snapshot when a task starts,
    /// whenever the running task reports progress, and when the phase ends.
    public init(handler: JobWorker, logger: Logger = Logger(label: "ouromamba.pipeline"),
                onProgress: ((ClusterProgress) -> Void)? = nil) {
        self.handler = handler
        self.logger = logger
        self.onProgress = onProgress
    }

    public func runPhase(_ name: String, tasks: [TaskSpec]) throws -> PhaseOutcome {
        let start = Date()
        let job = JobContext(jobId: "in-process", configurationHash: "")
        var results: [String: TaskResult] = [:]
        var busy = 0.0
        for (i, t) in tasks.enumerated() {
            var spec = t
            spec.phase = name
            guard results[spec.id] == nil else { throw ClusterError.invalidTask("phase \(name): duplicate task id \(spec.id)") }
            let begun = Date()
            report(name, done: i, total: tasks.count, running: spec.id, step: nil, steps: nil, start: start)
            let id = spec.id
            // The handler reports progress synchronously on this thread, inside `run` below.
            nonisolated(unsafe) let executor = self
            let ctx = TaskContext(job: job, logger: logger) { step, steps in
                executor.report(name, done: i, total: tasks.count, running: id, step: step, steps: steps, start: start)
            }
            let out = try handler.run(spec, ctx)
            results[spec.id] = TaskResult(taskId: spec.id, phase: name, attempt: 1, metadata: out.metadata, frames: out.frames,
                                          workerId: Self.workerId)
            busy += Date().timeIntervalSince(begun)
        }
        report(name, done: tasks.count, total: tasks.count, running: nil, step: nil, steps: nil, start: start)
        return PhaseOutcome(phase: name, results: results, resumed: 0, retries: 0, elapsedSeconds: Date().timeIntervalSince(start),
                            workers: tasks.isEmpty ? [] : [WorkerTiming(workerId: Self.workerId, tasks: tasks.count, busySeconds: busy)])
    }

    private func report(_ phase: String, done: Int, total: Int, running: String?, step: Int?, steps: Int?, start: Date) {
        guard let onProgress else { return }
        let elapsed = Date().timeIntervalSince(start)
        // Count the running task's steps, so a phase of few shards still shows an ETA.
        let progress = Double(done) + (step.flatMap { s in steps.map { Double(s) / Double(max($0, 1)) } } ?? 0)
        let eta = progress > 0 && elapsed >= 0.5 ? elapsed / progress * (Double(total) - progress) : nil
        let worker = WorkerProgress(workerId: Self.workerId, connection: "", backend: "", threads: handler.threads, credit: 1,
                                    state: running == nil ? .idle : .busy, tasks: running.map { [$0] } ?? [],
                                    completed: done, step: step, steps: steps,
                                    tasksPerSecond: elapsed > 0 ? Double(done) / elapsed : 0)
        onProgress(ClusterProgress(jobId: "in-process", phase: phase, tasksTotal: total, tasksDone: done, tasksResumed: 0,
                                   tasksInFlight: running == nil ? 0 : 1, tasksPending: max(0, total - done - (running == nil ? 0 : 1)),
                                   phaseRetries: 0, retries: 0, lostWorkers: 0, duplicateResults: 0, determinismViolations: 0,
                                   rejectedMessages: 0, authFailures: 0, elapsedSeconds: elapsed, etaSeconds: eta, workers: [worker]))
    }
}
