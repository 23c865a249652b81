import Foundation
import Testing
@testable import OuroCluster
import OuroPipeline

extension ProcessJobTests {
    /// A worker SIGKILLed in the middle of Gen and another in the middle of calibration: their
    /// shards are re-dispatched, the log names them, and the bytes are unchanged.
    @Test func workerLossMidGenAndMidCalibration() throws {
        let (bin, model) = try Binary.require()
        let ref = try #require(Jobs.reference, "in-process reference run failed")
        let dir = Jobs.tempDirectory("loss")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ep = Jobs.ipc(dir)
        let coord = try Child("coord", bin, ["coordinator", "--bind", ep, "--model", model] + Jobs.quantizeArgs
                              + ["--out", "q.safetensors", "--job-dir", "job", "--heartbeat", "0.5", "--min-workers", "3"], in: dir)
        // Slow tasks (1.2 s each) so that a kill lands mid-task.
        let env = ["OUROMAMBA_DEBUG_TASK_DELAY": "1.2"]
        var workers: [String: Child] = [:]
        for i in 0..<3 { workers["w\(i)"] = try Child("w\(i)", bin, Jobs.workerArgs(ep, model: model, id: "w\(i)"), in: dir, env: env) }
        defer { coord.kill(); workers.values.forEach { $0.kill() } }
        let status = dir.appendingPathComponent("job/status.json")
        var killed: [String] = []
        for phasePrefix in ["gen", "calib"] {
            let p = Jobs.waitStatus(status, timeout: 30) { p in
                (p.phase ?? "").hasPrefix(phasePrefix) && p.workers.contains { $0.state == .busy && !killed.contains($0.workerId) }
            }
            guard let victim = p?.workers.first(where: { $0.state == .busy && !killed.contains($0.workerId) })?.workerId else {
                Issue.record("no busy worker seen in phase \(phasePrefix)*: \(coord.stderr.suffix(2000))")
                return
            }
            workers[victim]?.kill()
            killed.append(victim)
        }
        #expect(coord.wait(timeout: 60) == 0, "coordinator failed: \(coord.stderr.suffix(3000))")
        #expect(Jobs.bytes(dir.appendingPathComponent("q.safetensors")) == ref.artifact)
        #expect(Jobs.bytes(dir.appendingPathComponent("samples/samples.safetensors")) == ref.samples)
        let log = coord.stderr
        let summary = Jobs.summary(dir.appendingPathComponent("job"))
        let gen = summary.first { $0.phase == "gen" }
        #expect(gen?.retries ?? 0 >= 1 && !(gen?.redispatched.isEmpty ?? true), "gen: \(String(describing: gen))")
        #expect(summary.contains { $0.phase.hasPrefix("calib") && $0.retries >= 1 && !$0.redispatched.isEmpty })
        for r in summary.flatMap(\.redispatched) {
            #expect(log.contains("re-dispatched shards:") && log.contains(r), "log does not name \(r)")
        }
        #expect(log.contains("lost"))
    }

    /// The coordinator is SIGKILLed mid-job and restarted on the same job directory: it takes
    /// every finished shard from the journal (no finished shard is dispatched again) and
    /// produces the same bytes.
    @Test func coordinatorRestartResumesWithoutRedoingShards() throws {
        let (bin, model) = try Binary.require()
        let ref = try #require(Jobs.reference, "in-process reference run failed")
        let dir = Jobs.tempDirectory("restart")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ep = Jobs.ipc(dir)
        let args = ["coordinator", "--bind", ep, "--model", model] + Jobs.quantizeArgs
            + ["--out", "q.safetensors", "--job-dir", "job", "--heartbeat", "0.5", "--min-workers", "2"]
        let env = ["OUROMAMBA_DEBUG_TASK_DELAY": "0.5"]
        let workers = try (0..<2).map { try Child("w\($0)", bin, Jobs.workerArgs(ep, model: model, id: "w\($0)",
                                                                               extra: ["--max-reconnects", "30"]), in: dir, env: env) }
        let first = try Child("coord1", bin, args, in: dir)
        defer { first.kill(); workers.forEach { $0.kill() } }
        let jobDir = dir.appendingPathComponent("job")
        // Kill once Gen is finished and calibration has started.
        let seen = Jobs.waitStatus(jobDir.appendingPathComponent("status.json"), timeout: 30) { ($0.phase ?? "").hasPrefix("calib") }
        #expect(seen != nil, "calibration never started: \(first.stderr.suffix(2000))")
        first.kill()
        let before = Jobs.journal(jobDir)
        let finished = Set(before.filter { $0.event == "completed" }.map { "\($0.phase)/\($0.task)" })
        #expect(finished.count >= 2, "expected the Gen shards to be finished before the kill")
        let second = try Child("coord2", bin, args, in: dir)
        defer { second.kill() }
        #expect(second.wait(timeout: 60) == 0, "restarted coordinator failed: \(second.stderr.suffix(3000))")
        let after = Jobs.journal(jobDir).dropFirst(before.count)
        let redone = after.filter { $0.event == "dispatched" && finished.contains("\($0.phase)/\($0.task)") }
        #expect(redone.isEmpty, "finished shards dispatched again: \(redone.map(\.task))")
        let resumed = Jobs.summary(jobDir).reduce(0) { $0 + $1.resumed }
        #expect(resumed == finished.count, "summary counts \(resumed) resumed shards, the journal had \(finished.count) finished")
        #expect(second.stderr.contains("finished shards recorded; resuming"))
        #expect(Jobs.bytes(dir.appendingPathComponent("q.safetensors")) == ref.artifact)
    }

    /// A task that fails every time hits the retry cap and fails the job with its error.
    @Test func poisonTaskFailsTheJob() throws {
        let (bin, model) = try Binary.require()
        let dir = Jobs.tempDirectory("poison")
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try Child("q", bin, ["quantize", "--model", model, "--calib", "noise:16", "--out", "q.safetensors", "--workers", "2"],
                          in: dir, env: ["OUROMAMBA_DEBUG_FAIL_TASK": "calib-pass1.b0001"])
        #expect(c.wait(timeout: 60) == 1)
        let err = c.stderr
        #expect(err.contains("error: task calib-pass1.b0001 of phase calib-pass1 failed at attempt 3"), "\(err.suffix(2000))")
        #expect(err.contains("retry cap reached") && err.contains("injected failure"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("q.safetensors").path))
    }
}
