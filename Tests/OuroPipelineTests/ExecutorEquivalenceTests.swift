import Foundation
import Logging
import Testing
import OuroCheckpoint
import OuroCluster
import OuroEngine
import OuroGen
import OuroModel
import OuroQuant
import OuroSupport
import OuroTestSupport
@testable import OuroPipeline

enum PipelineHarness {
    static var logger: Logger { TestEnvironment.logger("ouromamba.pipeline.test") }

    static func tempDirectory() -> URL { TestFiles.temporaryDirectory("ouro-pipeline-test") }

    static func eventually(timeout: Double = 5, _ condition: () -> Bool) -> Bool { TestFiles.eventually(timeout: timeout, condition) }
}

/// Records the tasks an executor is asked to run and forwards them to another executor.
final class RecordingExecutor: ShardExecutor {
    let inner: ShardExecutor
    private(set) var phases: [(String, [String])] = []
    init(_ inner: ShardExecutor) { self.inner = inner }
    func runPhase(_ name: String, tasks: [TaskSpec]) throws -> PhaseOutcome {
        phases.append((name, tasks.map(\.id)))
        return try inner.runPhase(name, tasks: tasks)
    }
}

/// One driver, three ways of running its tasks: the outputs must be the same bytes.
@Suite(.serialized) struct ExecutorEquivalenceTests {
    static let model: VisionMamba? = Fixtures.path("vim-micro.safetensors").flatMap { try? VisionMamba.load(path: $0) }

    static func plan(directory: URL, gen: Bool) -> JobPlan {
        var p = JobPlan(kind: .quantize)
        var q = QuantConfig(setting: .w4a4, method: .ouromamba)
        q.nRefresh = 3
        p.quant = q
        p.artifactPath = directory.appendingPathComponent("q.safetensors").path
        if gen {
            var g = GenConfig()
            g.samples = 10; g.iterations = 2; g.seed = 5
            p.gen = g
            p.calibSource = "syn:ouromamba:10"
            p.samplesDirectory = directory.appendingPathComponent("samples").path
        } else {
            let c = model!.config
            var rng = Xoshiro256StarStar(seed: 9, stream: 0)
            p.calibImages = Tensor(shape: [12, c.channels, c.imageSize, c.imageSize], data: rng.normals(12 * c.channels * c.imageSize * c.imageSize))
            p.calibSource = "noise:12"
        }
        return p
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"), arguments: [false, true])
    func inProcessAndClusterWriteTheSameBytes(gen: Bool) throws {
        let m = try #require(Self.model)
        let a = PipelineHarness.tempDirectory(), b = PipelineHarness.tempDirectory()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }

        // In this process, 2 threads, one block per task.
        let local = RecordingExecutor(InProcessExecutor(handler: JobWorker(model: m, modelSHA256: "m", threads: 2), logger: PipelineHarness.logger))
        let reportA = try PipelineDriver(executor: local, model: m, modelSHA256: "m", logger: PipelineHarness.logger).run(Self.plan(directory: a, gen: gen))
        let expected = (gen ? ["gen"] : []) + [CalibrationPhases.pass1, CalibrationPhases.pass2, WeightPhase.name]
        #expect(local.phases.map(\.0) == expected)
        #expect(reportA.phases.map(\.phase) == expected)

        // The ZeroMQ coordinator with two worker threads (1 thread each) and 2 blocks per task.
        var options = ClusterOptions(endpoint: "ipc:///tmp/ouro-pipeline-\(UUID().uuidString.prefix(12)).ipc")
        options.jobDirectory = b.appendingPathComponent("job").path
        options.heartbeat = 0.2
        options.minWorkers = 2
        options.waitWorkers = 10
        var planB = Self.plan(directory: b, gen: gen)
        planB.blocksPerTask = 2
        let cluster = try ClusterExecutor(options: options, configurationHash: planB.configurationHash, modelSHA256: "m",
                                          logger: PipelineHarness.logger)
        var workers: [Worker] = []
        for i in 0..<2 {
            let handler = JobWorker(model: m, modelSHA256: "m", threads: 1)
            let info = WorkerInfo(workerId: "w\(i)", backend: "cpu", engineVersion: "test", threads: 1, credit: 1, models: ["m"])
            let w = try Worker(config: WorkerConfig(endpoint: cluster.coordinator.endpoint, info: info, heartbeatInterval: 0.2),
                               logger: PipelineHarness.logger, handler: handler.handle)
            workers.append(w)
            Thread { _ = try? w.run() }.start()
        }
        defer { cluster.close(succeeded: true); workers.forEach { $0.stop() } }
        try cluster.waitForWorkers()
        let reportB = try PipelineDriver(executor: cluster, model: m, modelSHA256: "m", logger: PipelineHarness.logger).run(planB)
        #expect(reportB.phases.map(\.phase) == expected)
        #expect(FileManager.default.fileExists(atPath: options.jobDirectory! + "/summary.json"))

        #expect(try bytes(a.appendingPathComponent("q.safetensors").path) == bytes(b.appendingPathComponent("q.safetensors").path))
        if gen {
            #expect(try bytes(a.appendingPathComponent("samples/samples.safetensors").path)
                    == bytes(b.appendingPathComponent("samples/samples.safetensors").path))
        }
    }

    /// The in-process executor passes the computation's own error on (no wrapping) and names no worker.
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func inProcessErrorsAreTheComputationsOwn() throws {
        let m = try #require(Self.model)
        let e = InProcessExecutor(handler: JobWorker(model: m, modelSHA256: "m", threads: 1), logger: PipelineHarness.logger)
        let bad = TaskSpec(id: "x", metadata: ["layer": .int(999)])
        #expect(throws: JobError.self) { _ = try e.runPhase(WeightPhase.name, tasks: [bad]) }
        #expect(throws: TaskError.self) { _ = try e.runPhase("no-such-phase", tasks: [bad]) }
    }
}
