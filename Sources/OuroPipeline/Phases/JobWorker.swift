import OuroSupport
import Foundation
import OuroCluster
import OuroModel

/// The worker-side task handler of OuroMamba jobs: runs `gen`, `calib-pass1`, `calib-pass2`
/// and `weights` tasks on the model it was started with.
///
/// It refuses (application error) a task whose required model SHA-256 is not its own, so a
/// worker never computes with a different checkpoint than the coordinator's.
public final class JobWorker: Sendable {
    /// The model.
    public let model: VisionMamba
    /// SHA-256 of the model file the worker was started with.
    public let modelSHA256: String
    /// Compute threads per task.
    public let threads: Int
    /// The GPU copy of the model when the worker runs on a GPU (Gen and calibration use it).
    public let gpu: GPUVisionMamba?
    /// Test hooks (`OUROMAMBA_DEBUG_TASK_DELAY`, `OUROMAMBA_DEBUG_FAIL_TASK`).
    public let debug: DebugHooks

    /// Test-only behaviour, read from the environment so process-level tests can make tasks
    /// slow enough to kill a worker mid-task, or make one task fail every time.
    public struct DebugHooks: Sendable {
        /// Seconds to sleep at the start of every task (cancellable).
        public var taskDelay: Double = 0
        /// Task ids (comma-separated) that always fail with a system error.
        public var failTasks: Set<String> = []

        /// No hooks.
        public init() {}

        /// Reads `OUROMAMBA_DEBUG_TASK_DELAY` (seconds) and `OUROMAMBA_DEBUG_FAIL_TASK` (ids).
        public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> DebugHooks {
            var h = DebugHooks()
            h.taskDelay = env["OUROMAMBA_DEBUG_TASK_DELAY"].flatMap(Double.init) ?? 0
            h.failTasks = Set((env["OUROMAMBA_DEBUG_FAIL_TASK"] ?? "").split(separator: ",").map(String.init))
            return h
        }
    }

    /// Creates the handler.
    public init(model: VisionMamba, modelSHA256: String, threads: Int, gpu: GPUVisionMamba? = nil, debug: DebugHooks = DebugHooks()) {
        self.model = model
        self.gpu = gpu
        self.modelSHA256 = modelSHA256
        self.threads = threads
        self.debug = debug
    }

    /// Computes one task and returns its output; errors are the computation's own (an
    /// in-process executor passes them on unchanged).
    public func run(_ spec: TaskSpec, _ ctx: TaskContext) throws -> TaskOutput {
        switch spec.phase {
        case GenPhase.name: return try GenPhase.run(spec, ctx, model: model, threads: threads, gpu: gpu)
        case CalibrationPhases.pass1, CalibrationPhases.pass2: return try CalibrationPhases.run(spec, ctx, model: model, threads: threads, gpu: gpu)
        case WeightPhase.name: return try WeightPhase.run(spec, model: model)
        default: throw TaskError.application("unknown phase \(spec.phase)")
        }
    }

    /// The `Worker.Handler`: checks the model, applies the debug hooks, and turns any error into
    /// a `TaskError` (application class unless the computation chose one).
    public func handle(_ spec: TaskSpec, _ ctx: TaskContext) throws -> TaskOutput {
        guard spec.requiredModel == modelSHA256 else {
            throw TaskError.application("task \(spec.id) needs model \(spec.requiredModel ?? "<none>"), this worker has \(modelSHA256)")
        }
        ctx.logger.debug("task \(spec.id) attempt \(spec.attempt) started")
        let start = Date()
        if debug.taskDelay > 0 {
            let end = Date().addingTimeInterval(debug.taskDelay)
            while Date() < end {
                if ctx.isCancelled { throw TaskError.system("cancelled") }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        if debug.failTasks.contains(spec.id) { throw TaskError.system("injected failure (OUROMAMBA_DEBUG_FAIL_TASK)") }
        let out: TaskOutput
        do {
            out = try run(spec, ctx)
        } catch let e as TaskError {
            throw e
        } catch {
            throw TaskError.application("\(error)")
        }
        ctx.logger.debug("task \(spec.id) done in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        return out
    }
}
