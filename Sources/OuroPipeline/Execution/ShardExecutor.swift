import OuroSupport
import OuroCluster

/// Runs the shards (tasks) of one phase and returns one result per task.
///
/// The pipeline driver cuts every phase into tasks and merges their results; an executor only
/// decides where the tasks run. Three executors exist:
/// - `InProcessExecutor`: in this process, one task after the other;
/// - `LocalWorkersExecutor`: worker processes of this build on this machine;
/// - `ClusterExecutor`: the ZeroMQ coordinator and whatever workers connect to it.
///
/// The results do not depend on the executor: a task's output is a pure function of the task
/// (model hash, configuration, seeds, block range), and the driver merges them in task order.
public protocol ShardExecutor: AnyObject {
    /// Runs `tasks` as phase `name` (every task's `phase` is set to `name`) and returns their
    /// results by task id, with the phase's timings.
    func runPhase(_ name: String, tasks: [TaskSpec]) throws -> PhaseOutcome

    /// Where the driver writes `summary.json` (per-phase shard counts), if anywhere.
    var summaryPath: String? { get }

    /// Releases what the executor holds (coordinator, worker processes); `succeeded` tells
    /// whether the job finished, so temporary state may go. Idempotent.
    func close(succeeded: Bool)
}

extension ShardExecutor {
    /// No summary file.
    public var summaryPath: String? { nil }

    /// Nothing to release.
    public func close(succeeded: Bool) {}
}
