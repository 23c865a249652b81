import OuroSupport
import OuroCluster
import Foundation

/// The job file given to `ouromamba coordinator --job FILE` (JSON, snake_case keys; every key
/// optional, command-line flags win). Documented in docs/cluster.md ("Job file").
public struct JobFile: Codable, Sendable, Equatable {
    /// `quantize` (default) or `generate`.
    public var kind: JobPlan.Kind?
    /// Model checkpoint path (on the coordinator).
    public var model: String?
    /// Model config JSON (default: beside the checkpoint, else inferred).
    public var modelConfig: String?
    /// quantize: artifact path; generate: samples directory.
    public var out: String?
    /// Job directory (journal, results, status.json, summary.json); resume by reusing it.
    public var jobDir: String?
    /// quantize: calibration source `syn:GENERATOR:N`, `real:N`, `noise:N` or a samples directory.
    public var calib: String?
    /// quantize: bit setting (`w4a4`, …).
    public var setting: String?
    /// quantize: activation method.
    public var method: String?
    /// quantize: outlier-list refresh period.
    public var nRefresh: Int?
    /// Master seed (Gen, real:N and noise:N).
    public var seed: UInt64?
    /// Gen options.
    public var gen: GenOptions?
    /// Blocks per Gen / calibration task.
    public var blocksPerTask: Int?
    /// Workers to wait for before the first phase.
    public var minWorkers: Int?

    /// Gen options (generate jobs, and `syn:` calibration sources).
    public struct GenOptions: Codable, Sendable, Equatable {
        /// Generator (`ouromamba`, `pse`, …; generate jobs; `syn:` names its own).
        public var generator: String?
        /// Number of samples (generate jobs; `syn:` names its own).
        public var samples: Int?
        /// `recommended` (default) or `spec`: the defaults the other options change.
        public var defaults: String?
        /// Adam iterations.
        public var iterations: Int?
        /// Learning rate.
        public var lr: Float?
        /// λ_O.
        public var lambdaO: Float?
        /// `ce` or `mae`.
        public var outputLoss: String?

        /// No options.
        public init() {}
    }

    /// An empty job file.
    public init() {}

    /// Reads and decodes `path`; unknown keys are rejected so a typo does not go unnoticed.
    public static func read(_ path: String) throws -> JobFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw JobError("cannot read job file \(path)") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw JobError("job file \(path): not a JSON object")
        }
        let known: Set<String> = ["kind", "model", "model_config", "out", "job_dir", "calib", "setting", "method", "n_refresh",
                                  "seed", "gen", "blocks_per_task", "min_workers"]
        if let bad = Set(object.keys).subtracting(known).sorted().first {
            throw JobError("job file \(path): unknown key '\(bad)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        do { return try d.decode(JobFile.self, from: data) } catch {
            throw JobError("job file \(path): \(error)")
        }
    }
}
