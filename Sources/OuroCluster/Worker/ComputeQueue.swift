import Foundation
import Logging

/// The worker's compute thread: runs the handler on one task at a time, in arrival order,
/// and leaves outcomes for the I/O thread. Heartbeats never wait for it.
/// `@unchecked Sendable`: a lock box: its queue, outbox and running task are behind `condition`.
final class ComputeQueue: @unchecked Sendable {
    /// A finished task: its RESULT or ERROR.
    enum Outcome {
        case result(TaskResult)
        case error(TaskErrorReport)
    }

    private struct Inner {
        var queue: [(TaskSpec, JobContext)] = []
        var outbox: [Outcome] = []
        var running: (TaskSpec, TaskContext)?
        var stopped = false
    }

    private let condition = NSCondition()
    private var inner = Inner()
    private let handler: Worker.Handler
    private let workerId: String
    private let wakeup: Wakeup
    private let logger: Logger

    init(handler: @escaping Worker.Handler, workerId: String, wakeup: Wakeup, logger: Logger) {
        self.handler = handler
        self.workerId = workerId
        self.wakeup = wakeup
        self.logger = logger
        _ = ThreadHandle(name: "ouro-worker-compute") { [self] in self.loop() }
    }

    private func locked<R>(_ body: (inout Inner) -> R) -> R {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return body(&inner)
    }

    func enqueue(_ spec: TaskSpec, _ job: JobContext) { locked { $0.queue.append((spec, job)) } }

    /// Takes the finished outcomes.
    func takeOutbox() -> [Outcome] {
        locked { s in
            defer { s.outbox.removeAll() }
            return s.outbox
        }
    }

    /// The running task's id and progress, for heartbeats.
    var progress: HeartbeatInfo {
        let running = locked { $0.running }
        guard let (spec, ctx) = running else { return HeartbeatInfo() }
        let p = ctx.progress
        return HeartbeatInfo(taskId: spec.id, step: p.step, steps: p.steps)
    }

    /// Forgets queued (not started) tasks: after a reconnect the coordinator has re-queued them.
    func dropQueued() { locked { $0.queue.removeAll() } }

    /// Stops the thread after the running task (which is told to cancel); its outcome is discarded.
    func stop() {
        let running = locked { s -> TaskContext? in
            s.stopped = true
            s.queue.removeAll()
            return s.running?.1
        }
        running?.cancel()
    }

    private func loop() {
        while true {
            condition.lock()
            while inner.queue.isEmpty && !inner.stopped { condition.wait() }
            if inner.stopped {
                condition.unlock()
                return
            }
            let (spec, job) = inner.queue.removeFirst()
            let ctx = TaskContext(job: job, logger: logger)
            inner.running = (spec, ctx)
            condition.unlock()

            let outcome = run(spec, ctx)
            let keep = locked { s -> Bool in
                s.running = nil
                if !s.stopped { s.outbox.append(outcome) }
                return !s.stopped
            }
            if keep { wakeup.signal() }
        }
    }

    private func run(_ spec: TaskSpec, _ ctx: TaskContext) -> Outcome {
        do {
            let out = try handler(spec, ctx)
            return .result(TaskResult(taskId: spec.id, phase: spec.phase, attempt: spec.attempt,
                                      metadata: out.metadata, frames: out.frames, workerId: workerId))
        } catch let e as TaskError {
            return .error(TaskErrorReport(taskId: spec.id, phase: spec.phase, attempt: spec.attempt, errorClass: e.errorClass, message: e.message))
        } catch {
            return .error(TaskErrorReport(taskId: spec.id, phase: spec.phase, attempt: spec.attempt, errorClass: .application, message: "\(error)"))
        }
    }
}
