import Testing
@testable import OuroCluster

/// The coordinator's progress text: a bar with shard rate and ETA on a terminal, plain lines otherwise.
@Suite struct ProgressLogTests {
    func snapshot(done: Int, total: Int, elapsed: Double, eta: Double?) -> ClusterProgress {
        let busy = WorkerProgress(workerId: "node1", connection: "c1", backend: "cpu", threads: 1, credit: 1, state: .busy,
                                  tasks: ["gen.b0003"], completed: done, step: 40, steps: 500, tasksPerSecond: 0)
        var idle = busy
        idle.workerId = "node2"; idle.state = .idle; idle.tasks = []
        return ClusterProgress(jobId: "j", phase: "gen", tasksTotal: total, tasksDone: done, tasksResumed: 0, tasksInFlight: 1,
                               tasksPending: total - done - 1, phaseRetries: 0, retries: 0, lostWorkers: 0, duplicateResults: 0,
                               determinismViolations: 0, rejectedMessages: 0, authFailures: 0, elapsedSeconds: elapsed,
                               etaSeconds: eta, workers: [busy, idle])
    }

    @Test func barAndPlainLineShowRateAndETA() {
        let p = snapshot(done: 4, total: 16, elapsed: 10, eta: 30)
        #expect(ProgressLog.bar(p) == "[gen] █████··············· 4/16 shards  0.40 shards/s  ETA 00:30  1 running, 11 pending"
                + " | node1 busy gen.b0003 40/500 | node2 idle")
        #expect(ProgressLog.line(p) == "[gen] shards 4/16 (1 running, 11 pending) 0.40 shards/s ETA 30 s | node1 busy gen.b0003 40/500 | node2 idle")
        // No rate over the first half second, and no ETA before a shard is done.
        let start = snapshot(done: 0, total: 16, elapsed: 0.2, eta: nil)
        #expect(ProgressLog.bar(start).contains("-.-- shards/s  ETA --:--"))
        #expect(!ProgressLog.line(start).contains("shards/s"))
    }

    @Test func terminalRedrawsInPlaceWithinTheWidth() {
        var out: [String] = []
        let log = ProgressLog(isTTY: true, columns: 40) { out.append($0) }
        log.report(snapshot(done: 4, total: 16, elapsed: 10, eta: 30))
        log.report(snapshot(done: 16, total: 16, elapsed: 20, eta: 0))
        #expect(out.count == 3 && out[2] == "\n")
        #expect(out[0].hasPrefix("\r[gen] ") && out[0].hasSuffix("…\u{1B}[K"))
        #expect(out[0].dropFirst().dropLast(3).count == 39)
        #expect(out[1].contains("████████████████████ 16/"))
    }
}
