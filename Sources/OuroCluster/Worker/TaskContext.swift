import OuroSupport
import Logging

/// What a task handler can see and report while it runs. Thread-safe.
public final class TaskContext: Sendable {
    /// The job the task belongs to.
    public let job: JobContext
    /// A logger for the handler.
    public let logger: Logger
    private let state = Locked((step: Int?.none, steps: Int?.none, cancelled: false))

    private let onProgress: (@Sendable (Int, Int) -> Void)?

    /// Creates a context. `onProgress(step, steps)`, if given, is called synchronously on every
    /// report (the in-process executor draws progress with it). A worker passes none: its
    /// heartbeats send the last report, read through `progress`.
    public init(job: JobContext, logger: Logger, onProgress: (@Sendable (Int, Int) -> Void)? = nil) {
        self.job = job
        self.logger = logger
        self.onProgress = onProgress
    }

    /// Reports progress; it rides on the next heartbeats (for example Gen iteration k of T).
    public func reportProgress(step: Int, of steps: Int) {
        state.withLock {
            $0.step = step
            $0.steps = steps
        }
        onProgress?(step, steps)
    }

    /// True once the worker is shutting down or lost the task; long handlers should check it and
    /// throw `TaskError.system("cancelled")`.
    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    func cancel() { state.withLock { $0.cancelled = true } }

    /// The last progress the handler reported (nil until it reports any), for status displays.
    public var progress: (step: Int?, steps: Int?) { state.withLock { ($0.step, $0.steps) } }
}
